// seccomp: Docker's profile format -> the OCI object -> libseccomp -> a BPF filter in the kernel.
//
// Two separate jobs live here. docker_profile_to_oci() is pure data work: a Docker profile is
// written once for every container, with rules that only apply when the container holds some
// capability ("mount is allowed with CAP_SYS_ADMIN") or runs on some architecture; the OCI object
// is the resolved list for one container. install() hands that list to libseccomp, which
// compiles it into a BPF program (one branch per architecture, syscall numbers looked up per
// architecture) and loads it with seccomp(SECCOMP_SET_MODE_FILTER).
// See seccomp(2), seccomp_init(3), seccomp_rule_add(3), seccomp_attr_set(3).
#include "seccomp.hpp"
#include "seccomp_cache.hpp"
#include "unique_fd.hpp"

#include <seccomp.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "error.hpp"
#include "narrate.hpp"

namespace seccomp::detail {
extern const std::string_view kDockerDefaultProfile;  // generated from profiles/docker-default.json
}

namespace seccomp {

namespace {

// Go's architecture names (what Docker profiles use in includes.arches) -> libseccomp's.
const std::pair<const char*, const char*> kArchNames[] = {
    {"amd64", "SCMP_ARCH_X86_64"},       {"386", "SCMP_ARCH_X86"},
    {"x86", "SCMP_ARCH_X86"},            {"x32", "SCMP_ARCH_X32"},
    {"arm64", "SCMP_ARCH_AARCH64"},      {"arm", "SCMP_ARCH_ARM"},
    {"mips", "SCMP_ARCH_MIPS"},          {"mipsle", "SCMP_ARCH_MIPSEL"},
    {"mips64", "SCMP_ARCH_MIPS64"},      {"mips64le", "SCMP_ARCH_MIPSEL64"},
    {"mips64n32", "SCMP_ARCH_MIPS64N32"}, {"mips64len32", "SCMP_ARCH_MIPSEL64N32"},
    {"ppc", "SCMP_ARCH_PPC"},            {"ppc64", "SCMP_ARCH_PPC64"},
    {"ppc64le", "SCMP_ARCH_PPC64LE"},    {"s390", "SCMP_ARCH_S390"},
    {"s390x", "SCMP_ARCH_S390X"},        {"riscv64", "SCMP_ARCH_RISCV64"},
    {"loong64", "SCMP_ARCH_LOONGARCH64"},
};

// libseccomp's architecture tokens. Only those this libseccomp (2.5) knows are listed;
// LOONGARCH64 came in 2.6, so a profile naming it for another architecture is fine, but asking
// to install it is refused.
const std::pair<const char*, uint32_t> kScmpArches[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},           {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},           {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},   {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},     {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},     {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32}, {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},       {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},         {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},     {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

const char* const kActions[] = {"SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
                                "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};

const std::pair<const char*, scmp_compare> kOps[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

const std::pair<const char*, scmp_filter_attr> kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
};

bool known_action(const std::string& a) {
    return std::find(std::begin(kActions), std::end(kActions), a) != std::end(kActions);
}

// ---- Docker profile -> OCI -------------------------------------------------------------------

[[noreturn]] void bad(const std::string& where, const std::string& what) {
    throw Error("seccomp profile: " + where + ": " + what);
}

// A JSON number >= 0 (nlohmann keeps 2 signed or unsigned depending on how it was made).
bool non_negative(const nlohmann::json& j) {
    return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
}

std::vector<std::string> strings(const nlohmann::json& j, const std::string& where) {
    if (j.is_null()) return {};  // Docker writes "subArchitectures": null
    if (!j.is_array()) bad(where, "must be an array of strings");
    std::vector<std::string> out;
    for (const auto& s : j) {
        if (!s.is_string()) bad(where, "must be an array of strings");
        out.push_back(s.get<std::string>());
    }
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// "6.18.44-fc-v657" or "4.8" -> {6, 18, 44} / {4, 8, 0}; nullopt when it does not start with a number.
std::optional<std::array<int, 3>> parse_version(const std::string& s) {
    std::array<int, 3> v{0, 0, 0};
    size_t i = 0;
    for (int part = 0; part < 3; ++part) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') {
            if (part == 0) return std::nullopt;
            break;
        }
        int n = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') n = n * 10 + (s[i++] - '0');
        v[part] = n;
        if (i < s.size() && s[i] == '.') ++i;
        else break;
    }
    return v;
}

std::string running_kernel() {
    utsname u{};
    uname(&u);
    return u.release;
}

// includes/excludes: {"caps": [...], "arches": [...], "minKernel": "4.8"}; anything else is a
// typo that would silently change what the container may do, so it is refused.
struct Filter {
    std::vector<std::string> caps, arches;
    std::optional<std::array<int, 3>> min_kernel;
};

Filter read_filter(const nlohmann::json& j, const std::string& where, bool allow_min_kernel) {
    Filter f;
    if (j.is_null()) return f;
    if (!j.is_object()) bad(where, "must be an object");
    for (const auto& [key, value] : j.items()) {
        if (key == "caps") {
            f.caps = strings(value, where + ".caps");
            for (const auto& c : f.caps)
                if (c.rfind("CAP_", 0) != 0) bad(where + ".caps", "\"" + c + "\" is not a capability name (CAP_...)");
        } else if (key == "arches") {
            f.arches = strings(value, where + ".arches");
        } else if (key == "minKernel" && allow_min_kernel) {
            if (!value.is_string() || !(f.min_kernel = parse_version(value.get<std::string>())))
                bad(where + ".minKernel", "must be a kernel version such as \"4.8\"");
        } else {
            bad(where, "unknown field \"" + key + "\"");
        }
    }
    return f;
}

nlohmann::json convert_args(const nlohmann::json& args, const std::string& where) {
    auto out = nlohmann::json::array();
    if (args.is_null()) return out;
    if (!args.is_array()) bad(where, "must be an array");
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        std::string w = fmt::format("{}[{}]", where, i);
        if (!a.is_object()) bad(w, "must be an object");
        if (!a.contains("index") || !non_negative(a["index"]) || a["index"].get<uint64_t>() > 5)
            bad(w + ".index", "must be 0..5 (a system call has six arguments)");
        for (const char* k : {"value", "valueTwo"})
            if (a.contains(k) && !non_negative(a[k]))
                bad(w + "." + k, "must be an unsigned number");
        if (!a.contains("op") || !a["op"].is_string() ||
            std::none_of(std::begin(kOps), std::end(kOps), [&](auto& o) { return a["op"] == o.first; }))
            bad(w + ".op", "must be one of SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ");
        out.push_back({{"index", a["index"].get<uint64_t>()},
                       {"value", a.value("value", uint64_t{0})},
                       {"valueTwo", a.value("valueTwo", uint64_t{0})},
                       {"op", a["op"]}});
    }
    return out;
}

}  // namespace

std::string native_arch() {
    utsname u{};
    uname(&u);
    std::string m = u.machine;
    if (m == "x86_64") return "amd64";
    if (m == "aarch64") return "arm64";
    if (m.size() == 4 && m[0] == 'i' && m.substr(2) == "86") return "386";
    if (m == "loongarch64") return "loong64";
    return m;  // s390x, ppc64le, riscv64 are spelled the same
}

nlohmann::json docker_profile_to_oci(const nlohmann::json& profile, const std::vector<std::string>& caps,
                                     const std::string& arch, const std::string& kernel_release) {
    if (!profile.is_object()) bad("(top)", "must be a JSON object");
    if (!profile.contains("defaultAction") || !profile["defaultAction"].is_string() ||
        !known_action(profile["defaultAction"]))
        bad("defaultAction", "must be one of SCMP_ACT_ALLOW, _ERRNO, _KILL, _KILL_PROCESS, _TRAP, _TRACE, _LOG");
    auto native = std::find_if(std::begin(kArchNames), std::end(kArchNames),
                               [&](auto& a) { return arch == a.first; });
    if (native == std::end(kArchNames)) bad("(arch)", "unknown architecture \"" + arch + "\" (amd64, arm64, ...)");

    std::string release = kernel_release.empty() ? running_kernel() : kernel_release;
    auto kernel = parse_version(release);
    if (!kernel) throw Error("seccomp: cannot read the kernel version from \"" + release + "\"");

    nlohmann::json oci = {{"defaultAction", profile["defaultAction"]}};
    if (profile.contains("defaultErrnoRet")) {
        if (!non_negative(profile["defaultErrnoRet"])) bad("defaultErrnoRet", "must be an errno number");
        oci["defaultErrnoRet"] = profile["defaultErrnoRet"];
    }

    // Architectures: the archMap entry of the native one with its sub-architectures (on amd64,
    // x86 and x32 programs run too, and each has its own syscall numbers: the filter must know
    // all three or a 32-bit program could call what the 64-bit rules refuse).
    auto architectures = nlohmann::json::array();
    if (profile.contains("archMap")) {
        if (!profile["archMap"].is_array()) bad("archMap", "must be an array");
        for (size_t i = 0; i < profile["archMap"].size(); ++i) {
            const auto& m = profile["archMap"][i];
            std::string w = fmt::format("archMap[{}]", i);
            if (!m.is_object() || !m.contains("architecture") || !m["architecture"].is_string())
                bad(w, "needs \"architecture\"");
            auto subs = strings(m.value("subArchitectures", nlohmann::json()), w + ".subArchitectures");
            if (m["architecture"] != native->second) continue;
            architectures.push_back(m["architecture"]);
            for (auto& s : subs) architectures.push_back(s);
        }
    } else if (profile.contains("architectures")) {  // the older format: a flat list
        for (auto& a : strings(profile["architectures"], "architectures")) architectures.push_back(a);
    }
    oci["architectures"] = architectures;
    if (profile.contains("flags")) oci["flags"] = strings(profile["flags"], "flags");

    if (!profile.contains("syscalls") || !profile["syscalls"].is_array()) bad("syscalls", "must be an array");
    auto syscalls = nlohmann::json::array();
    const auto& in = profile["syscalls"];
    for (size_t i = 0; i < in.size(); ++i) {
        const auto& s = in[i];
        std::string w = fmt::format("syscalls[{}]", i);
        if (!s.is_object()) bad(w, "must be an object");
        std::vector<std::string> names;
        if (s.contains("names")) names = strings(s["names"], w + ".names");
        if (s.contains("name")) {  // the older format: one name per entry
            if (!s["name"].is_string()) bad(w + ".name", "must be a string");
            names.push_back(s["name"]);
        }
        if (names.empty()) bad(w + ".names", "must name at least one system call");
        if (!s.contains("action") || !s["action"].is_string() || !known_action(s["action"]))
            bad(w + ".action", "unknown action");
        Filter inc = read_filter(s.value("includes", nlohmann::json()), w + ".includes", true);
        Filter exc = read_filter(s.value("excludes", nlohmann::json()), w + ".excludes", false);
        auto args = convert_args(s.value("args", nlohmann::json()), w + ".args");

        // Docker's rules: includes must all hold (every listed capability, the native
        // architecture among the listed ones, a new enough kernel); one matching exclude drops
        // the entry.
        bool keep = true;
        for (auto& c : inc.caps) keep = keep && contains(caps, c);
        if (!inc.arches.empty()) keep = keep && contains(inc.arches, arch);
        if (inc.min_kernel) keep = keep && *kernel >= *inc.min_kernel;
        for (auto& c : exc.caps) keep = keep && !contains(caps, c);
        if (!exc.arches.empty()) keep = keep && !contains(exc.arches, arch);
        if (!keep) continue;

        nlohmann::json rule = {{"names", names}, {"action", s["action"]}};
        if (!args.empty()) rule["args"] = args;
        if (s.contains("errnoRet")) {
            if (!non_negative(s["errnoRet"])) bad(w + ".errnoRet", "must be an errno number");
            rule["errnoRet"] = s["errnoRet"];
        }
        syscalls.push_back(std::move(rule));
    }
    oci["syscalls"] = syscalls;
    return oci;
}

const nlohmann::json& docker_default_profile() {
    static const nlohmann::json profile = [] {
        try {
            return nlohmann::json::parse(detail::kDockerDefaultProfile);
        } catch (const nlohmann::json::exception& e) {
            throw Error(std::string("the built-in seccomp profile does not parse: ") + e.what());
        }
    }();
    return profile;
}

// ---- install ---------------------------------------------------------------------------------

namespace {

// ERRNO and TRACE carry a number: the errno the call fails with (EPERM when not given, as runc
// does), or the value a tracer sees.
uint32_t action_value(const std::string& name, std::optional<unsigned> errno_ret) {
    unsigned e = errno_ret.value_or(EPERM);
    if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
    if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(e);
    if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
    if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
    if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
    if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(e);
    if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
    if (name == "SCMP_ACT_NOTIFY")
        throw Error("seccomp: SCMP_ACT_NOTIFY needs a listener (linux.seccomp.listenerPath), which this runtime does not offer");
    throw Error("seccomp: unknown action \"" + name + "\"");
}

std::string spell_action(const std::string& name, std::optional<unsigned> errno_ret) {
    if (name != "SCMP_ACT_ERRNO" && name != "SCMP_ACT_TRACE") return name;
    unsigned e = errno_ret.value_or(EPERM);
    const char* sym = e == EPERM ? "EPERM" : e == ENOSYS ? "ENOSYS" : e == EACCES ? "EACCES" : nullptr;
    return name + "(" + (sym ? sym : std::to_string(e)) + ")";
}

struct Release {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};

// libseccomp returns -errno; narrate::sys wants -1 with errno set.
long as_syscall(int rc) {
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return rc;
}

}  // namespace

namespace {

using Ctx = std::unique_ptr<void, Release>;

// The libseccomp context for `filter`: every rule added, nothing loaded yet. `skipped` gets the
// note on the names this libseccomp does not know ("" when it knows them all).
Ctx build(const spec::Seccomp& filter, size_t& rules, std::string& skipped) {
    uint32_t def = action_value(filter.default_action, filter.default_errno_ret);
    std::unique_ptr<void, Release> ctx(seccomp_init(def));
    if (!ctx) throw Error("seccomp_init(" + spell_action(filter.default_action, filter.default_errno_ret) + ") failed");

    // libseccomp sets no_new_privs itself on load unless told not to; whether the container
    // gets it is the spec's decision (process.noNewPrivileges), taken in security::apply.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
        throw SysError("seccomp_attr_set(SCMP_FLTATR_CTL_NNP, 0)", -rc);

    for (const auto& a : filter.architectures) {
        auto it = std::find_if(std::begin(kScmpArches), std::end(kScmpArches), [&](auto& p) { return a == p.first; });
        if (it == std::end(kScmpArches)) throw Error("seccomp: architecture " + a + " is not known to this libseccomp");
        int rc = seccomp_arch_add(ctx.get(), it->second);
        if (rc < 0 && rc != -EEXIST) throw SysError("seccomp_arch_add(" + a + ")", -rc);  // EEXIST: the native one
    }
    for (const auto& f : filter.flags) {
        auto it = std::find_if(std::begin(kFlags), std::end(kFlags), [&](auto& p) { return f == p.first; });
        if (it == std::end(kFlags)) throw Error("seccomp: flag " + f + " is not supported");
        if (int rc = seccomp_attr_set(ctx.get(), it->second, 1); rc < 0)
            throw SysError(std::string("seccomp_attr_set(") + f + ")", -rc);
    }

    rules = 0;
    std::set<std::string> unknown;
    for (const auto& rule : filter.syscalls) {
        uint32_t action = action_value(rule.action, rule.errno_ret);
        // A rule that does what the default does is redundant, and libseccomp refuses it.
        if (action == def) continue;
        std::vector<scmp_arg_cmp> cmps;
        for (const auto& arg : rule.args) {
            auto op = std::find_if(std::begin(kOps), std::end(kOps), [&](auto& o) { return arg.op == o.first; });
            if (op == std::end(kOps)) throw Error("seccomp: unknown operator " + arg.op);
            cmps.push_back(scmp_arg_cmp{arg.index, op->second, arg.value, arg.value_two});
        }
        // Several conditions on one argument cannot be ANDed in one libseccomp rule; runc adds
        // them as separate rules, each allowing on its own (OR), and so do we.
        std::set<unsigned> indices;
        for (auto& c : cmps) indices.insert(c.arg);
        bool separate = indices.size() != cmps.size();

        for (const auto& name : rule.names) {
            int nr = seccomp_syscall_resolve_name(name.c_str());
            if (nr == __NR_SCMP_ERROR) {
                unknown.insert(name);
                continue;
            }
            auto add = [&](const scmp_arg_cmp* c, unsigned n) {
                int rc = seccomp_rule_add_array(ctx.get(), action, nr, n, c);
                if (rc < 0)
                    throw SysError(fmt::format("seccomp_rule_add({}, {}, {} conditions)", spell_action(rule.action, rule.errno_ret), name, n), -rc);
                ++rules;
            };
            if (separate)
                for (auto& c : cmps) add(&c, 1);
            else
                add(cmps.data(), static_cast<unsigned>(cmps.size()));
        }
    }
    skipped.clear();
    if (!unknown.empty()) {
        std::string list;
        for (auto& n : unknown) list += (list.empty() ? "" : ", ") + n;
        skipped = fmt::format("skipped {} name(s) this libseccomp does not know: {}", unknown.size(), list);
    }

    return ctx;
}

std::string load_call(const spec::Seccomp& filter, size_t rules) {
    std::string arches;
    for (auto& a : filter.architectures) arches += (arches.empty() ? "" : ",") + a.substr(std::string_view("SCMP_ARCH_").size());
    return fmt::format("seccomp_load({} rules, default {}{})", rules, spell_action(filter.default_action, filter.default_errno_ret),
                       arches.empty() ? "" : ", arch " + arches);
}

const char* kWhy = "from here on every system call of the container passes the BPF filter; it cannot be removed";

// libseccomp's work: build the context, export its BPF.
Program compile_now(const spec::Seccomp& filter);

}  // namespace

void install(const spec::Seccomp& filter) {
    size_t rules = 0;
    std::string skipped;
    Ctx ctx = build(filter, rules, skipped);
    if (!skipped.empty()) narrate::note("seccomp", skipped);
    narrate::sys({"seccomp", load_call(filter, rules), kWhy, "grep Seccomp /proc/{pid}/status"},
                 [&] { return as_syscall(seccomp_load(ctx.get())); });
}

Program compile(const spec::Seccomp& filter, const std::string& cache_dir) {
    std::string key;
    if (!cache_dir.empty()) {
        key = cache::key(filter);
        if (auto cached = cache::load(cache_dir, key)) {
            if (!cached->skipped.empty()) narrate::note("seccomp", cached->skipped);
            narrate::note("seccomp", fmt::format("the BPF program compiled earlier for this filter: {} ({} instructions)",
                                                 cache::path_for(cache_dir, key), cached->insns.size()));
            return std::move(*cached);
        }
    }
    Program p = compile_now(filter);
    if (!cache_dir.empty() && cache::store(cache_dir, key, p))
        narrate::note("seccomp", "compiled, and kept for the next container with this filter: " + cache::path_for(cache_dir, key));
    return p;
}

namespace {

Program compile_now(const spec::Seccomp& filter) {
    Program p;
    Ctx ctx = build(filter, p.rules, p.skipped);
    if (!p.skipped.empty()) narrate::note("seccomp", p.skipped);
    // libseccomp 2.5 exports to a file descriptor: a memfd, read back whole.
    unique_fd mem(::memfd_create("seccomp-bpf", MFD_CLOEXEC));
    if (!mem) throw SysError("memfd_create(\"seccomp-bpf\")", errno);
    if (int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc < 0) throw SysError("seccomp_export_bpf()", -rc);
    off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size < 0 || size % sizeof(sock_filter) != 0) throw Error("seccomp_export_bpf(): a program of odd size");
    p.insns.resize(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(mem.get(), p.insns.data(), static_cast<size_t>(size), 0) != size) throw SysError("pread(seccomp-bpf)", errno);
    for (const auto& f : filter.flags) {
        if (f == "SECCOMP_FILTER_FLAG_TSYNC") p.flags |= SECCOMP_FILTER_FLAG_TSYNC;
        else if (f == "SECCOMP_FILTER_FLAG_LOG") p.flags |= SECCOMP_FILTER_FLAG_LOG;
        else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") p.flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    }
    p.call = load_call(filter, p.rules) + " as " + std::to_string(p.insns.size()) + " BPF instructions";
    return p;
}

}  // namespace

void load(const Program& p) {
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(p.insns.size());
    prog.filter = const_cast<sock_filter*>(p.insns.data());
    narrate::sys({"seccomp", p.call, kWhy, "grep Seccomp /proc/{pid}/status"},
                 [&] { return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p.flags, &prog); });
}

}  // namespace seccomp
