// The container's file system tree from config.json: root.path made "/", every entry of
// `mounts` mounted in order, the device nodes made, then pivot_root.
//
// step03 built a fixed tree (proc, sys, dev, tmp, volumes); an OCI runtime builds the tree the
// engine lists, with the options it gives. The pieces are step03's: the root bound onto
// itself, targets resolved inside the root (an image's symlinks cannot send a mount outside,
// mnt::resolve_in_root), mounts made through /proc/self/fd/N, pivot_root(".", "."). New here:
// bind mounts with options (a bind ignores them on the first call: a remount applies them),
// propagation per mount and for the root (rootfsPropagation), cgroupfs (v1 hierarchies or
// cgroup2, as the host has), and an idmapped root for a user namespace.
// See mount(2), mount_setattr(2), pivot_root(2), runtime-spec config.md#mounts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backend.hpp"
#include "launcher.hpp"
#include "spec.hpp"
#include "unique_fd.hpp"

namespace rootfs {

struct Config {
    std::string root;  // absolute, on the host
    bool read_only = false;
    std::vector<spec::Mount> mounts;
    std::vector<spec::Device> devices;
    unsigned long propagation = 0;  // 0: MS_REC|MS_PRIVATE
    bool no_pivot = false;          // --no-pivot: MS_MOVE + chroot (for roots on a ramfs)
    bool user_namespace = false;    // mknod is refused there: device nodes are bound instead
    bool cgroup_namespace = false;  // the container has its own: cgroupfs is mounted, not bound
    // The host's cgroup layout, when the caller has read it already (the container's cgroup
    // plan has); else it is detected in prepare_host.
    std::optional<cgroup::Host> cgroup_host;
    // Child side, after the mounts and before pivot_root (createContainer hooks).
    std::function<void()> before_pivot;
};

class Layer : public launch::Layer {
public:
    explicit Layer(Config cfg);
    const char* name() const override { return "rootfs"; }
    // Host side: with a user namespace, an idmapped copy of the root when the kernel and the
    // file system allow it (else a warning: the files keep their host owners).
    void set_idmap(const std::vector<spec::IdMap>& uid, const std::vector<spec::IdMap>& gid);
    void prepare_host(launch::Context& ctx) override;
    void setup_inside(launch::Context& ctx) override;

private:
    Config cfg_;
    std::vector<spec::IdMap> uid_, gid_;
    cgroup::Host host_;  // the cgroup layout, detected on the host side
};

}  // namespace rootfs
