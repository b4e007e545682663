// step03: a mount namespace and a root of its own. The reference does the least a shell user
// would: new UTS, PID and mount namespaces, then chroot into the same image. Ours does more
// (private propagation, the root bound onto itself, /proc /sys /dev /dev/pts /dev/shm /tmp,
// pivot_root and the old root's unmount): the goal says that should cost at most half again.
#include "bench.hpp"

namespace bench {

std::vector<Comparison> step03(const Env& env) {
    Comparison c;
    c.name = "step03 mnt";
    c.ours = {"step03_mnt -- /bin/true", {env.bin_dir + "/step03_mnt", "--rootfs", env.rootfs, "--", "/bin/true"}};
    std::string unshare = find_program("unshare");
    c.reference = {"unshare --uts --pid --mount --fork chroot ROOTFS /bin/true",
                   {unshare, "--uts", "--pid", "--mount", "--fork", "chroot", env.rootfs, "/bin/true"}};
    if (unshare.empty()) c.skip = "no unshare(1) (package util-linux)";
    else if (find_program("chroot").empty()) c.skip = "no chroot(8) (package coreutils)";
    return {c};
}

}  // namespace bench
