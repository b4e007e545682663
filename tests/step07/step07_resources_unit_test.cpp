// step07 cgroups and devices, without root: the v2 device program (assembled, disassembled and
// run in the user-space interpreter against a reference model of the rules), cgroupsPath
// resolution, and linux.resources written into fake v1 and v2 trees in a temporary directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "devices.hpp"
#include "devices_bpf.hpp"
#include "error.hpp"
#include "narrate.hpp"
#include "resources.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using spec::DeviceRule;

namespace {

DeviceRule rule(bool allow, char type, int64_t major, int64_t minor, std::string access = "rwm") {
    DeviceRule r;
    r.allow = allow;
    r.type = type;
    r.major = major;
    r.minor = minor;
    r.access = std::move(access);
    return r;
}
const DeviceRule kDenyAll = rule(false, 'a', -1, -1);
const DeviceRule kAllowAll = rule(true, 'a', -1, -1);

bool allowed(const std::vector<DeviceRule>& rules, char type, unsigned major, unsigned minor, char access) {
    return devices_bpf::evaluate(devices_bpf::assemble(rules), type, major, minor, access);
}

// The meaning the program must have, written the plain way: the last rule that matches decides,
// nothing matched = deny.
bool reference(const std::vector<DeviceRule>& rules, char type, unsigned major, unsigned minor, char access) {
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
        if (it->type != 'a' && it->type != type) continue;
        if (it->major >= 0 && it->major != major) continue;
        if (it->minor >= 0 && it->minor != minor) continue;
        if (it->access.find(access) == std::string::npos) continue;
        return it->allow;
    }
    return false;
}

}  // namespace

// ---- the BPF device program -----------------------------------------------------------------

TEST(DeviceProgram, DenyAllDeniesEverything) {
    auto prog = devices_bpf::assemble({kDenyAll});
    for (char t : {'c', 'b'})
        for (char a : {'r', 'w', 'm'}) EXPECT_FALSE(devices_bpf::evaluate(prog, t, 1, 3, a)) << t << a;
    EXPECT_FALSE(allowed({}, 'c', 1, 3, 'r'));  // an empty list: the default is deny
}

TEST(DeviceProgram, OneNodeReadWrite) {
    std::vector<DeviceRule> rules = {kDenyAll, rule(true, 'c', 1, 3, "rw")};
    EXPECT_TRUE(allowed(rules, 'c', 1, 3, 'r'));
    EXPECT_TRUE(allowed(rules, 'c', 1, 3, 'w'));
    EXPECT_FALSE(allowed(rules, 'c', 1, 3, 'm'));  // mknod not granted
    EXPECT_FALSE(allowed(rules, 'c', 1, 5, 'r'));  // another minor
    EXPECT_FALSE(allowed(rules, 'c', 2, 3, 'r'));  // another major
    EXPECT_FALSE(allowed(rules, 'b', 1, 3, 'r'));  // a block device with the same numbers
}

TEST(DeviceProgram, WildcardMajorsAndMinors) {
    std::vector<DeviceRule> rules = {kDenyAll, rule(true, 'c', 136, -1), rule(true, 'b', -1, -1, "m"),
                                     rule(true, 'c', -1, 7, "r")};
    EXPECT_TRUE(allowed(rules, 'c', 136, 0, 'w'));
    EXPECT_TRUE(allowed(rules, 'c', 136, 4242, 'r'));
    EXPECT_FALSE(allowed(rules, 'c', 137, 0, 'r'));
    EXPECT_TRUE(allowed(rules, 'b', 8, 0, 'm'));
    EXPECT_FALSE(allowed(rules, 'b', 8, 0, 'r'));
    EXPECT_TRUE(allowed(rules, 'c', 99, 7, 'r'));
    EXPECT_FALSE(allowed(rules, 'c', 99, 7, 'w'));
    // type 'a' with numbers: either type.
    std::vector<DeviceRule> either = {kDenyAll, rule(true, 'a', 1, -1, "r")};
    EXPECT_TRUE(allowed(either, 'c', 1, 3, 'r'));
    EXPECT_TRUE(allowed(either, 'b', 1, 9, 'r'));
    EXPECT_FALSE(allowed(either, 'c', 2, 0, 'r'));
}

TEST(DeviceProgram, TheLastMatchingRuleWins) {
    std::vector<DeviceRule> deny_after = {kDenyAll, rule(true, 'c', 1, 3), rule(false, 'c', 1, 3, "w")};
    EXPECT_TRUE(allowed(deny_after, 'c', 1, 3, 'r'));
    EXPECT_FALSE(allowed(deny_after, 'c', 1, 3, 'w'));
    std::vector<DeviceRule> allow_after = {kDenyAll, rule(false, 'c', 1, 3, "w"), rule(true, 'c', 1, 3)};
    EXPECT_TRUE(allowed(allow_after, 'c', 1, 3, 'w'));
    // A rule that matches everything decides for everything before it: the program ends there.
    std::vector<DeviceRule> all_last = {rule(false, 'c', 1, 3), kAllowAll};
    auto prog = devices_bpf::assemble(all_last);
    EXPECT_EQ(prog.size(), devices_bpf::assemble({kAllowAll}).size());
    EXPECT_TRUE(devices_bpf::evaluate(prog, 'c', 1, 3, 'r'));
}

TEST(DeviceProgram, AllowAllThenDenyOne) {
    std::vector<DeviceRule> rules = {kAllowAll, rule(false, 'c', 1, 3)};
    EXPECT_FALSE(allowed(rules, 'c', 1, 3, 'r'));
    EXPECT_FALSE(allowed(rules, 'c', 1, 3, 'm'));
    EXPECT_TRUE(allowed(rules, 'c', 1, 5, 'r'));
    EXPECT_TRUE(allowed(rules, 'b', 8, 0, 'w'));
    auto prog = devices_bpf::assemble(rules);
    // No default deny after the allow-all block: it is the end.
    ASSERT_GE(prog.size(), 2U);
    EXPECT_EQ(prog[prog.size() - 2].code, BPF_ALU64 | BPF_MOV | BPF_K);
    EXPECT_EQ(prog[prog.size() - 2].imm, 1);
}

TEST(DeviceProgram, DenyRefusesAnyAccessItNames) {
    // An open for read+write asks for both bits at once: the kernel passes them together.
    // A deny of "w" must catch it; the interpreter takes one bit, so check the program's
    // test directly: the deny block's mask is the rule's bits, compared with == 0.
    auto prog = devices_bpf::assemble({kAllowAll, rule(false, 'c', 1, 3, "w")});
    auto text = devices_bpf::disassemble(prog);
    bool masked = false;
    for (auto& line : text) masked |= line == "w1 &= 0x4";
    EXPECT_TRUE(masked) << "the deny block tests the write bit alone";
}

TEST(DeviceProgram, TheDefaultRules) {
    auto rules = devices::default_rules();
    ASSERT_FALSE(rules.empty());
    EXPECT_FALSE(rules.front().allow);
    EXPECT_EQ(rules.front().type, 'a');
    for (unsigned minor : {3u, 5u, 7u, 8u, 9u}) {
        EXPECT_TRUE(allowed(rules, 'c', 1, minor, 'r')) << minor;
        EXPECT_TRUE(allowed(rules, 'c', 1, minor, 'w')) << minor;
    }
    EXPECT_FALSE(allowed(rules, 'c', 1, 1, 'r'));  // /dev/mem
    EXPECT_FALSE(allowed(rules, 'c', 1, 2, 'r'));  // /dev/kmem
    EXPECT_TRUE(allowed(rules, 'c', 1, 1, 'm'));   // making any node is fine, opening it is not
    EXPECT_TRUE(allowed(rules, 'b', 8, 0, 'm'));
    EXPECT_FALSE(allowed(rules, 'b', 8, 0, 'r'));  // a disk
    EXPECT_TRUE(allowed(rules, 'c', 5, 0, 'w'));   // /dev/tty
    EXPECT_TRUE(allowed(rules, 'c', 5, 2, 'w'));   // /dev/ptmx
    EXPECT_TRUE(allowed(rules, 'c', 136, 3, 'r'));  // /dev/pts/3
    EXPECT_TRUE(allowed(rules, 'c', 10, 200, 'r'));  // /dev/net/tun
    EXPECT_FALSE(allowed(rules, 'c', 10, 229, 'r'));  // /dev/fuse
    EXPECT_FALSE(allowed(rules, 'c', 4, 0, 'w'));     // the host's console tty0
    // A spec that only denies everything still gets the defaults after it; one with its own
    // rules keeps them, the defaults follow.
    auto eff = devices::effective_rules({kDenyAll});
    EXPECT_TRUE(allowed(eff, 'c', 1, 3, 'r'));
    EXPECT_FALSE(allowed(eff, 'c', 1, 1, 'r'));
    eff = devices::effective_rules({kDenyAll, rule(true, 'c', 10, 229)});
    EXPECT_TRUE(allowed(eff, 'c', 10, 229, 'r'));
    EXPECT_EQ(devices::effective_rules({}).size(), rules.size());
}

TEST(DeviceProgram, MatchesTheReferenceModelOnRandomRuleLists) {
    std::mt19937 rng(20240607);
    const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
    for (int round = 0; round < 300; ++round) {
        std::vector<DeviceRule> rules;
        int n = static_cast<int>(rng() % 7);
        for (int i = 0; i < n; ++i) {
            char type = "acb"[rng() % 3];
            int64_t major = rng() % 3 == 0 ? -1 : static_cast<int64_t>(rng() % 3);
            int64_t minor = rng() % 3 == 0 ? -1 : static_cast<int64_t>(rng() % 3);
            rules.push_back(rule(rng() % 2, type, major, minor, accesses[rng() % 7]));
        }
        auto prog = devices_bpf::assemble(rules);
        for (char t : {'c', 'b'})
            for (unsigned major = 0; major < 3; ++major)
                for (unsigned minor = 0; minor < 3; ++minor)
                    for (char a : {'r', 'w', 'm'})
                        ASSERT_EQ(devices_bpf::evaluate(prog, t, major, minor, a), reference(rules, t, major, minor, a))
                            << "round " << round << ": " << t << " " << major << ":" << minor << " " << a;
        // Every jump lands inside the program, and the program ends in exit (the verifier's rules).
        for (size_t pc = 0; pc < prog.size(); ++pc) {
            if (BPF_CLASS(prog[pc].code) == BPF_JMP && BPF_OP(prog[pc].code) != BPF_EXIT) {
                ASSERT_LT(pc + 1 + prog[pc].off, prog.size());
            }
        }
        ASSERT_EQ(prog.back().code, BPF_JMP | BPF_EXIT);
    }
}

TEST(DeviceProgram, DisassemblyReadsAsTheVerifierLogDoes) {
    auto prog = devices_bpf::assemble({kDenyAll, rule(true, 'c', 1, 3, "rw")});
    auto lines = devices_bpf::disassemble(prog);
    ASSERT_EQ(lines.size(), prog.size());
    EXPECT_EQ(lines[0], "r2 = *(u32 *)(r1 + 0)  ; ctx->access_type");
    EXPECT_EQ(lines[1], "w2 &= 0xffff");
    EXPECT_EQ(lines[3], "w3 >>= 16");
    EXPECT_EQ(lines[4], "r4 = *(u32 *)(r1 + 4)  ; ctx->major");
    EXPECT_EQ(lines[5], "r5 = *(u32 *)(r1 + 8)  ; ctx->minor");
    // The rule's block: type char (2), access within rw (mask the m bit), major 1, minor 3.
    EXPECT_EQ(lines[6].substr(0, 20), "if r2 != 0x2 goto pc");
    EXPECT_EQ(lines[7], "w1 = w3");
    EXPECT_EQ(lines[8], "w1 &= 0x1");
    EXPECT_NE(lines[10].find("if r4 != 0x1 goto"), std::string::npos);
    EXPECT_NE(lines[11].find("if r5 != 0x3 goto"), std::string::npos);
    EXPECT_EQ(lines[12], "r0 = 1");
    EXPECT_EQ(lines[13], "exit");
    EXPECT_EQ(lines[14], "r0 = 0");  // the default
    EXPECT_EQ(lines.back(), "exit");
    // The jumps of the block all go to the default deny at 14.
    for (int i : {6, 9, 10, 11}) EXPECT_NE(lines[i].find("; -> 14"), std::string::npos) << lines[i];
}

// ---- cgroupsPath ----------------------------------------------------------------------------

TEST(CgroupsPath, ResolvedAsRuncDoes) {
    using resources::relative_path;
    EXPECT_EQ(relative_path("/machine/ctr1", "x", false), "/machine/ctr1");
    EXPECT_EQ(relative_path("a/b", "x", false), "/minibox/a/b");
    EXPECT_EQ(relative_path("", "ctr7", false), "/minibox/ctr7");
    EXPECT_EQ(relative_path("//a/./b/", "x", false), "/a/b");
    EXPECT_THROW(relative_path("/a/../b", "x", false), Error);
    EXPECT_THROW(relative_path("/", "x", false), Error);
    EXPECT_THROW(relative_path("", "..", false), Error);
    EXPECT_EQ(relative_path("system.slice:docker:abc", "x", true), "/system.slice/docker-abc.scope");
    EXPECT_EQ(relative_path("a-b-c.slice:p:n", "x", true), "/a.slice/a-b.slice/a-b-c.slice/p-n.scope");
    EXPECT_EQ(relative_path("-.slice:p:n", "x", true), "/p-n.scope");
    EXPECT_EQ(relative_path(":p:n", "x", true), "/system.slice/p-n.scope");
    EXPECT_EQ(relative_path("user.slice::n", "x", true), "/user.slice/n.scope");
    // A name that is a slice is one: its own name spells where it lives.
    EXPECT_EQ(relative_path("machine.slice:p:my-ctr.slice", "x", true), "/my.slice/my-ctr.slice");
    EXPECT_THROW(relative_path("system.slice:docker", "x", true), Error);
    EXPECT_THROW(relative_path("system:docker:abc", "x", true), Error);
    EXPECT_THROW(relative_path("a--b.slice:p:n", "x", true), Error);
    EXPECT_THROW(relative_path("a/b.slice:p:n", "x", true), Error);
    EXPECT_THROW(relative_path("system.slice:p:..", "x", true), Error);
}

// ---- fake trees -----------------------------------------------------------------------------

namespace {

constexpr pid_t kNoSuchPid = 999999999;  // above pid_max: a kill() of it can hit nothing

class FakeTree : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/step07-resources-unit-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
    }
    void TearDown() override { fs::remove_all(root_); }
    static void put(const std::string& path, const std::string& text) {
        fs::create_directories(fs::path(path).parent_path());
        std::ofstream(path) << text;
    }
    static std::string get(const std::string& path) { return support::read_file(path); }
    // rmdir works on cgroupfs with the files inside; a plain directory must be emptied first.
    static void unpopulate(const std::string& top) {
        if (!fs::exists(top)) return;
        for (auto& e : fs::recursive_directory_iterator(top))
            if (e.is_regular_file()) fs::remove(e.path());
    }
    std::string root_;
};

spec::Resources full_resources() {
    spec::Resources r;
    r.memory_limit = 64LL << 20;
    r.memory_reservation = 32LL << 20;
    r.memory_swap = 128LL << 20;
    r.cpu_shares = 1024;
    r.cpu_quota = 50000;
    r.cpu_period = 100000;
    r.cpuset_cpus = "0";
    r.cpuset_mems = "0";
    r.pids_limit = 20;
    r.blkio_weight = 500;
    r.blkio_read_bps.push_back({8, 0, 1048576});
    r.hugepage_limits["2MB"] = 4194304;
    return r;
}

}  // namespace

TEST_F(FakeTree, V2ResourcesToFiles) {
    std::string v2 = root_ + "/v2";
    const char* all = "cpuset cpu io memory hugetlb pids";
    put(v2 + "/cgroup.controllers", all);
    put(v2 + "/cgroup.subtree_control", all);  // the root delegates, as systemd does
    resources::Fake fake;
    fake.host.layout = cgroup::Layout::unified;
    fake.host.v2 = v2;
    fake.host.controllers = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids"};
    // The kernel's part: a new directory offers what its parent enabled.
    fake.on_mkdir = [](const std::string& dir) {
        std::string enabled = support::read_file(fs::path(dir).parent_path().string() + "/cgroup.subtree_control");
        std::erase(enabled, '+');
        put(dir + "/cgroup.controllers", enabled);
        for (const char* f : {"cgroup.subtree_control", "cgroup.procs", "memory.max", "memory.low", "memory.swap.max",
                              "memory.high", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max",
                              "io.weight", "io.max", "hugetlb.2MB.max"})
            put(dir + "/" + f, "");
    };
    std::string attached_to;
    std::vector<bpf_insn> prog;
    fake.attach = [&](const std::string& dir, const std::vector<bpf_insn>& p) {
        attached_to = dir;
        prog = p;
    };
    auto res = full_resources();
    res.unified["memory.high"] = "50000000";
    auto c = resources::Container::plan(fake, "/test/ctr", "id", false, res);
    std::string d = v2 + "/test/ctr";
    ASSERT_EQ(c.dirs(), std::vector<std::string>{d});
    EXPECT_FALSE(fs::exists(v2 + "/test"));  // plan touches nothing
    c.create();
    EXPECT_EQ(get(v2 + "/test/cgroup.subtree_control"), "+cpu +cpuset +hugetlb +io +memory +pids");
    EXPECT_EQ(get(v2 + "/cgroup.subtree_control"), all);  // not ours: unchanged
    EXPECT_EQ(get(d + "/memory.max"), "67108864");
    EXPECT_EQ(get(d + "/memory.low"), "33554432");
    EXPECT_EQ(get(d + "/memory.swap.max"), "67108864");  // swap alone: 128 MiB - 64 MiB
    EXPECT_EQ(get(d + "/memory.high"), "50000000");
    EXPECT_EQ(get(d + "/cpu.weight"), "39");
    EXPECT_EQ(get(d + "/cpu.max"), "50000 100000");
    EXPECT_EQ(get(d + "/cpuset.cpus"), "0");
    EXPECT_EQ(get(d + "/cpuset.mems"), "0");
    EXPECT_EQ(get(d + "/pids.max"), "20");
    EXPECT_EQ(get(d + "/io.weight"), "default 4950");  // runc: 1 + (500 - 10) * 9999 / 990
    EXPECT_EQ(get(d + "/io.max"), "8:0 rbps=1048576");
    EXPECT_EQ(get(d + "/hugetlb.2MB.max"), "4194304");
    // No device rules in the spec: the default list, as a program on the container's directory.
    EXPECT_EQ(attached_to, d);
    ASSERT_FALSE(prog.empty());
    EXPECT_TRUE(devices_bpf::evaluate(prog, 'c', 1, 3, 'w'));
    EXPECT_FALSE(devices_bpf::evaluate(prog, 'c', 1, 1, 'r'));

    c.add_pid(kNoSuchPid);
    EXPECT_EQ(get(d + "/cgroup.procs"), std::to_string(kNoSuchPid));
    EXPECT_EQ(c.pids(), std::vector<pid_t>{kNoSuchPid});

    // update: new values in place; -1 means none.
    spec::Resources up;
    up.memory_limit = -1;
    up.pids_limit = -1;
    up.cpu_quota = -1;
    c.update(up);
    EXPECT_EQ(get(d + "/memory.max"), "max");
    EXPECT_EQ(get(d + "/pids.max"), "max");
    EXPECT_EQ(get(d + "/cpu.max"), "max");

    put(d + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    put(d + "/memory.current", "4096\n");
    put(d + "/memory.peak", "8192\n");
    put(d + "/memory.max", "67108864\n");
    put(d + "/pids.current", "3\n");
    put(d + "/pids.max", "max\n");
    put(d + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    auto s = c.stats();
    EXPECT_EQ(s["cpu"]["usage"]["total"], 1500000);  // ns, as runc reports it
    EXPECT_EQ(s["cpu"]["usage"]["kernel"], 500000);
    EXPECT_EQ(s["memory"]["usage"]["usage"], 4096);
    EXPECT_EQ(s["memory"]["usage"]["max"], 8192);
    EXPECT_EQ(s["memory"]["usage"]["limit"], 67108864);
    EXPECT_EQ(s["pids"]["current"], 3);
    EXPECT_FALSE(s["pids"].contains("limit"));  // "max"
    EXPECT_FALSE(c.oom_killed());
    put(d + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    EXPECT_TRUE(c.oom_killed());

    unpopulate(v2 + "/test");
    c.destroy();
    EXPECT_FALSE(fs::exists(d));
    EXPECT_FALSE(fs::exists(v2 + "/test"));  // made by create, empty: removed
    EXPECT_TRUE(fs::exists(v2 + "/cgroup.controllers"));
    EXPECT_NO_THROW(c.destroy());  // idempotent
}

TEST_F(FakeTree, V2ControllerNotDelegatedLeavesNothing) {
    std::string v2 = root_ + "/v2";
    put(v2 + "/cgroup.controllers", "memory pids");
    put(v2 + "/cgroup.subtree_control", "memory");  // pids offered, but not given to children
    resources::Fake fake;
    fake.host.layout = cgroup::Layout::unified;
    fake.host.v2 = v2;
    fake.host.controllers = {"memory", "pids"};
    fake.attach = [](const std::string&, const std::vector<bpf_insn>&) {};
    spec::Resources res;
    res.pids_limit = 10;
    auto c = resources::Container::plan(fake, "/outside/ctr", "id", false, res);
    try {
        c.create();
        FAIL() << "created without pids delegated";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("pids"), std::string::npos) << e.message();
        EXPECT_NE(e.hint().find("not ours"), std::string::npos) << e.hint();
    }
    EXPECT_FALSE(fs::exists(v2 + "/outside"));
    EXPECT_EQ(get(v2 + "/cgroup.subtree_control"), "memory");
}

TEST_F(FakeTree, BadResourcesAreRefusedBeforeAnythingIsMade) {
    resources::Fake v2;
    v2.host.layout = cgroup::Layout::unified;
    v2.host.v2 = root_ + "/v2";
    v2.host.controllers = {"memory", "cpu", "pids"};
    resources::Fake v1;
    v1.host.layout = cgroup::Layout::legacy;
    v1.host.v1 = {{"memory", root_ + "/memory"}};
    auto refused = [&](const resources::Fake& f, auto change) {
        spec::Resources r;
        change(r);
        EXPECT_THROW(resources::Container::plan(f, "/x", "id", false, r), Error);
    };
    refused(v2, [](spec::Resources& r) { r.memory_limit = 64 << 20, r.memory_swap = 32 << 20; });  // swap < memory
    refused(v2, [](spec::Resources& r) { r.memory_swap = 32 << 20; });                             // swap alone
    refused(v2, [](spec::Resources& r) { r.memory_limit = 0; });
    refused(v2, [](spec::Resources& r) { r.memory_swappiness = 101; });
    refused(v2, [](spec::Resources& r) { r.cpu_shares = 1; });
    refused(v2, [](spec::Resources& r) { r.cpu_quota = 10; });
    refused(v2, [](spec::Resources& r) { r.cpu_period = 10; });
    refused(v2, [](spec::Resources& r) { r.cpuset_cpus = "zero"; });
    refused(v2, [](spec::Resources& r) { r.blkio_weight = 5; });
    refused(v2, [](spec::Resources& r) { r.unified["../memory.max"] = "1"; });
    refused(v2, [](spec::Resources& r) { r.hugepage_limits["2MB"] = 1; });  // no hugetlb on this host
    refused(v2, [](spec::Resources& r) { r.hugepage_limits["huge"] = 1; });
    refused(v1, [](spec::Resources& r) { r.unified["memory.high"] = "1"; });  // v2 files on v1
    refused(v1, [](spec::Resources& r) { r.pids_limit = 5; });                // no pids hierarchy
    EXPECT_THROW(resources::Container::plan(resources::Fake{}, "/x", "id", false, std::nullopt), Error);  // no cgroupfs
    EXPECT_TRUE(fs::is_empty(root_));
    spec::Resources ok;
    ok.memory_limit = 64 << 20;
    ok.memory_swap = -1;
    ok.pids_limit = 0;
    EXPECT_NO_THROW(resources::Container::plan(v2, "/x", "id", false, ok));
}

TEST_F(FakeTree, V1ResourcesToFilesAndTheDeviceList) {
    resources::Fake fake;
    fake.host.layout = cgroup::Layout::legacy;
    for (const char* c : {"memory", "cpuset", "pids", "devices", "freezer", "blkio", "hugetlb"})
        fake.host.v1[c] = root_ + "/" + c;
    fake.host.v1["cpu"] = fake.host.v1["cpuacct"] = root_ + "/cpu,cpuacct";  // co-mounted
    for (auto& [c, mount] : fake.host.v1) fs::create_directories(mount);
    put(root_ + "/cpuset/cpuset.cpus", "0-1\n");
    put(root_ + "/cpuset/cpuset.mems", "0\n");
    fake.on_mkdir = [this](const std::string& dir) {
        std::string h = dir.substr(root_.size() + 1);
        h = h.substr(0, h.find('/'));
        put(dir + "/cgroup.procs", "");
        std::map<std::string, std::vector<const char*>> kernel = {
            {"memory", {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
                        "memory.swappiness", "memory.oom_control"}},
            {"cpu,cpuacct", {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpuacct.usage"}},
            {"cpuset", {"cpuset.cpus", "cpuset.mems"}},
            {"pids", {"pids.max"}},
            {"devices", {"devices.allow", "devices.deny"}},
            {"blkio", {"blkio.weight", "blkio.throttle.read_bps_device"}},
            {"hugetlb", {"hugetlb.2MB.limit_in_bytes"}},
        };
        for (auto f : kernel[h]) put(dir + "/" + f, "");
        if (h == "freezer") put(dir + "/freezer.state", "THAWED\n");
    };
    auto res = full_resources();
    res.memory_swappiness = 10;
    res.disable_oom_killer = true;
    res.cpu_shares = 512;
    res.devices = {kDenyAll, rule(true, 'c', 10, 229, "rw"), rule(true, 'a', 7, -1, "r")};
    auto c = resources::Container::plan(fake, "", "ctr", false, res);
    auto dirs = c.dirs();
    ASSERT_EQ(dirs.size(), 8U);  // 9 controllers: cpu and cpuacct share one hierarchy
    for (auto& d : dirs) EXPECT_EQ(d.substr(d.size() - 12), "/minibox/ctr") << d;

    narrate::set_mode(narrate::Mode::explain);
    testing::internal::CaptureStderr();
    c.create();
    std::string said = testing::internal::GetCapturedStderr();
    narrate::set_mode(narrate::Mode::quiet);

    std::string mem = root_ + "/memory/minibox/ctr", cpu = root_ + "/cpu,cpuacct/minibox/ctr";
    EXPECT_EQ(get(mem + "/memory.limit_in_bytes"), "67108864");
    EXPECT_EQ(get(mem + "/memory.memsw.limit_in_bytes"), "134217728");  // memory + swap, as given
    EXPECT_EQ(get(mem + "/memory.soft_limit_in_bytes"), "33554432");
    EXPECT_EQ(get(mem + "/memory.swappiness"), "10");
    EXPECT_EQ(get(mem + "/memory.oom_control"), "1");
    EXPECT_EQ(get(cpu + "/cpu.shares"), "512");
    EXPECT_EQ(get(cpu + "/cpu.cfs_period_us"), "100000");
    EXPECT_EQ(get(cpu + "/cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(get(root_ + "/pids/minibox/ctr/pids.max"), "20");
    EXPECT_EQ(get(root_ + "/blkio/minibox/ctr/blkio.weight"), "500");
    EXPECT_EQ(get(root_ + "/blkio/minibox/ctr/blkio.throttle.read_bps_device"), "8:0 1048576");
    EXPECT_EQ(get(root_ + "/hugetlb/minibox/ctr/hugetlb.2MB.limit_in_bytes"), "4194304");
    // v1 cpuset: every new level copies its parent's before a process could join; the leaf
    // then gets the spec's.
    EXPECT_EQ(get(root_ + "/cpuset/minibox/cpuset.cpus"), "0-1");
    EXPECT_EQ(get(root_ + "/cpuset/minibox/cpuset.mems"), "0");
    EXPECT_EQ(get(root_ + "/cpuset/minibox/ctr/cpuset.cpus"), "0");
    // The device list, in order: empty first, then the spec's rules, then the defaults.
    std::vector<std::string> expected = {"write devices.deny a =", "write devices.allow c 10:229 rw =",
                                         "write devices.allow c 7:* r =", "write devices.allow b 7:* r =",
                                         "write devices.allow c *:* m =", "write devices.allow c 1:3 rwm =",
                                         "write devices.allow c 10:200 rwm ="};
    size_t at = 0;
    for (auto& e : expected) {
        size_t found = said.find(e, at);
        ASSERT_NE(found, std::string::npos) << "missing or out of order: " << e << "\n" << said;
        at = found;
    }
    EXPECT_EQ(said.find("write devices.deny a =", said.find("write devices.deny a =") + 1), std::string::npos)
        << "the spec's own deny-all is the reset, not written twice";
    EXPECT_EQ(said.find("= 67108864 ="), std::string::npos) << "no double '=' in the narration";
    EXPECT_NE(said.find("[cgroup] write memory.limit_in_bytes 67108864 = 0"), std::string::npos) << said;

    // freeze/thaw on the v1 freezer (a plain file here reads back at once).
    c.freeze();
    EXPECT_EQ(get(root_ + "/freezer/minibox/ctr/freezer.state"), "FROZEN");
    EXPECT_TRUE(c.frozen());
    c.thaw();
    EXPECT_FALSE(c.frozen());

    c.add_pid(kNoSuchPid);
    for (auto& d : dirs) EXPECT_EQ(get(d + "/cgroup.procs"), std::to_string(kNoSuchPid)) << d;
    put(mem + "/memory.usage_in_bytes", "4096\n");
    put(mem + "/memory.limit_in_bytes", "9223372036854771712\n");  // what the kernel says for -1
    put(mem + "/memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 2\n");
    put(cpu + "/cpuacct.usage", "123456789\n");
    auto s = c.stats();
    EXPECT_EQ(s["memory"]["usage"]["usage"], 4096);
    EXPECT_FALSE(s["memory"]["usage"].contains("limit"));
    EXPECT_EQ(s["cpu"]["usage"]["total"], 123456789);
    EXPECT_TRUE(c.oom_killed());

    // Another process (delete) reopens it from the recorded directories and removes it; the
    // project's parents named minibox go when empty.
    for (auto& [ctl, mount] : fake.host.v1) unpopulate(mount + "/minibox");
    auto again = resources::Container::from_dirs(fake, dirs);
    EXPECT_EQ(again.dirs(), dirs);
    again.destroy();
    for (auto& [ctl, mount] : fake.host.v1) {
        EXPECT_FALSE(fs::exists(mount + "/minibox")) << mount;
        EXPECT_TRUE(fs::exists(mount)) << mount;
    }
}

// How the init gets in without the kernel's grace period (resources.hpp): born in the v2
// directory (the fd clone3 gets), and moving itself into the v1 ones with 0 in `tasks`; the
// parent writes cgroup.procs only where neither applies.
TEST_F(FakeTree, TheInitEntersWithoutBeingMovedByPid) {
    resources::Fake fake;
    fake.host.layout = cgroup::Layout::hybrid;
    fake.host.v1 = {{"pids", root_ + "/pids"}, {"memory", root_ + "/memory"}};
    fake.host.v2 = root_ + "/unified";
    for (auto& d : {root_ + "/pids", root_ + "/memory", root_ + "/unified"}) fs::create_directories(d);
    fake.on_mkdir = [](const std::string& dir) {
        put(dir + "/cgroup.procs", "");
        put(dir + "/tasks", "");
    };
    const std::string v2 = root_ + "/unified/minibox/ctr";
    const std::vector<std::string> v1 = {root_ + "/memory/minibox/ctr", root_ + "/pids/minibox/ctr"};
    auto c = resources::Container::plan(fake, "", "ctr", false, std::nullopt);
    c.create();
    const std::string pid = std::to_string(kNoSuchPid);

    // Self-entry: the fd names the v2 directory; the parent moves nothing.
    c.open_entries(true);
    ASSERT_GE(c.entry_dir(), 0);
    struct stat by_fd {}, by_path {};
    ASSERT_EQ(::fstat(c.entry_dir(), &by_fd), 0);
    ASSERT_EQ(::stat(v2.c_str(), &by_path), 0);
    EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
    c.add_pid_rest(kNoSuchPid, true);
    for (auto& d : v1) EXPECT_EQ(get(d + "/cgroup.procs"), "") << d;
    EXPECT_EQ(get(v2 + "/cgroup.procs"), "");
    // The kernel could not clone into it: then the parent moves it there, and only there.
    c.add_pid_rest(kNoSuchPid, false);
    EXPECT_EQ(get(v2 + "/cgroup.procs"), pid);
    for (auto& d : v1) EXPECT_EQ(get(d + "/cgroup.procs"), "") << d;
    // The child's side: 0 into each v1 `tasks`, none into v2; the fd is closed.
    c.enter_self();
    for (auto& d : v1) EXPECT_EQ(get(d + "/tasks"), "0") << d;
    EXPECT_EQ(get(v2 + "/tasks"), "");
    EXPECT_EQ(c.entry_dir(), -1);

    // With hooks that look from the host: the parent moves it into v1 before they run.
    for (auto& d : v1) put(d + "/tasks", "");
    put(v2 + "/cgroup.procs", "");
    c.open_entries(false);
    c.add_pid_rest(kNoSuchPid, c.entry_dir() >= 0);
    for (auto& d : v1) EXPECT_EQ(get(d + "/cgroup.procs"), pid) << d;
    EXPECT_EQ(get(v2 + "/cgroup.procs"), "");
    c.enter_self();
    for (auto& d : v1) EXPECT_EQ(get(d + "/tasks"), "") << d;
    c.close_entries();
    EXPECT_EQ(c.entry_dir(), -1);

    for (auto& top : {root_ + "/pids/minibox", root_ + "/memory/minibox", root_ + "/unified/minibox"}) unpopulate(top);
    c.destroy();
    EXPECT_FALSE(fs::exists(root_ + "/pids/minibox"));
}

TEST_F(FakeTree, FromDirsKeepsParentsItCannotKnowAreOurs) {
    resources::Fake fake;
    fake.host.layout = cgroup::Layout::legacy;
    fake.host.v1 = {{"pids", root_ + "/pids"}};
    fs::create_directories(root_ + "/pids/theirs/ctr");
    auto c = resources::Container::from_dirs(fake, {root_ + "/pids/theirs/ctr"});
    c.destroy();
    EXPECT_FALSE(fs::exists(root_ + "/pids/theirs/ctr"));
    EXPECT_TRUE(fs::exists(root_ + "/pids/theirs"));
    EXPECT_THROW(resources::Container::from_dirs(fake, {"/elsewhere/ctr"}), Error);
}

TEST_F(FakeTree, ALeafInUseIsRefusedAndLeftAlone) {
    resources::Fake fake;
    fake.host.layout = cgroup::Layout::legacy;
    fake.host.v1 = {{"pids", root_ + "/pids"}, {"memory", root_ + "/memory"}};
    // Another container's cgroup, with a process in it, in the second hierarchy only.
    put(root_ + "/pids/minibox/busy/cgroup.procs", std::to_string(kNoSuchPid) + "\n");
    fs::create_directories(root_ + "/memory");
    auto c = resources::Container::plan(fake, "busy", "id", false, std::nullopt);
    EXPECT_THROW(c.create(), Error);
    EXPECT_EQ(get(root_ + "/pids/minibox/busy/cgroup.procs"), std::to_string(kNoSuchPid) + "\n");
    EXPECT_FALSE(fs::exists(root_ + "/memory/minibox")) << "what this create made is undone";
    EXPECT_NO_THROW(c.destroy());  // nothing was created: nothing to remove
    EXPECT_TRUE(fs::exists(root_ + "/pids/minibox/busy/cgroup.procs"));
}
