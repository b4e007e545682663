// step03's layer: the options, their checks, and the order of the mounts (the table of
// contents; each mount is in tree.cpp).
#include "mnt.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "error.hpp"
#include "fault.hpp"
#include "narrate.hpp"
#include "state.hpp"
#include "tree.hpp"

namespace mnt {

Config::Config() : rootfs(state::default_rootfs()) {}

std::optional<std::string> normalize(std::string_view path) {
    if (path.empty() || path[0] != '/') return std::nullopt;
    std::vector<std::string_view> parts;
    size_t start = 1;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        auto part = path.substr(start, end - start);
        if (part == "..") {
            if (parts.empty()) return std::nullopt;
            parts.pop_back();
        } else if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        start = end + 1;
    }
    std::string out;
    for (auto p : parts) out += "/" + std::string(p);
    return out.empty() ? "/" : out;
}

bool is_under(const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

bool is_kernel_path(const std::string& container_path) {
    for (const char* k : {"/proc", "/sys", "/dev"})
        if (is_under(container_path, k)) return true;
    return false;
}

std::optional<Volume> parse_volume(std::string_view spec, std::string& why) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t colon = spec.find(':', start);
        parts.emplace_back(spec.substr(start, colon == std::string_view::npos ? spec.npos : colon - start));
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    const std::string s(spec);
    if (parts.size() < 2 || parts.size() > 3) {
        why = s + ": expected HOST:CONTAINER or HOST:CONTAINER:ro";
        return std::nullopt;
    }
    Volume v;
    if (parts.size() == 3) {
        if (parts[2] == "ro") v.read_only = true;
        else if (parts[2] != "rw") {
            why = s + ": unknown mode \"" + parts[2] + "\" (ro or rw)";
            return std::nullopt;
        }
    }
    if (parts[0].empty()) {
        why = s + ": the host path is empty";
        return std::nullopt;
    }
    if (parts[1].empty() || parts[1][0] != '/') {
        why = s + ": the container path \"" + parts[1] + "\" must be absolute";
        return std::nullopt;
    }
    auto container = normalize(parts[1]);
    if (!container) {
        why = s + ": the container path \"" + parts[1] + "\" escapes the root with \"..\"";
        return std::nullopt;
    }
    if (*container == "/") {
        why = s + ": cannot mount a volume over the container's /";
        return std::nullopt;
    }
    if (is_kernel_path(*container)) {
        why = s + ": " + *container + " is where the container's own /proc, /sys or /dev is mounted; a volume "
                                      "there would hide or replace it";
        return std::nullopt;
    }
    v.container = *container;
    char real[PATH_MAX];
    if (!::realpath(parts[0].c_str(), real)) {
        why = s + ": host path " + parts[0] + ": " + std::strerror(errno);
        return std::nullopt;
    }
    v.host = real;
    return v;
}

std::string mount_flags(unsigned long flags) {
    if (flags == 0) return "0";
    return spell_flags(flags, {{MS_RDONLY, "MS_RDONLY"},
                               {MS_NOSUID, "MS_NOSUID"},
                               {MS_NODEV, "MS_NODEV"},
                               {MS_NOEXEC, "MS_NOEXEC"},
                               {MS_REMOUNT, "MS_REMOUNT"},
                               {MS_BIND, "MS_BIND"},
                               {MS_REC, "MS_REC"},
                               {MS_PRIVATE, "MS_PRIVATE"},
                               {MS_SLAVE, "MS_SLAVE"},
                               {MS_SHARED, "MS_SHARED"},
                               {MS_NOATIME, "MS_NOATIME"},
                               {MS_NODIRATIME, "MS_NODIRATIME"},
                               {MS_RELATIME, "MS_RELATIME"},
                               {MS_STRICTATIME, "MS_STRICTATIME"}});
}

void add_options(CLI::App& app, Config& cfg) {
    app.add_option("--rootfs", cfg.rootfs, "the image's root directory (default: " + cfg.rootfs + ")")
        ->type_name("DIR")
        ->check([](const std::string& dir) -> std::string {
            struct stat st {};
            if (::stat(dir.c_str(), &st) < 0) return dir + ": " + std::strerror(errno);
            if (!S_ISDIR(st.st_mode)) return dir + ": not a directory";
            return {};
        });
    app.add_flag("--read-only", cfg.read_only,
                 "mount the root file system read-only (/tmp, /dev/shm and volumes stay as asked)");
    app.add_option_function<std::vector<std::string>>(
           "-v,--volume",
           [&cfg](const std::vector<std::string>& specs) {
               std::string why;
               for (auto& s : specs) cfg.volumes.push_back(*parse_volume(s, why));  // checked below
           },
           "bind HOST (a directory or a file) at CONTAINER; :ro makes it read-only inside; may repeat")
        ->type_name("HOST:CONTAINER[:ro]")
        ->allow_extra_args(false)
        ->check([](const std::string& spec) {
            std::string why;
            return parse_volume(spec, why) ? std::string() : why;
        });
    app.add_flag("--chroot", cfg.chroot_mode,
                 "TEACHING AID, UNSAFE: chroot instead of pivot_root (the host's root stays reachable)");
    app.add_flag("--no-private", cfg.no_private,
                 "TEACHING AID, UNSAFE: skip making mounts private (container mounts may reach the host)");
}

int Layer::clone_flags() const { return CLONE_NEWNS; }

void Layer::prepare_host(launch::Context& ctx) {
    if (cfg_.chroot_mode)
        narrate::warn("--chroot is a teaching aid and unsafe: the host's root stays mounted and a root "
                      "process can climb out of a chroot (workshop/03-mnt.md)");
    if (cfg_.no_private)
        narrate::warn("--no-private is a teaching aid and unsafe: where the host's mounts are shared, the "
                      "container's mounts appear on the host (workshop/03-mnt.md)");

    // Everything is checked before anything is made: a rejected input leaves nothing behind.
    struct stat st {};
    if (::stat(cfg_.rootfs.c_str(), &st) < 0) {
        Error e("rootfs " + cfg_.rootfs + ": " + std::strerror(errno), exit_code::tool_failed, errno);
        if (cfg_.rootfs == state::default_rootfs()) e.with_hint("make the default image with scripts/make-image.sh");
        throw e;
    }
    if (!S_ISDIR(st.st_mode)) throw Error("rootfs " + cfg_.rootfs + ": not a directory");
    char real[PATH_MAX];
    if (!::realpath(cfg_.rootfs.c_str(), real)) throw SysError("realpath(\"" + cfg_.rootfs + "\")", errno);
    root_ = real;
    if (root_ == "/")
        throw Error("rootfs " + cfg_.rootfs + " is the host's own root: its /proc, /sys and /dev are the host's, "
                    "in use, and a container would run on the host's files")
            .with_hint("give an image's directory, e.g. the default one (omit --rootfs)");

    unique_fd root(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw SysError("open(\"" + root_ + "\", O_PATH|O_DIRECTORY)", errno);
    if (!cfg_.root_is_private) {
        // The mount points this layer needs must be in the image: it is never written to.
        for (const char* d : {"/proc", "/sys", "/dev", "/tmp"}) {
            Resolved r = resolve_in_root(root.get(), d, Create::none);
            if (!r.exists || !r.is_dir)
                throw Error("rootfs " + root_ + " has no directory " + d + " to mount on, and a run never writes "
                            "into an image (every container shares it)")
                    .with_hint(std::string("mkdir ") + root_ + d);
        }
    }
    for (auto& v : cfg_.volumes) {
        std::string spec = "-v " + v.host + ":" + v.container;
        struct stat hs {};
        if (::stat(v.host.c_str(), &hs) < 0)
            throw Error(spec + ": host path " + v.host + ": " + std::strerror(errno));
        Resolved r;
        try {
            r = resolve_in_root(root.get(), v.container, Create::none);
        } catch (Error& e) {
            throw e.context(spec);
        }
        if (is_kernel_path(r.path))
            throw Error(spec + ": resolves to " + r.path + ", where the container's own /proc, /sys or /dev is mounted");
        if (!r.exists && !cfg_.root_is_private && !is_under(r.path, "/tmp"))
            throw Error(spec + ": " + r.path + " does not exist in the image, and this step never writes into "
                        "the image (every container shares it; a container's own layer comes with step06)")
                .with_hint("mount on a path the image has, or under /tmp (the container's own tmpfs)");
        if (r.exists && r.is_dir != S_ISDIR(hs.st_mode))
            throw Error(spec + ": " + r.path + " is a " + (r.is_dir ? "directory" : "file") + " in the rootfs, " +
                        v.host + " is not");
        narrate::note("mnt", spec + ": resolves to " + r.path + " inside the rootfs" +
                                 (r.exists ? "" : " (to be created)"));
    }

    // What dead runs left (only --no-private ever leaves anything).
    for (auto& l : reap_leftovers())
        for (auto& m : l.mount_points) narrate::note("mnt", "reaped " + m + " (left by dead run " + l.owner + ")");

    if (cfg_.no_private) {
        before_ = detail::mount_ids();
        record_ = detail::write_record(ctx.id, root_, before_);
    }
}

void Layer::setup_inside(launch::Context&) {
    // The table of contents. The order matters: private before any mount (or it reaches the
    // host), the root bound before anything is mounted in it, volumes last (a volume may go
    // into /tmp), and the root switched only when the tree is complete.
    detail::g_root_is_private = cfg_.root_is_private;  // for attach(), called by later layers
    if (cfg_.no_private)
        narrate::note("mnt", "--no-private: skipping mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE)");
    else
        detail::make_private();
    unique_fd root = detail::bind_root(root_);
    detail::mount_proc(root.get(), root_);
    detail::mount_sys(root.get(), root_);
    detail::mount_dev(root.get(), root_);
    detail::mount_tmp(root.get(), root_);
    for (auto& v : cfg_.volumes) detail::mount_volume(root.get(), root_, v);
    if (cfg_.chroot_mode)
        detail::enter_chroot(root.get(), root_);
    else
        detail::enter_pivot_root(root.get(), root_);
}

void Layer::before_exec(launch::Context&) {
    if (cfg_.read_only) detail::remount_root_read_only();
}

void Layer::cleanup(launch::Context&) noexcept {
    fault::Suspend undo;  // tests: fault injection fails the doing, never the undoing
    if (record_.empty()) return;
    try {
        auto left = detail::unmount_propagated(root_, before_);
        if (!left.empty()) {
            std::string list;
            for (auto& m : left) list += (list.empty() ? "" : ", ") + m;
            narrate::warn("--no-private: " + std::to_string(left.size()) +
                          " mount(s) of the container had propagated to the host, unmounted: " + list);
        }
        ::unlink(record_.c_str());
    } catch (const std::exception& e) {
        narrate::warn(std::string("--no-private cleanup: ") + e.what());
    }
}

}  // namespace mnt
