// Inside step03_mnt: the pieces Layer::setup_inside puts together, one function per mount.
// Not part of the public interface (mnt.hpp is); split out so each file holds one idea:
//   tree.cpp   the container's tree: propagation, the root bind, /proc /sys /dev /tmp, volumes,
//              pivot_root or chroot, read-only
//   inroot.cpp resolving a path inside the root; detach/attach for later layers
//   host.cpp   the host's mount table: mountinfo, --no-private leftovers
#pragma once

#include <string>
#include <vector>

#include "mnt.hpp"

namespace mnt::detail {

// "/proc/self/fd/7": mount(2) takes paths, not fds; through this magic link the kernel mounts
// on exactly what the fd was opened on, whatever happened to the path since.
std::string fd_path(int fd);

// A narrated mount(2) onto `target_fd` (opened by resolve_in_root); `shown` is the path the
// learner reads in the narration.
void mount_on(const char* source, const std::string& shown, int target_fd, const char* fstype,
              unsigned long flags, const char* data, const std::string& why);

// The running container's Config::root_is_private (set by Layer::setup_inside, read by attach).
extern bool g_root_is_private;

// Child side, in order.
void make_private();                                        // mount("", "/", MS_REC|MS_PRIVATE)
unique_fd bind_root(const std::string& rootfs);             // rootfs bound onto itself
void mount_proc(int root, const std::string& rootfs);
void mount_sys(int root, const std::string& rootfs);
void mount_dev(int root, const std::string& rootfs);
void mount_tmp(int root, const std::string& rootfs);
void mount_volume(int root, const std::string& rootfs, const Volume& v);
void enter_pivot_root(int root, const std::string& rootfs);  // pivot_root + old root detached
void enter_chroot(int root, const std::string& rootfs);      // --chroot (unsafe on purpose)
void remount_root_read_only();                               // --read-only

// Host side (host.cpp).
std::vector<int> mount_ids();
// Unmount the mounts at or under `root` whose id is not in `before` (what propagated to the
// host). Returns their mount points.
std::vector<std::string> unmount_propagated(const std::string& root, const std::vector<int>& before);
// Write the --no-private record; returns its path.
std::string write_record(const std::string& id, const std::string& root, const std::vector<int>& before);

}  // namespace mnt::detail
