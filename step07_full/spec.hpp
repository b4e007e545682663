// The OCI bundle: config.json, read once, validated, and turned into plain structs that the
// layers of step07 (and the reused layers of steps 01-06) take as their narrow configs.
//
// A bundle is a directory holding config.json (OCI runtime spec 1.0.2/1.1, "config.md" and
// "config-linux.md" of opencontainers/runtime-spec) and a root filesystem. It is the one
// contract between an engine (podman, containerd, dockerd, our own `run`) and the runtime:
// only this module reads the JSON; every layer sees its own piece, already checked.
//
// Rules of the translation:
//  - every field of the spec is either honoured, or refused with one line naming the field
//    ("linux.namespaces[3].type: unknown namespace \"foo\""), or accepted with a documented
//    warning (Spec::warnings) - never silently ignored;
//  - names are turned into numbers here (capabilities, rlimits, mount options, seccomp actions),
//    so the layers never parse strings;
//  - nothing touches the host: load() only reads config.json.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spec {

// ---- process ---------------------------------------------------------------------------------

struct Rlimit {
    int resource = 0;  // RLIMIT_NOFILE, ...
    std::string name;  // "RLIMIT_NOFILE", for messages
    uint64_t soft = 0, hard = 0;
};

struct User {
    uid_t uid = 0;
    gid_t gid = 0;
    std::optional<mode_t> umask;
    std::vector<gid_t> additional_gids;
};

// Capability numbers (CAP_CHOWN = 0, ...). has_* false = the set is absent from the spec.
struct Capabilities {
    std::vector<int> bounding, effective, permitted, inheritable, ambient;
};

struct Process {
    bool terminal = false;
    unsigned console_height = 0, console_width = 0;
    std::vector<std::string> args;  // never empty once parsed
    std::vector<std::string> env;   // "K=V"
    std::string cwd = "/";          // absolute
    User user;
    std::optional<Capabilities> capabilities;  // absent: no capability at all is kept
    std::vector<Rlimit> rlimits;
    bool no_new_privileges = false;
    std::optional<int> oom_score_adj;
};

// ---- mounts ----------------------------------------------------------------------------------

struct Mount {
    std::string destination;  // absolute, normalized, inside the container
    std::string type;         // "proc", "bind", "tmpfs", ... ("bind" when options have bind/rbind)
    std::string source;       // for binds: absolute on the host (relative ones resolved against the bundle)
    unsigned long flags = 0;  // MS_RDONLY|MS_NOSUID|... (MS_BIND|MS_REC for rbind)
    unsigned long clear = 0;  // flags asked off explicitly ("rw", "suid", "dev", "exec", ...)
    unsigned long propagation = 0;  // MS_PRIVATE|MS_REC, MS_SLAVE, ... applied after the mount
    std::string data;               // the options mount(2) passes as data ("mode=755,size=65536k")
    bool bind() const;              // flags & MS_BIND
    std::vector<std::string> options;  // as written, for the narration
};

// ---- hooks -----------------------------------------------------------------------------------

struct Hook {
    std::string path;  // absolute, on the host
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int> timeout;  // seconds
};

struct Hooks {
    std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

// ---- linux -----------------------------------------------------------------------------------

struct Namespace {
    int type = 0;      // CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWUSER, CLONE_NEWCGROUP
    std::string name;  // "pid", "network", ...
    std::string path;  // join this one (setns) instead of making a new one; "" = new
};

struct IdMap {
    uint32_t container_id = 0, host_id = 0, size = 0;
};

struct Device {  // linux.devices: a node made in the container's /dev
    std::string path;  // absolute, "/dev/fuse"
    char type = 'c';   // 'c', 'b', 'u' (= 'c'), 'p'
    int64_t major = 0, minor = 0;
    mode_t file_mode = 0666;
    uid_t uid = 0;
    gid_t gid = 0;
};

struct DeviceRule {  // linux.resources.devices: the cgroup's device access list
    bool allow = false;
    char type = 'a';      // 'a', 'c', 'b'
    int64_t major = -1;   // -1 = any (*)
    int64_t minor = -1;
    std::string access;   // subset of "rwm"; "rwm" when absent
};

struct Resources {
    // memory (bytes; -1 = unlimited where the spec allows it)
    std::optional<int64_t> memory_limit, memory_reservation, memory_swap;
    std::optional<int64_t> memory_swappiness;  // 0..100
    bool disable_oom_killer = false;
    // cpu
    std::optional<uint64_t> cpu_shares;
    std::optional<int64_t> cpu_quota;    // microseconds per period; -1 = none
    std::optional<uint64_t> cpu_period;  // microseconds
    std::string cpuset_cpus, cpuset_mems;
    // pids
    std::optional<int64_t> pids_limit;  // -1 or 0 = unlimited
    // blockIO (weight only; throttles are refused unless the host has the files)
    std::optional<uint16_t> blkio_weight;
    struct Throttle {
        int64_t major = 0, minor = 0;
        uint64_t rate = 0;
    };
    std::vector<Throttle> blkio_read_bps, blkio_write_bps, blkio_read_iops, blkio_write_iops;
    // hugetlb: page size as the kernel names it ("2MB", "1GB") -> bytes
    std::map<std::string, uint64_t> hugepage_limits;
    // cgroup v2 files given directly (linux.resources.unified)
    std::map<std::string, std::string> unified;
    std::vector<DeviceRule> devices;
    bool empty() const;
};

// The OCI seccomp object, numbers resolved except syscall names (libseccomp resolves those per
// architecture in the seccomp layer, and a name it does not know is skipped with a warning there,
// as runc does).
struct SeccompArg {
    unsigned index = 0;
    uint64_t value = 0, value_two = 0;
    std::string op;  // "SCMP_CMP_EQ", ... (checked here)
};
struct SeccompRule {
    std::vector<std::string> names;
    std::string action;               // "SCMP_ACT_ERRNO", ... (checked here)
    std::optional<unsigned> errno_ret;
    std::vector<SeccompArg> args;
};
struct Seccomp {
    std::string default_action;       // "SCMP_ACT_ERRNO", ...
    std::optional<unsigned> default_errno_ret;
    std::vector<std::string> architectures;  // "SCMP_ARCH_X86_64", ...
    std::vector<std::string> flags;          // "SECCOMP_FILTER_FLAG_LOG", ...
    std::vector<SeccompRule> syscalls;
};

// ---- the whole spec --------------------------------------------------------------------------

struct Spec {
    std::string oci_version;
    std::string bundle;  // absolute path of the bundle directory
    std::string root;    // absolute path of the root filesystem (root.path resolved against bundle)
    bool root_readonly = false;
    std::string hostname, domainname;
    Process process;
    std::vector<Mount> mounts;
    Hooks hooks;
    std::map<std::string, std::string> annotations;
    // linux
    std::vector<Namespace> namespaces;
    std::vector<IdMap> uid_mappings, gid_mappings;
    std::map<std::string, std::string> sysctl;
    std::optional<Resources> resources;
    std::string cgroups_path;  // as given ("" = the runtime chooses)
    std::vector<Device> devices;
    std::vector<std::string> masked_paths, readonly_paths;
    std::optional<Seccomp> seccomp;
    unsigned long rootfs_propagation = 0;  // 0 = the default (MS_REC|MS_PRIVATE)
    std::optional<unsigned long> personality;  // PER_LINUX, PER_LINUX32
    // Accepted fields that this runtime does nothing with, said once each on stderr by create.
    std::vector<std::string> warnings;

    bool has_namespace(int type) const;
    const Namespace* find_namespace(int type) const;
};

// Reads `bundle`/config.json and validates it. Throws Error (exit 125) with one line naming the
// first bad field. The root filesystem must exist.
Spec load(const std::string& bundle);
// The same from JSON already read; `bundle` is the directory relative paths are resolved in.
Spec parse(const nlohmann::json& config, const std::string& bundle);
// A process object alone (runc exec --process FILE).
Process parse_process(const nlohmann::json& process, const std::string& where = "process");

// Capability names: "CAP_SYS_ADMIN" <-> 21. Unknown name: nullopt.
std::optional<int> capability_number(const std::string& name);
std::string capability_name(int number);
// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
int last_capability();
// Tests only: pretend the kernel's last capability is `n` (a negative n: read /proc again).
void set_last_capability_for_testing(int n);

// `spec` (as `runc spec` does, but Docker's defaults: the 14 capabilities, Docker's seccomp
// profile, masked and read-only paths, the usual mounts). `args` is the process; with
// `rootless_userns`, a user namespace mapping root inside to an unprivileged host range
// (/etc/subuid and /etc/subgid for user "root", else 100000:65536).
struct SpecOptions {
    std::vector<std::string> args = {"sh"};
    bool terminal = true;
    bool userns = false;
    std::string rootfs = "rootfs";
};
nlohmann::json default_spec(const SpecOptions& opts);

}  // namespace spec
