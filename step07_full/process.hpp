// The container's process, apart from its privileges (security.hpp): rlimits, umask, the
// working directory, oom_score_adj, personality, and the namespaced sysctls.
// See setrlimit(2), umask(2), proc(5) (oom_score_adj), personality(2), sysctl(8).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

#include "launcher.hpp"
#include "spec.hpp"

namespace process {

// Whether a sysctl key is namespaced, and by which namespace it goes with (CLONE_NEWIPC for
// kernel.msg*/kernel.sem/kernel.shm* and fs.mqueue.*, CLONE_NEWUTS for kernel.hostname and
// kernel.domainname, CLONE_NEWNET for net.*). 0 = not namespaced: refused.
int sysctl_namespace(const std::string& key);
// Spec-level check (exit 125): every key namespaced, in a namespace the container owns.
void validate_sysctl(const std::map<std::string, std::string>& sysctl, const spec::Spec& s);

// Host side, after clone: oom_score_adj of the child (writing it from outside works before the
// container drops anything). pid 0: the calling process (/proc/self).
void set_oom_score_adj(pid_t pid, int value);

// Child side, after pivot_root: sysctls under /proc/sys.
void write_sysctl(const std::map<std::string, std::string>& sysctl);
// Child side, right before security::apply: rlimits, personality, umask, chdir(cwd).
void prepare(const spec::Process& p, const std::optional<unsigned long>& personality);

}  // namespace process
