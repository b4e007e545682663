#include "unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <memory>
#include <vector>

#include "error.hpp"
#include "unique_fd.hpp"

namespace image {

std::optional<std::string> check_entry_path(std::string_view raw, std::string& why) {
    if (raw.empty()) {
        why = "an empty path";
        return std::nullopt;
    }
    if (raw.front() == '/') {
        // "/" alone names the layer's root (umoci writes it so): harmless. Any other absolute
        // path is refused, although tar(1) would strip the "/": an archive made that way is
        // either hostile or made with `tar -P`, and should be rebuilt relative to its root.
        if (raw.find_first_not_of("/.") == std::string_view::npos && raw.find("..") == std::string_view::npos)
            return std::string();
        why = "an absolute path";
        return std::nullopt;
    }
    std::string out;
    size_t start = 0;
    while (start <= raw.size()) {
        size_t end = raw.find('/', start);
        if (end == std::string_view::npos) end = raw.size();
        std::string_view part = raw.substr(start, end - start);
        if (part == "..") {
            why = "a \"..\" component";
            return std::nullopt;
        }
        if (!part.empty() && part != ".") {
            if (!out.empty()) out += '/';
            out += part;
        }
        start = end + 1;
    }
    return out;
}

Whiteout classify_whiteout(std::string_view base) {
    constexpr std::string_view prefix = ".wh.";
    constexpr std::string_view meta = ".wh..wh.";
    if (base == ".wh..wh..opq") return {Whiteout::opaque, {}};
    if (base.substr(0, meta.size()) == meta) return {Whiteout::none, std::string(base)};  // AUFS bookkeeping
    if (base.substr(0, prefix.size()) == prefix) return {Whiteout::file, std::string(base.substr(prefix.size()))};
    return {};
}

void make_whiteout(int dirfd, const std::string& name) {
    // overlayfs(5): "a whiteout is created as a character device with 0/0 device number".
    if (::mknodat(dirfd, name.c_str(), S_IFCHR | 0, ::makedev(0, 0)) < 0)
        throw SysError("mknodat(\"" + name + "\", S_IFCHR, makedev(0, 0))", errno);
}

void make_opaque(int dirfd) {
    // An opaque directory hides everything below it in the lower layers; only its own
    // entries (in this layer and above) are seen.
    unique_fd fd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw SysError("openat(\".\", O_RDONLY|O_DIRECTORY)", errno);
    if (::fsetxattr(fd.get(), "trusted.overlay.opaque", "y", 1, 0) < 0)
        throw SysError("fsetxattr(\"trusted.overlay.opaque\", \"y\")", errno);
}

namespace {

struct ArchiveDeleter {
    void operator()(archive* a) const { archive_read_free(a); }
};

// Bad archive content: the import is refused. The message names the entry.
// libarchive's message; it may be NULL (seen with a truncated or damaged archive, by fuzzing).
std::string error_text(archive* a) {
    const char* text = archive_error_string(a);
    return text ? text : "damaged archive (libarchive gave no reason)";
}

[[noreturn]] void refuse(const std::string& entry, const std::string& why) {
    throw Error("refused: entry \"" + entry + "\" " + why);
}

// openat2 that stays below `dirfd`: no "..", no absolute path, no symlink, no magic link, no
// other mount. The kernel checks every component; a path that tries fails with EXDEV or ELOOP.
int open_beneath(int dirfd, const std::string& path, int flags) {
    open_how how{};
    how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);  // RESOLVE_NO_SYMLINKS: the last one too
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    return static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
}

struct DirTimes {
    std::string path;
    timespec times[2];
};

class Unpacker {
public:
    Unpacker(const std::string& layer_dir, const UnpackOptions& opts) : opts_(opts) {
        root_.reset(::open(layer_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root_) throw SysError("open(\"" + layer_dir + "\", O_PATH|O_DIRECTORY)", errno);
    }

    UnpackStats run(const std::string& path) {
        std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
        archive_read_support_filter_all(a.get());
        archive_read_support_format_tar(a.get());
        if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
            throw Error(path + ": " + error_text(a.get()));
        for (;;) {
            archive_entry* e = nullptr;
            int rc = archive_read_next_header(a.get(), &e);
            if (rc == ARCHIVE_EOF) break;
            if (rc < ARCHIVE_WARN) throw Error(path + ": not a readable tar archive: " + error_text(a.get()));
            entry(a.get(), e);
            ++stats_.entries;
            if (opts_.progress) opts_.progress(stats_);
        }
        // Directory times last: creating their entries changed them.
        for (auto& d : dir_times_) {
            unique_fd fd(d.path.empty() ? ::dup(root_.get()) : open_beneath(root_.get(), d.path, O_PATH | O_DIRECTORY));
            if (fd) ::utimensat(fd.get(), "", d.times, AT_EMPTY_PATH);
        }
        return stats_;
    }

private:
    // The directory that holds `rel` ("" = the root), created on the way when `create`; every
    // component opened beneath the root without following a symlink.
    int parent_dir(const std::string& entry, const std::string& rel, bool create) {
        if (rel == cached_path_ && cached_) return cached_.get();
        unique_fd fd(rel.empty() ? ::dup(root_.get()) : open_beneath(root_.get(), rel, O_PATH | O_DIRECTORY));
        if (!fd && errno == ENOENT && create) fd = walk_creating(entry, rel);
        if (!fd) fail_open(entry, rel, errno);
        cached_ = std::move(fd);  // closes the previous one: callers use the result right away
        cached_path_ = rel;
        return cached_.get();
    }

    unique_fd walk_creating(const std::string& entry, const std::string& rel) {
        unique_fd cur(::dup(root_.get()));
        std::string done;
        size_t start = 0;
        while (start < rel.size()) {
            size_t end = rel.find('/', start);
            if (end == std::string::npos) end = rel.size();
            std::string part = rel.substr(start, end - start);
            done += (done.empty() ? "" : "/") + part;
            unique_fd next(open_beneath(cur.get(), part, O_PATH | O_DIRECTORY));
            if (!next && errno == ENOENT) {
                if (::mkdirat(cur.get(), part.c_str(), 0755) < 0 && errno != EEXIST)
                    throw SysError("mkdirat(\"" + done + "\")", errno);
                next.reset(open_beneath(cur.get(), part, O_PATH | O_DIRECTORY));
            }
            if (!next) fail_open(entry, done, errno);
            cur = std::move(next);
            start = end + 1;
        }
        return cur;
    }

    [[noreturn]] void fail_open(const std::string& entry, const std::string& rel, int err) {
        if (err == ELOOP) refuse(entry, "goes through the symlink \"" + rel + "\" (it could lead out of the layer)");
        if (err == EXDEV) refuse(entry, "leads out of the layer");
        if (err == ENOTDIR) refuse(entry, "needs \"" + rel + "\" to be a directory, and it is not");
        throw SysError("openat2(\"" + rel + "\", RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)", err);
    }

    // Make room for a new `base` in `dir`: whatever is there goes, unless it is a directory and
    // a directory is coming (tar's "replace" semantics; a symlink is replaced, not followed).
    void clear(int dir, const std::string& entry, const std::string& base, bool dir_coming) {
        struct stat st {};
        if (::fstatat(dir, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return;
        if (S_ISDIR(st.st_mode)) {
            if (dir_coming) return;
            if (::unlinkat(dir, base.c_str(), AT_REMOVEDIR) < 0) {
                if (errno == ENOTEMPTY) refuse(entry, "replaces a directory that is not empty");
                throw SysError("unlinkat(\"" + entry + "\", AT_REMOVEDIR)", errno);
            }
            // The cached directory is this entry's parent, never the child just removed; still,
            // look it up afresh next time (the fd stays open: the caller holds it as `dir`).
            cached_path_ = std::string(1, '\0');
        } else if (::unlinkat(dir, base.c_str(), 0) < 0) {
            throw SysError("unlinkat(\"" + entry + "\")", errno);
        }
    }

    static void set_xattrs(int fd, archive_entry* e) {
        archive_entry_xattr_reset(e);
        const char* name;
        const void* value;
        size_t size;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            // trusted.overlay.* in a layer would be read by overlayfs as whiteouts, redirects or
            // metacopy: only the importer itself sets trusted.* attributes.
            if (std::strncmp(name, "trusted.", 8) == 0 || std::strcmp(name, "security.selinux") == 0) continue;
            (void)::fsetxattr(fd, name, value, size, 0);  // best effort (e.g. file capabilities)
        }
    }

    static void times_of(archive_entry* e, timespec t[2]) {
        t[0] = {0, UTIME_OMIT};
        t[1] = {0, UTIME_OMIT};
        if (archive_entry_atime_is_set(e)) t[0] = {archive_entry_atime(e), archive_entry_atime_nsec(e)};
        if (archive_entry_mtime_is_set(e)) t[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    }

    // Refuses (before writing) a file that takes the total past UnpackOptions::max_bytes.
    void check_cap(const std::string& shown, std::uint64_t file_size) const {
        if (opts_.max_bytes && stats_.apparent + file_size > opts_.max_bytes)
            throw Error("refused: entry \"" + shown + "\" takes the unpacked size past the limit of " +
                        std::to_string(opts_.max_bytes) + " bytes")
                .with_hint("raise it with --max-size SIZE if the image is really that large");
    }

    // Writes `size` bytes at `offset`, leaving every all-zero 4 KiB block (aligned in the file)
    // as a hole: the file is new, so what is not written reads as zeros.
    void write_sparse(int fd, const std::string& rel, const char* p, size_t size, la_int64_t offset) {
        constexpr size_t kBlock = 4096;
        while (size > 0) {
            size_t chunk = std::min(size, kBlock - static_cast<size_t>(offset % kBlock));
            bool zero = p[0] == 0 && std::memcmp(p, p + 1, chunk - 1) == 0;
            if (!zero) {
                // Write through the end of the run of non-zero blocks in one call.
                size_t run = chunk;
                while (run < size) {
                    size_t next = std::min(size - run, kBlock);
                    const char* q = p + run;
                    if (q[0] == 0 && std::memcmp(q, q + 1, next - 1) == 0) break;
                    run += next;
                }
                chunk = run;
                for (size_t done = 0; done < chunk;) {
                    ssize_t n = ::pwrite(fd, p + done, chunk - done, offset + static_cast<la_int64_t>(done));
                    if (n < 0) {
                        if (errno == EINTR) continue;
                        throw SysError("write(\"" + rel + "\")", errno);
                    }
                    done += static_cast<size_t>(n);
                }
            }
            stats_.bytes += chunk;
            p += chunk;
            size -= chunk;
            offset += static_cast<la_int64_t>(chunk);
        }
    }

    void entry(archive* a, archive_entry* e) {
        const char* raw_name = archive_entry_pathname(e);
        std::string shown = raw_name ? raw_name : "";
        // A header whose name field is empty is damage, not a path: say so.
        if (shown.empty()) throw Error("corrupt archive: an entry header has no name (a damaged or truncated tar?)");
        std::string why;
        auto rel = check_entry_path(shown, why);
        if (!rel) refuse(shown, "has " + why + " (it would land outside the layer)");
        if (rel->empty()) return;  // the root itself: the layer directory stands for it

        auto slash = rel->find_last_of('/');
        std::string parent = slash == std::string::npos ? "" : rel->substr(0, slash);
        std::string base = slash == std::string::npos ? *rel : rel->substr(slash + 1);

        Whiteout wh = classify_whiteout(base);
        if (wh.kind != Whiteout::none || base.rfind(".wh.", 0) == 0) {
            if (!opts_.whiteouts || wh.kind == Whiteout::none) return;  // nothing below to hide
            int dir = parent_dir(shown, parent, true);
            if (wh.kind == Whiteout::opaque) {
                make_opaque(dir);
                return;
            }
            if (wh.target.empty() || wh.target == "." || wh.target == "..") refuse(shown, "is a whiteout of nothing");
            clear(dir, shown, wh.target, false);
            make_whiteout(dir, wh.target);
            return;
        }

        int dir = parent_dir(shown, parent, true);
        uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
        gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
        mode_t perm = archive_entry_perm(e) & 07777;
        timespec times[2];
        times_of(e, times);

        if (const char* target = archive_entry_hardlink(e)) {
            std::string twhy;
            auto trel = check_entry_path(target, twhy);
            if (!trel || trel->empty())
                refuse(shown, "is a hard link to \"" + std::string(target) + "\", which has " +
                                  (trel ? std::string("no name") : twhy) + " (outside the layer)");
            auto ts = trel->find_last_of('/');
            std::string tparent = ts == std::string::npos ? "" : trel->substr(0, ts);
            std::string tbase = ts == std::string::npos ? *trel : trel->substr(ts + 1);
            unique_fd tdir(tparent.empty() ? ::dup(root_.get()) : open_beneath(root_.get(), tparent, O_PATH | O_DIRECTORY));
            if (!tdir) {
                int err = errno;
                if (err == ENOENT) refuse(shown, "is a hard link to \"" + *trel + "\", which is not in the layer");
                fail_open(shown + " -> " + *trel, tparent, err);
            }
            struct stat st {};
            if (::fstatat(tdir.get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
                refuse(shown, "is a hard link to \"" + *trel + "\", which is not in the layer");
            if (S_ISDIR(st.st_mode)) refuse(shown, "is a hard link to a directory");
            dir = parent_dir(shown, parent, true);  // tdir's lookup may not have touched the cache, but be sure
            if (*trel == *rel) return;               // a link to itself: nothing to do
            clear(dir, shown, base, false);
            // linkat without AT_SYMLINK_FOLLOW links the target itself, never what it points to.
            if (::linkat(tdir.get(), tbase.c_str(), dir, base.c_str(), 0) < 0)
                throw SysError("linkat(\"" + *trel + "\", \"" + *rel + "\")", errno);
            return;
        }

        switch (archive_entry_filetype(e)) {
        case AE_IFDIR: {
            clear(dir, shown, base, true);
            if (::mkdirat(dir, base.c_str(), 0700) < 0 && errno != EEXIST)
                throw SysError("mkdirat(\"" + *rel + "\")", errno);
            unique_fd fd(open_beneath(dir, base, O_RDONLY | O_DIRECTORY));
            if (!fd) fail_open(shown, *rel, errno);
            if (::fchown(fd.get(), uid, gid) < 0) throw SysError("fchown(\"" + *rel + "\")", errno);
            if (::fchmod(fd.get(), perm) < 0) throw SysError("fchmod(\"" + *rel + "\")", errno);
            set_xattrs(fd.get(), e);
            dir_times_.push_back({*rel, {times[0], times[1]}});
            return;
        }
        case AE_IFREG: {
            clear(dir, shown, base, false);
            // O_EXCL|O_NOFOLLOW: we create this very name; nothing that was there is opened.
            unique_fd fd(::openat(dir, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!fd) throw SysError("openat(\"" + *rel + "\", O_CREAT|O_EXCL|O_NOFOLLOW)", errno);
            const void* buf;
            size_t size;
            la_int64_t offset;
            std::uint64_t end = 0;  // this file's apparent size so far
            if (archive_entry_size_is_set(e)) {
                end = static_cast<std::uint64_t>(std::max<la_int64_t>(archive_entry_size(e), 0));
                check_cap(shown, end);
            }
            for (;;) {
                int rc = archive_read_data_block(a, &buf, &size, &offset);
                if (rc == ARCHIVE_EOF) break;
                if (rc < ARCHIVE_WARN) throw Error(shown + ": " + error_text(a));
                // A size the header did not announce (or lied about) is checked too.
                std::uint64_t reach = static_cast<std::uint64_t>(offset) + size;
                if (reach > end) {
                    check_cap(shown, reach);
                    end = reach;
                }
                write_sparse(fd.get(), *rel, static_cast<const char*>(buf), size, offset);
            }
            stats_.apparent += end;
            // The file's length: holes at the end (zeros not written, a sparse tail) count too.
            if (::ftruncate(fd.get(), static_cast<off_t>(end)) < 0) throw SysError("ftruncate(\"" + *rel + "\")", errno);
            // chown first: it clears set-user-ID bits that chmod then sets.
            if (::fchown(fd.get(), uid, gid) < 0) throw SysError("fchown(\"" + *rel + "\")", errno);
            if (::fchmod(fd.get(), perm) < 0) throw SysError("fchmod(\"" + *rel + "\")", errno);
            set_xattrs(fd.get(), e);
            ::futimens(fd.get(), times);
            return;
        }
        case AE_IFLNK: {
            const char* target = archive_entry_symlink(e);
            if (!target) refuse(shown, "is a symlink without a target");
            clear(dir, shown, base, false);
            // A symlink may point anywhere (an image's /etc/localtime is absolute): it is only
            // data here. We never follow one while unpacking; inside the container it resolves
            // against the container's root.
            if (::symlinkat(target, dir, base.c_str()) < 0) throw SysError("symlinkat(\"" + *rel + "\")", errno);
            ::fchownat(dir, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
            ::utimensat(dir, base.c_str(), times, AT_SYMLINK_NOFOLLOW);
            return;
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
            clear(dir, shown, base, false);
            mode_t type = static_cast<mode_t>(archive_entry_filetype(e));
            if (::mknodat(dir, base.c_str(), type | perm, archive_entry_rdev(e)) < 0)
                throw SysError("mknodat(\"" + *rel + "\")", errno);
            ::fchownat(dir, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
            ::fchmodat(dir, base.c_str(), perm, 0);  // just made by us: not a symlink
            ::utimensat(dir, base.c_str(), times, AT_SYMLINK_NOFOLLOW);
            return;
        }
        default:
            return;  // sockets and unknown types: nothing to unpack
        }
    }

    UnpackOptions opts_;
    unique_fd root_;
    unique_fd cached_;
    std::string cached_path_;
    std::vector<DirTimes> dir_times_;
    UnpackStats stats_;
};

}  // namespace

UnpackStats unpack_layer(const std::string& archive, const std::string& layer_dir, const UnpackOptions& opts) {
    Unpacker u(layer_dir, opts);
    return u.run(archive);
}

}  // namespace image
