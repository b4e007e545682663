// The container's tree from config.json's `mounts`. The table of contents is
// Layer::setup_inside; one function per kind of mount below it.
#include "rootfs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "backend.hpp"
#include "devices.hpp"
#include "files.hpp"
#include "mnt.hpp"
#include "namespaces.hpp"
#include "narrate.hpp"
#include "tree.hpp"

namespace rootfs {
namespace {

using mnt::Create;
using mnt::detail::fd_path;

const char* kObserve = "findmnt -N {pid}";

// The flags a bind takes through mount_setattr(2): one call on a detached tree, so the mount
// is read-only (nosuid, ...) before anyone can see it, and locked flags need no re-stating.
mount_attr attrs_of(const spec::Mount& m) {
    mount_attr a{};
    if (m.flags & MS_RDONLY) a.attr_set |= MOUNT_ATTR_RDONLY;
    if (m.flags & MS_NOSUID) a.attr_set |= MOUNT_ATTR_NOSUID;
    if (m.flags & MS_NODEV) a.attr_set |= MOUNT_ATTR_NODEV;
    if (m.flags & MS_NOEXEC) a.attr_set |= MOUNT_ATTR_NOEXEC;
    if (m.flags & MS_NODIRATIME) a.attr_set |= MOUNT_ATTR_NODIRATIME;
    if (m.clear & MS_RDONLY) a.attr_clr |= MOUNT_ATTR_RDONLY;
    if (m.clear & MS_NOSUID) a.attr_clr |= MOUNT_ATTR_NOSUID;
    if (m.clear & MS_NODEV) a.attr_clr |= MOUNT_ATTR_NODEV;
    if (m.clear & MS_NOEXEC) a.attr_clr |= MOUNT_ATTR_NOEXEC;
    if (m.flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) {
        a.attr_clr |= MOUNT_ATTR__ATIME;
        a.attr_set |= (m.flags & MS_NOATIME) ? MOUNT_ATTR_NOATIME
                      : (m.flags & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME
                                                   : MOUNT_ATTR_RELATIME;
    }
    a.propagation = m.propagation & ~MS_REC;
    return a;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
}

// The kernel's own files under /proc may not be replaced by a mount (a container could hide
// its masks that way); LXCFS-style binds of these few are the accepted exceptions (runc's list).
void check_proc_destination(const std::string& dest, const std::string& type) {
    if (dest != "/proc" && dest.rfind("/proc/", 0) != 0) return;
    if (dest == "/proc" && type == "proc") return;
    static const std::set<std::string> allowed = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo",
                                                  "/proc/stat",    "/proc/swaps",     "/proc/uptime",
                                                  "/proc/loadavg", "/proc/slabinfo",  "/proc/net/dev",
                                                  "/proc/sys/kernel/ns_last_pid"};
    if (!allowed.count(dest))
        throw Error("mounts: " + dest + ": a mount over /proc is refused (it could hide the masked paths)");
}

// Where the mount goes, made in the root if missing: a file for a bind of a file, else a dir.
mnt::Resolved target_for(int root, const spec::Mount& m) {
    Create create = Create::dir;
    if (m.bind()) {
        struct stat st {};
        if (::stat(m.source.c_str(), &st) < 0) throw SysError("mounts: stat(\"" + m.source + "\")", errno);
        if (!S_ISDIR(st.st_mode)) create = Create::file;
    }
    return mnt::resolve_in_root(root, m.destination, create);
}

void bind(int root, const std::string& rootfs, const spec::Mount& m) {
    bool recursive = m.flags & MS_REC;
    auto target = target_for(root, m);
    std::string shown = rootfs + target.path;
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
    unique_fd tree(static_cast<int>(
        narrate::sys({"rootfs",
                      "open_tree(\"" + m.source + "\", OPEN_TREE_CLONE" + (recursive ? "|AT_RECURSIVE" : "") + ")",
                      "a detached copy of " + m.source + ", in no mount table yet", ""},
                     [&] { return ::open_tree(AT_FDCWD, m.source.c_str(), flags); })));
    mount_attr a = attrs_of(m);
    if (a.attr_set || a.attr_clr || a.propagation) {
        narrate::sys({"rootfs", "mount_setattr(tree, " + join(m.options) + ")",
                      "the options apply before the mount is visible (a plain bind would ignore them)", ""},
                     [&] {
                         return ::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a,
                                                sizeof a);
                     });
    }
    narrate::sys({"rootfs", "move_mount(tree, \"" + shown + "\")", "the bind appears at " + target.path, kObserve},
                 [&] {
                     return ::move_mount(tree.get(), "", target.fd.get(), "",
                                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
                 });
}

// A file system of its own (proc, sysfs, tmpfs, devpts, mqueue, ...).
void filesystem(int root, const std::string& rootfs, const spec::Mount& m) {
    auto target = target_for(root, m);
    std::string source = m.source.empty() ? m.type : m.source;
    unsigned long flags = m.flags & ~MS_REC;
    mnt::detail::mount_on(source.c_str(), rootfs + target.path, target.fd.get(), m.type.c_str(), flags,
                          m.data.empty() ? nullptr : m.data.c_str(), "mounts: " + m.type + " at " + m.destination);
    if (m.propagation) {
        auto again = mnt::resolve_in_root(root, target.path, Create::none);
        narrate::sys({"rootfs", "mount(NULL, \"" + rootfs + target.path + "\", " + mnt::mount_flags(m.propagation) + ")",
                      "propagation of this mount", kObserve},
                     [&] { return ::mount(nullptr, fd_path(again.fd.get()).c_str(), nullptr, m.propagation, nullptr); });
    }
}

// The container's own cgroup path in each hierarchy, from /proc/self/cgroup (the parent has
// moved us in already): "4:memory:/minibox/ctr1" -> {"memory": "/minibox/ctr1"}, "0::/x" -> {"": "/x"}.
std::map<std::string, std::string> own_cgroups() {
    std::map<std::string, std::string> out;
    std::string text = files::read("/proc/self/cgroup");
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        start = end + 1;
        size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) continue;
        out[line.substr(a + 1, b - a - 1)] = line.substr(b + 1);
    }
    return out;
}

// type "cgroup"/"cgroup2": what the host has. In a cgroup namespace a fresh mount shows the
// container's cgroup as its root; without one, a fresh mount would show the host's whole tree,
// so the container's own directory is bound instead (runc does the same).
void cgroupfs(int root, const std::string& rootfs, const spec::Mount& m, const cgroup::Host& host, bool own_ns) {
    auto own = own_cgroups();
    unsigned long flags = m.flags & ~MS_REC;
    auto mount_one = [&](const std::string& dest, const std::string& fstype, const std::string& options,
                         const std::string& host_mount, const std::string& key) {
        spec::Mount sub = m;
        sub.destination = dest;
        if (own_ns) {
            sub.type = fstype;
            sub.source = fstype == "cgroup2" ? "cgroup2" : "cgroup";
            sub.data = options;
            sub.flags = flags;
            filesystem(root, rootfs, sub);
        } else {
            sub.type = "bind";
            sub.source = host_mount + (own.count(key) ? own[key] : std::string());
            sub.flags = MS_BIND | (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
            sub.propagation = 0;
            bind(root, rootfs, sub);
        }
    };
    if (host.layout == cgroup::Layout::unified || m.type == "cgroup2") {
        std::string v2 = host.v2.empty() ? "/sys/fs/cgroup" : host.v2;
        mount_one(m.destination, "cgroup2", "", v2, "");
        return;
    }
    // v1: a tmpfs holding one mount per hierarchy, named as on the host ("cpu,cpuacct").
    spec::Mount dir = m;
    dir.type = "tmpfs";
    dir.source = "tmpfs";
    dir.flags = flags & ~MS_RDONLY;
    dir.data = "mode=755";
    dir.propagation = 0;
    filesystem(root, rootfs, dir);
    std::map<std::string, std::vector<std::string>> hierarchies;  // mount point -> controllers
    for (auto& [controller, mount_point] : host.v1) hierarchies[mount_point].push_back(controller);
    for (auto& [mount_point, controllers] : hierarchies) {
        std::string name = mount_point.substr(mount_point.rfind('/') + 1);
        std::string key = join(controllers);
        std::string cgroup_key;  // the name /proc/self/cgroup uses for that hierarchy
        for (auto& [k, v] : own)
            if (!k.empty() && (k == name || k == key)) cgroup_key = k;
        mount_one(m.destination + "/" + name, "cgroup", name, mount_point, cgroup_key.empty() ? name : cgroup_key);
    }
    if (!host.v2.empty()) mount_one(m.destination + "/unified", "cgroup2", "", host.v2, "");
    if (m.flags & MS_RDONLY) {
        auto again = mnt::resolve_in_root(root, m.destination, Create::none);
        mount_attr a{};
        a.attr_set = MOUNT_ATTR_RDONLY;
        narrate::sys({"rootfs", "mount_setattr(\"" + rootfs + m.destination + "\", {MOUNT_ATTR_RDONLY})",
                      "the cgroup directory itself read-only", kObserve},
                     [&] { return ::mount_setattr(again.fd.get(), "", AT_EMPTY_PATH, &a, sizeof a); });
    }
}

void no_pivot_root(int root, const std::string& rootfs) {
    // For a root on the initramfs (ramfs cannot be pivoted): move the root over "/" and chroot.
    // The old root stays reachable for a process with CAP_SYS_CHROOT: weaker, hence a flag.
    narrate::sys({"rootfs", "chdir(\"" + rootfs + "\")", "--no-pivot", ""}, [&] { return ::fchdir(root); });
    narrate::sys({"rootfs", "mount(\".\", \"/\", NULL, MS_MOVE)", "the root moves over /", ""},
                 [] { return ::mount(".", "/", nullptr, MS_MOVE, nullptr); });
    narrate::sys({"rootfs", "chroot(\".\")", "--no-pivot: chroot instead of pivot_root", ""},
                 [] { return ::chroot("."); });
    check(::chdir("/"), "chdir(\"/\")");
}

}  // namespace

Layer::Layer(Config cfg) : cfg_(std::move(cfg)) {
    for (auto& m : cfg_.mounts) check_proc_destination(m.destination, m.type);
}

void Layer::set_idmap(const std::vector<spec::IdMap>& uid, const std::vector<spec::IdMap>& gid) {
    uid_ = uid;
    gid_ = gid;
}

void Layer::prepare_host(launch::Context&) {
    // The layout is read on the host: inside a cgroup namespace the host's v1 mounts show their
    // roots as "/../.." and would not be recognised.
    host_ = cfg_.cgroup_host ? *cfg_.cgroup_host : cgroup::detect();
    struct stat st {};
    if (::stat(cfg_.root.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
        throw Error("root.path " + cfg_.root + ": not a directory");
    if (uid_.empty()) return;
    // A user namespace maps root inside to an unprivileged host id, so the image's files (owned
    // by host root) would show as nobody and be read-only to the container's root. An idmapped
    // mount shows them through the same map (kernel 5.12+, and a file system that supports it);
    // the mount is made here, detached, and moved into place by the child.
    try {
        unique_fd userns = namespaces::make_userns(uid_, gid_);
        unique_fd tree(static_cast<int>(narrate::sys(
            {"rootfs", "open_tree(\"" + cfg_.root + "\", OPEN_TREE_CLONE|AT_RECURSIVE)", "a copy of the root to idmap", ""},
            [&] { return ::open_tree(AT_FDCWD, cfg_.root.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE); })));
        mount_attr a{};
        a.attr_set = MOUNT_ATTR_IDMAP;
        a.userns_fd = static_cast<uint64_t>(userns.get());
        narrate::sys({"rootfs", "mount_setattr(tree, AT_RECURSIVE, {MOUNT_ATTR_IDMAP, userns})",
                      "files owned by host uid 0 appear owned by the container's root", ""},
                     [&] { return ::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a); });
        // The child cannot attach it: a detached tree belongs to the host's user namespace, and
        // the child's mount namespace to its own (move_mount: EPERM). So the runtime takes a
        // mount namespace of its own (a slave: nothing goes back to the host), attaches the
        // tree over the root there, and the child's clone(CLONE_NEWNS) copies it.
        narrate::sys({"rootfs", "unshare(CLONE_NEWNS)", "a private mount namespace for this runtime process", ""},
                     [] { return ::unshare(CLONE_NEWNS); });
        narrate::sys({"rootfs", "mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE)", "nothing mounted here reaches the host", ""},
                     [] { return ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr); });
        narrate::sys({"rootfs", "move_mount(idmapped tree, \"" + cfg_.root + "\")",
                      "the idmapped root, seen by the container's clone", ""},
                     [&] { return ::move_mount(tree.get(), "", AT_FDCWD, cfg_.root.c_str(), MOVE_MOUNT_F_EMPTY_PATH); });
    } catch (const Error& e) {
        narrate::warn("user namespace: no idmapped root (" + e.line() +
                      "); the root's files keep their host owners: chown the rootfs to the mapped range "
                      "(e.g. chown -R 100000:100000 ROOTFS) for the container's root to own them");
    }
}

void Layer::setup_inside(launch::Context&) {
    // 1. Propagation: nothing mounted from here on may reach the host. rshared is set on the
    //    new root after pivot_root (which refuses shared mounts).
    unsigned long prop = cfg_.propagation ? cfg_.propagation : (MS_REC | MS_PRIVATE);
    unsigned long first = (prop & MS_SHARED) ? ((prop & ~MS_SHARED) | MS_SLAVE) : prop;
    narrate::sys({"rootfs", "mount(NULL, \"/\", NULL, " + mnt::mount_flags(first) + ")",
                  "mount events stop flowing from the container to the host", kObserve},
                 [&] { return ::mount(nullptr, "/", nullptr, first, nullptr); });

    // 2. The root becomes a mount point of its own (pivot_root needs one).
    unique_fd root = mnt::detail::bind_root(cfg_.root);

    // 3. The engine's mounts, in its order (a later mount may sit on an earlier one).
    for (size_t i = 0; i < cfg_.mounts.size(); ++i) {
        const auto& m = cfg_.mounts[i];
        try {
            if (m.bind()) bind(root.get(), cfg_.root, m);
            else if (m.type == "cgroup" || m.type == "cgroup2") cgroupfs(root.get(), cfg_.root, m, host_, cfg_.cgroup_namespace);
            else filesystem(root.get(), cfg_.root, m);
        } catch (Error& e) {
            e.context("mounts[" + std::to_string(i) + "] " + m.destination);
            throw;
        }
    }

    // 4. The device nodes, in whatever /dev the mounts made.
    devices::populate(root.get(), cfg_.devices, cfg_.user_namespace);

    if (cfg_.before_pivot) cfg_.before_pivot();

    // 5. The root becomes "/" (step03's pivot_root(".", ".")).
    if (cfg_.no_pivot) no_pivot_root(root.get(), cfg_.root);
    else mnt::detail::enter_pivot_root(root.get(), cfg_.root);
    if (prop & MS_SHARED) {
        narrate::sys({"rootfs", "mount(NULL, \"/\", NULL, " + mnt::mount_flags(prop) + ")", "rootfsPropagation", kObserve},
                     [&] { return ::mount(nullptr, "/", nullptr, prop, nullptr); });
    }
    if (cfg_.read_only) mnt::detail::remount_root_read_only();
}

}  // namespace rootfs
