#include "volumes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "container.hpp"
#include "files.hpp"
#include "image_store.hpp"
#include "internal.hpp"
#include "narrate.hpp"
#include "record.hpp"
#include "unique_fd.hpp"

namespace docker {
namespace {

using json = nlohmann::json;

std::string meta_path(const std::string& dir, const std::string& name) { return dir + "/" + name + "/volume.json"; }

bool dir_empty(const std::string& path) { return detail::dir_names(path).empty(); }

// One entry of the image's tree into the volume: directories recursively, regular files by
// content, symlinks as links (never followed: they point into the container's root), device
// nodes and fifos recreated; owner and mode kept (Docker's copy-up keeps them too).
void copy_entry(int src_dir, int dst_dir, const char* name, const struct stat& st);

void copy_children(int src, int dst) {
    int dup = ::fcntl(src, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) throw SysError("fcntl(F_DUPFD_CLOEXEC)", errno);
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        throw SysError("fdopendir", errno);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") names.push_back(e->d_name);
    ::closedir(d);
    for (auto& n : names) {
        struct stat st {};
        if (::fstatat(src, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
        copy_entry(src, dst, n.c_str(), st);
    }
}

void copy_entry(int src_dir, int dst_dir, const char* name, const struct stat& st) {
    std::string what = std::string("copy-up of ") + name;
    if (S_ISDIR(st.st_mode)) {
        if (::mkdirat(dst_dir, name, 0700) < 0 && errno != EEXIST) throw SysError("mkdirat(\"" + std::string(name) + "\")", errno);
        unique_fd s(::openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        unique_fd d(::openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!s || !d) throw SysError("openat(\"" + std::string(name) + "\", O_DIRECTORY|O_NOFOLLOW)", errno);
        copy_children(s.get(), d.get());
        (void)::fchown(d.get(), st.st_uid, st.st_gid);
        (void)::fchmod(d.get(), st.st_mode & 07777);
    } else if (S_ISREG(st.st_mode)) {
        unique_fd s(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!s) throw SysError("openat(\"" + std::string(name) + "\")", errno);
        unique_fd d(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!d) throw SysError("openat(\"" + std::string(name) + "\", O_CREAT)", errno);
        char buf[65536];
        for (ssize_t n; (n = ::read(s.get(), buf, sizeof buf)) != 0;) {
            if (n < 0) {
                if (errno == EINTR) continue;
                throw SysError("read(\"" + std::string(name) + "\")", errno);
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = ::write(d.get(), buf + off, static_cast<size_t>(n - off));
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) throw SysError("write(\"" + std::string(name) + "\")", errno);
                off += w;
            }
        }
        (void)::fchown(d.get(), st.st_uid, st.st_gid);
        (void)::fchmod(d.get(), st.st_mode & 07777);
    } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(src_dir, name, target.data(), target.size());
        if (n < 0) throw SysError("readlinkat(\"" + std::string(name) + "\")", errno);
        target.resize(static_cast<size_t>(n));
        if (::symlinkat(target.c_str(), dst_dir, name) < 0 && errno != EEXIST) throw SysError("symlinkat(\"" + std::string(name) + "\")", errno);
        (void)::fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    } else {
        if (::mknodat(dst_dir, name, st.st_mode, st.st_rdev) < 0 && errno != EEXIST) throw SysError("mknodat(\"" + std::string(name) + "\")", errno);
        (void)::fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    }
}

// The directory `path` (absolute, in the container) under `rootfs`, opened one component at a
// time without following symlinks (a link in the image could point anywhere on the host).
unique_fd open_in_root(const std::string& rootfs, const std::string& path) {
    unique_fd cur(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cur) return {};
    std::istringstream parts(path);
    for (std::string p; std::getline(parts, p, '/');) {
        if (p.empty() || p == ".") continue;
        if (p == "..") return {};
        int fd = ::openat(cur.get(), p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return {};
        cur.reset(fd);
    }
    return cur;
}

}  // namespace

json Volume::to_json(int users) const {
    json labels_j = json::object();
    for (auto& [k, v] : labels) labels_j[k] = v;
    json j = {{"Name", name},       {"Driver", "local"},  {"Mountpoint", mountpoint}, {"CreatedAt", created},
              {"Labels", labels_j}, {"Scope", "local"}, {"Options", nullptr}};
    if (users >= 0) j["UsageData"] = {{"Size", -1}, {"RefCount", users}};
    return j;
}

Volumes::Volumes(const Roots& roots) : roots_(detail::defaults(roots)) {
    data_ = roots_.data;
    dir_ = data_ + "/volumes";
}

std::optional<Volume> Volumes::find(const std::string& name) const {
    if (!valid_volume_name(name)) return std::nullopt;
    std::string meta = files::read(meta_path(dir_, name));
    if (meta.empty()) return std::nullopt;
    try {
        auto j = json::parse(meta);
        Volume v;
        v.name = name;
        v.mountpoint = dir_ + "/" + name + "/_data";
        v.created = j.value("CreatedAt", "");
        v.anonymous = j.value("Anonymous", false);
        if (j.contains("Labels") && j["Labels"].is_object())
            for (auto& [k, x] : j["Labels"].items())
                if (x.is_string()) v.labels[k] = x.get<std::string>();
        return v;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

Volume Volumes::create(const std::string& given, const std::map<std::string, std::string>& labels, bool anonymous) {
    std::string name = given.empty() ? new_id() : given;
    if (!valid_volume_name(name))
        throw BadRequest("create " + name + ": \"" + name +
                         "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed");
    FileLock lock(data_ + "/locks/volumes.lock");
    if (auto v = find(name)) return *v;
    std::string top = dir_ + "/" + name, data = top + "/_data";
    for (auto& d : {dir_, top, data}) {
        narrate::sys({"docker", "mkdir(\"" + d + "\", 0755)", d == data ? "the volume's content: what containers bind-mount" : "the volume store",
                      "ls -la " + dir_},
                     [&] {
                         int r = ::mkdir(d.c_str(), d == dir_ ? 0700 : 0755);
                         return r < 0 && errno == EEXIST ? 0 : r;
                     });
    }
    json meta = {{"CreatedAt", container::now_rfc3339()}, {"Anonymous", anonymous}, {"Labels", json::object()}};
    for (auto& [k, v] : labels) meta["Labels"][k] = v;
    files::write(meta_path(dir_, name), meta.dump() + "\n");
    return *find(name);
}

std::vector<Volume> Volumes::list() const {
    std::vector<Volume> out;
    for (auto& n : detail::dir_names(dir_))
        if (auto v = find(n)) out.push_back(*v);
    return out;
}

std::vector<std::string> Volumes::users(const std::string& name) const {
    std::vector<std::string> out;
    Records records(data_);
    for (auto& id : records.ids()) {
        auto r = records.load(id);
        if (!r) continue;
        for (auto& v : r->opts.volumes)
            if (v.volume == name) {
                out.push_back(id);
                break;
            }
    }
    return out;
}

void Volumes::remove(const std::string& name, bool force) {
    FileLock lock(data_ + "/locks/volumes.lock");
    auto v = find(name);
    if (!v) throw NotFound("get " + name + ": no such volume");
    auto who = users(name);
    if (!who.empty() && !force) {
        std::string ids;
        for (auto& id : who) ids += (ids.empty() ? "" : ", ") + id;
        throw Conflict("remove " + name + ": volume is in use - [" + ids + "]");
    }
    // Even forced, never from under a running container (dockerd refuses that too).
    for (auto& id : who) {
        auto r = Records(data_).load(id);
        if (r && detail::live(roots_, *r).running())
            throw Conflict("remove " + name + ": volume is in use - [" + id + "]");
    }
    narrate::note("docker", "removing volume " + name + ": rm -rf " + dir_ + "/" + name);
    image::remove_tree(dir_ + "/" + name);
}

PruneResult Volumes::prune() {
    PruneResult out;
    for (auto& v : list()) {
        if (!users(v.name).empty()) continue;
        std::uint64_t size = 0;
        try {
            size = image::tree_size(v.mountpoint);
        } catch (const Error&) {
        }
        try {
            remove(v.name, false);
            out.deleted.push_back(v.name);
            out.space_reclaimed += size;
        } catch (const Error& e) {
            narrate::warn("volume prune " + v.name + ": " + e.line());
        }
    }
    return out;
}

void Volumes::attach(RunOptions& opts, const nlohmann::json& image_config) {
    if (image_config.is_object() && image_config.contains("Volumes") && image_config["Volumes"].is_object())
        for (auto& [path, unused] : image_config["Volumes"].items()) {
            bool covered = std::any_of(opts.volumes.begin(), opts.volumes.end(), [&](const VolumeBinding& b) { return b.container == path; });
            VolumeBinding b;
            if (covered || !parse_volume(path, b).empty()) continue;  // a path -v could not take is skipped
            opts.volumes.push_back(b);
        }
    for (auto& b : opts.volumes) {
        if (!b.is_volume()) continue;
        bool anonymous = b.volume.empty();
        Volume v = create(b.volume, {}, anonymous);
        b.volume = v.name;
        b.host = v.mountpoint;
    }
}

void Volumes::copy_up(const RunOptions& opts, const std::string& rootfs) {
    for (auto& b : opts.volumes) {
        if (b.volume.empty() || !dir_empty(b.host)) continue;
        unique_fd src = open_in_root(rootfs, b.container);
        if (!src) continue;  // nothing there in the image (or a symlink): the volume stays empty
        unique_fd dst(::open(b.host.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dst) throw SysError("open(\"" + b.host + "\")", errno);
        narrate::note("docker", "volume " + b.volume.substr(0, 12) + " is empty: the image's " + b.container +
                                    " is copied into it (Docker's copy-up, done on first use)");
        copy_children(src.get(), dst.get());
        struct stat st {};
        if (::fstat(src.get(), &st) == 0) {
            (void)::fchown(dst.get(), st.st_uid, st.st_gid);
            (void)::fchmod(dst.get(), st.st_mode & 07777);
        }
    }
}

void Volumes::remove_anonymous(const RunOptions& opts, const std::string& container_id) {
    for (auto& b : opts.volumes) {
        if (b.volume.empty()) continue;
        auto v = find(b.volume);
        if (!v || !v->anonymous) continue;
        auto who = users(b.volume);
        who.erase(std::remove(who.begin(), who.end(), container_id), who.end());
        if (!who.empty()) continue;
        narrate::note("docker", "removing anonymous volume " + b.volume.substr(0, 12) + " with its container");
        image::remove_tree(dir_ + "/" + b.volume);
    }
}

}  // namespace docker
