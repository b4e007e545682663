// The container's tree, built in the child, in its new mount namespace, before it execs.
//
//   host tree (a private copy)          after pivot_root(".", ".") and umount2(".", MNT_DETACH)
//   /                                   /            <- ROOTFS, bound onto itself
//   ├── proc, sys, dev, ...             ├── proc     fresh proc of the container's PID ns
//   └── ROOTFS  <- bound onto itself    ├── sys      sysfs, read-only
//       ├── proc  sys  dev  tmp         ├── dev      tmpfs: null zero full random urandom tty,
//       └── VOLUME                      │            pts/ (new instance), shm/, fd -> ...
//                                       ├── tmp      tmpfs
//                                       └── VOLUME   bind of a host directory
//
// Every target inside the rootfs is opened with resolve_in_root() (the image's symlinks cannot
// send a mount outside it) and mounted through /proc/self/fd/N (what the fd points to cannot be
// swapped between the check and the mount).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mnt.hpp"
#include "narrate.hpp"
#include "tree.hpp"

namespace mnt::detail {
namespace {

const char* kObserve = "findmnt -N {pid}   # the container's mounts, this one included";

std::string quoted(const char* s) { return s ? "\"" + std::string(s) + "\"" : "NULL"; }

std::string mount_call(const char* source, const std::string& target, const char* fstype,
                       unsigned long flags, const char* data) {
    std::string call = "mount(" + quoted(source) + ", \"" + target + "\", " + quoted(fstype) + ", " +
                       mount_flags(flags);
    if (data) call += ", \"" + std::string(data) + "\"";
    return call + ")";
}

// The directory `path` inside the root, made if missing.
unique_fd dir_in(int root, const std::string& path) {
    Resolved r = resolve_in_root(root, path, Create::dir);
    if (!r.is_dir) throw Error("rootfs: " + r.path + " is not a directory, cannot mount on it");
    return std::move(r.fd);
}

// Host flags that a bind remount must keep (in a user namespace the kernel refuses to drop
// them; elsewhere keeping them is simply right).
unsigned long kept_flags(const char* path) {
    struct statvfs sv {};
    if (::statvfs(path, &sv) < 0) throw SysError("statvfs(\"" + std::string(path) + "\")", errno);
    unsigned long f = 0;
    if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

// True when the mount at "/" of this namespace has shared propagation.
bool root_is_shared() {
    for (auto& m : read_mountinfo())
        if (m.mount_point == "/" && m.propagation.find("shared:") != std::string::npos) return true;
    return false;
}

}  // namespace

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

void mount_on(const char* source, const std::string& shown, int target_fd, const char* fstype,
              unsigned long flags, const char* data, const std::string& why) {
    std::string target = fd_path(target_fd);
    narrate::sys({"mnt", mount_call(source, shown, fstype, flags, data), why, kObserve},
                 [&] { return ::mount(source, target.c_str(), fstype, flags, data); });
}

void make_private() {
    // A fresh mount namespace starts as a copy, and copies of shared mounts stay peers of the
    // host's: a mount made here would appear on the host. MS_PRIVATE cuts every peer link, for
    // "/" and (MS_REC) everything below it.
    narrate::sys({"mnt", "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE)",
                  "mount events stop flowing between the host and the container",
                  "findmnt -o TARGET,PROPAGATION -N {pid}"},
                 [] { return ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr); });
}

unique_fd bind_root(const std::string& rootfs) {
    // pivot_root wants the new root to be a mount point: binding the directory onto itself makes
    // it one (and gives us a mount of our own to remount read-only later).
    narrate::sys({"mnt", mount_call(rootfs.c_str(), rootfs, nullptr, MS_BIND | MS_REC, nullptr),
                  "the rootfs becomes a mount point of its own, the future /", kObserve},
                 [&] { return ::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr); });
    // Opened after the bind, so the fd is on the new mount, not on the directory beneath it.
    unique_fd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw SysError("open(\"" + rootfs + "\", O_PATH|O_DIRECTORY)", errno);
    return root;
}

void mount_proc(int root, const std::string& rootfs) {
    // procfs shows the PID namespace of the process that mounts it: ours, so `ps` inside lists
    // only the container. The host's /proc (still in our copy) would list every host process.
    auto at = dir_in(root, "/proc");
    mount_on("proc", rootfs + "/proc", at.get(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr,
             "a proc of the container's PID namespace: ps shows only the container");
}

void mount_sys(int root, const std::string& rootfs) {
    // sysfs is read-only: the container may read the hardware description, not retune the host.
    auto at = dir_in(root, "/sys");
    std::string shown = rootfs + "/sys";
    try {
        mount_on("sysfs", shown, at.get(), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr,
                 "sysfs, read-only (it shows the network devices of the mounter's net namespace)");
        return;
    } catch (const Error& e) {
        if (e.err() != EPERM) throw;
    }
    // Without CAP_SYS_ADMIN over the network namespace (a user namespace that does not own it),
    // the kernel refuses a new sysfs: fall back to the host's, bound read-only, submounts too.
    narrate::note("mnt", "sysfs refused (EPERM): binding the host's /sys read-only instead");
    mount_on("/sys", shown, at.get(), nullptr, MS_BIND | MS_REC, nullptr, "the host's /sys, to be made read-only");
    auto bound = dir_in(root, "/sys");
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    narrate::sys({"mnt", "mount_setattr(\"" + shown + "\", AT_RECURSIVE, {MOUNT_ATTR_RDONLY})",
                  "read-only, submounts included", kObserve},
                 [&] { return ::mount_setattr(bound.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr); });
}

void mount_dev(int root, const std::string& rootfs) {
    // Not the host's /dev (every disk, every terminal): a small tmpfs with the few devices a
    // program expects.
    std::string dev = rootfs + "/dev";
    {
        auto at = dir_in(root, "/dev");
        mount_on("tmpfs", dev, at.get(), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k",
                 "a /dev of the container's own, small, without the host's devices");
    }
    auto d = dir_in(root, "/dev");  // the tmpfs now
    struct Node {
        const char* name;
        unsigned major, minor;
    };
    static const Node kNodes[] = {{"null", 1, 3},    {"zero", 1, 5},    {"full", 1, 7},
                                  {"random", 1, 8},  {"urandom", 1, 9}, {"tty", 5, 0}};
    int failed = 0;
    narrate::Op op{"mnt", "mknod(\"" + dev + "/{null,zero,full,random,urandom,tty}\", S_IFCHR|0666, makedev(1,3)...)",
                   "the character devices every program expects",
                   // before pivot_root the container's /dev is still under the image's path
                   "ls -l /proc/{pid}/root" + dev + "   # the six nodes, in the container's own tmpfs"};
    try {
        narrate::sys(op, [&] {
            for (auto& n : kNodes) {
                if (::mknodat(d.get(), n.name, S_IFCHR | 0666, makedev(n.major, n.minor)) < 0) return -1;
                // mknod applies the umask: set the mode explicitly.
                if (::fchmodat(d.get(), n.name, 0666, 0) < 0) return -1;
            }
            return 0;
        });
    } catch (const Error& e) {
        if (e.err() != EPERM) throw;
        failed = 1;
    }
    if (failed) {
        // Without CAP_MKNOD (a user namespace), bind the host's nodes onto empty files instead.
        narrate::note("mnt", "mknod refused (EPERM): binding the host's device nodes instead");
        for (auto& n : kNodes) {
            Resolved f = resolve_in_root(root, std::string("/dev/") + n.name, Create::file);
            std::string host = std::string("/dev/") + n.name;
            mount_on(host.c_str(), dev + "/" + n.name, f.fd.get(), nullptr, MS_BIND, nullptr, "a host device node");
        }
    }

    // A devpts of our own (newinstance): the container's ptys are numbered from 0 and are not
    // the host's. /dev/ptmx must lead to this instance's ptmx.
    {
        auto pts = dir_in(root, "/dev/pts");
        mount_on("devpts", dev + "/pts", pts.get(), "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620", "pseudo-terminals of the container's own");
    }
    auto shm = dir_in(root, "/dev/shm");
    mount_on("tmpfs", dev + "/shm", shm.get(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
             "POSIX shared memory, writable even with --read-only");

    struct Link {
        const char* name;
        const char* target;
    };
    static const Link kLinks[] = {{"ptmx", "pts/ptmx"},
                                  {"fd", "/proc/self/fd"},
                                  {"stdin", "/proc/self/fd/0"},
                                  {"stdout", "/proc/self/fd/1"},
                                  {"stderr", "/proc/self/fd/2"}};
    narrate::sys({"mnt", "symlink(\"pts/ptmx\", \"" + dev + "/ptmx\"), fd stdin stdout stderr -> /proc/self/fd/...",
                  "the usual links", "ls -l /proc/{pid}/root" + dev + "   # ptmx, fd, stdin, stdout, stderr"},
                 [&] {
                     for (auto& l : kLinks)
                         if (::symlinkat(l.target, d.get(), l.name) < 0) return -1;
                     return 0;
                 });
}

void mount_tmp(int root, const std::string& rootfs) {
    // A tmpfs, not the image's /tmp: in this step every container shares the image directory
    // (copy-on-write comes with step06), and one container's temporary files are no business of
    // the next. It also keeps /tmp writable under --read-only.
    auto at = dir_in(root, "/tmp");
    mount_on("tmpfs", rootfs + "/tmp", at.get(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k",
             "a private, writable /tmp");
}

void mount_volume(int root, const std::string& rootfs, const Volume& v) {
    struct stat st {};
    if (::stat(v.host.c_str(), &st) < 0) throw SysError("stat(\"" + v.host + "\")", errno);
    Resolved r = resolve_in_root(root, v.container, S_ISDIR(st.st_mode) ? Create::dir : Create::file);
    if (r.is_dir != S_ISDIR(st.st_mode))
        throw Error("-v " + v.host + ":" + v.container + ": a file and a directory cannot be mounted on each other");
    std::string shown = rootfs + r.path;
    // A plain bind (not MS_REC): mounts below HOST stay out, so ":ro" covers all the container
    // sees through the volume.
    mount_on(v.host.c_str(), shown, r.fd.get(), nullptr, MS_BIND, nullptr,
             "the volume: " + v.host + " appears at " + r.path + " inside");
    if (!v.read_only) return;
    // MS_RDONLY is ignored on the first bind: a bind shares the source's superblock, and
    // read-only is a property of each mount, set by a second call, a bind remount.
    Resolved again = resolve_in_root(root, r.path, Create::none);
    std::string target = fd_path(again.fd.get());
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(target.c_str());
    narrate::sys({"mnt", mount_call(nullptr, shown, nullptr, flags, nullptr),
                  "the volume is read-only inside (writes fail with EROFS), still writable on the host", kObserve},
                 [&] { return ::mount(nullptr, target.c_str(), nullptr, flags, nullptr); });
}

void enter_pivot_root(int root, const std::string& rootfs) {
    // pivot_root(".", "."): the new root becomes "/", and the old root is stacked on top of it,
    // at the same place, where umount2(".") finds it. No put_old directory is needed in the
    // image (which may be read-only, or shared by another container doing the same right now).
    narrate::sys({"mnt", "chdir(\"" + rootfs + "\")", "pivot_root works on the current directory", ""},
                 [&] { return ::fchdir(root); });
    try {
        narrate::sys({"mnt", "pivot_root(\".\", \".\")",
                      "the rootfs becomes /; the host's root now sits on top of it, still reachable",
                      "ls -l /proc/{pid}/root/"},
                     [] { return ::syscall(SYS_pivot_root, ".", "."); });
    } catch (Error& e) {
        if (e.err() == EINVAL && root_is_shared())
            e.with_hint("the root mount is shared (--no-private skipped the MS_PRIVATE remount): "
                        "pivot_root refuses to move shared mounts");
        else if (e.err() == EINVAL)
            e.with_hint("is the new root a mount point, and no mount on the way shared?");
        throw;
    }
    // MNT_DETACH: the old root is busy (we, the host's processes...). A lazy unmount takes it
    // out of our tree at once; the kernel frees it when the last user lets go.
    narrate::sys({"mnt", "umount2(\".\", MNT_DETACH)", "the host's tree is gone from the container",
                  "grep -c . /proc/{pid}/mountinfo   # a handful of lines, not the host's"},
                 [] { return ::umount2(".", MNT_DETACH); });
    check(::chdir("/"), "chdir(\"/\")");
}

void enter_chroot(int root, const std::string& rootfs) {
    // The classic mistake, on purpose: chroot changes this process's idea of "/", nothing else.
    // The host's tree stays mounted in the namespace, one chroot-escape away.
    narrate::sys({"mnt", "chdir(\"" + rootfs + "\")", "chroot to the current directory", ""},
                 [&] { return ::fchdir(root); });
    narrate::sys({"mnt", "chroot(\".\")",
                  "UNSAFE (--chroot): / changes for this process only; the host's root stays mounted",
                  "ls /proc/{pid}/root/"},
                 [] { return ::chroot("."); });
    check(::chdir("/"), "chdir(\"/\")");
}

void remount_root_read_only() {
    // The root is the rootfs's own bind mount (bind_root): remounting it read-only changes that
    // one mount. /proc, /dev, /tmp and the volumes are mounts of their own, and keep their flags.
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags("/");
    narrate::sys({"mnt", mount_call(nullptr, "/", nullptr, flags, nullptr),
                  "--read-only: writes to the image fail with EROFS", kObserve},
                 [&] { return ::mount(nullptr, "/", nullptr, flags, nullptr); });
}

}  // namespace mnt::detail
