#include "mnt_doctor.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mnt.hpp"

namespace mnt {
namespace {

// In a child's private mount namespace: a tmpfs over /tmp (hiding the host's only there), a
// second one inside it as the new root, and the pivot. Nothing of it reaches the host.
int pivot_probe() {
    if (::unshare(CLONE_NEWNS) != 0) return errno;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
    if (::mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m") != 0) return errno;
    if (::mkdir("/tmp/root", 0755) != 0) return errno;
    if (::mount("tmpfs", "/tmp/root", "tmpfs", 0, "size=1m") != 0) return errno;
    if (::chdir("/tmp/root") != 0) return errno;
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno;
    if (::umount2(".", MNT_DETACH) != 0) return errno;
    return 0;
}

}  // namespace

std::vector<doctor::Check> checks() {
    return {
        {"mnt",
         [] {
             int rc = doctor::in_child(pivot_probe);
             if (rc == 0) return doctor::CheckResult::ok("unshare(CLONE_NEWNS), MS_PRIVATE and pivot_root(\".\", \".\") work");
             return doctor::CheckResult::fail(std::string("a mount namespace with pivot_root: ") + std::strerror(rc),
                                              "run as root (CAP_SYS_ADMIN); a kernel with CONFIG_NAMESPACES");
         }},
        {"mount-api",
         [] {
             int rc = doctor::in_child([] {
                 int fd = ::open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                 return fd < 0 ? errno : 0;
             });
             if (rc == 0) return doctor::CheckResult::ok("open_tree(OPEN_TREE_CLONE) works (detached bind mounts)");
             return doctor::CheckResult::warn(std::string("open_tree: ") + std::strerror(rc),
                                              "Linux 5.2 or newer: later steps bind host files with mnt::detach/attach");
         }},
    };
}

std::vector<doctor::Finder> finders() {
    return {[] {
        std::vector<doctor::Leftover> out;
        for (auto& l : find_leftovers()) {
            // A live owner unmounts its own; another namespace's mounts are out of reach (the
            // generic finder removes the stale record).
            if (l.owner_alive || !l.same_namespace) continue;
            for (auto& m : l.mount_points) {
                std::string record = l.record;
                out.push_back({"mount", m + " (propagated to the host by a --no-private run; its owner " + l.owner +
                                            " is gone)",
                               [record] { unmount_leftover(record); }});
            }
        }
        return out;
    }};
}

}  // namespace mnt
