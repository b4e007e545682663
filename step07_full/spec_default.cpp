// `step07_full spec`: the config.json Docker would hand to runc for `docker run -it busybox sh`,
// not runc's minimal example. Reading it next to config.md shows what an engine decides for the
// runtime: which capabilities (Docker's 14), which system calls (Docker's seccomp profile), which
// parts of /proc and /sys are hidden or read-only, and the usual mounts of a Linux system.
// The values follow moby's oci/defaults.go and daemon/oci_linux.go (Docker 20.10+).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "seccomp.hpp"
#include "spec.hpp"

namespace spec {
namespace {

using json = nlohmann::json;

// Docker's default capability set. Since Docker 20.10 the inheritable set is empty (CVE-2022-
// 24769: a file with inheritable file capabilities could otherwise gain them on exec).
const std::vector<std::string> kDockerCapabilities = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",  "CAP_FOWNER",           "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",  "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

json mount(const std::string& destination, const std::string& type, const std::string& source,
           const std::vector<std::string>& options) {
    return {{"destination", destination}, {"type", type}, {"source", source}, {"options", options}};
}

// The first range of `user` in /etc/subuid or /etc/subgid ("root:100000:65536"), else the
// conventional 100000:65536.
std::pair<uint32_t, uint32_t> subordinate_range(const std::string& file, const std::string& user) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        std::stringstream fields(line);
        std::string name, start, count;
        if (!std::getline(fields, name, ':') || !std::getline(fields, start, ':') || !std::getline(fields, count))
            continue;
        if (name != user) continue;
        try {
            unsigned long s = std::stoul(start), c = std::stoul(count);
            if (c > 0 && s <= 0xffffffffUL && c <= 0xffffffffUL && s + c <= 0x100000000UL)
                return {static_cast<uint32_t>(s), static_cast<uint32_t>(c)};
        } catch (const std::exception&) {
            // A malformed line is skipped, as shadow-utils' own readers do.
        }
    }
    return {100000, 65536};
}

}  // namespace

nlohmann::json default_spec(const SpecOptions& opts) {
    json caps = kDockerCapabilities;
    json process = {
        {"terminal", opts.terminal},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", opts.args},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", json::array()},
          {"ambient", json::array()}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", false},  // Docker's default; --security-opt no-new-privileges sets it
    };

    json mounts = json::array({
        mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
        mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
        mount("/dev/pts", "devpts", "devpts",
              {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
        mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
        // "cgroup": the runtime mounts cgroup2 on a unified host, the v1 hierarchies otherwise.
        mount("/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}),
        mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
        mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
    });

    json namespaces = json::array();
    for (const char* ns : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) namespaces.push_back({{"type", ns}});

    json linux = {
        {"namespaces", namespaces},
        {"maskedPaths",
         {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}},
        {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
        // Deny every device; the runtime adds the OCI default allow list (null, zero, full,
        // random, urandom, tty, console, ptmx, pts) after it, as runc does.
        {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"seccomp", seccomp::docker_profile_to_oci(seccomp::docker_default_profile(), kDockerCapabilities, "amd64")},
    };

    if (opts.userns) {
        // Root in the container is an unprivileged range on the host. The root filesystem must
        // then be owned by that range (host uid <start> is the container's root), or the
        // container's root sees its own files as owned by "nobody" and cannot write them.
        namespaces.push_back({{"type", "user"}});
        linux["namespaces"] = namespaces;
        auto [uid_start, uid_count] = subordinate_range("/etc/subuid", "root");
        auto [gid_start, gid_count] = subordinate_range("/etc/subgid", "root");
        linux["uidMappings"] = {{{"containerID", 0}, {"hostID", uid_start}, {"size", uid_count}}};
        linux["gidMappings"] = {{{"containerID", 0}, {"hostID", gid_start}, {"size", gid_count}}};
    }

    return {
        {"ociVersion", "1.0.2"},
        {"process", process},
        {"root", {{"path", opts.rootfs}, {"readonly", false}}},
        {"hostname", "minibox"},
        {"mounts", mounts},
        {"linux", linux},
    };
}

}  // namespace spec
