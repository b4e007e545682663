// The cgroup v2 device controller is a BPF program: attached to the cgroup with
// BPF_CGROUP_DEVICE, the kernel runs it on every open/mknod of a device node by a process in
// the cgroup, with the access type, the major and the minor; it returns 1 (allow) or 0 (deny).
// This module assembles that program from the OCI rule list, instruction by instruction (no
// compiler, no libbpf: the program is a few dozen fixed-shape instructions), loads and attaches
// it. See bpf(2), include/uapi/linux/bpf.h (struct bpf_cgroup_dev_ctx), runc's devicefilter.
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "spec.hpp"

namespace devices_bpf {

// The program for `rules` (evaluated as the kernel's v1 list would be: the last matching rule
// wins, so the program tests them from last to first). Pure: unit-tested.
std::vector<bpf_insn> assemble(const std::vector<spec::DeviceRule>& rules);
// One line per instruction, for --explain and the chapter ("r2 = *(u32 *)(r1 + 0)").
std::vector<std::string> disassemble(const std::vector<bpf_insn>& prog);
// Runs the program in user space on one access (a tiny interpreter of the instructions
// assemble() emits), for the unit tests: true = allowed.
bool evaluate(const std::vector<bpf_insn>& prog, char type, unsigned major, unsigned minor, char access);

// Loads `prog` (BPF_PROG_LOAD) and attaches it to the cgroup directory (BPF_PROG_ATTACH,
// BPF_F_ALLOW_MULTI), replacing a program this runtime attached before. Throws Error.
void attach(const std::string& cgroup_dir, const std::vector<bpf_insn>& prog);

}  // namespace devices_bpf
