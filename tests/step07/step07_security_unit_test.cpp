// step07's privilege layers without a container: Docker's profile turned into the OCI object
// (capabilities, architectures, kernel versions, bad profiles), seccomp filters installed in a
// forked child (no root needed with no_new_privs), and, as root, security::apply in a forked
// child read back from /proc/self/status.
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "seccomp.hpp"
#include "seccomp_cache.hpp"
#include "security.hpp"
#include "spec.hpp"
#include "support.hpp"

using nlohmann::json;

namespace {

// Docker's 14 default capabilities, by name (what the profile's includes speak) and by number
// (from the kernel's header, not from the code under test).
const std::vector<std::string> kDockerCaps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",     "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID", "CAP_SETFCAP",    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
const std::vector<int> kDockerCapNumbers = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER,  CAP_MKNOD,
    CAP_NET_RAW, CAP_SETGID,      CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
    CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE};

uint64_t mask_of(const std::vector<int>& caps) {
    uint64_t m = 0;
    for (int c : caps) m |= uint64_t{1} << c;
    return m;
}

std::vector<std::string> with(std::vector<std::string> caps, const std::string& extra) {
    caps.push_back(extra);
    return caps;
}

json oci_for(const std::vector<std::string>& caps, const std::string& arch = "amd64",
             const std::string& kernel = "6.1.0") {
    return seccomp::docker_profile_to_oci(seccomp::docker_default_profile(), caps, arch, kernel);
}

// The rules of an OCI object that name `name`.
std::vector<json> rules_for(const json& oci, const std::string& name) {
    std::vector<json> out;
    for (const auto& r : oci["syscalls"])
        for (const auto& n : r["names"])
            if (n == name) out.push_back(r);
    return out;
}

// Allowed whatever the arguments: an ALLOW rule without conditions.
bool allowed(const json& oci, const std::string& name) {
    for (const auto& r : rules_for(oci, name))
        if (r["action"] == "SCMP_ACT_ALLOW" && !r.contains("args")) return true;
    return false;
}

// The OCI JSON -> spec::Seccomp, as spec.cpp does for config.json (kept tiny and local, so
// these tests stand on their own).
spec::Seccomp to_spec(const json& oci) {
    spec::Seccomp s;
    s.default_action = oci["defaultAction"];
    if (oci.contains("defaultErrnoRet")) s.default_errno_ret = oci["defaultErrnoRet"].get<unsigned>();
    for (const auto& a : oci.value("architectures", json::array())) s.architectures.push_back(a);
    for (const auto& r : oci["syscalls"]) {
        spec::SeccompRule rule;
        for (const auto& n : r["names"]) rule.names.push_back(n);
        rule.action = r["action"];
        if (r.contains("errnoRet")) rule.errno_ret = r["errnoRet"].get<unsigned>();
        for (const auto& a : r.value("args", json::array()))
            rule.args.push_back({a["index"].get<unsigned>(), a["value"].get<uint64_t>(), a.value("valueTwo", uint64_t{0}),
                                 a["op"].get<std::string>()});
        s.syscalls.push_back(rule);
    }
    return s;
}

spec::SeccompRule rule(std::vector<std::string> names, std::string action, std::optional<unsigned> err = std::nullopt) {
    spec::SeccompRule r;
    r.names = std::move(names);
    r.action = std::move(action);
    r.errno_ret = err;
    return r;
}

spec::Seccomp allow_but(std::vector<spec::SeccompRule> rules) {
    spec::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    s.syscalls = std::move(rules);
    return s;
}

struct Child {
    int status = -1;  // exit status, or 128+N for signal N
    std::string out;  // what the child's function returned (or the error it threw)
};

// Runs `fn` in a forked child and brings back its answer. Nothing of gtest runs in the child.
Child in_child(const std::function<std::string()>& fn) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return {};
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        std::string out;
        int code = 0;
        try {
            out = fn();
        } catch (const std::exception& e) {
            out = std::string("threw: ") + e.what();
            code = 1;
        }
        ssize_t ignored = write(p[1], out.data(), out.size());
        (void)ignored;
        _exit(code);
    }
    close(p[1]);
    Child c;
    char buf[4096];
    for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) c.out.append(buf, n);
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return c;
}

std::string errno_of(long rc) { return rc == -1 ? std::string(strerrorname_np(errno)) : "ok"; }

void no_new_privs() {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw SysError("prctl(PR_SET_NO_NEW_PRIVS)", errno);
}

// "CapEff:\t00000000a80425fb" -> the number; the lines of /proc/self/status as a map.
std::map<std::string, std::string> status_of(const std::string& text) {
    std::map<std::string, std::string> m;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        v.erase(v.find_last_not_of(" \t") + 1);  // "Groups:\t10 20 "
        m[line.substr(0, colon)] = v;
    }
    return m;
}
uint64_t hex(const std::string& s) { return std::stoull(s, nullptr, 16); }

std::string read_self_status() {
    std::ifstream f("/proc/self/status");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

// ---- Docker's profile -> OCI -------------------------------------------------------------------

TEST(Step07SeccompProfile, TheEmbeddedProfileIsTheFileInTheTree) {
    std::ifstream f(support::source_dir() + "/step07_full/profiles/docker-default.json");
    ASSERT_TRUE(f) << "profiles/docker-default.json not found";
    EXPECT_EQ(json::parse(f), seccomp::docker_default_profile());
    EXPECT_EQ(seccomp::docker_default_profile()["defaultAction"], "SCMP_ACT_ERRNO");
}

TEST(Step07SeccompProfile, DefaultCapsAllowTheOrdinaryAndRefuseTheAdministrative) {
    json oci = oci_for(kDockerCaps);
    EXPECT_EQ(oci["defaultAction"], "SCMP_ACT_ERRNO");
    EXPECT_EQ(oci["defaultErrnoRet"], EPERM);
    for (const char* ok : {"read", "write", "execve", "openat", "exit_group", "capset", "prctl", "chroot"})
        EXPECT_TRUE(allowed(oci, ok)) << ok;
    // Not listed at all: the default action (EPERM) applies.
    for (const char* no : {"mount", "umount2", "unshare", "setns", "reboot", "bpf", "init_module", "open_by_handle_at",
                           "kexec_load", "swapon", "settimeofday", "iopl", "pivot_root"})
        EXPECT_TRUE(rules_for(oci, no).empty()) << no << " should default to SCMP_ACT_ERRNO";
    // No comment fields or includes survive into the OCI object.
    for (const auto& r : oci["syscalls"]) {
        EXPECT_FALSE(r.contains("comment"));
        EXPECT_FALSE(r.contains("includes"));
        EXPECT_FALSE(r.contains("excludes"));
    }
}

TEST(Step07SeccompProfile, CapSysAdminOpensMountUnshareAndPlainClone) {
    json without = oci_for(kDockerCaps);
    json with_admin = oci_for(with(kDockerCaps, "CAP_SYS_ADMIN"));
    for (const char* call : {"mount", "umount2", "unshare", "setns", "sethostname", "clone", "clone3"}) {
        EXPECT_FALSE(allowed(without, call)) << call;
        EXPECT_TRUE(allowed(with_admin, call)) << call;
    }
    // Without CAP_SYS_ADMIN, clone is allowed only when no namespace flag is set...
    auto clone = rules_for(without, "clone");
    ASSERT_EQ(clone.size(), 1u);
    ASSERT_EQ(clone[0]["args"].size(), 1u);
    const auto& arg = clone[0]["args"][0];
    EXPECT_EQ(arg["op"], "SCMP_CMP_MASKED_EQ");
    EXPECT_EQ(arg["index"], 0);
    EXPECT_EQ(arg["value"], uint64_t{CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                      CLONE_NEWNET | CLONE_NEWCGROUP});
    EXPECT_EQ(arg["valueTwo"], 0);
    // ...and clone3 fails with ENOSYS so that libc falls back to clone.
    auto clone3 = rules_for(without, "clone3");
    ASSERT_EQ(clone3.size(), 1u);
    EXPECT_EQ(clone3[0]["action"], "SCMP_ACT_ERRNO");
    EXPECT_EQ(clone3[0]["errnoRet"], ENOSYS);
    // With CAP_SYS_ADMIN neither restriction is there.
    for (const auto& r : rules_for(with_admin, "clone")) EXPECT_FALSE(r.contains("args"));
    for (const auto& r : rules_for(with_admin, "clone3")) EXPECT_EQ(r["action"], "SCMP_ACT_ALLOW");
}

TEST(Step07SeccompProfile, EachCapabilityOpensItsOwnCalls) {
    json base = oci_for(kDockerCaps);
    for (auto [cap, call] : std::vector<std::pair<std::string, std::string>>{
             {"CAP_SYS_BOOT", "reboot"}, {"CAP_SYS_MODULE", "finit_module"}, {"CAP_SYS_TIME", "settimeofday"},
             {"CAP_SYS_RAWIO", "iopl"}, {"CAP_SYS_PTRACE", "kcmp"}, {"CAP_DAC_READ_SEARCH", "open_by_handle_at"},
             {"CAP_BPF", "bpf"}, {"CAP_SYS_PACCT", "acct"}}) {
        EXPECT_FALSE(allowed(base, call)) << call;
        EXPECT_TRUE(allowed(oci_for(with(kDockerCaps, cap)), call)) << call << " with " << cap;
    }
    // CAP_SYS_CHROOT is one of the 14: without it, chroot goes.
    std::vector<std::string> fewer;
    for (auto& c : kDockerCaps)
        if (c != "CAP_SYS_CHROOT") fewer.push_back(c);
    EXPECT_FALSE(allowed(oci_for(fewer), "chroot"));
}

TEST(Step07SeccompProfile, ArchitecturesFollowTheArchMapAndTheArchesRules) {
    json amd64 = oci_for(kDockerCaps, "amd64");
    EXPECT_EQ(amd64["architectures"], json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
    EXPECT_TRUE(allowed(amd64, "arch_prctl"));
    EXPECT_TRUE(allowed(amd64, "modify_ldt"));
    EXPECT_FALSE(allowed(amd64, "cacheflush"));
    EXPECT_FALSE(allowed(amd64, "s390_runtime_instr"));

    json arm64 = oci_for(kDockerCaps, "arm64");
    EXPECT_EQ(arm64["architectures"], json({"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
    EXPECT_FALSE(allowed(arm64, "arch_prctl"));
    EXPECT_TRUE(allowed(arm64, "cacheflush"));

    // s390 passes clone's flags second: the other rule of the pair applies there.
    json s390x = oci_for(kDockerCaps, "s390x");
    EXPECT_EQ(s390x["architectures"], json({"SCMP_ARCH_S390X", "SCMP_ARCH_S390"}));
    auto clone = rules_for(s390x, "clone");
    ASSERT_EQ(clone.size(), 1u);
    EXPECT_EQ(clone[0]["args"][0]["index"], 1);
    EXPECT_EQ(rules_for(amd64, "clone")[0]["args"][0]["index"], 0);

    json riscv = oci_for(kDockerCaps, "riscv64");  // "subArchitectures": [] in the map
    EXPECT_EQ(riscv["architectures"], json({"SCMP_ARCH_RISCV64"}));
    EXPECT_THROW(oci_for(kDockerCaps, "vax"), Error);
}

TEST(Step07SeccompProfile, PersonalityIsAllowedOnlyForTheLinuxPersonas) {
    json oci = oci_for(kDockerCaps);
    EXPECT_FALSE(allowed(oci, "personality"));
    std::set<uint64_t> values;
    for (const auto& r : rules_for(oci, "personality")) {
        EXPECT_EQ(r["action"], "SCMP_ACT_ALLOW");
        ASSERT_EQ(r["args"].size(), 1u);
        EXPECT_EQ(r["args"][0]["index"], 0);
        EXPECT_EQ(r["args"][0]["op"], "SCMP_CMP_EQ");
        values.insert(r["args"][0]["value"].get<uint64_t>());
    }
    EXPECT_EQ(values, (std::set<uint64_t>{PER_LINUX, PER_LINUX32, unsigned{PER_LINUX} | UNAME26, unsigned{PER_LINUX32} | UNAME26, 0xffffffff}));
    EXPECT_EQ(values.count(unsigned{PER_LINUX} | ADDR_NO_RANDOMIZE), 0u);
}

TEST(Step07SeccompProfile, MinKernelIsComparedWithTheRelease) {
    // ptrace without CAP_SYS_PTRACE only from 4.8 on (seccomp is rechecked after a tracer's change).
    EXPECT_FALSE(allowed(oci_for(kDockerCaps, "amd64", "4.4.0-210-generic"), "ptrace"));
    EXPECT_TRUE(allowed(oci_for(kDockerCaps, "amd64", "4.8"), "ptrace"));
    EXPECT_TRUE(allowed(oci_for(kDockerCaps, "amd64", "4.10.1"), "ptrace"));  // 10 > 8, not "1" < "8"
    EXPECT_TRUE(allowed(oci_for(kDockerCaps, "amd64", "6.18.44-fc-v657"), "ptrace"));
    EXPECT_FALSE(allowed(oci_for(kDockerCaps, "amd64", "3.19.0"), "process_vm_readv"));
    // "" means this machine's uname.
    utsname u{};
    uname(&u);
    EXPECT_EQ(seccomp::docker_profile_to_oci(seccomp::docker_default_profile(), kDockerCaps, "amd64", ""),
              oci_for(kDockerCaps, "amd64", u.release));
}

TEST(Step07SeccompProfile, IncludesAndExcludesCombine) {
    json p = {{"defaultAction", "SCMP_ACT_ERRNO"},
              {"syscalls",
               {{{"names", {"a"}}, {"action", "SCMP_ACT_ALLOW"}, {"includes", {{"caps", {"CAP_X1", "CAP_X2"}}}}},
                {{"names", {"b"}}, {"action", "SCMP_ACT_ALLOW"}, {"excludes", {{"caps", {"CAP_X1"}}}}},
                {{"name", "c"}, {"action", "SCMP_ACT_LOG"}, {"excludes", {{"arches", {"arm64"}}}}},
                {{"names", {"d"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}, {"args", {{{"index", 2}, {"value", 7}, {"op", "SCMP_CMP_GE"}}}}}}}};
    auto names = [](const json& oci) {
        std::set<std::string> s;
        for (auto& r : oci["syscalls"]) s.insert(r["names"][0].get<std::string>());
        return s;
    };
    EXPECT_EQ(names(seccomp::docker_profile_to_oci(p, {}, "amd64", "5.0")), (std::set<std::string>{"b", "c", "d"}));
    EXPECT_EQ(names(seccomp::docker_profile_to_oci(p, {"CAP_X1"}, "amd64", "5.0")), (std::set<std::string>{"c", "d"}));
    EXPECT_EQ(names(seccomp::docker_profile_to_oci(p, {"CAP_X1", "CAP_X2"}, "arm64", "5.0")), (std::set<std::string>{"a", "d"}));
    json oci = seccomp::docker_profile_to_oci(p, {}, "amd64", "5.0");
    EXPECT_EQ(oci["architectures"], json::array());  // no archMap: the native architecture alone
    auto d = rules_for(oci, "d");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0]["errnoRet"], 13);
    EXPECT_EQ(d[0]["args"], json({{{"index", 2}, {"value", 7}, {"valueTwo", 0}, {"op", "SCMP_CMP_GE"}}}));
}

TEST(Step07SeccompProfile, BadProfilesAreRefusedNamingTheField) {
    auto refused = [](json p, const std::string& field) {
        try {
            seccomp::docker_profile_to_oci(p, kDockerCaps, "amd64", "6.1");
        } catch (const Error& e) {
            EXPECT_NE(e.message().find(field), std::string::npos) << e.message();
            return;
        }
        ADD_FAILURE() << "accepted: " << p.dump();
    };
    json ok = {{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", {{{"names", {"read"}}, {"action", "SCMP_ACT_ALLOW"}}}}};
    EXPECT_NO_THROW(seccomp::docker_profile_to_oci(ok, {}, "amd64", "6.1"));

    refused(json::array(), "top");
    refused({{"syscalls", json::array()}}, "defaultAction");
    json p = ok;
    p["defaultAction"] = "SCMP_ACT_MAYBE";
    refused(p, "defaultAction");
    p = ok;
    p.erase("syscalls");
    refused(p, "syscalls");
    p = ok;
    p["syscalls"][0]["action"] = "ALLOW";
    refused(p, "syscalls[0].action");
    p = ok;
    p["syscalls"][0]["names"] = json::array();
    refused(p, "syscalls[0].names");
    p = ok;
    p["syscalls"][0]["names"] = {"read", 3};
    refused(p, "syscalls[0].names");
    p = ok;
    p["syscalls"][0]["args"] = {{{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}};
    refused(p, "syscalls[0].args[0].index");
    p = ok;
    p["syscalls"][0]["args"] = {{{"index", 0}, {"value", 1}, {"op", "EQ"}}};
    refused(p, "syscalls[0].args[0].op");
    p = ok;
    p["syscalls"][0]["args"] = {{{"index", 0}, {"value", -5}, {"op", "SCMP_CMP_EQ"}}};
    refused(p, "syscalls[0].args[0].value");
    p = ok;
    p["syscalls"][0]["includes"] = {{"cap", {"CAP_SYS_ADMIN"}}};  // a typo must not widen the filter
    refused(p, "syscalls[0].includes");
    p = ok;
    p["syscalls"][0]["includes"] = {{"caps", {"SYS_ADMIN"}}};
    refused(p, "syscalls[0].includes.caps");
    p = ok;
    p["syscalls"][0]["includes"] = {{"minKernel", "four"}};
    refused(p, "syscalls[0].includes.minKernel");
    p = ok;
    p["syscalls"][0]["excludes"] = {{"minKernel", "4.8"}};  // Docker has no such exclude
    refused(p, "syscalls[0].excludes");
    p = ok;
    p["archMap"] = {{{"subArchitectures", {"SCMP_ARCH_X86"}}}};
    refused(p, "archMap[0]");
}

// ---- seccomp::install in a child ----------------------------------------------------------------

TEST(Step07SeccompInstall, AnErrnoRuleFailsThatCallOnly) {
    auto c = in_child([] {
        no_new_privs();
        seccomp::install(allow_but({rule({"uname"}, "SCMP_ACT_ERRNO")}));
        utsname u{};
        return errno_of(uname(&u)) + " " + errno_of(getppid() > 0 ? 0 : -1);
    });
    EXPECT_EQ(c.status, 0) << c.out;
    EXPECT_EQ(c.out, "EPERM ok");
}

TEST(Step07SeccompInstall, ErrnoRetChoosesTheErrno) {
    auto c = in_child([] {
        no_new_privs();
        seccomp::install(allow_but({rule({"uname"}, "SCMP_ACT_ERRNO", ENOSYS), rule({"getcwd"}, "SCMP_ACT_ERRNO", EACCES)}));
        utsname u{};
        char buf[256];
        return errno_of(uname(&u)) + " " + errno_of(getcwd(buf, sizeof buf) ? 0 : -1);
    });
    EXPECT_EQ(c.out, "ENOSYS EACCES");
}

TEST(Step07SeccompInstall, KillProcessEndsTheChildWithSigsys) {
    auto c = in_child([] {
        no_new_privs();
        seccomp::install(allow_but({rule({"uname"}, "SCMP_ACT_KILL_PROCESS")}));
        utsname u{};
        uname(&u);
        return std::string("survived uname");
    });
    EXPECT_EQ(c.status, 128 + SIGSYS) << c.out;
    EXPECT_EQ(c.out, "");
}

TEST(Step07SeccompInstall, ArgumentConditionsAndUnknownNames) {
    auto c = in_child([] {
        no_new_privs();
        auto r = rule({"socket", "no_such_call_in_any_kernel"}, "SCMP_ACT_ERRNO", EAFNOSUPPORT);
        r.args.push_back({0, AF_INET, 0, "SCMP_CMP_EQ"});
        seccomp::install(allow_but({r}));
        int inet = socket(AF_INET, SOCK_DGRAM, 0);
        int unix_ = socket(AF_UNIX, SOCK_DGRAM, 0);
        return errno_of(inet) + " " + errno_of(unix_);
    });
    EXPECT_EQ(c.status, 0) << c.out;
    EXPECT_EQ(c.out, "EAFNOSUPPORT ok");
}

TEST(Step07SeccompInstall, DockerDefaultRefusesNamespacesMountsAndOddPersonalities) {
    // The whole pipeline: profile -> OCI (14 caps) -> filter, in an unprivileged-enough child.
    spec::Seccomp filter = to_spec(oci_for(kDockerCaps, seccomp::native_arch(), ""));
    auto c = in_child([&] {
        no_new_privs();
        seccomp::install(filter);
        std::string out;
        utsname u{};
        out += "uname=" + errno_of(uname(&u));
        out += " unshare=" + errno_of(unshare(CLONE_NEWUSER));
        out += " mount=" + errno_of(mount("none", "/mnt", "tmpfs", 0, nullptr));
        out += " clone3=" + errno_of(syscall(SYS_clone3, nullptr, 0));
        out += " persona_query=" + errno_of(personality(0xffffffff));
        out += " persona_aslr_off=" + errno_of(personality(unsigned{PER_LINUX} | ADDR_NO_RANDOMIZE));
        pid_t pid = fork();  // clone without namespace flags: allowed
        if (pid == 0) _exit(7);
        int st = 0;
        waitpid(pid, &st, 0);
        out += " fork=" + std::string(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7 ? "ok" : "failed");
        return out;
    });
    EXPECT_EQ(c.status, 0) << c.out;
    EXPECT_EQ(c.out, "uname=ok unshare=EPERM mount=EPERM clone3=ENOSYS persona_query=ok persona_aslr_off=EPERM fork=ok");
}

TEST(Step07SeccompInstall, ShowsInProcStatusAndRefusesNotify) {
    auto c = in_child([] {
        no_new_privs();
        seccomp::install(allow_but({rule({"uname"}, "SCMP_ACT_LOG")}));
        return status_of(read_self_status())["Seccomp"];
    });
    EXPECT_EQ(c.out, "2");
    auto n = in_child([] {
        no_new_privs();
        seccomp::install(allow_but({rule({"uname"}, "SCMP_ACT_NOTIFY")}));
        return std::string("installed");
    });
    EXPECT_EQ(n.status, 1);
    EXPECT_NE(n.out.find("SCMP_ACT_NOTIFY"), std::string::npos) << n.out;
}

// ---- security::apply in a child (root) ----------------------------------------------------------

TEST(Step07SecurityApply, DockerCapsAsRootWithNoNewPrivs) {
    if (!support::is_root()) GTEST_SKIP() << "needs root to change capability sets";
    spec::Process p;
    p.capabilities = spec::Capabilities{kDockerCapNumbers, kDockerCapNumbers, kDockerCapNumbers, {}, {}};
    p.no_new_privileges = true;
    auto c = in_child([&] {
        security::apply(p, std::nullopt);
        return read_self_status();
    });
    ASSERT_EQ(c.status, 0) << c.out;
    auto st = status_of(c.out);
    uint64_t want = mask_of(kDockerCapNumbers);
    EXPECT_EQ(hex(st["CapEff"]), want);
    EXPECT_EQ(hex(st["CapPrm"]), want);
    EXPECT_EQ(hex(st["CapBnd"]), want);
    EXPECT_EQ(hex(st["CapInh"]), 0u);
    EXPECT_EQ(hex(st["CapAmb"]), 0u);
    EXPECT_EQ(st["NoNewPrivs"], "1");
    EXPECT_EQ(st["Seccomp"], "0");
    EXPECT_EQ(st["Groups"], "");  // root's own supplementary groups are gone
}

TEST(Step07SecurityApply, AbsentCapabilitiesMeansNone) {
    if (!support::is_root()) GTEST_SKIP() << "needs root to change capability sets";
    spec::Process p;  // capabilities absent
    auto c = in_child([&] {
        security::apply(p, std::nullopt);
        return read_self_status();
    });
    ASSERT_EQ(c.status, 0) << c.out;
    auto st = status_of(c.out);
    for (const char* set : {"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"}) EXPECT_EQ(hex(st[set]), 0u) << set;
    EXPECT_EQ(st["NoNewPrivs"], "0");
}

TEST(Step07SecurityApply, NonRootUserKeepsAmbientAcrossExecve) {
    if (!support::is_root()) GTEST_SKIP() << "needs root to change uid";
    spec::Process p;
    p.user.uid = 1234;
    p.user.gid = 2345;
    p.user.additional_gids = {10, 20};
    std::vector<int> one = {CAP_NET_BIND_SERVICE};
    p.capabilities = spec::Capabilities{one, one, one, one, one};
    auto c = in_child([&]() -> std::string {
        security::apply(p, std::nullopt);
        // After execve a non-root uid keeps only the ambient capabilities: cat shows its own.
        int fd[2];
        if (pipe(fd) != 0) return "pipe failed";
        pid_t pid = fork();
        if (pid == 0) {
            dup2(fd[1], 1);
            execl("/bin/cat", "cat", "/proc/self/status", static_cast<char*>(nullptr));
            _exit(127);
        }
        close(fd[1]);
        std::string out;
        char buf[4096];
        for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) > 0;) out.append(buf, n);
        waitpid(pid, nullptr, 0);
        return out;
    });
    ASSERT_EQ(c.status, 0) << c.out;
    auto st = status_of(c.out);
    EXPECT_EQ(st["Uid"], "1234\t1234\t1234\t1234");
    EXPECT_EQ(st["Gid"], "2345\t2345\t2345\t2345");
    EXPECT_EQ(st["Groups"], "10 20");
    uint64_t want = mask_of(one);
    EXPECT_EQ(hex(st["CapEff"]), want);
    EXPECT_EQ(hex(st["CapAmb"]), want);
    EXPECT_EQ(hex(st["CapBnd"]), want);
}

TEST(Step07SecurityApply, SeccompWithoutNoNewPrivsGoesInBeforeCapsetDropsSysAdmin) {
    if (!support::is_root()) GTEST_SKIP() << "needs root: without no_new_privs a filter needs CAP_SYS_ADMIN";
    spec::Process p;
    p.capabilities = spec::Capabilities{kDockerCapNumbers, kDockerCapNumbers, kDockerCapNumbers, {}, {}};
    p.no_new_privileges = false;
    spec::Seccomp filter = to_spec(oci_for(kDockerCaps, seccomp::native_arch(), ""));
    auto c = in_child([&] {
        security::apply(p, filter);
        return read_self_status() + "unshare:\t" + errno_of(unshare(CLONE_NEWUTS)) + "\n";
    });
    ASSERT_EQ(c.status, 0) << c.out;
    auto st = status_of(c.out);
    EXPECT_EQ(st["Seccomp"], "2");
    EXPECT_EQ(st["NoNewPrivs"], "0");
    EXPECT_EQ(hex(st["CapEff"]), mask_of(kDockerCapNumbers));
    EXPECT_EQ(st["unshare"], "EPERM");
}

TEST(Step07SecurityApply, ErrorsNameTheCall) {
    if (!support::is_root()) GTEST_SKIP() << "needs root to change capability sets";
    spec::Process p;
    std::vector<int> one = {CAP_KILL};
    p.capabilities = spec::Capabilities{one, one, one, {}, one};  // ambient without inheritable
    auto c = in_child([&] {
        security::apply(p, std::nullopt);
        return std::string("applied");
    });
    EXPECT_EQ(c.status, 1);
    EXPECT_NE(c.out.find("PR_CAP_AMBIENT_RAISE, CAP_KILL"), std::string::npos) << c.out;

    p.capabilities = spec::Capabilities{one, {CAP_KILL, CAP_CHOWN}, {CAP_CHOWN}, {}, {}};  // effective not in permitted
    c = in_child([&] {
        security::apply(p, std::nullopt);
        return std::string("applied");
    });
    EXPECT_EQ(c.status, 1);
    EXPECT_NE(c.out.find("capset("), std::string::npos) << c.out;
}

// ---- the compiled filter kept on disk (seccomp_cache.hpp) -----------------------------------

namespace {

std::string make_temp_dir() {
    char tmpl[] = "/tmp/step07-seccomp-cache-XXXXXX";
    return ::mkdtemp(tmpl) ? tmpl : "/tmp/step07-seccomp-cache-failed";
}

struct CacheDir {
    std::string root = make_temp_dir();
    std::string dir = root + "/.cache/seccomp";
    ~CacheDir() { support::sh("rm -rf " + root); }
};

size_t files_in(const std::string& dir) {
    size_t n = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) n += e.is_regular_file() ? 1 : 0;
    return n;
}

}  // namespace

TEST(Step07SeccompCache, TheSecondCompileIsTheFirstOnesProgram) {
    CacheDir c;
    auto filter = allow_but({rule({"uname"}, "SCMP_ACT_ERRNO"), rule({"getppid"}, "SCMP_ACT_ERRNO", ENOSYS)});
    seccomp::Program first = seccomp::compile(filter, c.dir);
    ASSERT_EQ(files_in(c.dir), 1u) << "the first compile stores its program";
    struct stat st {};
    ASSERT_EQ(::stat(seccomp::cache::path_for(c.dir, seccomp::cache::key(filter)).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(c.dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    auto loaded = seccomp::cache::load(c.dir, seccomp::cache::key(filter));
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->insns.size(), first.insns.size());
    EXPECT_EQ(std::memcmp(loaded->insns.data(), first.insns.data(), first.insns.size() * sizeof(sock_filter)), 0);
    EXPECT_EQ(loaded->call, first.call);
    EXPECT_EQ(loaded->rules, first.rules);
    // And the program from the cache is a working filter: the rules act in a child.
    auto child = in_child([&] {
        no_new_privs();
        seccomp::load(seccomp::compile(filter, c.dir));
        utsname u{};
        return errno_of(uname(&u)) + " " + errno_of(static_cast<int>(syscall(SYS_getppid)));
    });
    EXPECT_EQ(child.status, 0) << child.out;
    EXPECT_EQ(child.out, "EPERM ENOSYS");
}

TEST(Step07SeccompCache, TheKeyTellsEveryFieldApart) {
    auto base = allow_but({rule({"uname"}, "SCMP_ACT_ERRNO")});
    std::set<std::string> keys{seccomp::cache::key(base)};
    auto differs = [&](spec::Seccomp f, const char* what) {
        EXPECT_TRUE(keys.insert(seccomp::cache::key(f)).second) << what << " gives a key seen before";
    };
    auto f = base;
    f.default_action = "SCMP_ACT_ERRNO";
    differs(f, "the default action");
    f = base;
    f.default_errno_ret = 1;
    differs(f, "defaultErrnoRet");
    f = base;
    f.syscalls[0].errno_ret = 38;
    differs(f, "errnoRet");
    f = base;
    f.architectures = {"SCMP_ARCH_X86"};
    differs(f, "architectures");
    f = base;
    f.flags = {"SECCOMP_FILTER_FLAG_LOG"};
    differs(f, "flags");
    f = base;
    f.syscalls[0].args.push_back({0, 1, 0, "SCMP_CMP_EQ"});
    differs(f, "an argument condition");
    f.syscalls[0].args[0].op = "SCMP_CMP_NE";
    differs(f, "its operator");
    // Names that would run together if they were only joined: "a b" is not "a", "b".
    f = base;
    f.syscalls[0].names = {"uname getppid"};
    differs(f, "one name with a space");
    f.syscalls[0].names = {"uname", "getppid"};
    differs(f, "two names");
    f = base;
    f.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_ERRNO"));
    differs(f, "one more rule");
}

TEST(Step07SeccompCache, OnlyAnIntactFileOfOurOwnIsTrusted) {
    CacheDir c;
    auto filter = allow_but({rule({"uname"}, "SCMP_ACT_ERRNO")});
    std::string key = seccomp::cache::key(filter);
    std::string path = seccomp::cache::path_for(c.dir, key);
    seccomp::compile(filter, c.dir);
    ASSERT_TRUE(seccomp::cache::load(c.dir, key));

    // Another key that hashed to this name (a collision) is a miss: the key inside is compared.
    ASSERT_EQ(::rename(path.c_str(), seccomp::cache::path_for(c.dir, key + " ").c_str()), 0);
    EXPECT_FALSE(seccomp::cache::load(c.dir, key + " "));
    ASSERT_EQ(::rename(seccomp::cache::path_for(c.dir, key + " ").c_str(), path.c_str()), 0);
    // Writable by others: not trusted.
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    EXPECT_FALSE(seccomp::cache::load(c.dir, key));
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    ASSERT_TRUE(seccomp::cache::load(c.dir, key));
    // A directory others may write to: not trusted either.
    ASSERT_EQ(::chmod(c.dir.c_str(), 0777), 0);
    EXPECT_FALSE(seccomp::cache::load(c.dir, key));
    ASSERT_EQ(::chmod(c.dir.c_str(), 0700), 0);
    // One flipped byte in the instructions, or a truncated file: a miss.
    std::string bytes = support::read_file(path);
    std::string damaged = bytes;
    damaged[damaged.size() - 3] ^= 0x40;
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << damaged; }
    EXPECT_FALSE(seccomp::cache::load(c.dir, key)) << "a damaged program must not be loaded";
    { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 8); }
    EXPECT_FALSE(seccomp::cache::load(c.dir, key));
    // A miss compiles again and repairs the entry.
    seccomp::compile(filter, c.dir);
    EXPECT_TRUE(seccomp::cache::load(c.dir, key));
    // A symlink in its place is not followed.
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ASSERT_EQ(::symlink("/etc/passwd", path.c_str()), 0);
    EXPECT_FALSE(seccomp::cache::load(c.dir, key));
}

TEST(Step07SeccompCache, AtMostMaxEntriesAreKept) {
    CacheDir c;
    for (int i = 0; i < seccomp::cache::kMaxEntries + 5; ++i) {
        auto filter = allow_but({rule({"uname"}, "SCMP_ACT_ERRNO", static_cast<unsigned>(i + 1))});
        seccomp::compile(filter, c.dir);
    }
    EXPECT_EQ(files_in(c.dir), static_cast<size_t>(seccomp::cache::kMaxEntries));
    // The newest is among those kept.
    auto last = allow_but({rule({"uname"}, "SCMP_ACT_ERRNO", static_cast<unsigned>(seccomp::cache::kMaxEntries + 5))});
    EXPECT_TRUE(seccomp::cache::load(c.dir, seccomp::cache::key(last)));
}

TEST(Step07SeccompCache, AnUnusableDirectoryOnlyMeansCompilingEachTime) {
    auto filter = allow_but({rule({"uname"}, "SCMP_ACT_ERRNO")});
    seccomp::Program p = seccomp::compile(filter, "/proc/no-such-dir/.cache/seccomp");
    EXPECT_FALSE(p.insns.empty());
}
