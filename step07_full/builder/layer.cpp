// The layer writer (see layer.hpp): one walk of the upper directory with openat/fstatat (never
// following a symlink), libarchive writing POSIX pax entries into a callback that hashes the
// plain tar (the diff id) and feeds zlib, whose gzip output is hashed again (the digest).
#include "layer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "image/digest.hpp"
#include "error.hpp"
#include "narrate.hpp"
#include "unique_fd.hpp"

namespace builder {

namespace {

// The sink behind libarchive: plain bytes -> sha256 (diff id) -> deflate -> file + sha256.
struct Sink {
    int fd = -1;
    int level = 1;
    images::Sha256 plain, packed;
    z_stream z{};
    bool zinit = false;
    std::uint64_t written = 0;
    std::string error;

    void put(const unsigned char* p, size_t n) {
        while (n) {
            ssize_t w = ::write(fd, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                throw SysError("write(layer)", errno);
            }
            packed.update(p, static_cast<size_t>(w));
            written += static_cast<std::uint64_t>(w);
            p += w;
            n -= static_cast<size_t>(w);
        }
    }
    void deflate_some(const void* data, size_t n, int flush) {
        if (!level) {
            put(static_cast<const unsigned char*>(data), n);
            return;
        }
        z.next_in = const_cast<Bytef*>(static_cast<const Bytef*>(data));
        z.avail_in = static_cast<uInt>(n);
        unsigned char out[1 << 16];
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            int rc = ::deflate(&z, flush);
            if (rc == Z_STREAM_ERROR) throw Error("deflate failed");
            put(out, sizeof out - z.avail_out);
        } while (z.avail_out == 0 || (flush == Z_FINISH && z.avail_in));
    }
    ~Sink() {
        if (zinit) ::deflateEnd(&z);
    }
};

la_ssize_t on_write(struct archive*, void* data, const void* buf, size_t n) {
    auto* s = static_cast<Sink*>(data);
    try {
        s->plain.update(buf, n);
        s->deflate_some(buf, n, Z_NO_FLUSH);
        return static_cast<la_ssize_t>(n);
    } catch (const std::exception& e) {
        s->error = e.what();
        return -1;
    }
}

struct ArchiveFree {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// The names in `dirfd`, sorted (readdir's order depends on the file system).
std::vector<std::string> names_in(int dirfd, const std::string& where) {
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) throw SysError("fcntl(F_DUPFD_CLOEXEC)", errno);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        throw SysError("fdopendir(\"" + where + "\")", errno);
    }
    std::vector<std::string> out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// The value of xattr `name` on `fd`'s file, or "" when absent.
std::string xattr_of(int fd, const char* name) {
    char buf[16];
    ssize_t n = ::fgetxattr(fd, name, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Every xattr of the file at `path` (O_PATH fds cannot list them: the /proc/self/fd path is
// used with the l* calls, which never follow the final symlink). overlayfs's own
// (trusted.overlay.*, user.overlay.*) are bookkeeping of this upper dir, not content.
std::vector<std::pair<std::string, std::string>> xattrs_of(const std::string& path) {
    std::vector<std::pair<std::string, std::string>> out;
    ssize_t len = ::llistxattr(path.c_str(), nullptr, 0);
    if (len <= 0) return out;
    std::string names(static_cast<size_t>(len), '\0');
    len = ::llistxattr(path.c_str(), names.data(), names.size());
    if (len <= 0) return out;
    for (size_t i = 0; i < static_cast<size_t>(len);) {
        std::string n = names.c_str() + i;
        i += n.size() + 1;
        if (n.rfind("trusted.overlay.", 0) == 0 || n.rfind("user.overlay.", 0) == 0) continue;
        ssize_t vl = ::lgetxattr(path.c_str(), n.c_str(), nullptr, 0);
        if (vl < 0) continue;
        std::string v(static_cast<size_t>(vl), '\0');
        vl = ::lgetxattr(path.c_str(), n.c_str(), v.data(), v.size());
        if (vl < 0) continue;
        v.resize(static_cast<size_t>(vl));
        out.emplace_back(n, v);
    }
    return out;
}

class Writer {
public:
    Writer(struct archive* a, LayerTar& result, std::string root) : a_(a), r_(result), root_(std::move(root)) {}

    void dir(int dirfd, const std::string& rel) {
        for (const auto& name : names_in(dirfd, root_ + "/" + rel)) {
            std::string path = rel.empty() ? name : rel + "/" + name;
            struct stat st;
            if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw SysError("fstatat(\"" + path + "\")", errno);
            if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
                // overlayfs's whiteout -> the OCI spelling: an empty ".wh.NAME" beside it
                std::string wh = rel.empty() ? ".wh." + name : rel + "/.wh." + name;
                empty_file(wh, st);
                ++r_.whiteouts;
                continue;
            }
            if (S_ISSOCK(st.st_mode)) continue;  // sockets cannot be archived (Docker skips them too)
            if (S_ISDIR(st.st_mode)) {
                unique_fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!sub) throw SysError("openat(\"" + path + "\", O_DIRECTORY|O_NOFOLLOW)", errno);
                header(path + "/", st, "");
                if (xattr_of(sub.get(), "trusted.overlay.opaque") == "y" || xattr_of(sub.get(), "user.overlay.opaque") == "y") {
                    empty_file(path + "/.wh..wh..opq", st);
                    ++r_.opaques;
                }
                dir(sub.get(), path);
                continue;
            }
            if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
                auto key = std::make_pair(st.st_dev, st.st_ino);
                auto it = links_.find(key);
                if (it != links_.end()) {
                    link(path, st, it->second);
                    continue;
                }
                links_[key] = path;
            }
            std::string target;
            if (S_ISLNK(st.st_mode)) {
                std::string buf(static_cast<size_t>(st.st_size) + 1, '\0');
                ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
                if (n < 0) throw SysError("readlinkat(\"" + path + "\")", errno);
                target.assign(buf.data(), static_cast<size_t>(n));
            }
            header(path, st, target);
            if (S_ISREG(st.st_mode)) contents(dirfd, name, path);
        }
    }

private:
    struct archive* a_;
    LayerTar& r_;
    std::string root_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;

    std::unique_ptr<archive_entry, EntryFree> entry(const std::string& path, const struct stat& st) {
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
        archive_entry_copy_pathname(e.get(), path.c_str());
        archive_entry_copy_stat(e.get(), &st);
        archive_entry_set_uname(e.get(), "");
        archive_entry_set_gname(e.get(), "");
        // atime/ctime would make two commits of the same tree differ; Docker's tars keep mtime only
        archive_entry_unset_atime(e.get());
        archive_entry_unset_ctime(e.get());
        archive_entry_unset_birthtime(e.get());
        archive_entry_set_ino(e.get(), 0);
        archive_entry_set_dev(e.get(), 0);
        archive_entry_set_nlink(e.get(), 1);
        return e;
    }
    void write_header(archive_entry* e, const std::string& path) {
        if (archive_write_header(a_, e) != ARCHIVE_OK) {
            throw Error("layer: writing the header of " + path + ": " + archive_error_string(a_));
        }
        ++r_.entries;
    }
    void header(const std::string& path, const struct stat& st, const std::string& target) {
        auto e = entry(path, st);
        if (S_ISLNK(st.st_mode)) archive_entry_copy_symlink(e.get(), target.c_str());
        if (!S_ISREG(st.st_mode)) archive_entry_set_size(e.get(), 0);
        for (const auto& [n, v] : xattrs_of(root_ + "/" + path)) archive_entry_xattr_add_entry(e.get(), n.c_str(), v.data(), v.size());
        write_header(e.get(), path);
    }
    void empty_file(const std::string& path, const struct stat& like) {
        struct stat st = like;
        st.st_mode = S_IFREG | 0644;
        st.st_size = 0;
        st.st_uid = st.st_gid = 0;
        auto e = entry(path, st);
        write_header(e.get(), path);
    }
    void link(const std::string& path, const struct stat& st, const std::string& to) {
        auto e = entry(path, st);
        archive_entry_copy_hardlink(e.get(), to.c_str());
        archive_entry_set_size(e.get(), 0);
        write_header(e.get(), path);
    }
    void contents(int dirfd, const std::string& name, const std::string& path) {
        unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw SysError("openat(\"" + path + "\", O_RDONLY|O_NOFOLLOW)", errno);
        char buf[1 << 16];
        for (;;) {
            ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw SysError("read(\"" + path + "\")", errno);
            }
            if (n == 0) break;
            if (archive_write_data(a_, buf, static_cast<size_t>(n)) < 0) {
                throw Error("layer: writing " + path + ": " + archive_error_string(a_));
            }
        }
    }
};

}  // namespace

LayerTar write_layer(const std::string& upper, const std::string& out_path, const LayerOptions& opts) {
    LayerTar r;
    r.path = out_path;
    unique_fd root(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw SysError("open(\"" + upper + "\", O_DIRECTORY)", errno);
    Sink sink;
    sink.level = std::clamp(opts.gzip_level, 0, 9);
    if (sink.level) {
        // windowBits 15 + 16: a gzip header and trailer around the deflate stream
        if (::deflateInit2(&sink.z, sink.level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw Error("deflateInit2 failed");
        sink.zinit = true;
    }
    ::unlink(out_path.c_str());
    sink.fd = static_cast<int>(narrate::sys({"builder", "open(\"" + out_path + "\", O_WRONLY|O_CREAT|O_EXCL, 0600)",
                                             "the layer's tar is written here, then handed to the image store", ""},
                                            [&] { return ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600); }));
    unique_fd out(sink.fd);
    try {
        std::unique_ptr<struct archive, ArchiveFree> a(archive_write_new());
        archive_write_set_format_pax_restricted(a.get());
        archive_write_set_bytes_in_last_block(a.get(), 1);  // no padding to 10 KiB: only what tar needs
        if (archive_write_open(a.get(), &sink, nullptr, on_write, nullptr) != ARCHIVE_OK) {
            throw Error(std::string("layer: archive_write_open: ") + archive_error_string(a.get()));
        }
        Writer w(a.get(), r, upper);
        w.dir(root.get(), "");
        if (archive_write_close(a.get()) != ARCHIVE_OK) {
            throw Error("layer: " + (sink.error.empty() ? std::string(archive_error_string(a.get())) : sink.error));
        }
        if (!sink.error.empty()) throw Error("layer: " + sink.error);
        sink.deflate_some(nullptr, 0, Z_FINISH);
        if (::fsync(out.get()) != 0) throw SysError("fsync(" + out_path + ")", errno);
    } catch (...) {
        ::unlink(out_path.c_str());
        throw;
    }
    r.diff_id = sink.plain.digest();
    r.digest = sink.level ? sink.packed.digest() : r.diff_id;
    r.size = sink.written;
    narrate::note("builder", "layer " + r.digest.substr(0, 19) + ": " + std::to_string(r.entries) + " entries (" +
                                 std::to_string(r.whiteouts) + " whiteouts as .wh.NAME, " + std::to_string(r.opaques) +
                                 " opaque dirs as .wh..wh..opq), diff id " + r.diff_id.substr(0, 19));
    return r;
}

}  // namespace builder
