// Masked and read-only paths, with mount(2) alone.
//
// A container's /proc is its own procfs, but many files in it are the host kernel's:
// /proc/kcore (its memory), /proc/sysrq-trigger (reboot it), /proc/sys (its tunables),
// /proc/keys, /sys/firmware. A mount over a path hides what is below: /dev/null over a file, an
// empty read-only tmpfs over a directory. A read-only path is a bind mount of itself, then
// remounted MS_RDONLY: the remount changes that one mount, not the filesystem.
// Neither can be undone without CAP_SYS_ADMIN (umount and mount need it, and Docker's seccomp
// profile refuses both calls outright without it). See mount(2), proc(5), mount_namespaces(7).
#include "masked.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>

#include "error.hpp"
#include "narrate.hpp"

namespace masked {

namespace {

constexpr std::string_view kLayer = "masked";

// stat() that says "missing" instead of throwing: the lists are written for every kernel, and
// a path this kernel does not have (/proc/timer_stats, /sys/firmware on some VMs) needs no mask.
bool exists(const std::string& path, struct stat& st) {
    if (stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw SysError("stat(\"" + path + "\")", errno);
}

}  // namespace

void mask(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
        struct stat st {};
        if (!exists(path, st)) continue;
        std::string observe = "grep ' " + path + " ' /proc/{pid}/mountinfo";
        if (S_ISDIR(st.st_mode)) {
            // size=4k: the mount is read-only, nothing will ever be written; nr_inodes=1 is
            // the root directory alone.
            narrate::sys({kLayer, "mount(\"tmpfs\", \"" + path + "\", \"tmpfs\", MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC, \"size=4k,nr_inodes=1,mode=555\")",
                          "an empty read-only directory hides the host's entries below it", observe},
                         [&] {
                             return ::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                            "size=4k,nr_inodes=1,mode=555");
                         });
        } else {
            try {
                narrate::sys({kLayer, "mount(\"/dev/null\", \"" + path + "\", NULL, MS_BIND)",
                              "reads of it give nothing, writes go nowhere", observe},
                             [&] { return ::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr); });
            } catch (Error& e) {
                if (e.err() == ENOENT) e.with_hint("the container's /dev/null must exist before the paths are masked");
                throw;
            }
        }
    }
}

void make_read_only(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
        struct stat st {};
        if (!exists(path, st)) continue;
        std::string observe = "grep ' " + path + " ' /proc/{pid}/mountinfo";
        narrate::sys({kLayer, "mount(\"" + path + "\", \"" + path + "\", NULL, MS_BIND|MS_REC)",
                      "a mount of its own, so that making it read-only leaves the rest of the filesystem as it is",
                      observe},
                     [&] { return ::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr); });

        // A bind remount replaces the mount's flags: the ones it has (nosuid, nodev, noexec on
        // /proc) must be asked for again, or they would be cleared - and in a user namespace
        // the kernel refuses (EPERM) to clear flags locked by a more privileged one.
        struct statvfs vfs {};
        check(statvfs(path.c_str(), &vfs), "statvfs(\"" + path + "\")");
        unsigned long keep = 0;
        if (vfs.f_flag & ST_NOSUID) keep |= MS_NOSUID;
        if (vfs.f_flag & ST_NODEV) keep |= MS_NODEV;
        if (vfs.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
        if (vfs.f_flag & ST_NOATIME) keep |= MS_NOATIME;
        if (vfs.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
        if (vfs.f_flag & ST_RELATIME) keep |= MS_RELATIME;
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | keep;
        std::string spelled = spell_flags(flags, {{MS_BIND, "MS_BIND"}, {MS_REMOUNT, "MS_REMOUNT"}, {MS_RDONLY, "MS_RDONLY"},
                                                  {MS_NOSUID, "MS_NOSUID"}, {MS_NODEV, "MS_NODEV"}, {MS_NOEXEC, "MS_NOEXEC"},
                                                  {MS_NOATIME, "MS_NOATIME"}, {MS_NODIRATIME, "MS_NODIRATIME"},
                                                  {MS_RELATIME, "MS_RELATIME"}});
        // Only this mount becomes read-only; a mount below it (binfmt_misc under /proc/sys/fs)
        // keeps its own flags, as with runc.
        narrate::sys({kLayer, "mount(NULL, \"" + path + "\", NULL, " + spelled + ")",
                      "writes under it fail with EROFS", observe},
                     [&] { return ::mount(nullptr, path.c_str(), nullptr, flags, nullptr); });
    }
}

}  // namespace masked
