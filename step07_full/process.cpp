#include "process.hpp"

#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"

namespace process {
namespace {

// A sysctl key names a file under /proc/sys. sysctl(8) accepts two spellings: "net.ipv4.ip_forward"
// and "net/ipv4/ip_forward"; the second exists for components that hold a dot themselves
// ("net/ipv4/conf/eth0.100/forwarding"). Empty, "." and ".." components are refused: the key
// becomes a path, and "net/../../etc" must not leave /proc/sys.
std::vector<std::string> components(const std::string& key) {
    char sep = key.find('/') != std::string::npos ? '/' : '.';
    std::vector<std::string> out;
    for (size_t start = 0;;) {
        size_t end = key.find(sep, start);
        out.push_back(key.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

bool well_formed(const std::vector<std::string>& parts) {
    if (parts.size() < 2) return false;
    for (auto& p : parts)
        if (p.empty() || p == "." || p == ".." || p.find('\0') != std::string::npos) return false;
    return true;
}

std::string as_path(const std::string& key) {
    std::string path = "/proc/sys";
    for (auto& p : components(key)) path += "/" + p;
    return path;
}

const char* ns_name(int type) {
    switch (type) {
        case CLONE_NEWIPC: return "ipc";
        case CLONE_NEWUTS: return "uts";
        case CLONE_NEWNET: return "network";
    }
    return "?";
}

std::string rlimit_value(uint64_t v) { return v == RLIM_INFINITY ? "RLIM_INFINITY" : std::to_string(v); }

std::string octal(mode_t m) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(m));
    return buf;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

int sysctl_namespace(const std::string& key) {
    auto parts = components(key);
    if (!well_formed(parts)) return 0;
    const std::string& top = parts[0];
    // The IPC namespace owns the System V IPC limits and the POSIX message queue settings
    // (ipc_namespaces(7)); every other kernel.* key is global (kernel.pid_max, kernel.core_pattern...).
    if (top == "kernel" && parts.size() == 2) {
        static const char* const ipc[] = {"msgmax", "msgmnb", "msgmni", "sem", "shmall",
                                          "shmmax", "shmmni", "shm_rmid_forced"};
        for (const char* k : ipc)
            if (parts[1] == k) return CLONE_NEWIPC;
        if (parts[1] == "hostname" || parts[1] == "domainname") return CLONE_NEWUTS;
        return 0;
    }
    if (top == "fs" && parts[1] == "mqueue") return CLONE_NEWIPC;
    // net.*: the network namespace. A few net.core.* keys are still global in the kernel
    // (net.core.rmem_max, ...); writing one from a container fails with EACCES or changes
    // nothing outside, so the rule stays the simple one runc uses too.
    if (top == "net") return CLONE_NEWNET;
    return 0;
}

void validate_sysctl(const std::map<std::string, std::string>& sysctl, const spec::Spec& s) {
    for (const auto& [key, value] : sysctl) {
        const std::string where = "linux.sysctl." + key;
        if (!well_formed(components(key))) throw Error(where + ": not a sysctl name");
        if (value.find('\n') != std::string::npos)
            throw Error(where + ": the value holds a newline (the kernel would read two values)");
        int ns = sysctl_namespace(key);
        if (ns == 0)
            throw Error(where + ": not namespaced: setting it would change the whole host")
                .with_hint("only ipc (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*), uts "
                           "(kernel.hostname, kernel.domainname) and network (net.*) sysctls are allowed");
        // The container must have a namespace of that type of its own (new, or one it joins by
        // path): without it the key is the host's, and writing it would change the host.
        bool owned = false;
        for (const auto& n : s.namespaces)
            if (n.type == ns) owned = true;
        if (!owned)
            throw Error(where + ": the container shares the host's " + ns_name(ns) +
                        " namespace, so this would change the host")
                .with_hint(std::string("add a \"") + ns_name(ns) + "\" entry to linux.namespaces");
        // The spec has fields for these two; a sysctl that says otherwise is a contradiction.
        auto parts = components(key);
        if (ns == CLONE_NEWUTS && parts[1] == "hostname" && !s.hostname.empty() && value != s.hostname)
            throw Error(where + ": conflicts with the spec's hostname \"" + s.hostname + "\"");
        if (ns == CLONE_NEWUTS && parts[1] == "domainname" && !s.domainname.empty() && value != s.domainname)
            throw Error(where + ": conflicts with the spec's domainname \"" + s.domainname + "\"");
    }
}

void set_oom_score_adj(pid_t pid, int value) {
    if (value < -1000 || value > 1000)
        throw Error("process.oomScoreAdj " + std::to_string(value) + ": must be between -1000 and 1000");
    std::string path = "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/oom_score_adj";
    try {
        narrate::sys({"process", "write " + path + " = " + std::to_string(value),
                      "how eagerly the OOM killer picks this process (-1000 never, 1000 first)",
                      "cat /proc/{pid}/oom_score_adj"},
                     [&] { return files::write_once(path, std::to_string(value)); });
    } catch (Error& e) {
        if (e.err() == EACCES || e.err() == EPERM)
            e.with_hint("lowering oom_score_adj needs CAP_SYS_RESOURCE");
        throw;
    }
}

void write_sysctl(const std::map<std::string, std::string>& sysctl) {
    for (const auto& entry : sysctl) {
        // Not a structured binding: clang before 16 cannot capture one in the lambda below.
        const std::string& key = entry.first;
        const std::string& value = entry.second;
        std::string path = as_path(key);
        try {
            narrate::sys({"process", "write " + path + " = " + value,
                          std::string("a sysctl of the container's own ") + ns_name(sysctl_namespace(key)) +
                              " namespace",
                          "nsenter -t {pid} -a cat " + path + "; cat " + path + "   # host unchanged"},
                         [&] { return files::write_once(path, value); });
        } catch (Error& e) {
            e.context("linux.sysctl." + key);
            if (e.err() == ENOENT) e.with_hint("this kernel has no such sysctl (ls /proc/sys/...)");
            if (e.err() == EROFS) e.with_hint("/proc/sys is mounted read-only before the sysctls are written?");
            throw;
        }
    }
}

void prepare(const spec::Process& p, const std::optional<unsigned long>& persona) {
    // Limits first: raising a hard limit needs CAP_SYS_RESOURCE, which security::apply may drop.
    for (const auto& r : p.rlimits) {
        struct rlimit lim {};
        lim.rlim_cur = static_cast<rlim_t>(r.soft);
        lim.rlim_max = static_cast<rlim_t>(r.hard);
        try {
            narrate::sys({"process",
                          "prlimit(0, " + r.name + ", {soft=" + rlimit_value(r.soft) +
                              ", hard=" + rlimit_value(r.hard) + "})",
                          "a resource limit, inherited across execve by the command and its children",
                          "cat /proc/{pid}/limits"},
                         [&] { return ::prlimit(0, static_cast<enum __rlimit_resource>(r.resource), &lim, nullptr); });
        } catch (Error& e) {
            e.context("process.rlimits " + r.name);
            if (e.err() == EPERM) e.with_hint("raising a hard limit needs CAP_SYS_RESOURCE");
            if (e.err() == EINVAL) e.with_hint("the soft limit is above the hard one");
            throw;
        }
    }

    if (persona) {
        std::string name = *persona == PER_LINUX32 ? "PER_LINUX32" : *persona == PER_LINUX ? "PER_LINUX"
                                                                                           : std::to_string(*persona);
        narrate::sys({"process", "personality(" + name + ")",
                      "the execution domain: PER_LINUX32 makes uname -m say i686 for 32-bit userlands",
                      "grep Personality /proc/{pid}/status 2>/dev/null; nsenter -t {pid} -a uname -m"},
                     [&] { return ::personality(*persona); });
    }

    // runc's default when the spec has none: 0022, so files the command creates are not
    // group- or world-writable whatever umask the engine itself ran with.
    mode_t mask = p.user.umask.value_or(022);
    narrate::sys({"process", "umask(" + octal(mask) + ")",
                  "permission bits taken away from every file the command creates", "grep Umask /proc/{pid}/status"},
                 [&] { return static_cast<long>(::umask(mask)); });

    // The working directory is looked up as root (before the switch to process.user); a
    // directory only that user may enter is therefore found as well.
    try {
        narrate::sys({"process", "chdir(" + quoted(p.cwd) + ")", "the command's working directory (process.cwd)",
                      "ls -l /proc/{pid}/cwd"},
                     [&] { return ::chdir(p.cwd.c_str()); });
    } catch (const Error& e) {
        throw SysError("process.cwd: chdir(" + quoted(p.cwd) + ")", e.err())
            .with_hint(e.err() == ENOENT ? "the directory does not exist in the container's root filesystem" : "");
    }
}

}  // namespace process
