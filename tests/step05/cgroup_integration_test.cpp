// step05 as root: limits seen from inside (what the command suffers) and from the host (the
// cgroup's own files), and what is left after: nothing, also after errors and after SIGKILL.
#include <dirent.h>

#include <csignal>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "backend.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using support::bin;
using support::run;

namespace {

std::string step05() { return bin("step05_cgroups"); }

const cgroup::Host& host() {
    static cgroup::Host h = cgroup::detect();
    return h;
}

// The directory of `controller` for the cgroup path ("/minibox/<id>") that `pid` is in.
std::string dir_of(pid_t pid, const std::string& controller) {
    std::istringstream in(support::read_file("/proc/" + std::to_string(pid) + "/cgroup"));
    for (std::string line; std::getline(in, line);) {
        // "4:memory:/minibox/abc" (v1) or "0::/minibox/abc" (v2)
        auto a = line.find(':'), b = line.find(':', a + 1);
        std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (host().uses_v2()) {
            if (ctrls.empty()) return host().v2 + path;
            continue;
        }
        std::istringstream cs(ctrls);
        for (std::string c; std::getline(cs, c, ',');)
            if (c == controller) return host().v1.at(controller) + path;
    }
    return "";
}

// The containers' directories under the project's parent, in the memory hierarchy.
std::set<std::string> containers() {
    std::string parent = (host().uses_v2() ? host().v2 : host().v1.at("memory")) + "/minibox";
    std::set<std::string> out;
    if (!fs::exists(parent)) return out;
    for (auto& e : fs::directory_iterator(parent))
        if (e.is_directory()) out.insert(e.path().string());
    return out;
}

uint64_t cpu_usage_usec(const std::string& dir) {
    if (host().uses_v2()) return cgroup::read_key(dir + "/cpu.stat", "usage_usec").value_or(0);
    return cgroup::read_number(dir + "/cpuacct.usage").value_or(0) / 1000;
}

// The first process in the cgroup of the tool's container: its PID 1 (a child of the tool).
pid_t container_pid(support::Background& tool) {
    for (int i = 0; i < 200; ++i) {
        auto kids = support::children_of(tool.pid());
        if (!kids.empty()) return kids.front();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
}

TEST(Step05, MemoryHogIsOomKilledWith137AndOneLine) {
    REQUIRE_ROOT();
    auto r = run({step05(), "--network", "none", "--memory", "32m", "--", "sh", "-c",
                  "a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done"});
    EXPECT_EQ(r.status, 137) << r.err;
    EXPECT_NE(r.err.find("killed: out of memory, limit 32 MiB\n"), std::string::npos) << r.err;
}

TEST(Step05, NoOomLineWithoutAnOom) {
    REQUIRE_ROOT();
    auto r = run({step05(), "--network", "none", "--memory", "32m", "--", "sh", "-c", "exit 3"});
    EXPECT_EQ(r.status, 3);
    EXPECT_EQ(r.err, "");
}

TEST(Step05, CgroupExistsDuringTheRunWithItsLimitsAndIsGoneAfter) {
    REQUIRE_ROOT();
    support::Background tool({step05(), "--network", "none", "--memory", "64m", "--pids-limit", "50", "--",
                              "sh", "-c", "echo ready; exec sleep 2"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t pid1 = container_pid(tool);
    ASSERT_GT(pid1, 0);
    std::string mem = dir_of(pid1, "memory"), pids = dir_of(pid1, "pids");
    ASSERT_NE(mem.find("/minibox/"), std::string::npos) << mem;
    EXPECT_TRUE(fs::is_directory(mem));
    std::string limit_file = host().uses_v2() ? "/memory.max" : "/memory.limit_in_bytes";
    EXPECT_EQ(cgroup::read_number(mem + limit_file), 64ULL << 20);
    EXPECT_EQ(cgroup::read_number(pids + "/pids.max"), 50U);
    EXPECT_EQ(tool.wait(), 0);
    EXPECT_FALSE(fs::exists(mem));
    EXPECT_FALSE(fs::exists(pids));
}

TEST(Step05, TheLastContainerOutRemovesTheProjectsParent) {
    REQUIRE_ROOT();
    // With no container running, nothing of ours may stay in any hierarchy: not even an
    // empty minibox/ (a user's host must look as it did before the workshop).
    ASSERT_TRUE(containers().empty()) << "another container is running; run the tests alone";
    auto r = run({step05(), "--network", "none", "--memory", "64m", "--pids-limit", "50", "true"});
    EXPECT_EQ(r.status, 0) << r.err;
    std::vector<std::string> roots;
    if (host().uses_v2()) roots.push_back(host().v2);
    for (auto& [controller, mount] : host().v1) roots.push_back(mount);
    for (auto& root : roots) EXPECT_FALSE(fs::exists(root + "/minibox")) << root;
}

// The peak as --stats reports it: "stats: pids peak    20 (pids.peak)".
long stats_value(const std::string& err, const std::string& what) {
    auto at = err.find("stats: " + what);
    if (at == std::string::npos) return -1;
    return std::atol(err.c_str() + at + 7 + 13);
}

TEST(Step05, ForkBombIsContainedAndTheHostIsFine) {
    REQUIRE_ROOT();
    // Every shell forks two more; a shell whose fork is refused exits (ash does), so the bomb
    // burns out against the limit instead of taking the machine.
    auto r = run({step05(), "--network", "none", "--pids-limit", "20", "--stats", "--", "sh", "-c",
                  "bomb() { bomb & bomb; }; bomb"});
    EXPECT_NE(r.err.find("can't fork"), std::string::npos) << r.err.substr(0, 500);
    long peak = stats_value(r.err, "pids peak");
    EXPECT_GE(peak, 2) << r.err.substr(r.err.size() > 400 ? r.err.size() - 400 : 0);
    EXPECT_LE(peak, 20);
    // The host still forks.
    EXPECT_EQ(support::sh("true").status, 0);
}

TEST(Step05, SigkillOfTheToolLeavesACgroupTheNextStartRemoves) {
    REQUIRE_ROOT();
    support::Background tool({step05(), "--network", "none", "--pids-limit", "20", "--", "sh", "-c",
                              "echo ready; exec sleep 30"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t pid1 = container_pid(tool);
    ASSERT_GT(pid1, 0);
    std::string pids = dir_of(pid1, "pids");
    ASSERT_NE(pids.find("/minibox/"), std::string::npos);
    // The container dies with the tool (PR_SET_PDEATHSIG); its cgroup stays behind, recorded
    // as owned by a dead tool, until the next start removes it.
    tool.signal(SIGKILL);
    tool.wait();
    EXPECT_TRUE(fs::exists(pids));
    auto r = run({step05(), "--network", "none", "true"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(fs::exists(pids));
}

TEST(Step05, HalfACpuHoldsABusyLoopNearHalf) {
    REQUIRE_ROOT();
    support::Background tool({step05(), "--network", "none", "--init", "--cpus", "0.5", "--", "sh", "-c",
                              "echo ready; while :; do :; done"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t pid1 = container_pid(tool);
    ASSERT_GT(pid1, 0);
    std::string acct = dir_of(pid1, host().uses_v2() ? "memory" : "cpuacct");
    ASSERT_NE(acct.find("/minibox/"), std::string::npos);
    // The kernel's own CPU accounting of the cgroup over a stretch of wall time: the quota
    // allows 50 ms per 100 ms period, so the ratio is near 0.5 however fast the machine is.
    uint64_t u0 = cpu_usage_usec(acct);
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    uint64_t u1 = cpu_usage_usec(acct);
    double wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    double ratio = double(u1 - u0) / wall;
    EXPECT_GT(ratio, 0.35) << "usage " << (u1 - u0) << " us in " << wall << " us";
    EXPECT_LT(ratio, 0.65) << "usage " << (u1 - u0) << " us in " << wall << " us";
    tool.signal(SIGTERM);  // --init forwards it to sh
    EXPECT_EQ(tool.wait(), 128 + SIGTERM);
    EXPECT_FALSE(fs::exists(acct));
}

TEST(Step05, StatsAtExit) {
    REQUIRE_ROOT();
    auto r = run({step05(), "--network", "none", "--stats", "--", "sh", "-c", "true"});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.err.find("stats: memory peak"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("stats: cpu time"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("stats: pids peak"), std::string::npos) << r.err;
}

TEST(Step05, ErrorHalfWayLeavesNoCgroup) {
    REQUIRE_ROOT();
    auto before = containers();
    auto r = run({step05(), "--network", "none", "--memory", "32m", "no-such-command-xyz"});
    EXPECT_EQ(r.status, 127);
    auto after = containers();
    for (auto& d : after) EXPECT_TRUE(before.count(d)) << "left behind: " << d;
}

TEST(Step05, BadInputIsOneLineAnd125AndNothingCreated) {
    REQUIRE_ROOT();
    auto before = containers();
    for (std::vector<std::string> args : {
             std::vector<std::string>{"--memory", "abc"}, {"--memory", "0"}, {"--memory", "1m"}, {"--cpus", "-1"},
             {"--cpus", "1000"}, {"--cpuset-cpus", "0-4095"}, {"--pids-limit", "0"}, {"--cpu-shares", "1"},
             {"--memory-swap", "64m"}, {"--memory", "64m", "--memory-swap", "32m"}}) {
        std::vector<std::string> argv{step05(), "--network", "none"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back("true");
        auto r = run(argv);
        EXPECT_EQ(r.status, 125) << args[0] << " " << args[1];
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    EXPECT_EQ(containers(), before);
}

TEST(Step05, JoinLateLetsTheFirstChildEscape) {
    REQUIRE_ROOT();
    // cat is forked at once, before the parent writes the shell's pid: it stays outside.
    auto r = run({step05(), "--network", "none", "--join-late", "--memory", "32m", "--", "sh", "-c",
                  "cat /proc/self/cgroup; sleep 0.5; cat /proc/self/cgroup"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("--join-late"), std::string::npos);
    auto second = r.out.find("/minibox/");
    ASSERT_NE(second, std::string::npos) << r.out;  // the later cat is inside
    std::string first_half = r.out.substr(0, r.out.size() / 2);
    EXPECT_EQ(first_half.find("/minibox/"), std::string::npos) << r.out;
    // Without the toggle, not even the first instruction runs outside.
    auto ok = run({step05(), "--network", "none", "--memory", "32m", "--", "cat", "/proc/self/cgroup"});
    EXPECT_NE(ok.out.find("/minibox/"), std::string::npos);
}

}  // namespace
