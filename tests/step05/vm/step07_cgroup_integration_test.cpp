// step07_full's cgroup work end to end, from a bundle made by `step07_full spec`: the cgroup
// namespace (the container sees its own cgroup as "/"), the limits of config.json in the files
// the kernel reads (seen from the host while the container runs, and from inside), pause and
// resume through the freezer, and a device the rules deny refused on open(2). Written for the
// pure cgroup v2 kernel of tests/step05/vm (cgroup.freeze, the BPF device program), and valid on
// a v1/hybrid host too, where the same behaviour comes from the v1 controllers.
#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <linux/magic.h>
#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using support::Result;

namespace {

const char* kParent = "minibox-test07cg";

bool pure_v2() {
    struct statfs s {};
    return ::statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// "key value" lines (cgroup.events, memory.events) and "key=value" lines (what the container
// reports) as a map.
std::map<std::string, std::string> fields(const std::string& text, char sep) {
    std::map<std::string, std::string> m;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto at = line.find(sep);
        if (at != std::string::npos) m[line.substr(0, at)] = line.substr(at + 1);
    }
    return m;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 20s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

class Cgroups : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        ASSERT_TRUE(fs::exists(support::bin("step07_full"))) << "build step07_full first";
        ASSERT_TRUE(fs::exists(support::busybox_rootfs())) << "run scripts/make-image.sh first";
        char tmpl[] = "/tmp/mbx07cg.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        root_ = dir_ + "/state";
        fs::create_directories(dir_ + "/out");
        ASSERT_EQ(support::sh("cp -a " + support::busybox_rootfs() + " " + dir_ + "/rootfs").status, 0);
        Result r = support::run({support::bin("step07_full"), "spec", "--bundle", dir_});
        ASSERT_EQ(r.status, 0) << r.err;
        config_ = nlohmann::json::parse(support::read_file(dir_ + "/config.json"));
        config_["process"]["terminal"] = false;
        id_ = "cg" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
        config_["linux"]["cgroupsPath"] = std::string("/") + kParent + "/" + id_;
        // /out: where the container leaves what it saw, for the test to read.
        config_["mounts"].push_back(
            {{"destination", "/out"}, {"type", "bind"}, {"source", dir_ + "/out"}, {"options", {"rbind", "rw"}}});
    }
    void TearDown() override {
        if (dir_.empty()) return;
        rt({"delete", "--force", id_});
        support::sh("rm -rf " + dir_);
        support::sh(std::string("for h in /sys/fs/cgroup/*/") + kParent + " /sys/fs/cgroup/" + kParent +
                    "; do [ -d $h ] && rmdir $h/* $h 2>/dev/null; done; true");
    }
    void script(const std::string& s) {
        config_["process"]["args"] = {"sh", "-c", s};
        std::ofstream(dir_ + "/config.json") << config_.dump(2);
    }
    Result rt(std::vector<std::string> a) {
        std::vector<std::string> argv = {support::bin("step07_full"), "--root", root_};
        argv.insert(argv.end(), a.begin(), a.end());
        return support::run(argv);
    }
    // run --detach leaves the init holding the runtime's stdio: files, so sh() returns.
    Result run_detached() {
        std::string cmd = support::bin("step07_full") + " --root " + root_ + " run --detach --bundle " + dir_ +
                          " " + id_ + " </dev/null >" + dir_ + "/rt.out 2>" + dir_ + "/rt.err";
        Result r = support::sh(cmd);
        r.err = support::read_file(dir_ + "/rt.err");
        return r;
    }
    pid_t pid() {
        Result r = rt({"state", id_});
        EXPECT_EQ(r.status, 0) << r.err;
        return r.status == 0 ? nlohmann::json::parse(r.out)["pid"].get<pid_t>() : -1;
    }
    // The container's directory in the hierarchy holding `file` (v2: the one directory).
    std::string cgroup_dir(const std::string& controller) const {
        if (pure_v2()) return std::string("/sys/fs/cgroup/") + kParent + "/" + id_;
        return "/sys/fs/cgroup/" + controller + "/" + kParent + "/" + id_;
    }
    // Waits for /out/<name> to be written completely (the container ends it with "end").
    std::string out(const std::string& name) {
        std::string path = dir_ + "/out/" + name;
        eventually([&] { return support::read_file(path).find("end\n") != std::string::npos; });
        return support::read_file(path);
    }
    std::string dir_, root_, id_;
    nlohmann::json config_;
    static inline int counter_ = 0;
};

}  // namespace

TEST_F(Cgroups, TheNamespaceShowsTheContainersCgroupAsTheRoot) {
    script("cat /proc/self/cgroup > /out/inside; echo end >> /out/inside; exec sleep 100");
    ASSERT_EQ(run_detached().status, 0) << support::read_file(dir_ + "/rt.err");
    std::string inside = out("inside");
    std::istringstream lines(inside);
    int n = 0;
    for (std::string line; std::getline(lines, line) && line != "end"; ++n)
        EXPECT_EQ(line.substr(line.size() - 2), ":/") << "every hierarchy's path is the namespace's root: " << inside;
    EXPECT_GT(n, 0) << inside;
    if (pure_v2()) {
        EXPECT_EQ(inside, "0::/\nend\n");
    }

    // The host sees the real place, and another cgroup namespace.
    pid_t p = pid();
    ASSERT_GT(p, 0);
    std::string host_view = support::read_file("/proc/" + std::to_string(p) + "/cgroup");
    std::string where = std::string("/") + kParent + "/" + id_;
    if (pure_v2()) {
        EXPECT_EQ(host_view, "0::" + where + "\n");
    } else {
        EXPECT_NE(host_view.find(where), std::string::npos) << host_view;
    }
    EXPECT_NE(support::ns_link(p, "cgroup"), support::ns_link(0, "cgroup"));
    EXPECT_EQ(rt({"delete", "--force", id_}).status, 0);
}

TEST_F(Cgroups, LimitsOfConfigJsonAsTheHostAndTheContainerReadThem) {
    config_["linux"]["resources"]["memory"] = {{"limit", 64LL << 20}};
    config_["linux"]["resources"]["pids"] = {{"limit", 12}};
    // What the container reads in its own /sys/fs/cgroup, then forks until the kernel refuses
    // (in a subshell, which ends at the refusal; its sleeps stay), then waits.
    script("for f in memory.max pids.max memory/memory.limit_in_bytes pids/pids.max; do "
           "  [ -e /sys/fs/cgroup/$f ] && echo \"$f=$(cat /sys/fs/cgroup/$f)\"; done > /out/inside; "
           "echo end >> /out/inside; "
           "(i=0; while [ $i -lt 40 ]; do sleep 100 & i=$((i+1)); done) 2>/out/fork.err; "
           "echo end >> /out/fork.err; exec sleep 100");
    ASSERT_EQ(run_detached().status, 0) << support::read_file(dir_ + "/rt.err");
    auto inside = fields(out("inside"), '=');
    std::string mem = cgroup_dir("memory"), pids = cgroup_dir("pids");
    if (pure_v2()) {
        EXPECT_EQ(trimmed(support::read_file(mem + "/memory.max")), "67108864");
        EXPECT_EQ(trimmed(support::read_file(pids + "/pids.max")), "12");
        EXPECT_EQ(inside["memory.max"], "67108864");
        EXPECT_EQ(inside["pids.max"], "12");
    } else {
        EXPECT_EQ(trimmed(support::read_file(mem + "/memory.limit_in_bytes")), "67108864");
        EXPECT_EQ(trimmed(support::read_file(pids + "/pids.max")), "12");
        EXPECT_EQ(inside["memory/memory.limit_in_bytes"], "67108864");
        EXPECT_EQ(inside["pids/pids.max"], "12");
    }
    // The refusal: the shell said so, and the host counts no more than the limit.
    std::string err = out("fork.err");
    EXPECT_NE(err.find("fork"), std::string::npos) << err;
    int current = std::stoi("0" + trimmed(support::read_file(pids + "/pids.current")));
    EXPECT_LE(current, 12);
    EXPECT_GE(current, 9) << "the sleeps forked before the refusal are still there";
    std::string procs = support::read_file(pids + "/cgroup.procs");
    EXPECT_NE(procs.find(std::to_string(pid())), std::string::npos) << procs;
}

// "MAJ:MIN" of a whole disk of this machine (the VM gets null_blk's nullb0), or "".
std::string a_disk() {
    std::string any;
    for (auto& e : fs::directory_iterator("/sys/block")) {
        std::string name = e.path().filename(), dev = trimmed(support::read_file(e.path() / "dev"));
        if (dev.empty()) continue;
        if (!name.starts_with("loop") && !name.starts_with("zram") && !name.starts_with("ram")) return dev;
        if (any.empty()) any = dev;
    }
    return any;
}

TEST_F(Cgroups, BlockIoAndHugepageLimitsOfConfigJson) {
    // The io and hugetlb controllers (v2: delegated by the root, as the VM does; v1: blkio and
    // hugetlb hierarchies mounted). What this host lacks is left out of the config, not faked.
    std::string delegated = support::read_file("/sys/fs/cgroup/cgroup.subtree_control");
    bool v2 = pure_v2();
    bool io = v2 ? delegated.find("io") != std::string::npos : fs::exists("/sys/fs/cgroup/blkio");
    bool huge = v2 ? delegated.find("hugetlb") != std::string::npos : fs::exists("/sys/fs/cgroup/hugetlb");
    huge = huge && fs::exists("/sys/kernel/mm/hugepages/hugepages-2048kB");
    std::string disk = a_disk();
    if (disk.empty()) io = false;
    if (!io && !huge) GTEST_SKIP() << "neither an io/blkio controller with a disk nor hugetlb here";
    auto& res = config_["linux"]["resources"];
    if (io) {
        int major = std::stoi(disk.substr(0, disk.find(':'))), minor = std::stoi(disk.substr(disk.find(':') + 1));
        res["blockIO"]["throttleReadBpsDevice"] = {{{"major", major}, {"minor", minor}, {"rate", 1048576}}};
        res["blockIO"]["throttleWriteIOPSDevice"] = {{{"major", major}, {"minor", minor}, {"rate", 300}}};
        // The weight only on v2 (io.weight, from iocost); v1 has it only with the CFQ/BFQ files.
        if (v2) res["blockIO"]["weight"] = 500;
    }
    if (huge) res["hugepageLimits"] = {{{"pageSize", "2MB"}, {"limit", 4LL << 20}}};
    script("exec sleep 100");
    ASSERT_EQ(run_detached().status, 0) << support::read_file(dir_ + "/rt.err");
    if (io && v2) {
        std::string d = cgroup_dir("io");
        EXPECT_NE(support::read_file(d + "/io.max").find(disk + " rbps=1048576 wbps=max riops=max wiops=300"),
                  std::string::npos)
            << support::read_file(d + "/io.max");
        // runc's mapping of blkio 10..1000 onto io 1..10000: 500 -> 1 + 490 * 9999 / 990.
        std::string weight = support::read_file(d + "/io.weight") + support::read_file(d + "/io.bfq.weight");
        EXPECT_NE(weight.find("default " + std::to_string(1 + 490 * 9999 / 990)), std::string::npos) << weight;
    } else if (io) {
        std::string d = cgroup_dir("blkio");
        EXPECT_EQ(trimmed(support::read_file(d + "/blkio.throttle.read_bps_device")), disk + " 1048576");
        EXPECT_EQ(trimmed(support::read_file(d + "/blkio.throttle.write_iops_device")), disk + " 300");
    }
    if (huge) {
        std::string d = cgroup_dir("hugetlb");
        EXPECT_EQ(trimmed(support::read_file(d + (v2 ? "/hugetlb.2MB.max" : "/hugetlb.2MB.limit_in_bytes"))),
                  std::to_string(4LL << 20));
    }
    pid_t p = pid();
    EXPECT_NE(support::read_file(cgroup_dir(v2 ? "io" : "pids") + "/cgroup.procs").find(std::to_string(p)),
              std::string::npos);
}

TEST_F(Cgroups, PauseFreezesTheContainerAndResumeThawsIt) {
    script("while :; do echo t >> /out/ticks; usleep 20000; done");
    ASSERT_EQ(run_detached().status, 0) << support::read_file(dir_ + "/rt.err");
    auto ticks = [&] { return support::read_file(dir_ + "/out/ticks").size(); };
    ASSERT_TRUE(eventually([&] { return ticks() > 2; })) << "the container ticks";
    std::string d = cgroup_dir("freezer");

    ASSERT_EQ(rt({"pause", id_}).status, 0);
    auto status = [&] {
        Result r = rt({"state", id_});
        return r.status == 0 ? nlohmann::json::parse(r.out).value("status", "") : r.err;
    };
    EXPECT_EQ(status(), "paused");
    if (pure_v2()) {
        EXPECT_EQ(trimmed(support::read_file(d + "/cgroup.freeze")), "1");
        EXPECT_TRUE(eventually([&] { return fields(support::read_file(d + "/cgroup.events"), ' ')["frozen"] == "1"; }))
            << support::read_file(d + "/cgroup.events");
    } else {
        EXPECT_EQ(trimmed(support::read_file(d + "/freezer.state")), "FROZEN");
    }
    size_t frozen_at = ticks();
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(ticks(), frozen_at) << "a frozen container does not run";

    Result resumed = rt({"resume", id_});
    ASSERT_EQ(resumed.status, 0) << resumed.err;
    EXPECT_EQ(status(), "running");
    if (pure_v2()) {
        EXPECT_EQ(trimmed(support::read_file(d + "/cgroup.freeze")), "0");
        EXPECT_EQ(fields(support::read_file(d + "/cgroup.events"), ' ')["frozen"], "0");
    } else {
        EXPECT_EQ(trimmed(support::read_file(d + "/freezer.state")), "THAWED");
    }
    EXPECT_TRUE(eventually([&] { return ticks() > frozen_at; })) << "thawed, it runs again";
}

TEST_F(Cgroups, ADeviceTheRulesDenyIsRefusedOnOpenAndOneTheyAllowOpens) {
    // /dev/kmsg's numbers (1:11), made inside (the default rules allow mknod of any node), then
    // opened by a builtin's redirection, which reports the errno and lets the script go on.
    // Its open also asks for CAP_SYSLOG when kernel.dmesg_restrict is 1 (EPERM as well): given
    // here, so that the device rules are the only thing that can refuse.
    for (const char* set : {"bounding", "effective", "permitted"})
        config_["process"]["capabilities"][set].push_back("CAP_SYSLOG");
    script("mknod /kmsg c 1 11; { true < /kmsg && echo kmsg=opened; } 2>/out/err || echo kmsg=refused; "
           "true < /dev/null && echo null=opened; echo end");
    Result denied = rt({"run", "--bundle", dir_, id_});
    ASSERT_EQ(denied.status, 0) << denied.err;
    auto f = fields(denied.out, '=');
    EXPECT_EQ(f["kmsg"], "refused") << denied.out;
    EXPECT_NE(support::read_file(dir_ + "/out/err").find("Operation not permitted"), std::string::npos)
        << support::read_file(dir_ + "/out/err");
    EXPECT_EQ(f["null"], "opened");
    // The node itself is fine: from the host it opens.
    int fd = ::open((dir_ + "/rootfs/kmsg").c_str(), O_RDONLY | O_NONBLOCK);
    EXPECT_GE(fd, 0) << "outside the container the same node opens";
    if (fd >= 0) ::close(fd);

    // The control: a rule for it in config.json, and the same open succeeds.
    fs::remove(dir_ + "/rootfs/kmsg");
    config_["linux"]["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 11}, {"access", "r"}});
    script("mknod /kmsg c 1 11; { true < /kmsg && echo kmsg=opened; } 2>/out/err || echo kmsg=refused; echo end");
    Result allowed = rt({"run", "--bundle", dir_, id_});
    ASSERT_EQ(allowed.status, 0) << allowed.err;
    EXPECT_EQ(fields(allowed.out, '=')["kmsg"], "opened") << allowed.out << support::read_file(dir_ + "/out/err");
}
