// seccomp: a BPF filter on system calls, built with libseccomp from the OCI seccomp object.
//
// The kernel runs the filter on every system call of the process and its children; the filter
// can allow, fail with an errno, kill, trap or log. libseccomp turns rules written with syscall
// names into BPF for each architecture. The filter cannot be removed once installed.
// See seccomp(2), seccomp_rule_add(3), and Docker's profile in step07_full/profiles/.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spec.hpp"

namespace seccomp {

// Builds the filter and installs it in the calling process (child side). Names libseccomp does
// not know on this architecture are skipped (narrated), as runc does. Throws Error.
void install(const spec::Seccomp& filter);

// The same filter compiled to BPF on the host side, before clone (libseccomp's
// seccomp_export_bpf), and loaded in the child with seccomp(2) alone: building a filter of
// Docker's ~350 rules allocates memory, which in the child is charged to the container's cgroup
// (a container under a 512 KiB memory limit would be OOM-killed before its command starts).
struct Program {
    std::vector<sock_filter> insns;
    unsigned flags = 0;  // SECCOMP_FILTER_FLAG_*
    size_t rules = 0;
    std::string call;     // for the narration
    std::string skipped;  // the names this libseccomp did not know ("" = none), narrated
};
// With `cache_dir`, a program compiled earlier for the same filter is taken from there, and a
// new one is stored there (seccomp_cache.hpp); "" = always compile.
Program compile(const spec::Seccomp& filter, const std::string& cache_dir = "");
void load(const Program& program);

// Docker's profile format (profiles/docker-default.json: defaultAction, archMap, syscalls with
// includes/excludes by capability and architecture) -> the OCI seccomp object, for a container
// holding the capabilities `caps` (names, "CAP_SYS_ADMIN") on architecture `arch` ("amd64", Go's
// names as Docker writes them). includes.minKernel is compared with `kernel_release` ("6.1.0";
// "" = this machine's, from uname). A malformed profile throws Error naming the field.
nlohmann::json docker_profile_to_oci(const nlohmann::json& profile, const std::vector<std::string>& caps,
                                     const std::string& arch = "amd64", const std::string& kernel_release = "");
// This machine's architecture as Docker's profiles name it ("amd64" on x86_64, "arm64", ...).
std::string native_arch();
// The profile shipped with the toolkit (compiled in from profiles/docker-default.json).
const nlohmann::json& docker_default_profile();

}  // namespace seccomp
