// Linux's capability names, by number: what include/uapi/linux/capability.h defines (CAP_CHOWN
// is 0, CAP_CHECKPOINT_RESTORE 40). One table for the runtime's spec parser (config.json names
// them) and the nsinfo probe (which prints a CapEff mask as names). A kernel may know more than
// this table: /proc/sys/kernel/cap_last_cap says how many. See capabilities(7).
// Header-only and dependency-free: nsinfo is a static binary that links nothing of the toolkit.
#pragma once

#include <iterator>

namespace caps {

inline constexpr const char* kNames[] = {
    "CAP_CHOWN",          "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",        "CAP_FSETID",
    "CAP_KILL",           "CAP_SETGID",         "CAP_SETUID",          "CAP_SETPCAP",       "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",      "CAP_NET_RAW",       "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",      "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",      "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",           "CAP_LEASE",         "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",  "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",     "CAP_SYSLOG",
    "CAP_WAKE_ALARM",     "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",      "CAP_PERFMON",       "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
inline constexpr int kCount = static_cast<int>(std::size(kNames));

}  // namespace caps
