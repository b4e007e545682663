// The host checks of `minibox doctor`: what the machine must offer before any step runs
// (root, a recent kernel, the namespace types, user namespaces), and what steps 03-06 will rely
// on (the propagation of /, the cgroup layout and controllers, overlayfs, veth and bridge,
// libnftables) plus the default image. As another user, a probe the kernel refuses says "not
// permitted, run as root" rather than blaming the machine. A step's own checks live with the step.
#pragma once

#include <string>
#include <vector>

#include "doctor.hpp"

namespace host_checks {

std::vector<doctor::Check> checks();

// Pieces the checks are made of, exposed for the unit tests.

// "5.6.0-1-amd64" -> {5, 6}; {0, 0} when unreadable.
std::pair<int, int> kernel_version(const std::string& release);
// The propagation of the mount at "/" from mountinfo text: "shared", "slave", "private",
// "unbindable" (the last line for "/" wins: it is the mount on top).
std::string root_propagation(const std::string& mountinfo);
// The controllers /proc/cgroups lists as enabled.
std::vector<std::string> enabled_controllers(const std::string& proc_cgroups);

}  // namespace host_checks
