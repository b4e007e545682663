// step07_full's lifecycle, driven as an engine drives it: spec, create, state, start, kill,
// delete (and run, ps, pause, list), checked from the host: the init's namespaces, its cgroup,
// the state directory, and that nothing is left after every path.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using support::Result;

namespace {

// A bundle in a fresh directory: the busybox image copied as rootfs, config.json from `spec`,
// a private --root, and a cgroupsPath of our own.
class Bundle : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        char tmpl[] = "/tmp/mbx07.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        root_ = dir_ + "/state";
        ASSERT_EQ(support::sh("cp -a " + support::busybox_rootfs() + " " + dir_ + "/rootfs").status, 0);
        Result r = support::run({support::bin("step07_full"), "spec", "--bundle", dir_});
        ASSERT_EQ(r.status, 0) << r.err;
        config_ = nlohmann::json::parse(support::read_file(dir_ + "/config.json"));
        config_["process"]["terminal"] = false;
        id_ = "t" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
        config_["linux"]["cgroupsPath"] = "/minibox-test07/" + id_;
        save();
    }
    void TearDown() override {
        if (dir_.empty()) return;
        rt({"delete", "--force", id_});
        support::sh("rm -rf " + dir_);
        support::sh("for h in /sys/fs/cgroup/*/minibox-test07 /sys/fs/cgroup/minibox-test07; do "
                    "[ -d $h ] && rmdir $h/* $h 2>/dev/null; done; true");
    }
    void save() {
        std::ofstream(dir_ + "/config.json") << config_.dump(2);
    }
    void args(std::vector<std::string> a) {
        config_["process"]["args"] = a;
        save();
    }
    Result rt(std::vector<std::string> a, const std::string& input = "") {
        std::vector<std::string> argv = {support::bin("step07_full"), "--root", root_};
        argv.insert(argv.end(), a.begin(), a.end());
        return support::run(argv, input);
    }
    // create and run --detach leave the init holding their stdio: an engine gives pipes of its
    // own; here they go to files, or support::run would wait for the container's end.
    Result rt_detached(std::vector<std::string> a) {
        std::string cmd = support::bin("step07_full") + " --root " + root_;
        for (auto& x : a) cmd += " '" + x + "'";
        Result r = support::sh(cmd + " </dev/null >" + dir_ + "/rt.out 2>" + dir_ + "/rt.err");
        r.out = support::read_file(dir_ + "/rt.out");
        r.err = support::read_file(dir_ + "/rt.err");
        return r;
    }
    nlohmann::json state() {
        Result r = rt({"state", id_});
        EXPECT_EQ(r.status, 0) << r.err;
        return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{};
    }
    // Every cgroup directory of this container, in every hierarchy (v2: the one directly under
    // /sys/fs/cgroup; v1 and hybrid: one under each hierarchy's mount point).
    std::vector<std::string> cgroup_dirs() {
        std::vector<std::string> out;
        if (fs::exists("/sys/fs/cgroup/minibox-test07/" + id_)) out.push_back("/sys/fs/cgroup/minibox-test07/" + id_);
        for (auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
            auto d = h.path() / "minibox-test07" / id_;
            if (fs::exists(d)) out.push_back(d.string());
        }
        return out;
    }
    void wait_stopped() {
        for (int i = 0; i < 400; ++i) {
            if (state().value("status", "") == "stopped") return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        FAIL() << "container did not stop";
    }
    std::string dir_, root_, id_;
    nlohmann::json config_;
    static inline int counter_ = 0;
};

TEST_F(Bundle, RunPrintsAndReturnsTheStatus) {
    args({"sh", "-c", "echo hello from $(hostname); exit 3"});
    Result r = rt({"run", "--bundle", dir_, id_});
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_EQ(r.out, "hello from minibox\n");
    EXPECT_FALSE(fs::exists(root_ + "/" + id_)) << "run leaves no state";
    EXPECT_TRUE(cgroup_dirs().empty());
}

TEST_F(Bundle, CreateWaitsStartRunsDeleteRemovesEverything) {
    args({"sh", "-c", "echo started > /tmp/out; sleep 100; true"});
    config_["mounts"].push_back({{"destination", "/tmp"}, {"type", "bind"}, {"source", dir_}, {"options", {"rbind", "rw"}}});
    save();
    Result r = rt_detached({"create", "--bundle", dir_, "--pid-file", dir_ + "/pid", id_});
    ASSERT_EQ(r.status, 0) << r.err;
    auto st = state();
    EXPECT_EQ(st["status"], "created");
    pid_t pid = st["pid"];
    EXPECT_EQ(std::stoi(support::read_file(dir_ + "/pid")), pid);
    EXPECT_EQ(st["bundle"], dir_);
    // The init exists, in namespaces of its own, in its cgroup, and has not run the command.
    EXPECT_NE(support::ns_link(pid, "pid"), support::ns_link(0, "pid"));
    EXPECT_NE(support::ns_link(pid, "mnt"), support::ns_link(0, "mnt"));
    EXPECT_NE(support::ns_link(pid, "ipc"), support::ns_link(0, "ipc"));
    EXPECT_NE(support::ns_link(pid, "uts"), support::ns_link(0, "uts"));
    EXPECT_NE(support::ns_link(pid, "net"), support::ns_link(0, "net"));
    EXPECT_FALSE(cgroup_dirs().empty());
    EXPECT_NE(support::read_file("/proc/" + std::to_string(pid) + "/cgroup").find("/minibox-test07/" + id_), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ + "/out")) << "the command ran before start";

    r = rt({"start", id_});
    ASSERT_EQ(r.status, 0) << r.err;
    // The shell creates the file, then writes it: wait for the whole line.
    for (int i = 0; i < 300 && support::read_file(dir_ + "/out") != "started\n"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(support::read_file(dir_ + "/out"), "started\n");
    EXPECT_EQ(state()["status"], "running");
    EXPECT_EQ(rt({"start", id_}).status, 1) << "a second start is refused";

    nlohmann::json pids;
    for (int i = 0; i < 200; ++i) {  // sh forks sleep just after writing /tmp/out
        r = rt({"ps", "--format", "json", id_});
        ASSERT_EQ(r.status, 0) << r.err;
        pids = nlohmann::json::parse(r.out);
        if (pids.size() >= 2) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(pids.size(), 2u) << r.out;  // sh and sleep
    EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end()) << "the init is listed";

    r = rt({"delete", id_});
    EXPECT_EQ(r.status, 1) << "delete of a running container needs --force";
    EXPECT_NE(r.err.find("not stopped"), std::string::npos) << r.err;

    r = rt({"kill", id_, "KILL"});
    EXPECT_EQ(r.status, 0) << r.err;
    wait_stopped();
    r = rt({"delete", id_});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(fs::exists(root_ + "/" + id_));
    EXPECT_TRUE(cgroup_dirs().empty());
    EXPECT_EQ(rt({"state", id_}).status, 1);
}

TEST_F(Bundle, DeleteForceKillsARunningContainer) {
    args({"sleep", "100"});
    ASSERT_EQ(rt_detached({"run", "--detach", "--bundle", dir_, id_}).status, 0);
    pid_t pid = state()["pid"];
    Result r = rt({"delete", "--force", id_});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid) + "/exe"));
    EXPECT_TRUE(cgroup_dirs().empty());
}

TEST_F(Bundle, DeleteOfACreatedContainerNeedsNoForce) {
    args({"true"});
    ASSERT_EQ(rt_detached({"create", "--bundle", dir_, id_}).status, 0);
    EXPECT_EQ(rt({"delete", id_}).status, 0);
    EXPECT_TRUE(cgroup_dirs().empty());
    EXPECT_FALSE(fs::exists(root_ + "/" + id_));
}

TEST_F(Bundle, MissingCommandFailsCreateWith127AndLeavesNothing) {
    args({"/no/such/command"});
    Result r = rt_detached({"create", "--bundle", dir_, id_});
    EXPECT_EQ(r.status, 127) << r.err;
    EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(root_ + "/" + id_));
    EXPECT_TRUE(cgroup_dirs().empty());
}

TEST_F(Bundle, EveryCommandOnAMissingIdIsOneLineAndExit1) {
    for (auto cmd : {"start", "state", "kill", "delete", "pause", "resume", "ps"}) {
        Result r = rt({cmd, "no-such-id"});
        EXPECT_EQ(r.status, 1) << cmd << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << cmd << ": " << r.err;
        EXPECT_NE(r.err.find("does not exist"), std::string::npos) << cmd << ": " << r.err;
    }
}

TEST_F(Bundle, BadConfigIsOneLineNamingTheFieldAndLeavesNothing) {
    config_["linux"]["namespaces"].push_back({{"type", "bogus"}});
    save();
    Result r = rt_detached({"create", "--bundle", dir_, id_});
    EXPECT_EQ(r.status, 125);
    EXPECT_NE(r.err.find("namespaces"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(root_ + "/" + id_));
    EXPECT_TRUE(cgroup_dirs().empty());
}

TEST_F(Bundle, KilledInitIsStoppedAndDeleteCleansUp) {
    args({"sleep", "100"});
    ASSERT_EQ(rt_detached({"run", "--detach", "--bundle", dir_, id_}).status, 0);
    pid_t pid = state()["pid"];
    ::kill(pid, SIGKILL);
    wait_stopped();
    EXPECT_EQ(rt({"delete", id_}).status, 0);
    EXPECT_TRUE(cgroup_dirs().empty());
}

TEST_F(Bundle, KilledCreateLeavesARecordThatDeleteCleans) {
    args({"true"});
    // SIGKILL the create while its init is being set up: stop it with --step? No terminal here;
    // instead a prestart hook that blocks, so create is caught half-way.
    config_["hooks"]["prestart"] = {{{"path", "/bin/sleep"}, {"args", {"sleep", "100"}}}};
    save();
    support::Background create({support::bin("step07_full"), "--root", root_, "create", "--bundle", dir_, id_});
    std::string sleeper;
    for (int i = 0; i < 500; ++i) {
        auto kids = support::children_of(create.pid());
        if (kids.size() >= 2) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_FALSE(cgroup_dirs().empty()) << "the cgroup exists while create runs";
    create.signal(SIGKILL);
    create.wait();
    support::sh("sleep 0.2");
    auto st = state();
    EXPECT_EQ(st["status"], "stopped");
    Result r = rt({"delete", id_});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(cgroup_dirs().empty());
    EXPECT_FALSE(fs::exists(root_ + "/" + id_));
}

TEST_F(Bundle, KilledRunLeavesARecordThatDeleteCleans) {
    // The foreground `run` holds no lock while the container runs: its record must exist
    // before the lock goes, or a kill leaves a directory that create calls taken and delete
    // calls missing.
    args({"sleep", "100"});
    config_["hooks"]["prestart"] = {{{"path", "/bin/sleep"}, {"args", {"sleep", "100"}}}};
    save();
    support::Background run({support::bin("step07_full"), "--root", root_, "run", "--bundle", dir_, id_});
    for (int i = 0; i < 500 && !fs::exists(root_ + "/" + id_ + "/state.json"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    run.signal(SIGKILL);
    run.wait();
    support::sh("sleep 0.2");
    Result again = rt_detached({"create", "--bundle", dir_, id_});
    EXPECT_EQ(again.status, 1) << again.err;
    EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
    Result del = rt({"delete", "--force", id_});
    EXPECT_EQ(del.status, 0) << del.err;
    EXPECT_FALSE(fs::exists(root_ + "/" + id_));
    EXPECT_TRUE(cgroup_dirs().empty());
}

TEST_F(Bundle, ABareDirectoryOfADeadMakerIsTakenOver) {
    // What a maker killed between its mkdir and its first record leaves (and older versions
    // left after a killed run): the id is free, create takes it.
    args({"true"});
    fs::create_directories(root_ + "/" + id_);
    Result r = rt({"run", "--bundle", dir_, id_});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(fs::exists(root_ + "/" + id_));
    EXPECT_TRUE(cgroup_dirs().empty());
}

TEST_F(Bundle, PauseFreezesAndResumeThaws) {
    args({"sleep", "100"});
    ASSERT_EQ(rt_detached({"run", "--detach", "--bundle", dir_, id_}).status, 0);
    ASSERT_EQ(rt({"pause", id_}).status, 0);
    EXPECT_EQ(state()["status"], "paused");
    ASSERT_EQ(rt({"resume", id_}).status, 0);
    EXPECT_EQ(state()["status"], "running");
}

TEST_F(Bundle, ListShowsTheContainer) {
    args({"sleep", "100"});
    ASSERT_EQ(rt_detached({"run", "--detach", "--bundle", dir_, id_}).status, 0);
    Result r = rt({"list", "--format", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto all = nlohmann::json::parse(r.out);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0]["id"], id_);
    EXPECT_EQ(all[0]["status"], "running");
    EXPECT_EQ(rt({"list", "-q"}).out, id_ + "\n");
}

TEST_F(Bundle, HostnameAndMountsAsTheSpecSays) {
    config_["hostname"] = "box07";
    args({"sh", "-c", "hostname; cat /proc/self/mountinfo | awk '{print $5}' | sort | tr '\\n' ' '"});
    Result r = rt({"run", "--bundle", dir_, id_});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "box07");
    for (auto m : {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"})
        EXPECT_NE(r.out.find(std::string(" ") + m + " "), std::string::npos) << m << " in " << r.out;
}

// crun's documented floor: the default spec (Docker's seccomp profile included) runs under a
// 512 KiB memory limit, because the filter is compiled before clone, not in the container.
TEST_F(Bundle, RunsUnderA512KiBMemoryLimit) {
    args({"echo", "small"});
    config_["linux"]["resources"]["memory"] = {{"limit", 524288}};
    save();
    Result r = rt({"run", "--bundle", dir_, id_});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "small\n");
}

TEST_F(Bundle, VersionAndFeatures) {
    Result v = rt({"--version"});
    EXPECT_EQ(v.status, 0);
    EXPECT_NE(v.out.find("step07_full version"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("spec: 1.1.0"), std::string::npos) << v.out;
    Result f = rt({"features"});
    ASSERT_EQ(f.status, 0) << f.err;
    auto j = nlohmann::json::parse(f.out);
    EXPECT_EQ(j["ociVersionMax"], "1.1.0");
    EXPECT_TRUE(j["linux"]["seccomp"]["enabled"].get<bool>());
}

}  // namespace
