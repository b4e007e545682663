// step05 without root: size and CPU parsing, and both backends over a fake cgroup tree in a
// temporary directory (which files are written, with what).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backend.hpp"
#include "error.hpp"
#include "cgroup.hpp"
#include "limits.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace cgroup;

namespace {

TEST(Limits, SizesAsDockerTakesThem) {
    EXPECT_EQ(parse_size("64m"), 64ULL << 20);
    EXPECT_EQ(parse_size("64M"), 64ULL << 20);
    EXPECT_EQ(parse_size("64mb"), 64ULL << 20);
    EXPECT_EQ(parse_size("64MiB"), 64ULL << 20);
    EXPECT_EQ(parse_size("1g"), 1ULL << 30);
    EXPECT_EQ(parse_size("1.5g"), 3ULL << 29);
    EXPECT_EQ(parse_size("512k"), 512ULL << 10);
    EXPECT_EQ(parse_size("100"), 100U);
    EXPECT_EQ(parse_size("100b"), 100U);
    for (const char* bad : {"abc", "", "0", "-1", "64x", "m", "1.2.3", "64 m"}) {
        EXPECT_THROW(parse_size(bad), Error) << bad;
    }
    EXPECT_EQ(format_size(64ULL << 20), "64 MiB");
    EXPECT_EQ(format_size(1ULL << 30), "1 GiB");
    EXPECT_EQ(format_size(1536ULL << 20), "1536 MiB");
    EXPECT_EQ(format_size(100), "100 bytes");
}

TEST(Limits, CpusAndQuota) {
    EXPECT_DOUBLE_EQ(parse_cpus("0.5", 2), 0.5);
    EXPECT_EQ(cpu_quota_us(0.5), 50000U);
    EXPECT_EQ(cpu_quota_us(2), 200000U);
    EXPECT_THROW(parse_cpus("-1", 2), Error);
    EXPECT_THROW(parse_cpus("0", 2), Error);
    EXPECT_THROW(parse_cpus("3", 2), Error);
    EXPECT_THROW(parse_cpus("half", 2), Error);
    EXPECT_THROW(parse_cpus("0.001", 2), Error);  // 100 us < the kernel's 1 ms
}

TEST(Limits, SharesToWeightAsRunc) {
    EXPECT_EQ(shares_to_weight(2), 1U);
    EXPECT_EQ(shares_to_weight(1024), 39U);
    EXPECT_EQ(shares_to_weight(262144), 10000U);
}

TEST(Limits, CpuLists) {
    EXPECT_EQ(format_cpu_list(parse_cpu_list("0-2,5")), "0-2,5");
    EXPECT_EQ(format_cpu_list(parse_cpu_list("3,1,2")), "1-3");
    EXPECT_EQ(check_cpuset("1", {0, 1}), "1");
    EXPECT_THROW(check_cpuset("0-2", {0, 1}), Error);
    EXPECT_THROW(parse_cpu_list("a"), Error);
    EXPECT_THROW(parse_cpu_list("2-1"), Error);
    EXPECT_THROW(parse_cpu_list(""), Error);
}

TEST(Layout, V1MountsFromMountinfo) {
    std::string mi =
        "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
        "32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "34 30 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "35 40 0:29 /sub /mnt/bind rw - cgroup cgroup rw,memory\n";
    auto m = parse_v1_mounts(mi, {"cpu", "cpuacct", "memory", "pids"});
    EXPECT_EQ(m.size(), 3U);
    EXPECT_EQ(m["cpu"], "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(m["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(m["memory"], "/sys/fs/cgroup/memory");
    auto known = parse_proc_cgroups("#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nrdma\t0\t1\t0\n");
    EXPECT_EQ(known, (std::set<std::string>{"cpu"}));
}

TEST(Layout, ThisHostIsDetected) {
    Host h = detect();
    EXPECT_NE(h.layout, Layout::none);
    if (h.layout == Layout::unified) {
        EXPECT_FALSE(h.v2.empty());
    }
    if (h.layout == Layout::hybrid) {
        EXPECT_EQ(h.v2, "/sys/fs/cgroup/unified");
    }
}

TEST(Validate, ControllersTheHostLacks) {
    Host h;
    h.layout = Layout::unified;
    h.v2 = "/x";
    h.controllers = {"memory"};
    Limits l;
    l.memory = 64 << 20;
    EXPECT_NO_THROW(validate(l, h));
    l.pids = 20;
    EXPECT_THROW(validate(l, h), Error);
    Limits swap;
    swap.memory_swap = 64 << 20;
    EXPECT_THROW(validate(swap, h), Error);  // --memory-swap without --memory
    swap.memory = 128 << 20;
    EXPECT_THROW(validate(swap, h), Error);  // less than --memory
    EXPECT_THROW(validate(Limits{}, Host{}), Error);  // no cgroup fs at all
}

// A fake cgroup tree: the kernel's files are made by the test where the kernel would make them.
class FakeTree : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/step05-unit-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
    }
    void TearDown() override { fs::remove_all(root_); }
    static void put(const std::string& path, const std::string& text) {
        fs::create_directories(fs::path(path).parent_path());
        std::ofstream(path) << text;
    }
    static std::string get(const std::string& path) { return support::read_file(path); }
    // What the kernel makes in a new cgroup directory.
    static void populate(const std::string& dir, std::initializer_list<const char*> files) {
        for (auto f : files) put(dir + "/" + f, "");
    }
    // rmdir works on cgroupfs with the files inside; a plain directory must be emptied first.
    static void unpopulate(const std::string& dir) {
        for (auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
    }
    std::string root_;
};

constexpr pid_t kNoSuchPid = 999999999;  // above pid_max: a kill() of it can hit nothing

TEST_F(FakeTree, V2WritesTheFilesOfEachLimit) {
    std::string v2 = root_ + "/v2";
    put(v2 + "/minibox/cgroup.controllers", "cpuset cpu io memory pids\n");
    put(v2 + "/minibox/cgroup.subtree_control", "");
    auto cg = make_v2(v2, "abc", {"cpu", "memory", "pids", "cpuset"});
    ASSERT_EQ(cg->dirs(), std::vector<std::string>{v2 + "/minibox/abc"});
    cg->create();
    EXPECT_EQ(get(v2 + "/minibox/cgroup.subtree_control"), "+cpu +cpuset +memory +pids");
    std::string d = v2 + "/minibox/abc";
    ASSERT_TRUE(fs::is_directory(d));
    populate(d, {"memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "cpuset.cpus", "pids.max", "cgroup.procs"});
    Limits l;
    l.memory = 64ULL << 20;
    l.cpus = 0.5;
    l.cpu_shares = 1024;
    l.cpuset_cpus = "0";
    l.pids = 20;
    cg->apply(l);
    EXPECT_EQ(get(d + "/memory.max"), "67108864");
    EXPECT_EQ(get(d + "/memory.swap.max"), "67108864");  // docker's default: as much swap again
    EXPECT_EQ(get(d + "/cpu.max"), "50000 100000");
    EXPECT_EQ(get(d + "/cpu.weight"), "39");
    EXPECT_EQ(get(d + "/cpuset.cpus"), "0");
    EXPECT_EQ(get(d + "/pids.max"), "20");
    l.memory_swap = 96LL << 20;
    cg->apply(l);
    EXPECT_EQ(get(d + "/memory.swap.max"), "33554432");  // swap alone = memory-swap - memory
    l.memory_swap = -1;
    cg->apply(l);
    EXPECT_EQ(get(d + "/memory.swap.max"), "max");
    cg->add_pid(kNoSuchPid);
    EXPECT_EQ(get(d + "/cgroup.procs"), std::to_string(kNoSuchPid));

    // What the kernel recorded.
    put(d + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
    put(d + "/memory.peak", "67100000\n");
    put(d + "/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
    put(d + "/pids.current", "3\n");
    put(d + "/memory.max", "67108864\n");
    EXPECT_EQ(cg->oom_kills(), 1U);
    EXPECT_EQ(cg->memory_limit(), 64ULL << 20);
    cg->sample();
    Stats s = cg->stats();
    EXPECT_EQ(s.memory_peak, 67100000U);
    EXPECT_EQ(s.memory_peak_from, "memory.peak");
    EXPECT_EQ(s.cpu_usec, 1500000U);
    EXPECT_EQ(s.pids_peak, 3U);  // no pids.peak: sampled
    EXPECT_NE(s.pids_peak_from.find("sampled"), std::string::npos);

    unpopulate(d);
    cg->destroy();
    EXPECT_FALSE(fs::exists(d));
    EXPECT_TRUE(fs::exists(v2 + "/minibox"));  // the shared parent stays
    cg->destroy();                              // idempotent
}

TEST_F(FakeTree, V2RefusesAControllerTheRootDoesNotDelegate) {
    std::string v2 = root_ + "/v2";
    put(v2 + "/minibox/cgroup.controllers", "memory\n");
    put(v2 + "/minibox/cgroup.subtree_control", "");
    auto cg = make_v2(v2, "abc", {"memory", "pids"});
    EXPECT_THROW(cg->create(), Error);
    EXPECT_FALSE(fs::exists(v2 + "/minibox/abc"));  // nothing made for the container
    EXPECT_EQ(get(v2 + "/minibox/cgroup.subtree_control"), "");
}

TEST_F(FakeTree, V1OneDirectoryPerHierarchy) {
    std::string mem = root_ + "/memory", cpu = root_ + "/cpu,cpuacct", pids = root_ + "/pids", cs = root_ + "/cpuset";
    for (auto& m : {mem, cpu, pids, cs}) fs::create_directories(m);
    put(cs + "/cpuset.cpus", "0-1\n");
    put(cs + "/cpuset.mems", "0\n");
    auto cg = make_v1({{"memory", mem}, {"cpu", cpu}, {"cpuacct", cpu}, {"pids", pids}, {"cpuset", cs}}, "abc");
    EXPECT_EQ(cg->dirs().size(), 4U);  // cpu and cpuacct share one hierarchy
    // An existing container directory is an error: ids never collide silently.
    fs::create_directories(cpu + "/minibox/abc");
    EXPECT_THROW(cg->create(), Error);
    fs::remove_all(cpu + "/minibox/abc");
    auto cg2 = make_v1({{"memory", mem}, {"cpu", cpu}, {"cpuacct", cpu}, {"pids", pids}}, "abc");
    cg2->create();
    populate(mem + "/minibox/abc", {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cgroup.procs"});
    populate(cpu + "/minibox/abc", {"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "cgroup.procs"});
    populate(pids + "/minibox/abc", {"pids.max", "cgroup.procs"});
    Limits l;
    l.memory = 32ULL << 20;
    l.cpus = 1.5;
    l.cpu_shares = 512;
    l.pids = 20;
    cg2->apply(l);
    EXPECT_EQ(get(mem + "/minibox/abc/memory.limit_in_bytes"), "33554432");
    EXPECT_EQ(get(mem + "/minibox/abc/memory.memsw.limit_in_bytes"), "67108864");  // memory + as much swap
    EXPECT_EQ(get(cpu + "/minibox/abc/cpu.cfs_period_us"), "100000");
    EXPECT_EQ(get(cpu + "/minibox/abc/cpu.cfs_quota_us"), "150000");
    EXPECT_EQ(get(cpu + "/minibox/abc/cpu.shares"), "512");
    EXPECT_EQ(get(pids + "/minibox/abc/pids.max"), "20");
    cg2->add_pid(kNoSuchPid);
    for (auto& h : {mem, cpu, pids}) EXPECT_EQ(get(h + "/minibox/abc/cgroup.procs"), std::to_string(kNoSuchPid));

    put(mem + "/minibox/abc/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    put(mem + "/minibox/abc/memory.limit_in_bytes", "33554432\n");
    put(mem + "/minibox/abc/memory.max_usage_in_bytes", "33550000\n");
    put(cpu + "/minibox/abc/cpuacct.usage", "2500000000\n");
    put(pids + "/minibox/abc/pids.peak", "7\n");
    EXPECT_EQ(cg2->oom_kills(), 2U);
    EXPECT_EQ(cg2->memory_limit(), 32ULL << 20);
    Stats s = cg2->stats();
    EXPECT_EQ(s.memory_peak, 33550000U);
    EXPECT_EQ(s.cpu_usec, 2500000U);
    EXPECT_EQ(s.pids_peak, 7U);

    for (auto& h : {mem, cpu, pids}) unpopulate(h + "/minibox/abc");
    cg2->destroy();
    for (auto& h : {mem, cpu, pids}) EXPECT_FALSE(fs::exists(h + "/minibox/abc"));
}

TEST_F(FakeTree, V1CpusetCopiesTheParentsCpusAndMems) {
    std::string cs = root_ + "/cpuset";
    put(cs + "/cpuset.cpus", "0-1\n");
    put(cs + "/cpuset.mems", "0\n");
    auto cg = make_v1({{"cpuset", cs}}, "abc");
    // A real cpuset dir comes with empty cpuset.cpus/mems; in a plain directory the copy
    // creates nothing, so only the parent (made here with its empty files) is checked.
    put(cs + "/minibox/cpuset.cpus", "");
    put(cs + "/minibox/cpuset.mems", "");
    try {
        cg->create();
    } catch (const Error&) {
        // the child's files do not exist in a plain directory: writing them fails (ENOENT)
    }
    EXPECT_EQ(get(cs + "/minibox/cpuset.cpus"), "0-1");
    EXPECT_EQ(get(cs + "/minibox/cpuset.mems"), "0");
}

TEST_F(FakeTree, RemoveDirRefusesWhatIsNotUnderMinibox) {
    fs::create_directories(root_ + "/other/abc");
    EXPECT_THROW(remove_dir(root_ + "/other/abc"), Error);
    EXPECT_TRUE(fs::exists(root_ + "/other/abc"));
    EXPECT_NO_THROW(remove_dir(root_ + "/minibox/gone"));  // ENOENT: nothing to do
}

TEST_F(FakeTree, DeadRecordsAreReaped) {
    ::setenv("MINIBOX_RUN", (root_ + "/run").c_str(), 1);
    fs::create_directories(root_ + "/run");
    std::string dir = root_ + "/mem/minibox/dead1";
    fs::create_directories(dir);
    // A record whose owner cannot be alive: pid 1 with another start time.
    put(root_ + "/run/cgroup-dead1", "1:1\n" + dir + "\n");
    std::string live = write_record("live1", {root_ + "/mem/minibox/live1"});
    fs::create_directories(root_ + "/mem/minibox/live1");
    auto dead = dead_records();
    ASSERT_EQ(dead.size(), 1U);
    EXPECT_EQ(dead[0].dirs, std::vector<std::string>{dir});
    auto removed = reap_dead();
    EXPECT_EQ(removed, std::vector<std::string>{dir});
    EXPECT_FALSE(fs::exists(dir));
    EXPECT_FALSE(fs::exists(root_ + "/run/cgroup-dead1"));
    EXPECT_TRUE(fs::exists(root_ + "/mem/minibox/live1"));  // ours, alive: untouched
    EXPECT_TRUE(fs::exists(live));
    ::unsetenv("MINIBOX_RUN");
}

// --help shows each placeholder once: "SIZE", not "SIZE:SIZE" (a validator's description).
TEST(Options, HelpPlaceholdersReadAsOneWord) {
    CLI::App app{"test"};
    cgroup::Config cfg;
    cgroup::add_options(app, cfg);
    std::string help = app.help();
    for (const char* doubled : {"SIZE:SIZE", "N:N", "LIST:LIST"}) EXPECT_EQ(help.find(doubled), std::string::npos) << help;
    EXPECT_NE(help.find("-m,--memory SIZE"), std::string::npos) << help;
}

}  // namespace
