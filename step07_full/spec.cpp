// config.json -> spec::Spec: every field read, type-checked and range-checked here, so that the
// layers get plain numbers and never see JSON. Nothing on the host is changed: the only reads
// are config.json itself, a stat(2) of the root filesystem and /proc/sys/kernel/cap_last_cap.
//
// Where each field goes (the workshop chapter reuses this table):
//
//   field                                   layer (file)          kernel interface
//   ------------------------------------    --------------------  ---------------------------------------
//   ociVersion                              spec                  - (1.x.y only)
//   root.path, root.readonly                rootfs.cpp            pivot_root(2); mount(MS_BIND|MS_REMOUNT|MS_RDONLY)
//   mounts[]                                rootfs.cpp            mount(2); propagation flags in a second mount(2)
//     options tmpcopyup                     warning               (a tmpfs is mounted empty)
//     options idmap, ridmap, uid/gidMappings refused              (mount_setattr(MOUNT_ATTR_IDMAP) not done)
//     options rro, rnosuid, ... (recursive) refused               (mount_setattr(AT_RECURSIVE) not done)
//   process.args, env, cwd                  container.cpp         execve(2), chdir(2)
//   process.terminal, consoleSize           console.cpp           /dev/pts/ptmx, TIOCSWINSZ, SCM_RIGHTS
//   process.user (uid, gid, additionalGids) security.cpp          setgroups(2), setresgid(2), setresuid(2)
//   process.user.umask                      process.cpp           umask(2)
//   process.capabilities                    security.cpp          prctl(PR_CAPBSET_DROP), capset(2), PR_CAP_AMBIENT_RAISE
//   process.noNewPrivileges                 security.cpp          prctl(PR_SET_NO_NEW_PRIVS)
//   process.rlimits                         process.cpp           setrlimit(2)
//   process.oomScoreAdj                     process.cpp           /proc/self/oom_score_adj
//   process.apparmorProfile                 refused if non-empty  (no AppArmor support: /proc/self/attr/apparmor/exec)
//   process.selinuxLabel                    refused if non-empty  (no SELinux support: /proc/self/attr/exec)
//   process.scheduler                       refused               (sched_setattr(2) not done)
//   process.ioPriority                      refused               (ioprio_set(2) not done)
//   process.execCPUAffinity                 refused               (sched_setaffinity(2) not done)
//   process.commandLine, user.username      warning               (Windows only)
//   hostname, domainname                    uts (step01)          sethostname(2), setdomainname(2)
//   hooks.*                                 hooks.cpp             fork(2), execve(2), pidfd_open(2) + poll(2)
//   annotations                             container.cpp         kept in state.json, reported by `state`
//   linux.namespaces                        namespaces.cpp        clone(2) CLONE_NEW*, setns(2)
//     type "time", linux.timeOffsets        refused               (CLONE_NEWTIME, /proc/PID/timens_offsets not done)
//   linux.uidMappings, gidMappings          namespaces.cpp        /proc/PID/uid_map, setgroups, gid_map
//   linux.devices                           devices.cpp           mknod(2) (a bind mount in a user namespace)
//   linux.netDevices                        refused               (RTM_NEWLINK IFLA_NET_NS_FD of a host link not done)
//   linux.cgroupsPath, linux.resources      resources.cpp         cgroupfs files (memory.max, cpu.max, pids.max, ...)
//     resources.devices                     devices.cpp, _bpf     devices.allow/deny (v1), bpf(BPF_PROG_ATTACH) (v2)
//     memory.kernel, kernelTCP              warning               (deprecated; kernel 5.4+ ignores kmem limits)
//     memory.useHierarchy, checkBeforeUpdate warning              (always hierarchical; no check)
//     cpu.realtimeRuntime, realtimePeriod   refused if non-zero   (cpu.rt_* needs CONFIG_RT_GROUP_SCHED)
//     cpu.burst, cpu.idle                   warning if non-zero   (cpu.max.burst, cpu.idle not written)
//     blockIO.leafWeight, weightDevice      warning               (per-device weights not written)
//     network (classID, priorities)         warning               (net_cls/net_prio: v1 only, not written)
//     rdma                                  warning               (rdma.max not written)
//   linux.sysctl                            process.cpp           /proc/sys/* (namespacing checked there)
//   linux.seccomp                           seccomp.cpp           seccomp(2) through libseccomp
//     action SCMP_ACT_NOTIFY, listenerPath  refused               (no seccomp agent support)
//     listenerMetadata                      warning               (only meaningful with listenerPath)
//   linux.rootfsPropagation                 rootfs.cpp            mount(NULL, "/", NULL, MS_REC|MS_<kind>)
//   linux.maskedPaths, readonlyPaths        masked.cpp            mount(/dev/null or tmpfs), MS_BIND|MS_REMOUNT|MS_RDONLY
//   linux.mountLabel                        refused if non-empty  (no SELinux support)
//   linux.intelRdt                          refused               (resctrl filesystem not done)
//   linux.memoryPolicy                      refused               (set_mempolicy(2) not done)
//   linux.personality                       process.cpp           personality(2) (PER_LINUX, PER_LINUX32; flags refused)
//   vm, windows                             refused               (a VM or a Windows host is needed)
//   solaris, zos, freebsd                   warning               (another platform's section, ignored on Linux)
//   an unknown key anywhere                 warning               (config.md "Extensibility": MUST ignore)
#include "spec.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <string_view>

#include "capabilities.hpp"
#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"

namespace spec {

bool Mount::bind() const { return (flags & MS_BIND) != 0; }

bool Resources::empty() const {
    return !memory_limit && !memory_reservation && !memory_swap && !memory_swappiness && !disable_oom_killer &&
           !cpu_shares && !cpu_quota && !cpu_period && cpuset_cpus.empty() && cpuset_mems.empty() && !pids_limit &&
           !blkio_weight && blkio_read_bps.empty() && blkio_write_bps.empty() && blkio_read_iops.empty() &&
           blkio_write_iops.empty() && hugepage_limits.empty() && unified.empty() && devices.empty();
}

const Namespace* Spec::find_namespace(int type) const {
    for (const auto& ns : namespaces) {
        if (ns.type == type) return &ns;
    }
    return nullptr;
}

bool Spec::has_namespace(int type) const { return find_namespace(type) != nullptr; }

namespace {

using json = nlohmann::json;

// ---- reading JSON with a path in every message ------------------------------------------------

[[noreturn]] void bad(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

std::string at(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string at(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string quote(const std::string& s) { return json(s).dump(); }

// What a value is, for "expected X, got Y": the type, and the value itself when short.
std::string describe(const json& v) {
    if (v.is_object() || v.is_array()) return std::string("an ") + (v.is_object() ? "object" : "array");
    std::string text = v.dump();
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return std::string(v.type_name()) + " " + text;
}

// Where warnings go, each prefixed like the errors are.
struct Ctx {
    std::string prefix;  // "config.json: " or ""
    std::vector<std::string>* warnings;
    void warn(const std::string& path, const std::string& text) const {
        warnings->push_back(prefix + path + ": " + text);
    }
};

void expect_object(const json& v, const std::string& path) {
    if (!v.is_object()) bad(path, "expected an object, got " + describe(v));
}

// The object's keys are checked against the ones this runtime reads; others are warned about
// (the spec allows extensions, and a typo such as "namespace" should not pass unnoticed).
void known_keys(const json& obj, const std::string& path, std::initializer_list<std::string_view> keys,
                const Ctx& ctx) {
    expect_object(obj, path);
    for (const auto& item : obj.items()) {
        if (std::find(keys.begin(), keys.end(), item.key()) == keys.end()) {
            ctx.warn(at(path, item.key()), "unknown field, ignored");
        }
    }
}

// A present, non-null member; JSON null counts as absent (what Go's omitempty writers produce).
const json* member(const json& obj, std::string_view key) {
    auto it = obj.find(std::string(key));
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

std::string get_string(const json& v, const std::string& path) {
    if (!v.is_string()) bad(path, "expected a string, got " + describe(v));
    return v.get<std::string>();
}

bool get_bool(const json& v, const std::string& path) {
    if (!v.is_boolean()) bad(path, "expected true or false, got " + describe(v));
    return v.get<bool>();
}

template <class T>
T get_int(const json& v, const std::string& path, T lo = std::numeric_limits<T>::min(),
          T hi = std::numeric_limits<T>::max()) {
    if (!v.is_number_integer()) bad(path, "expected an integer, got " + describe(v));
    auto out_of_range = [&] {
        bad(path, v.dump() + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    };
    if (v.is_number_unsigned()) {
        uint64_t u = v.get<uint64_t>();
        if (hi < 0 || u > static_cast<uint64_t>(hi)) out_of_range();
        T t = static_cast<T>(u);
        if (t < lo) out_of_range();
        return t;
    }
    int64_t s = v.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
        if (s < 0) bad(path, v.dump() + " must not be negative");
        if (static_cast<uint64_t>(s) < static_cast<uint64_t>(lo) || static_cast<uint64_t>(s) > static_cast<uint64_t>(hi))
            out_of_range();
    } else {
        if (s < static_cast<int64_t>(lo) || s > static_cast<int64_t>(hi)) out_of_range();
    }
    return static_cast<T>(s);
}

std::vector<std::string> get_strings(const json& v, const std::string& path) {
    if (!v.is_array()) bad(path, "expected an array of strings, got " + describe(v));
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) out.push_back(get_string(v[i], at(path, i)));
    return out;
}

const json& get_array(const json& v, const std::string& path) {
    if (!v.is_array()) bad(path, "expected an array, got " + describe(v));
    return v;
}

std::map<std::string, std::string> get_string_map(const json& v, const std::string& path) {
    expect_object(v, path);
    std::map<std::string, std::string> out;
    for (const auto& item : v.items()) out[item.key()] = get_string(item.value(), at(path, item.key()));
    return out;
}

// A required member.
const json& need(const json& obj, std::string_view key, const std::string& path) {
    const json* v = member(obj, key);
    if (!v) bad(at(path, key), "required");
    return *v;
}

// A field this runtime cannot honour: refused unless empty (an empty string, object or array
// asks for nothing, and engines do write those).
void refuse_unless_empty(const json& obj, std::string_view key, const std::string& path, const std::string& why) {
    const json* v = member(obj, key);
    if (!v) return;
    bool empty = (v->is_string() && v->get<std::string>().empty()) || ((v->is_object() || v->is_array()) && v->empty());
    if (!empty) bad(at(path, key), why);
}

void warn_unless_empty(const json& obj, std::string_view key, const std::string& path, const std::string& why,
                       const Ctx& ctx) {
    const json* v = member(obj, key);
    if (!v) return;
    bool empty = (v->is_string() && v->get<std::string>().empty()) ||
                 ((v->is_object() || v->is_array()) && v->empty()) || (v->is_number() && *v == 0) ||
                 (v->is_boolean() && !v->get<bool>());
    if (!empty) ctx.warn(at(path, key), why);
}

// ---- paths -----------------------------------------------------------------------------------

// "/a//b/./c/" -> "/a/b/c"; ".." removes a component; climbing above "/" -> nullopt.
std::optional<std::string> normalize_absolute(const std::string& p) {
    std::vector<std::string> parts;
    std::stringstream in(p);
    for (std::string part; std::getline(in, part, '/');) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (parts.empty()) return std::nullopt;
            parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (const auto& part : parts) out += "/" + part;
    return out.empty() ? "/" : out;
}

std::string absolute_path(const std::string& value, const std::string& path) {
    if (value.empty() || value[0] != '/') bad(path, "must be an absolute path, got " + quote(value));
    auto n = normalize_absolute(value);
    if (!n) bad(path, quote(value) + " climbs above \"/\" with \"..\"");
    return *n;
}

// A host path: absolute ones as given, relative ones inside the bundle; lexically normalized.
std::string in_bundle(const std::string& bundle, const std::string& p) {
    std::filesystem::path out = p.empty() || p[0] != '/' ? std::filesystem::path(bundle) / p : std::filesystem::path(p);
    std::string s = out.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

// ---- capabilities ----------------------------------------------------------------------------

// Linux's capability numbers, in order: the table common/capabilities.hpp shares with nsinfo.
constexpr const auto& kCapabilities = caps::kNames;
constexpr int kCapabilityCount = caps::kCount;

std::atomic<int> g_last_cap_override{-1};

std::vector<int> parse_cap_set(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<int> out;
    auto names = get_strings(v, path);
    int last = last_capability();
    for (size_t i = 0; i < names.size(); ++i) {
        auto n = capability_number(names[i]);
        if (!n) bad(at(path, i), "unknown capability " + quote(names[i]));
        // An engine newer than the kernel asks for capabilities the kernel lacks: runc drops
        // them with a warning, and so does this runtime (capset would refuse the whole set).
        if (*n > last) {
            ctx.warn(at(path, i), names[i] + " is unknown to this kernel (cap_last_cap is " + std::to_string(last) +
                                      "), dropped");
            continue;
        }
        if (std::find(out.begin(), out.end(), *n) == out.end()) out.push_back(*n);
    }
    return out;
}

bool contains(const std::vector<int>& set, int c) { return std::find(set.begin(), set.end(), c) != set.end(); }

Capabilities parse_capabilities(const json& v, const std::string& path, const Ctx& ctx) {
    known_keys(v, path, {"bounding", "effective", "permitted", "inheritable", "ambient"}, ctx);
    Capabilities c;
    auto set = [&](const char* key, std::vector<int>& into) {
        if (const json* s = member(v, key)) into = parse_cap_set(*s, at(path, key), ctx);
    };
    set("bounding", c.bounding);
    set("effective", c.effective);
    set("permitted", c.permitted);
    set("inheritable", c.inheritable);
    set("ambient", c.ambient);
    // capset(2) refuses an effective capability that is not permitted: say so here, by name.
    for (int cap : c.effective) {
        if (!contains(c.permitted, cap))
            bad(at(path, "effective"), capability_name(cap) + " is not in permitted (capset(2) refuses an effective "
                                                              "capability that is not permitted)");
    }
    // PR_CAP_AMBIENT_RAISE needs the capability in permitted and inheritable; runc logs and
    // goes on when it fails, so this runtime drops it with a warning rather than refusing.
    std::vector<int> ambient;
    for (int cap : c.ambient) {
        if (contains(c.permitted, cap) && contains(c.inheritable, cap)) {
            ambient.push_back(cap);
        } else {
            ctx.warn(at(path, "ambient"), capability_name(cap) +
                                              " is not in both permitted and inheritable, so the kernel cannot raise "
                                              "it: dropped");
        }
    }
    c.ambient = ambient;
    return c;
}

// ---- process ---------------------------------------------------------------------------------

struct RlimitName {
    const char* name;
    int resource;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

std::vector<Rlimit> parse_rlimits(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<Rlimit> out;
    get_array(v, path);
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"type", "soft", "hard"}, ctx);
        Rlimit r;
        r.name = get_string(need(v[i], "type", p), at(p, "type"));
        auto it = std::find_if(std::begin(kRlimits), std::end(kRlimits),
                               [&](const RlimitName& n) { return r.name == n.name; });
        if (it == std::end(kRlimits)) bad(at(p, "type"), "unknown resource limit " + quote(r.name));
        r.resource = it->resource;
        r.soft = get_int<uint64_t>(need(v[i], "soft", p), at(p, "soft"));
        r.hard = get_int<uint64_t>(need(v[i], "hard", p), at(p, "hard"));
        if (r.soft > r.hard)
            bad(p, "soft limit " + std::to_string(r.soft) + " is above the hard limit " + std::to_string(r.hard));
        for (const auto& seen : out) {
            if (seen.resource == r.resource) bad(at(p, "type"), r.name + " is given twice");
        }
        out.push_back(r);
    }
    return out;
}

User parse_user(const json& v, const std::string& path, const Ctx& ctx) {
    known_keys(v, path, {"uid", "gid", "umask", "additionalGids", "username"}, ctx);
    User u;
    // uid and gid are REQUIRED by the spec; every engine writes them. 0 when absent, as runc.
    if (const json* x = member(v, "uid")) u.uid = get_int<uint32_t>(*x, at(path, "uid"));
    if (const json* x = member(v, "gid")) u.gid = get_int<uint32_t>(*x, at(path, "gid"));
    if (const json* x = member(v, "umask")) u.umask = get_int<uint32_t>(*x, at(path, "umask"), 0, 0777);
    if (const json* x = member(v, "additionalGids")) {
        get_array(*x, at(path, "additionalGids"));
        for (size_t i = 0; i < x->size(); ++i)
            u.additional_gids.push_back(get_int<uint32_t>((*x)[i], at(at(path, "additionalGids"), i)));
    }
    warn_unless_empty(v, "username", path, "Windows only, ignored", ctx);
    return u;
}

void check_env(const std::vector<std::string>& env, const std::string& path) {
    for (size_t i = 0; i < env.size(); ++i) {
        auto eq = env[i].find('=');
        if (eq == std::string::npos) bad(at(path, i), quote(env[i]) + " is not of the form NAME=VALUE");
        if (eq == 0) bad(at(path, i), quote(env[i]) + " has an empty name");
    }
}

Process parse_process_in(const json& v, const std::string& path, const Ctx& ctx) {
    known_keys(v, path,
               {"terminal", "consoleSize", "cwd", "env", "args", "commandLine", "rlimits", "apparmorProfile",
                "capabilities", "noNewPrivileges", "oomScoreAdj", "scheduler", "selinuxLabel", "ioPriority",
                "execCPUAffinity", "user"},
               ctx);
    Process p;
    if (const json* x = member(v, "terminal")) p.terminal = get_bool(*x, at(path, "terminal"));
    if (const json* x = member(v, "consoleSize")) {
        std::string cp = at(path, "consoleSize");
        known_keys(*x, cp, {"height", "width"}, ctx);
        // struct winsize holds unsigned shorts.
        p.console_height = get_int<unsigned>(need(*x, "height", cp), at(cp, "height"), 0, 65535);
        p.console_width = get_int<unsigned>(need(*x, "width", cp), at(cp, "width"), 0, 65535);
    }
    if (const json* x = member(v, "args")) p.args = get_strings(*x, at(path, "args"));
    if (p.args.empty()) bad(at(path, "args"), "required: the command to run (at least one element)");
    if (p.args[0].empty()) bad(at(at(path, "args"), size_t{0}), "the command must not be empty");
    if (const json* x = member(v, "env")) p.env = get_strings(*x, at(path, "env"));
    check_env(p.env, at(path, "env"));
    const json* cwd = member(v, "cwd");
    if (!cwd) bad(at(path, "cwd"), "required (an absolute path in the container)");
    p.cwd = absolute_path(get_string(*cwd, at(path, "cwd")), at(path, "cwd"));
    if (const json* x = member(v, "user")) p.user = parse_user(*x, at(path, "user"), ctx);
    if (const json* x = member(v, "capabilities"))
        p.capabilities = parse_capabilities(*x, at(path, "capabilities"), ctx);
    if (const json* x = member(v, "rlimits")) p.rlimits = parse_rlimits(*x, at(path, "rlimits"), ctx);
    if (const json* x = member(v, "noNewPrivileges")) p.no_new_privileges = get_bool(*x, at(path, "noNewPrivileges"));
    if (const json* x = member(v, "oomScoreAdj")) p.oom_score_adj = get_int<int>(*x, at(path, "oomScoreAdj"), -1000, 1000);

    refuse_unless_empty(v, "apparmorProfile", path, "this runtime has no AppArmor support (leave it empty)");
    refuse_unless_empty(v, "selinuxLabel", path, "this runtime has no SELinux support (leave it empty)");
    refuse_unless_empty(v, "scheduler", path, "not supported by this runtime (sched_setattr(2) is not done)");
    refuse_unless_empty(v, "ioPriority", path, "not supported by this runtime (ioprio_set(2) is not done)");
    refuse_unless_empty(v, "execCPUAffinity", path, "not supported by this runtime (sched_setaffinity(2) is not done)");
    warn_unless_empty(v, "commandLine", path, "Windows only, ignored", ctx);
    return p;
}

// ---- mounts ----------------------------------------------------------------------------------

struct MountOption {
    const char* name;
    unsigned long flag;
    bool clears;  // "rw", "suid", ...: asks the flag off
};
constexpr MountOption kMountOptions[] = {
    {"ro", MS_RDONLY, false},          {"rw", MS_RDONLY, true},
    {"nosuid", MS_NOSUID, false},      {"suid", MS_NOSUID, true},
    {"nodev", MS_NODEV, false},        {"dev", MS_NODEV, true},
    {"noexec", MS_NOEXEC, false},      {"exec", MS_NOEXEC, true},
    {"sync", MS_SYNCHRONOUS, false},   {"async", MS_SYNCHRONOUS, true},
    {"dirsync", MS_DIRSYNC, false},    {"remount", MS_REMOUNT, false},
    {"mand", MS_MANDLOCK, false},      {"nomand", MS_MANDLOCK, true},
    {"noatime", MS_NOATIME, false},    {"atime", MS_NOATIME, true},
    {"nodiratime", MS_NODIRATIME, false}, {"diratime", MS_NODIRATIME, true},
    {"relatime", MS_RELATIME, false},  {"norelatime", MS_RELATIME, true},
    {"strictatime", MS_STRICTATIME, false}, {"nostrictatime", MS_STRICTATIME, true},
    {"iversion", MS_I_VERSION, false}, {"noiversion", MS_I_VERSION, true},
    {"lazytime", MS_LAZYTIME, false},  {"nolazytime", MS_LAZYTIME, true},
    {"silent", MS_SILENT, false},      {"loud", MS_SILENT, true},
    {"nosymfollow", MS_NOSYMFOLLOW, false}, {"symfollow", MS_NOSYMFOLLOW, true},
    {"bind", MS_BIND, false},          {"rbind", MS_BIND | MS_REC, false},
};

constexpr std::pair<const char*, unsigned long> kPropagation[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},       {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},                   {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

// The recursive attributes of runtime-spec 1.1 need mount_setattr(2) with AT_RECURSIVE.
constexpr const char* kRecursiveAttrs[] = {
    "rro",         "rrw",         "rnosuid",   "rsuid",      "rnodev",         "rdev",
    "rnoexec",     "rexec",       "rnoatime",  "ratime",     "rnodiratime",    "rdiratime",
    "rrelatime",   "rnorelatime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow",
};

void apply_mount_options(Mount& m, const std::string& path, const Ctx& ctx) {
    std::vector<std::string> data;
    for (size_t i = 0; i < m.options.size(); ++i) {
        const std::string& o = m.options[i];
        std::string p = at(path, i);
        if (o == "defaults") continue;
        auto opt = std::find_if(std::begin(kMountOptions), std::end(kMountOptions),
                                [&](const MountOption& x) { return o == x.name; });
        if (opt != std::end(kMountOptions)) {
            // A later option wins over an earlier one, as in mount(8): "ro,rw" is rw.
            if (opt->clears) {
                m.flags &= ~opt->flag;
                m.clear |= opt->flag;
            } else {
                m.flags |= opt->flag;
                m.clear &= ~opt->flag;
            }
            continue;
        }
        auto prop = std::find_if(std::begin(kPropagation), std::end(kPropagation),
                                 [&](const auto& x) { return o == x.first; });
        if (prop != std::end(kPropagation)) {
            m.propagation = prop->second;
            continue;
        }
        if (o == "tmpcopyup") {
            ctx.warn(p, "tmpcopyup is not done: the tmpfs is mounted empty");
            continue;
        }
        if (o == "idmap" || o == "ridmap")
            bad(p, o + ": idmapped mounts (mount_setattr(MOUNT_ATTR_IDMAP)) are not supported by this runtime");
        if (std::find_if(std::begin(kRecursiveAttrs), std::end(kRecursiveAttrs),
                         [&](const char* x) { return o == x; }) != std::end(kRecursiveAttrs))
            bad(p, o + ": recursive mount attributes (mount_setattr(AT_RECURSIVE)) are not supported by this runtime");
        if (o.empty()) bad(p, "an empty option");
        if (o.find(',') != std::string::npos) bad(p, quote(o) + ": one option per element (no commas)");
        // Anything else belongs to the filesystem: mount(2)'s data argument ("mode=755").
        data.push_back(o);
    }
    for (size_t i = 0; i < data.size(); ++i) m.data += (i ? "," : "") + data[i];
}

Mount parse_mount(const json& v, const std::string& path, const std::string& bundle, const Ctx& ctx) {
    known_keys(v, path, {"destination", "type", "source", "options", "uidMappings", "gidMappings"}, ctx);
    Mount m;
    m.destination = absolute_path(get_string(need(v, "destination", path), at(path, "destination")),
                                  at(path, "destination"));
    if (const json* x = member(v, "type")) m.type = get_string(*x, at(path, "type"));
    if (const json* x = member(v, "source")) m.source = get_string(*x, at(path, "source"));
    if (const json* x = member(v, "options")) m.options = get_strings(*x, at(path, "options"));
    refuse_unless_empty(v, "uidMappings", path, "idmapped mounts are not supported by this runtime");
    refuse_unless_empty(v, "gidMappings", path, "idmapped mounts are not supported by this runtime");
    apply_mount_options(m, at(path, "options"), ctx);
    // A bind is named by its type or by its options; runc accepts either, and so does this.
    if (m.type == "bind") m.flags |= MS_BIND;
    if (m.bind()) {
        m.type = "bind";
        if (m.source.empty()) bad(at(path, "source"), "required for a bind mount (the host path to bind)");
        m.source = in_bundle(bundle, m.source);
    } else if (m.type.empty()) {
        bad(at(path, "type"), "required unless the mount is a bind (\"proc\", \"tmpfs\", ...)");
    }
    return m;
}

// ---- hooks -----------------------------------------------------------------------------------

std::vector<Hook> parse_hook_list(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<Hook> out;
    get_array(v, path);
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"path", "args", "env", "timeout"}, ctx);
        Hook h;
        h.path = get_string(need(v[i], "path", p), at(p, "path"));
        if (h.path.empty() || h.path[0] != '/') bad(at(p, "path"), "must be an absolute path, got " + quote(h.path));
        if (const json* x = member(v[i], "args")) h.args = get_strings(*x, at(p, "args"));
        if (const json* x = member(v[i], "env")) h.env = get_strings(*x, at(p, "env"));
        check_env(h.env, at(p, "env"));
        if (const json* x = member(v[i], "timeout")) {
            int t = get_int<int>(*x, at(p, "timeout"));
            if (t <= 0) bad(at(p, "timeout"), "must be greater than zero (seconds), got " + std::to_string(t));
            h.timeout = t;
        }
        out.push_back(h);
    }
    return out;
}

Hooks parse_hooks(const json& v, const std::string& path, const Ctx& ctx) {
    known_keys(v, path,
               {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}, ctx);
    Hooks h;
    auto list = [&](const char* key, std::vector<Hook>& into) {
        if (const json* x = member(v, key)) into = parse_hook_list(*x, at(path, key), ctx);
    };
    list("prestart", h.prestart);
    list("createRuntime", h.create_runtime);
    list("createContainer", h.create_container);
    list("startContainer", h.start_container);
    list("poststart", h.poststart);
    list("poststop", h.poststop);
    return h;
}

// ---- linux: namespaces and id mappings ---------------------------------------------------------

constexpr std::pair<const char*, int> kNamespaces[] = {
    {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET},   {"mount", CLONE_NEWNS},      {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS}, {"user", CLONE_NEWUSER},     {"cgroup", CLONE_NEWCGROUP},
};

std::vector<Namespace> parse_namespaces(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<Namespace> out;
    get_array(v, path);
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"type", "path"}, ctx);
        Namespace ns;
        ns.name = get_string(need(v[i], "type", p), at(p, "type"));
        if (ns.name == "time")
            bad(at(p, "type"), "the time namespace is not supported by this runtime (CLONE_NEWTIME)");
        auto it = std::find_if(std::begin(kNamespaces), std::end(kNamespaces),
                               [&](const auto& n) { return ns.name == n.first; });
        if (it == std::end(kNamespaces)) bad(at(p, "type"), "unknown namespace " + quote(ns.name));
        ns.type = it->second;
        if (const json* x = member(v[i], "path")) {
            ns.path = get_string(*x, at(p, "path"));
            if (!ns.path.empty() && ns.path[0] != '/')
                bad(at(p, "path"), "must be an absolute path, got " + quote(ns.path));
        }
        for (const auto& seen : out) {
            if (seen.type == ns.type) bad(p, "a second " + quote(ns.name) + " namespace");
        }
        out.push_back(ns);
    }
    return out;
}

std::vector<IdMap> parse_id_mappings(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<IdMap> out;
    get_array(v, path);
    // The kernel takes at most 340 lines in uid_map (5 before Linux 4.15).
    if (v.size() > 340) bad(path, std::to_string(v.size()) + " ranges, the kernel accepts at most 340");
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"containerID", "hostID", "size"}, ctx);
        IdMap m;
        m.container_id = get_int<uint32_t>(need(v[i], "containerID", p), at(p, "containerID"));
        m.host_id = get_int<uint32_t>(need(v[i], "hostID", p), at(p, "hostID"));
        m.size = get_int<uint32_t>(need(v[i], "size", p), at(p, "size"));
        if (m.size == 0) bad(at(p, "size"), "must be greater than zero");
        if (uint64_t{m.container_id} + m.size > (uint64_t{1} << 32) ||
            uint64_t{m.host_id} + m.size > (uint64_t{1} << 32))
            bad(at(p, "size"), "the range runs past the last id 4294967295");
        auto overlap = [](uint64_t a, uint64_t b, uint64_t size_a, uint64_t size_b) {
            return a < b + size_b && b < a + size_a;
        };
        for (size_t j = 0; j < out.size(); ++j) {
            // The kernel refuses a map whose ranges overlap on either side (user_namespaces(7)).
            if (overlap(m.container_id, out[j].container_id, m.size, out[j].size))
                bad(p, "container ids overlap those of " + at(path, j));
            if (overlap(m.host_id, out[j].host_id, m.size, out[j].size))
                bad(p, "host ids overlap those of " + at(path, j));
        }
        out.push_back(m);
    }
    return out;
}

bool mapped(const std::vector<IdMap>& maps, uint32_t id) {
    return std::any_of(maps.begin(), maps.end(), [&](const IdMap& m) {
        return id >= m.container_id && uint64_t{id} < uint64_t{m.container_id} + m.size;
    });
}

// ---- linux: devices --------------------------------------------------------------------------

std::vector<Device> parse_devices(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<Device> out;
    get_array(v, path);
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"type", "path", "major", "minor", "fileMode", "uid", "gid"}, ctx);
        Device d;
        d.path = absolute_path(get_string(need(v[i], "path", p), at(p, "path")), at(p, "path"));
        if (d.path.rfind("/dev/", 0) != 0) bad(at(p, "path"), quote(d.path) + " is not under /dev");
        std::string type = get_string(need(v[i], "type", p), at(p, "type"));
        if (type != "c" && type != "b" && type != "u" && type != "p")
            bad(at(p, "type"), "unknown device type " + quote(type) + " (c, b, u or p)");
        d.type = type == "u" ? 'c' : type[0];  // "u" is an unbuffered character device: mknod's S_IFCHR
        if (d.type != 'p') {
            d.major = get_int<int64_t>(need(v[i], "major", p), at(p, "major"), 0, 0xfff);
            d.minor = get_int<int64_t>(need(v[i], "minor", p), at(p, "minor"), 0, 0xfffff);
        }
        // A decimal number in JSON: 438 is 0666.
        if (const json* x = member(v[i], "fileMode")) d.file_mode = get_int<uint32_t>(*x, at(p, "fileMode"), 0, 07777);
        if (const json* x = member(v[i], "uid")) d.uid = get_int<uint32_t>(*x, at(p, "uid"));
        if (const json* x = member(v[i], "gid")) d.gid = get_int<uint32_t>(*x, at(p, "gid"));
        for (const auto& seen : out) {
            if (seen.path == d.path) bad(at(p, "path"), quote(d.path) + " is given twice");
        }
        out.push_back(d);
    }
    return out;
}

// ---- linux: resources ------------------------------------------------------------------------

std::vector<DeviceRule> parse_device_rules(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<DeviceRule> out;
    get_array(v, path);
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"allow", "type", "major", "minor", "access"}, ctx);
        DeviceRule r;
        r.allow = get_bool(need(v[i], "allow", p), at(p, "allow"));
        if (const json* x = member(v[i], "type")) {
            std::string t = get_string(*x, at(p, "type"));
            if (t.empty()) t = "a";
            if (t != "a" && t != "b" && t != "c") bad(at(p, "type"), "unknown device type " + quote(t) + " (a, b or c)");
            r.type = t[0];
        }
        if (const json* x = member(v[i], "major")) r.major = get_int<int64_t>(*x, at(p, "major"), -1, 0xfff);
        if (const json* x = member(v[i], "minor")) r.minor = get_int<int64_t>(*x, at(p, "minor"), -1, 0xfffff);
        r.access = "rwm";  // absent or empty: every access, as runc reads it
        if (const json* x = member(v[i], "access")) {
            std::string a = get_string(*x, at(p, "access"));
            if (!a.empty()) {
                for (size_t k = 0; k < a.size(); ++k) {
                    if (std::string_view("rwm").find(a[k]) == std::string_view::npos || a.find(a[k]) != k)
                        bad(at(p, "access"), quote(a) + " is not a set of r, w and m");
                }
                r.access = a;
            }
        }
        out.push_back(r);
    }
    return out;
}

// "0-3,7": the cpuset list syntax of cpuset(7).
void check_cpu_list(const std::string& s, const std::string& path) {
    static const std::regex list(R"(^\s*[0-9]+(-[0-9]+)?(\s*,\s*[0-9]+(-[0-9]+)?)*\s*$)");
    if (!s.empty() && !std::regex_match(s, list)) bad(path, quote(s) + " is not a list such as \"0-3,7\"");
}

std::vector<Resources::Throttle> parse_throttles(const json& v, const std::string& path, const Ctx& ctx) {
    std::vector<Resources::Throttle> out;
    get_array(v, path);
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"major", "minor", "rate"}, ctx);
        Resources::Throttle t;
        t.major = get_int<int64_t>(need(v[i], "major", p), at(p, "major"), 0, 0xfff);
        t.minor = get_int<int64_t>(need(v[i], "minor", p), at(p, "minor"), 0, 0xfffff);
        t.rate = get_int<uint64_t>(need(v[i], "rate", p), at(p, "rate"));
        out.push_back(t);
    }
    return out;
}

void parse_memory(const json& v, const std::string& path, Resources& r, const Ctx& ctx) {
    known_keys(v, path,
               {"limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller",
                "useHierarchy", "checkBeforeUpdate"},
               ctx);
    // -1 is "unlimited"; 0 is "not set" in runc's reading. Anything below -1 is a mistake.
    auto bytes = [&](const char* key, std::optional<int64_t>& into) {
        if (const json* x = member(v, key)) into = get_int<int64_t>(*x, at(path, key), -1);
    };
    bytes("limit", r.memory_limit);
    bytes("reservation", r.memory_reservation);
    bytes("swap", r.memory_swap);
    if (r.memory_swap && r.memory_limit && *r.memory_swap > 0 && *r.memory_limit > 0 && *r.memory_swap < *r.memory_limit)
        bad(at(path, "swap"), "memory+swap " + std::to_string(*r.memory_swap) + " is below memory.limit " +
                                  std::to_string(*r.memory_limit) + " (swap counts memory and swap together)");
    if (const json* x = member(v, "swappiness")) r.memory_swappiness = get_int<int64_t>(*x, at(path, "swappiness"), 0, 100);
    if (const json* x = member(v, "disableOOMKiller")) r.disable_oom_killer = get_bool(*x, at(path, "disableOOMKiller"));
    warn_unless_empty(v, "kernel", path, "kernel memory limits are deprecated (Linux 5.4+ ignores them), ignored", ctx);
    warn_unless_empty(v, "kernelTCP", path, "kernel TCP memory limits are deprecated, ignored", ctx);
    warn_unless_empty(v, "useHierarchy", path, "accounting is always hierarchical here, ignored", ctx);
    warn_unless_empty(v, "checkBeforeUpdate", path, "no usage check is made before an update, ignored", ctx);
}

void parse_cpu(const json& v, const std::string& path, Resources& r, const Ctx& ctx) {
    known_keys(v, path,
               {"shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle"},
               ctx);
    if (const json* x = member(v, "shares")) {
        // cpu.shares of cgroup v1: 2..262144 (the v2 weight is derived from it); 0 = not set.
        uint64_t s = get_int<uint64_t>(*x, at(path, "shares"));
        if (s != 0 && (s < 2 || s > 262144)) bad(at(path, "shares"), std::to_string(s) + " is out of range 2..262144");
        if (s != 0) r.cpu_shares = s;
    }
    if (const json* x = member(v, "quota")) {
        int64_t q = get_int<int64_t>(*x, at(path, "quota"));
        // The kernel's smallest quota is 1 ms; -1 = no limit; 0 = not set.
        if (q < -1 || (q > 0 && q < 1000))
            bad(at(path, "quota"), std::to_string(q) + " microseconds: -1 (no limit) or at least 1000");
        if (q != 0) r.cpu_quota = q;
    }
    if (const json* x = member(v, "period")) {
        uint64_t per = get_int<uint64_t>(*x, at(path, "period"));
        if (per != 0 && (per < 1000 || per > 1000000))
            bad(at(path, "period"), std::to_string(per) + " microseconds is out of range 1000..1000000");
        if (per != 0) r.cpu_period = per;
    }
    if (const json* x = member(v, "cpus")) {
        r.cpuset_cpus = get_string(*x, at(path, "cpus"));
        check_cpu_list(r.cpuset_cpus, at(path, "cpus"));
    }
    if (const json* x = member(v, "mems")) {
        r.cpuset_mems = get_string(*x, at(path, "mems"));
        check_cpu_list(r.cpuset_mems, at(path, "mems"));
    }
    for (const char* key : {"realtimeRuntime", "realtimePeriod"}) {
        if (const json* x = member(v, key)) {
            int64_t n = get_int<int64_t>(*x, at(path, key));
            if (n != 0) bad(at(path, key), "real-time CPU limits are not supported by this runtime (cpu.rt_*)");
        }
    }
    warn_unless_empty(v, "burst", path, "cpu.max.burst is not written, ignored", ctx);
    warn_unless_empty(v, "idle", path, "cpu.idle is not written, ignored", ctx);
}

void parse_block_io(const json& v, const std::string& path, Resources& r, const Ctx& ctx) {
    known_keys(v, path,
               {"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                "throttleReadIOPSDevice", "throttleWriteIOPSDevice"},
               ctx);
    if (const json* x = member(v, "weight")) {
        auto w = get_int<uint16_t>(*x, at(path, "weight"));
        if (w != 0 && (w < 10 || w > 1000)) bad(at(path, "weight"), std::to_string(w) + " is out of range 10..1000");
        if (w != 0) r.blkio_weight = w;
    }
    warn_unless_empty(v, "leafWeight", path, "leaf weights (CFQ only) are not written, ignored", ctx);
    warn_unless_empty(v, "weightDevice", path, "per-device weights are not written, ignored", ctx);
    auto list = [&](const char* key, std::vector<Resources::Throttle>& into) {
        if (const json* x = member(v, key)) into = parse_throttles(*x, at(path, key), ctx);
    };
    list("throttleReadBpsDevice", r.blkio_read_bps);
    list("throttleWriteBpsDevice", r.blkio_write_bps);
    list("throttleReadIOPSDevice", r.blkio_read_iops);
    list("throttleWriteIOPSDevice", r.blkio_write_iops);
}

void parse_hugepages(const json& v, const std::string& path, Resources& r, const Ctx& ctx) {
    get_array(v, path);
    // As the kernel names the files: hugetlb.2MB.limit_in_bytes, hugetlb.1GB.max.
    static const std::regex size(R"(^[1-9][0-9]*(KB|MB|GB)$)");
    for (size_t i = 0; i < v.size(); ++i) {
        std::string p = at(path, i);
        known_keys(v[i], p, {"pageSize", "limit"}, ctx);
        std::string ps = get_string(need(v[i], "pageSize", p), at(p, "pageSize"));
        if (!std::regex_match(ps, size)) bad(at(p, "pageSize"), quote(ps) + " is not a page size such as \"2MB\"");
        if (r.hugepage_limits.count(ps)) bad(at(p, "pageSize"), quote(ps) + " is given twice");
        r.hugepage_limits[ps] = get_int<uint64_t>(need(v[i], "limit", p), at(p, "limit"));
    }
}

Resources parse_resources(const json& v, const std::string& path, const Ctx& ctx) {
    known_keys(v, path, {"devices", "memory", "cpu", "blockIO", "hugepageLimits", "network", "pids", "rdma", "unified"},
               ctx);
    Resources r;
    if (const json* x = member(v, "devices")) r.devices = parse_device_rules(*x, at(path, "devices"), ctx);
    if (const json* x = member(v, "memory")) parse_memory(*x, at(path, "memory"), r, ctx);
    if (const json* x = member(v, "cpu")) parse_cpu(*x, at(path, "cpu"), r, ctx);
    if (const json* x = member(v, "blockIO")) parse_block_io(*x, at(path, "blockIO"), r, ctx);
    if (const json* x = member(v, "hugepageLimits")) parse_hugepages(*x, at(path, "hugepageLimits"), r, ctx);
    if (const json* x = member(v, "pids")) {
        std::string p = at(path, "pids");
        known_keys(*x, p, {"limit"}, ctx);
        if (const json* l = member(*x, "limit")) r.pids_limit = get_int<int64_t>(*l, at(p, "limit"), -1);
    }
    if (const json* x = member(v, "unified")) {
        r.unified = get_string_map(*x, at(path, "unified"));
        for (const auto& [file, value] : r.unified) {
            // A file of the container's own cgroup directory, never a path out of it.
            if (file.find('/') != std::string::npos || file.find('.') == std::string::npos || file[0] == '.')
                bad(at(at(path, "unified"), file), "not a cgroup v2 file name such as \"memory.high\"");
        }
    }
    warn_unless_empty(v, "network", path, "net_cls/net_prio (cgroup v1 only) are not written, ignored", ctx);
    warn_unless_empty(v, "rdma", path, "rdma.max is not written, ignored", ctx);
    return r;
}

// ---- linux: seccomp --------------------------------------------------------------------------

constexpr const char* kSeccompActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",        "SCMP_ACT_LOG",         "SCMP_ACT_NOTIFY",
};
constexpr const char* kSeccompOps[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};
constexpr const char* kSeccompArchs[] = {
    "SCMP_ARCH_X86",       "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",        "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",   "SCMP_ARCH_MIPS",      "SCMP_ARCH_MIPS64",     "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",    "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",     "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",       "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",    "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",      "SCMP_ARCH_SH",        "SCMP_ARCH_SHEB",
};
constexpr const char* kSeccompFlags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
};

template <size_t N>
bool one_of(const std::string& s, const char* const (&list)[N]) {
    return std::find_if(std::begin(list), std::end(list), [&](const char* x) { return s == x; }) != std::end(list);
}

// Checks an action name; returns it.
std::string seccomp_action(const json& v, const std::string& path) {
    std::string a = get_string(v, path);
    if (!one_of(a, kSeccompActions)) bad(path, "unknown seccomp action " + quote(a));
    if (a == "SCMP_ACT_NOTIFY")
        bad(path, "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which this runtime does not support");
    return a;
}

std::optional<unsigned> errno_ret(const json& obj, const char* key, const std::string& action, const std::string& path) {
    const json* x = member(obj, key);
    if (!x) return std::nullopt;
    if (action != "SCMP_ACT_ERRNO" && action != "SCMP_ACT_TRACE")
        bad(at(path, key), "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not " + action);
    return get_int<unsigned>(*x, at(path, key), 0, 65535);
}

Seccomp parse_seccomp(const json& v, const std::string& path, const Ctx& ctx) {
    known_keys(v, path,
               {"defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata",
                "syscalls"},
               ctx);
    Seccomp s;
    s.default_action = seccomp_action(need(v, "defaultAction", path), at(path, "defaultAction"));
    s.default_errno_ret = errno_ret(v, "defaultErrnoRet", s.default_action, path);
    if (const json* x = member(v, "architectures")) {
        s.architectures = get_strings(*x, at(path, "architectures"));
        for (size_t i = 0; i < s.architectures.size(); ++i) {
            if (!one_of(s.architectures[i], kSeccompArchs))
                bad(at(at(path, "architectures"), i), "unknown architecture " + quote(s.architectures[i]));
        }
    }
    if (const json* x = member(v, "flags")) {
        s.flags = get_strings(*x, at(path, "flags"));
        for (size_t i = 0; i < s.flags.size(); ++i) {
            if (!one_of(s.flags[i], kSeccompFlags))
                bad(at(at(path, "flags"), i), "unsupported seccomp flag " + quote(s.flags[i]) +
                                                  " (TSYNC, LOG and SPEC_ALLOW are)");
        }
    }
    refuse_unless_empty(v, "listenerPath", path, "seccomp agents (SCMP_ACT_NOTIFY) are not supported by this runtime");
    warn_unless_empty(v, "listenerMetadata", path, "meaningful only with a listenerPath, ignored", ctx);
    if (const json* x = member(v, "syscalls")) {
        std::string sp = at(path, "syscalls");
        get_array(*x, sp);
        for (size_t i = 0; i < x->size(); ++i) {
            const json& rv = (*x)[i];
            std::string p = at(sp, i);
            known_keys(rv, p, {"names", "action", "errnoRet", "args"}, ctx);
            SeccompRule r;
            r.names = get_strings(need(rv, "names", p), at(p, "names"));
            if (r.names.empty()) bad(at(p, "names"), "at least one system call name is needed");
            for (size_t k = 0; k < r.names.size(); ++k) {
                if (r.names[k].empty()) bad(at(at(p, "names"), k), "an empty system call name");
            }
            r.action = seccomp_action(need(rv, "action", p), at(p, "action"));
            r.errno_ret = errno_ret(rv, "errnoRet", r.action, p);
            if (const json* args = member(rv, "args")) {
                std::string ap = at(p, "args");
                get_array(*args, ap);
                for (size_t k = 0; k < args->size(); ++k) {
                    std::string kp = at(ap, k);
                    known_keys((*args)[k], kp, {"index", "value", "valueTwo", "op"}, ctx);
                    SeccompArg a;
                    a.index = get_int<unsigned>(need((*args)[k], "index", kp), at(kp, "index"), 0, 5);
                    a.value = get_int<uint64_t>(need((*args)[k], "value", kp), at(kp, "value"));
                    if (const json* two = member((*args)[k], "valueTwo")) a.value_two = get_int<uint64_t>(*two, at(kp, "valueTwo"));
                    a.op = get_string(need((*args)[k], "op", kp), at(kp, "op"));
                    if (!one_of(a.op, kSeccompOps)) bad(at(kp, "op"), "unknown comparison " + quote(a.op));
                    r.args.push_back(a);
                }
            }
            s.syscalls.push_back(r);
        }
    }
    return s;
}

// ---- linux: the rest -------------------------------------------------------------------------

std::vector<std::string> parse_paths(const json& v, const std::string& path) {
    auto list = get_strings(v, path);
    for (size_t i = 0; i < list.size(); ++i) list[i] = absolute_path(list[i], at(path, i));
    return list;
}

void parse_linux(const json& v, const std::string& path, Spec& s, const Ctx& ctx) {
    known_keys(v, path,
               {"namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices", "netDevices", "cgroupsPath",
                "rootfsPropagation", "resources", "sysctl", "seccomp", "maskedPaths", "readonlyPaths", "mountLabel",
                "intelRdt", "personality", "memoryPolicy"},
               ctx);
    if (const json* x = member(v, "namespaces")) s.namespaces = parse_namespaces(*x, at(path, "namespaces"), ctx);
    if (const json* x = member(v, "uidMappings")) s.uid_mappings = parse_id_mappings(*x, at(path, "uidMappings"), ctx);
    if (const json* x = member(v, "gidMappings")) s.gid_mappings = parse_id_mappings(*x, at(path, "gidMappings"), ctx);
    if (const json* x = member(v, "devices")) s.devices = parse_devices(*x, at(path, "devices"), ctx);
    if (const json* x = member(v, "cgroupsPath")) s.cgroups_path = get_string(*x, at(path, "cgroupsPath"));
    if (const json* x = member(v, "resources")) s.resources = parse_resources(*x, at(path, "resources"), ctx);
    if (const json* x = member(v, "sysctl")) s.sysctl = get_string_map(*x, at(path, "sysctl"));
    if (const json* x = member(v, "seccomp")) s.seccomp = parse_seccomp(*x, at(path, "seccomp"), ctx);
    if (const json* x = member(v, "maskedPaths")) s.masked_paths = parse_paths(*x, at(path, "maskedPaths"));
    if (const json* x = member(v, "readonlyPaths")) s.readonly_paths = parse_paths(*x, at(path, "readonlyPaths"));
    if (const json* x = member(v, "rootfsPropagation")) {
        std::string prop = get_string(*x, at(path, "rootfsPropagation"));
        if (!prop.empty()) {
            auto it = std::find_if(std::begin(kPropagation), std::end(kPropagation),
                                   [&](const auto& p) { return prop == p.first; });
            if (it == std::end(kPropagation)) bad(at(path, "rootfsPropagation"), "unknown propagation " + quote(prop));
            s.rootfs_propagation = it->second;
        }
    }
    if (const json* x = member(v, "personality")) {
        std::string pp = at(path, "personality");
        known_keys(*x, pp, {"domain", "flags"}, ctx);
        std::string domain = get_string(need(*x, "domain", pp), at(pp, "domain"));
        if (domain == "LINUX") {
            s.personality = PER_LINUX;
        } else if (domain == "LINUX32") {
            s.personality = PER_LINUX32;
        } else {
            bad(at(pp, "domain"), "unknown execution domain " + quote(domain) + " (LINUX or LINUX32)");
        }
        refuse_unless_empty(*x, "flags", pp, "personality flags are not supported by this runtime");
    }
    refuse_unless_empty(v, "mountLabel", path, "this runtime has no SELinux support (leave it empty)");
    refuse_unless_empty(v, "timeOffsets", path, "the time namespace is not supported by this runtime");
    refuse_unless_empty(v, "netDevices", path, "moving host network devices in is not supported by this runtime");
    refuse_unless_empty(v, "intelRdt", path, "Intel RDT (resctrl) is not supported by this runtime");
    refuse_unless_empty(v, "memoryPolicy", path, "memory policies (set_mempolicy(2)) are not supported by this runtime");
}

// The cross-field rules: what one field means for another.
void check_consistency(Spec& s, const Ctx& ctx) {
    const Namespace* user = s.find_namespace(CLONE_NEWUSER);
    bool has_maps = !s.uid_mappings.empty() || !s.gid_mappings.empty();
    if (has_maps && !user)
        bad(s.uid_mappings.empty() ? "linux.gidMappings" : "linux.uidMappings",
            "given, but linux.namespaces has no \"user\" namespace");
    if (user && user->path.empty()) {
        if (s.uid_mappings.empty()) bad("linux.uidMappings", "required with a new user namespace");
        if (s.gid_mappings.empty()) bad("linux.gidMappings", "required with a new user namespace");
        // An id the process runs as must exist in the namespace, or setresuid(2) fails inside.
        if (!mapped(s.uid_mappings, s.process.user.uid))
            bad("process.user.uid", std::to_string(s.process.user.uid) + " is not mapped by linux.uidMappings");
        if (!mapped(s.gid_mappings, s.process.user.gid))
            bad("process.user.gid", std::to_string(s.process.user.gid) + " is not mapped by linux.gidMappings");
        for (size_t i = 0; i < s.process.user.additional_gids.size(); ++i) {
            if (!mapped(s.gid_mappings, s.process.user.additional_gids[i]))
                bad(at("process.user.additionalGids", i),
                    std::to_string(s.process.user.additional_gids[i]) + " is not mapped by linux.gidMappings");
        }
    }
    if (user && !user->path.empty() && has_maps)
        ctx.warn("linux.uidMappings", "ignored: the joined user namespace has its own mappings");
    if (!s.hostname.empty() && !s.has_namespace(CLONE_NEWUTS))
        bad("hostname", "needs a \"uts\" namespace in linux.namespaces (it would rename the host)");
    if (!s.domainname.empty() && !s.has_namespace(CLONE_NEWUTS))
        bad("domainname", "needs a \"uts\" namespace in linux.namespaces (it would rename the host)");
}

Spec parse_spec(const json& config, const std::string& bundle_in, const Ctx& ctx) {
    Spec s;
    known_keys(config, "",
               {"ociVersion", "root", "mounts", "process", "hostname", "domainname", "hooks", "annotations", "linux",
                "solaris", "windows", "vm", "zos", "freebsd"},
               ctx);
    s.bundle = in_bundle(std::filesystem::absolute(bundle_in.empty() ? "." : bundle_in).string(), ".");

    s.oci_version = get_string(need(config, "ociVersion", ""), "ociVersion");
    static const std::regex semver(R"(^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$)");
    std::smatch m;
    if (!std::regex_match(s.oci_version, m, semver)) bad("ociVersion", quote(s.oci_version) + " is not a version such as \"1.0.2\"");
    if (m[1] != "1") bad("ociVersion", quote(s.oci_version) + ": this runtime reads version 1.x of the runtime spec");

    const json& root = need(config, "root", "");
    known_keys(root, "root", {"path", "readonly"}, ctx);
    std::string root_path = get_string(need(root, "path", "root"), "root.path");
    if (root_path.empty()) bad("root.path", "must not be empty");
    s.root = in_bundle(s.bundle, root_path);
    if (const json* x = member(root, "readonly")) s.root_readonly = get_bool(*x, "root.readonly");

    if (const json* x = member(config, "hostname")) s.hostname = get_string(*x, "hostname");
    if (const json* x = member(config, "domainname")) s.domainname = get_string(*x, "domainname");
    if (s.hostname.size() > 64) bad("hostname", "longer than 64 characters (HOST_NAME_MAX)");
    if (s.domainname.size() > 64) bad("domainname", "longer than 64 characters");

    s.process = parse_process_in(need(config, "process", ""), "process", ctx);

    if (const json* x = member(config, "mounts")) {
        get_array(*x, "mounts");
        for (size_t i = 0; i < x->size(); ++i) s.mounts.push_back(parse_mount((*x)[i], at("mounts", i), s.bundle, ctx));
    }
    if (const json* x = member(config, "hooks")) s.hooks = parse_hooks(*x, "hooks", ctx);
    if (const json* x = member(config, "annotations")) s.annotations = get_string_map(*x, "annotations");
    if (const json* x = member(config, "linux")) parse_linux(*x, "linux", s, ctx);

    refuse_unless_empty(config, "windows", "", "a Windows container: this is a Linux runtime");
    refuse_unless_empty(config, "vm", "", "a virtual-machine container: this runtime has no hypervisor support");
    for (const char* other : {"solaris", "zos", "freebsd"}) {
        if (member(config, other)) ctx.warn(other, "another platform's section, ignored on Linux");
    }
    check_consistency(s, ctx);

    // Last, after the JSON is known to be good: the root filesystem must be there.
    struct stat st {};
    if (::stat(s.root.c_str(), &st) != 0)
        throw Error("root.path: " + s.root + ": " + std::strerror(errno))
            .with_hint("a bundle holds config.json and the root filesystem it names (usually rootfs/)");
    if (!S_ISDIR(st.st_mode)) bad("root.path", s.root + " is not a directory");
    return s;
}

}  // namespace

// ---- public ----------------------------------------------------------------------------------

std::optional<int> capability_number(const std::string& name) {
    for (int i = 0; i < kCapabilityCount; ++i) {
        if (name == kCapabilities[i]) return i;
    }
    return std::nullopt;
}

std::string capability_name(int number) {
    if (number >= 0 && number < kCapabilityCount) return kCapabilities[number];
    return "CAP_" + std::to_string(number);
}

int last_capability() {
    if (int o = g_last_cap_override.load(); o >= 0) return o;
    static const int last = [] {
        std::string text = files::read_line("/proc/sys/kernel/cap_last_cap");
        try {
            return text.empty() ? kCapabilityCount - 1 : std::stoi(text);
        } catch (const std::exception&) {
            return kCapabilityCount - 1;
        }
    }();
    return last;
}

void set_last_capability_for_testing(int n) { g_last_cap_override = n; }

Spec parse(const nlohmann::json& config, const std::string& bundle) {
    std::vector<std::string> warnings;
    Ctx ctx{"config.json: ", &warnings};
    try {
        if (!config.is_object()) bad("config.json", "expected an object at the top, got " + describe(config));
        Spec s = parse_spec(config, bundle, ctx);
        s.warnings = std::move(warnings);
        return s;
    } catch (Error& e) {
        if (e.message().rfind("config.json", 0) != 0) e.context("config.json");
        throw;
    }
}

Spec load(const std::string& bundle) {
    std::string file = in_bundle(std::filesystem::absolute(bundle.empty() ? "." : bundle).string(), "config.json");
    std::ifstream in(file);
    if (!in) {
        int err = errno;
        throw Error("cannot open " + file + ": " + std::strerror(err), exit_code::tool_failed, err)
            .with_hint("a bundle is a directory with config.json and rootfs/ (`step07_full spec` writes a config.json)");
    }
    json config;
    try {
        config = json::parse(in);
    } catch (const json::parse_error& e) {
        throw Error(file + ": not valid JSON: " + e.what());
    }
    return parse(config, bundle);
}

Process parse_process(const nlohmann::json& process, const std::string& where) {
    std::vector<std::string> warnings;
    Ctx ctx{"", &warnings};
    if (!process.is_object()) bad(where, "expected an object, got " + describe(process));
    Process p = parse_process_in(process, where, ctx);
    // No Spec to carry them: a process file (exec --process) says its warnings at once.
    for (const auto& w : warnings) narrate::warn(w);
    return p;
}

}  // namespace spec
