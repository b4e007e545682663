// Devices: which device nodes the container has, and which it may open.
//
// Two separate mechanisms. The nodes: the container's /dev is a fresh tmpfs, holding only the
// nodes made here (the OCI default set: null zero full random urandom tty, plus linux.devices),
// with mknod(2), or, in a user namespace where mknod is refused, bind mounts of the host's
// nodes. The access: a node can still be made (CAP_MKNOD) or passed in, so the kernel also
// checks the cgroup's device list on every open(2): devices.allow/deny on v1, a BPF program of
// type BPF_PROG_TYPE_CGROUP_DEVICE on v2 (devices_bpf.hpp).
// See mknod(2), Documentation/admin-guide/cgroup-v1/devices.rst, bpf(2).
#pragma once

#include <string>
#include <vector>

#include "spec.hpp"

namespace devices {

// The nodes every container gets (runtime-spec "Default Devices").
std::vector<spec::Device> default_nodes();
// The access rules every container gets unless the spec says otherwise: runc's default allow
// list (the default nodes, /dev/pts/*, /dev/ptmx, mknod of any), after a deny-all.
std::vector<spec::DeviceRule> default_rules();
// The list the cgroup gets for linux.resources.devices: default_rules() when the spec has none;
// else the spec's rules followed by the default allow list (as runc appends it), so a spec that
// only denies everything still leaves the default nodes usable.
std::vector<spec::DeviceRule> effective_rules(const std::vector<spec::DeviceRule>& from_spec);

// Child side, before pivot_root, with `root` an O_PATH fd of the root filesystem: makes the
// default nodes and `extra` under its /dev (the dirs made as needed, paths resolved inside the
// root), the /dev/fd, stdin, stdout, stderr symlinks, and /dev/ptmx -> pts/ptmx.
// `bind_from_host`: in a user namespace mknod fails; bind the host's node instead.
void populate(int root, const std::vector<spec::Device>& extra, bool bind_from_host);

}  // namespace devices
