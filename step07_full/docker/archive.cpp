// docker cp: a tar of a path in the container's root (GET /containers/{id}/archive), the
// extraction of a tar into a directory of it (PUT), and the path's stat (HEAD). The root is the
// overlay's merged directory on the host (mounted for the call when the container is stopped);
// paths under a -v volume or bind mount are read from its host directory instead, as the
// container sees them. Every path is resolved with openat2(RESOLVE_IN_ROOT): ".." and
// symlinks (absolute ones too) stay inside, as if the container's root were "/".
// The extraction is step06's safe unpacker (unpack.hpp: no "..", no write through a symlink).
//   man 2 openat2, man 5 tar, libarchive's archive_write(3)
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include "bundle.hpp"
#include "image_source.hpp"
#include "internal.hpp"
#include "manager.hpp"
#include "narrate.hpp"
#include "overlay.hpp"
#include "unpack.hpp"

namespace docker {
namespace {

using json = nlohmann::json;

struct ArchiveFree {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// Go's os.FileMode bits, what the docker CLI decodes from the stat header.
std::uint32_t go_mode(mode_t m) {
    std::uint32_t g = m & 0777;
    if (m & S_ISUID) g |= 1u << 23;
    if (m & S_ISGID) g |= 1u << 22;
    if (m & S_ISVTX) g |= 1u << 20;
    if (S_ISDIR(m)) g |= 1u << 31;
    else if (S_ISLNK(m)) g |= 1u << 27;
    else if (S_ISFIFO(m)) g |= 1u << 25;
    else if (S_ISSOCK(m)) g |= 1u << 24;
    else if (S_ISBLK(m)) g |= 1u << 26;
    else if (S_ISCHR(m)) g |= (1u << 26) | (1u << 21);
    return g;
}

std::string rfc3339(time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The container's root for the time of one call: mounted already (it runs, or is created), or
// mounted here under the container's lock (start takes it too) and unmounted at the end.
class RootView {
public:
    RootView(const Roots& roots, const std::string& id, const Record& r) : p_(detail::paths(roots, id)) {
        merged_ = p_.record + "/merged";
        if (overlay::is_mount_point(merged_)) return;
        lock_ = std::make_unique<FileLock>(p_.lock);
        if (overlay::is_mount_point(merged_)) return;
        auto img = find_image(r.image_id.empty() ? r.image_ref : r.image_id);
        if (!img) throw NotFound("container " + id.substr(0, 12) + ": No such image: " + r.image_ref);
        narrate::note("docker", "the container is stopped: its root is mounted for the copy, then unmounted");
        mount_root(img->image.layers, p_.record);
        mounted_ = true;
    }
    ~RootView() {
        if (!mounted_) return;
        try {
            unmount_root(p_.record);
        } catch (const Error& e) {
            narrate::warn(e.line());
        }
    }
    RootView(const RootView&) = delete;
    RootView& operator=(const RootView&) = delete;
    const std::string& merged() const { return merged_; }

private:
    detail::Paths p_;
    std::string merged_;
    std::unique_ptr<FileLock> lock_;
    bool mounted_ = false;
};

// Where `path` is on the host: the volume or bind mount holding it (the longest container
// path that is a prefix of it), else the root. Returns the base directory and the rest.
std::pair<std::string, std::string> locate(const Record& r, const std::string& merged, const std::string& path) {
    std::string base = merged, rest = path;
    size_t best = 0;
    for (auto& v : r.opts.volumes) {
        const std::string& c = v.container;
        if (v.host.empty() || c.size() <= best) continue;
        if (path == c || (path.starts_with(c) && path[c.size()] == '/')) {
            base = v.host;
            rest = path.substr(c.size());
            best = c.size();
        }
    }
    if (rest.empty()) rest = "/";
    return {base, rest};
}

// openat2(base, rest, RESOLVE_IN_ROOT): the kernel walks `rest` as if `base` were "/".
int open_in_root(const std::string& base, const std::string& rest, int flags) {
    int root = ::open(base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) throw SysError("open(\"" + base + "\")", errno);
    open_how how{};
    how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    // A missing path is an answer (404), not a failure: the call is narrated, not thrown.
    narrate::note("docker", "openat2(\"" + base + "\", \"" + rest +
                                "\", RESOLVE_IN_ROOT): the path as the container sees it, \"..\" and symlinks stay inside");
    long fd = ::syscall(SYS_openat2, root, rest.c_str(), &how, sizeof how);
    int err = errno;
    ::close(root);
    errno = err;
    return static_cast<int>(fd);
}

[[noreturn]] void not_found(const std::string& path, const std::string& ref) {
    // dockerd names the container as the client did.
    throw NotFound("Could not find the file " + path + " in container " + ref);
}

struct TarWriter {
    std::unique_ptr<archive, ArchiveFree> a{archive_write_new()};
    std::string out;
    TarWriter() {
        archive_write_set_format_pax_restricted(a.get());
        archive_write_set_bytes_in_last_block(a.get(), 1);
        archive_write_open(
            a.get(), this, nullptr,
            [](archive*, void* self, const void* buf, size_t n) -> la_ssize_t {
                static_cast<TarWriter*>(self)->out.append(static_cast<const char*>(buf), n);
                return static_cast<la_ssize_t>(n);
            },
            nullptr);
    }
    void check(int rc, const std::string& what) {
        if (rc < ARCHIVE_WARN) throw Error("tar of " + what + ": " + archive_error_string(a.get()));
    }
    // The entry `base` of the directory `parent` ("" = `parent` itself, an O_PATH fd of the
    // top, never a followed symlink), `name` its name in the tar; directories recursively.
    void add(int parent, const std::string& base, const std::string& name) {
        struct stat st {};
        if (::fstatat(parent, base.c_str(), &st, AT_SYMLINK_NOFOLLOW | (base.empty() ? AT_EMPTY_PATH : 0)) < 0)
            throw SysError("fstatat(\"" + name + "\")", errno);
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_copy_stat(e.get(), &st);
        std::string target;
        if (S_ISLNK(st.st_mode)) {
            target.resize(static_cast<size_t>(st.st_size) + 256);
            ssize_t n = ::readlinkat(parent, base.c_str(), target.data(), target.size());
            if (n < 0) throw SysError("readlinkat(\"" + name + "\")", errno);
            target.resize(static_cast<size_t>(n));
            archive_entry_set_symlink(e.get(), target.c_str());
            archive_entry_set_size(e.get(), 0);
        } else if (!S_ISREG(st.st_mode)) {
            archive_entry_set_size(e.get(), 0);
        }
        check(archive_write_header(a.get(), e.get()), name);
        if (S_ISREG(st.st_mode)) {
            // The top entry is an O_PATH fd: reopened for reading through /proc/self/fd.
            int fd = base.empty() ? ::open(("/proc/self/fd/" + std::to_string(parent)).c_str(), O_RDONLY | O_CLOEXEC)
                                  : ::openat(parent, base.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) throw SysError("openat(\"" + name + "\")", errno);
            unique_fd f(fd);
            char buf[65536];
            for (ssize_t n; (n = ::read(f.get(), buf, sizeof buf)) != 0;) {
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) throw SysError("read(\"" + name + "\")", errno);
                if (archive_write_data(a.get(), buf, static_cast<size_t>(n)) < 0) check(ARCHIVE_FATAL, name);
            }
        } else if (S_ISDIR(st.st_mode)) {
            int fd = ::openat(parent, base.empty() ? "." : base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) throw SysError("openat(\"" + name + "\", O_DIRECTORY)", errno);
            DIR* d = ::fdopendir(fd);
            if (!d) {
                ::close(fd);
                throw SysError("fdopendir(\"" + name + "\")", errno);
            }
            std::vector<std::string> names;
            while (dirent* de = ::readdir(d))
                if (std::string_view(de->d_name) != "." && std::string_view(de->d_name) != "..") names.push_back(de->d_name);
            std::sort(names.begin(), names.end());
            for (auto& n : names) add(::dirfd(d), n, name + "/" + n);
            ::closedir(d);
        }
    }
    std::string finish() {
        check(archive_write_close(a.get()), "the archive");
        return std::move(out);
    }
};

std::string clean_path(const std::string& path) {
    if (path.empty() || path[0] != '/') throw BadRequest("the path \"" + path + "\" must be absolute");
    return path;
}

std::string base_name(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p.ends_with("/.")) return ".";
    auto slash = p.rfind('/');
    std::string b = slash == std::string::npos ? p : p.substr(slash + 1);
    return b.empty() ? "/" : b;
}

}  // namespace

json PathStat::to_json() const {
    return {{"name", name}, {"size", size}, {"mode", mode}, {"mtime", mtime}, {"linkTarget", link_target}};
}

PathStat Manager::stat_path(const std::string& ref, const std::string& path) const {
    std::string id;
    const Record r = detail::load_record(roots_, ref, id);
    clean_path(path);
    RootView root(roots_, id, r);
    auto [base, rest] = locate(r, root.merged(), path);
    int fd = open_in_root(base, rest, O_PATH | O_NOFOLLOW);
    if (fd < 0) not_found(path, ref);
    unique_fd f(fd);
    struct stat st {};
    if (::fstatat(f.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) throw SysError("fstat(\"" + path + "\")", errno);
    PathStat s;
    s.name = base_name(path);
    s.size = st.st_size;
    s.mode = go_mode(st.st_mode);
    s.mtime = rfc3339(st.st_mtime);
    if (S_ISLNK(st.st_mode)) {
        std::string t(static_cast<size_t>(st.st_size) + 256, '\0');
        ssize_t n = ::readlinkat(f.get(), "", t.data(), t.size());
        if (n > 0) s.link_target = t.substr(0, static_cast<size_t>(n));
    }
    return s;
}

std::string Manager::archive_path(const std::string& ref, const std::string& path, PathStat* stat) const {
    std::string id;
    const Record r = detail::load_record(roots_, ref, id);
    clean_path(path);
    if (stat) *stat = stat_path(id, path);
    RootView root(roots_, id, r);
    auto [base, rest] = locate(r, root.merged(), path);
    // The last component as it is (a symlink is archived as a link, as docker cp does);
    // "/." at the end means the directory's content under its own name.
    int fd = open_in_root(base, rest, O_PATH | O_NOFOLLOW);
    if (fd < 0) not_found(path, ref);
    unique_fd f(fd);
    narrate::note("docker", "tar of " + path + " in container " + id.substr(0, 12) + " (its root: " + root.merged() + ")");
    TarWriter w;
    w.add(f.get(), "", base_name(path) == "/" ? "." : base_name(path));
    return w.finish();
}

void Manager::extract_to(const std::string& ref, const std::string& dir, const std::string& tar_file) {
    std::string id;
    const Record r = detail::load_record(roots_, ref, id);
    clean_path(dir);
    RootView root(roots_, id, r);
    auto [base, rest] = locate(r, root.merged(), dir);
    if (r.opts.read_only && base == root.merged()) throw Conflict("container rootfs is marked read-only");
    int fd = open_in_root(base, rest, O_PATH);
    if (fd < 0) not_found(dir, ref);
    unique_fd f(fd);
    struct stat st {};
    if (::fstatat(f.get(), "", &st, AT_EMPTY_PATH) < 0 || !S_ISDIR(st.st_mode)) throw BadRequest("extraction point is not a directory");
    // step06's unpacker: every entry checked (relative, no ".."), every directory on the way
    // opened beneath the target (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS).
    narrate::note("docker", "extracting into " + dir + " of container " + id.substr(0, 12) + " (step06's safe unpacker)");
    image::UnpackOptions o;
    o.whiteouts = false;
    try {
        image::unpack_layer(tar_file, "/proc/self/fd/" + std::to_string(f.get()), o);
    } catch (const SysError&) {
        throw;
    } catch (const Error& e) {
        throw BadRequest(e.what());
    }
}

}  // namespace docker
