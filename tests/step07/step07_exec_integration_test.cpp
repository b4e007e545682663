// step07_full exec, as engines use it: a new process in a running container joins the init's
// namespaces and cgroup, gets the privileges the spec gives (capabilities, seccomp), and reports
// its status (3, 127, 126, 128+N); --detach with --pid-file, --process FILE, --preserve-fds, and
// --tty with --console-socket. Checked from the host (/proc/PID/ns/*, /proc/PID/cgroup, NSpid)
// and from inside (what the process prints).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "console.hpp"
#include "spec.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using support::Result;

namespace {

const char* const kNamespaces[] = {"user", "ipc", "uts", "net", "pid", "cgroup", "mnt"};

std::string status_field(const std::string& status, const std::string& name) {
    std::istringstream in(status);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + ":", 0) == 0) {
            auto v = line.substr(name.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return "";
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// A running container (`sleep 100`) made by create + start in a bundle of its own, with a
// private --root and a cgroup under /minibox-test07x/.
class Running : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        char tmpl[] = "/tmp/mbx07x.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        ::chmod(dir_.c_str(), 0755);  // mkdtemp's 0700 would shut out root of a user namespace
        root_ = dir_ + "/state";
        ASSERT_EQ(support::sh("cp -a " + support::busybox_rootfs() + " " + dir_ + "/rootfs").status, 0);
        std::vector<std::string> spec = {support::bin("step07_full"), "spec", "--bundle", dir_};
        if (userns()) spec.push_back("--userns");
        Result r = support::run(spec);
        ASSERT_EQ(r.status, 0) << r.err;
        config_ = nlohmann::json::parse(support::read_file(dir_ + "/config.json"));
        config_["process"]["terminal"] = false;
        config_["process"]["args"] = {"sleep", "100"};
        id_ = "x" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
        config_["linux"]["cgroupsPath"] = "/minibox-test07x/" + id_;
        std::ofstream(dir_ + "/config.json") << config_.dump(2);
        if (via_run()) {
            run_ = std::make_unique<support::Background>(
                std::vector<std::string>{support::bin("step07_full"), "--root", root_, "run", "--bundle", dir_, id_});
            for (int i = 0; i < 500 && rt({"state", id_}).out.find("\"running\"") == std::string::npos; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
        } else {
            r = rt_files({"create", "--bundle", dir_, id_});
            ASSERT_EQ(r.status, 0) << r.err;
            r = rt_files({"start", id_});
            ASSERT_EQ(r.status, 0) << r.err;
        }
        r = rt({"state", id_});
        ASSERT_EQ(r.status, 0) << r.err;
        auto st = nlohmann::json::parse(r.out);
        ASSERT_EQ(st["status"], "running") << r.out;
        init_ = st["pid"];
        ASSERT_GT(init_, 0);
        // `run` records the state while its init still sets up (the cgroup namespace comes late):
        // wait until it is the command.
        for (int i = 0; via_run() && i < 500 && support::read_file("/proc/" + std::to_string(init_) + "/comm") != "sleep\n"; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    virtual bool userns() const { return false; }
    // Start the container with `run` (one process, in the background) instead of create + start.
    virtual bool via_run() const { return false; }
    void TearDown() override {
        if (dir_.empty()) return;
        for (pid_t p : strays_)
            if (p > 0 && alive(p)) ::kill(p, SIGKILL);
        rt({"delete", "--force", id_});
        run_.reset();
        support::sh("rm -rf " + dir_);
        support::sh("for h in /sys/fs/cgroup/*/minibox-test07x /sys/fs/cgroup/minibox-test07x; do "
                    "[ -d $h ] && rmdir $h/* $h 2>/dev/null; done; true");
    }
    Result rt(std::vector<std::string> a, const std::string& input = "") {
        std::vector<std::string> argv = {support::bin("step07_full"), "--root", root_};
        argv.insert(argv.end(), a.begin(), a.end());
        return support::run(argv, input);
    }
    // The same with the runtime's stdio on files: for create and exec --detach, whose process
    // keeps that stdio (a pipe that support::run reads to EOF would never end).
    // `timeout`: a runtime that hangs fails the test instead of the whole suite.
    Result rt_files(const std::vector<std::string>& a) {
        std::string line = "timeout 15 " + quote(support::bin("step07_full")) + " --root " + quote(root_);
        for (auto& x : a) line += " " + quote(x);
        std::string out = dir_ + "/rt.out", err = dir_ + "/rt.err";
        line += " </dev/null >" + quote(out) + " 2>" + quote(err);
        Result r = support::sh(line);
        r.out = support::read_file(out);
        r.err = support::read_file(err);
        return r;
    }
    Result exec(std::vector<std::string> cmd) {
        std::vector<std::string> a = {"exec", id_};
        a.insert(a.end(), cmd.begin(), cmd.end());
        return rt(a);
    }
    // exec --detach --pid-file: the process's host pid.
    pid_t exec_detached(std::vector<std::string> cmd, std::vector<std::string> extra = {}) {
        std::string pid_file = dir_ + "/exec.pid";
        std::vector<std::string> a = {"exec", "--detach", "--pid-file", pid_file};
        a.insert(a.end(), extra.begin(), extra.end());
        a.push_back(id_);
        a.insert(a.end(), cmd.begin(), cmd.end());
        Result r = rt_files(a);
        EXPECT_EQ(r.status, 0) << r.err;
        if (r.status != 0) return -1;
        pid_t pid = std::stoi(support::read_file(pid_file));
        strays_.push_back(pid);
        return pid;
    }
    // The effective set the spec asks for, as /proc/PID/status prints it.
    std::string spec_cap_eff() {
        uint64_t mask = 0;
        for (auto& name : config_["process"]["capabilities"]["effective"]) {
            auto n = spec::capability_number(name.get<std::string>());
            EXPECT_TRUE(n.has_value()) << name;
            if (n) mask |= uint64_t{1} << *n;
        }
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(mask));
        return buf;
    }
    std::string dir_, root_, id_;
    pid_t init_ = -1;
    std::vector<pid_t> strays_;
    std::unique_ptr<support::Background> run_;
    nlohmann::json config_;
    static inline int counter_ = 0;
};

TEST_F(Running, JoinsEveryNamespaceAndTheCgroupOfTheInit) {
    pid_t pid = exec_detached({"sleep", "100"});
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(alive(pid));
    for (const char* ns : kNamespaces) {
        EXPECT_EQ(support::ns_link(pid, ns), support::ns_link(init_, ns)) << ns;
    }
    // ... namespaces that are not the host's (the spec has no user namespace: that one is shared).
    for (const char* ns : {"ipc", "uts", "net", "pid", "mnt", "cgroup"}) {
        EXPECT_NE(support::ns_link(pid, ns), support::ns_link(0, ns)) << ns;
    }
    EXPECT_EQ(support::read_file("/proc/" + std::to_string(pid) + "/cgroup"),
              support::read_file("/proc/" + std::to_string(init_) + "/cgroup"));
    // The container's root: the same root directory as the init's.
    EXPECT_EQ(support::read_file("/proc/" + std::to_string(pid) + "/root/etc/hostname"),
              support::read_file("/proc/" + std::to_string(init_) + "/root/etc/hostname"));
    struct stat a {}, b {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(pid) + "/root/").c_str(), &a), 0);
    ASSERT_EQ(::stat(("/proc/" + std::to_string(init_) + "/root/").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(a.st_dev, b.st_dev);
    // Its pid in the container's pid namespace: a second NSpid entry, not 1 (that is the init).
    std::string nspid = status_field(support::read_file("/proc/" + std::to_string(pid) + "/status"), "NSpid");
    std::istringstream in(nspid);
    pid_t host = 0, inside = 0;
    in >> host >> inside;
    EXPECT_EQ(host, pid) << nspid;
    EXPECT_GT(inside, 1) << nspid;
    // And the container sees it: ps inside lists a second sleep.
    Result r = exec({"sh", "-c", "ls /proc | grep -c '^[0-9]'"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_GE(std::stoi(r.out.empty() ? "0" : r.out), 3) << r.out;  // init, the detached sleep, this sh
}

TEST_F(Running, HasTheSpecsCapabilitiesAndSeccompAsTheInitHas) {
    Result r = exec({"cat", "/proc/self/status"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string init_status = support::read_file("/proc/" + std::to_string(init_) + "/status");
    EXPECT_EQ(status_field(r.out, "CapEff"), spec_cap_eff());
    EXPECT_EQ(status_field(r.out, "CapEff"), status_field(init_status, "CapEff"));
    EXPECT_EQ(status_field(r.out, "CapBnd"), status_field(init_status, "CapBnd"));
    EXPECT_EQ(status_field(r.out, "Seccomp"), "2");
    EXPECT_EQ(status_field(r.out, "NoNewPrivs"), status_field(init_status, "NoNewPrivs"));
    // Seen from inside, the command is not pid 1 and the hostname is the container's.
    r = exec({"sh", "-c", "echo $$ $(hostname)"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.rfind("1 ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find(" " + config_.value("hostname", std::string("?")) + "\n"), std::string::npos) << r.out;
}

TEST_F(Running, ReturnsTheStatusOfTheProcess) {
    EXPECT_EQ(exec({"sh", "-c", "exit 3"}).status, 3);
    EXPECT_EQ(exec({"true"}).status, 0);
    EXPECT_EQ(exec({"sh", "-c", "kill -KILL $$"}).status, 128 + SIGKILL);

    Result r = exec({"no-such-command"});
    EXPECT_EQ(r.status, 127);
    EXPECT_NE(r.err.find("no-such-command: command not found"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;

    r = exec({"/etc/passwd"});
    EXPECT_EQ(r.status, 126) << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;

    // The container's stdin reaches the process.
    r = rt({"exec", id_, "cat"}, "through stdin\n");
    EXPECT_EQ(r.out, "through stdin\n");

    // A missing cwd is one clear line.
    r = rt({"exec", "--cwd", "/no/such/dir", id_, "true"});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("process.cwd: chdir(\"/no/such/dir\"): No such file or directory"), std::string::npos) << r.err;
}

TEST_F(Running, ForwardsSignalsAndWaitsForTheProcess) {
    support::Background tool({support::bin("step07_full"), "--root", root_, "exec", id_, "sh", "-c",
                              "echo ready $$; exec sleep 100"});
    std::string line = tool.wait_for_line("ready");
    ASSERT_NE(line.find("ready"), std::string::npos) << line;
    // The process, seen from the host: a child of the tool (we are its subreaper), in the
    // container's pid namespace.
    pid_t process = -1;
    for (int i = 0; i < 200 && process < 0; ++i) {
        for (pid_t c : support::children_of(tool.pid()))
            if (support::read_file("/proc/" + std::to_string(c) + "/comm") == "sleep\n") process = c;
        if (process < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(process, 0) << "the process is not the tool's child";
    EXPECT_EQ(support::ns_link(process, "pid"), support::ns_link(init_, "pid"));
    tool.signal(SIGTERM);
    EXPECT_EQ(tool.wait(), 128 + SIGTERM);
    EXPECT_FALSE(alive(process) && support::read_file("/proc/" + std::to_string(process) + "/stat").find(") Z") == std::string::npos);
}

TEST_F(Running, CommandLineFlagsChangeTheProcess) {
    Result r = rt({"exec", "--env", "FOO=bar", "--cwd", "/tmp", id_, "sh", "-c", "echo $FOO $(pwd)"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "bar /tmp\n");
}

TEST_F(Running, HomeComesFromTheContainersPasswdWhenUnset) {
    std::ofstream(dir_ + "/rootfs/etc/passwd", std::ios::app) << "minibox-test:x:4242:4242::/home/mbx:/bin/sh\n";
    nlohmann::json p = {{"args", {"sh", "-c", "echo $HOME"}}, {"cwd", "/"}, {"env", {"PATH=/bin"}},
                        {"user", {{"uid", 4242}, {"gid", 4242}}}, {"noNewPrivileges", true}};
    std::ofstream(dir_ + "/process.json") << p.dump();
    Result r = rt({"exec", "--process", dir_ + "/process.json", id_});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "/home/mbx\n");
    p["env"] = {"PATH=/bin", "HOME=/given"};
    std::ofstream(dir_ + "/process.json") << p.dump();
    r = rt({"exec", "--process", dir_ + "/process.json", id_});
    EXPECT_EQ(r.out, "/given\n") << r.err;
}

TEST_F(Running, CapFlagAddsACapability) {
    // runc's form: the option's one value, then the id (a repeatable option takes one value each).
    Result r = rt({"exec", "--cap", "CAP_SYS_ADMIN", id_, "cat", "/proc/self/status"});
    EXPECT_EQ(r.status, 0) << r.err;
    uint64_t eff = std::stoull(status_field(r.out, "CapEff").empty() ? "0" : status_field(r.out, "CapEff"), nullptr, 16);
    EXPECT_TRUE(eff & (uint64_t{1} << 21)) << "CAP_SYS_ADMIN added: " << r.out;
}

TEST_F(Running, UserFlagSwitchesToThatUser) {
    Result r = rt({"exec", "--user", "1000:1001", id_, "sh", "-c", "echo $(id -u) $(id -g); grep CapEff /proc/self/status"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "1000 1001\nCapEff:\t0000000000000000\n") << "a non-root user keeps no capability";
}

TEST_F(Running, DetachedProcessOutlivesTheRuntimeAndPidFileIsComplete) {
    pid_t pid = exec_detached({"sleep", "100"});
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(alive(pid)) << "the runtime has exited; the process is still there";
    EXPECT_EQ(support::read_file(dir_ + "/exec.pid"), std::to_string(pid));
    EXPECT_FALSE(fs::exists(dir_ + "/exec.pid.tmp")) << "no temporary left";
    for (auto& e : fs::directory_iterator(dir_))
        EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    EXPECT_EQ(support::ns_link(pid, "pid"), support::ns_link(init_, "pid"));
    // `ps` of the container lists it: it is in the cgroup.
    Result r = rt({"ps", "--format", "json", id_});
    ASSERT_EQ(r.status, 0) << r.err;
    auto pids = nlohmann::json::parse(r.out);
    EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end()) << r.out;
}

TEST_F(Running, ProcessFromAJsonFile) {
    nlohmann::json p = {{"terminal", false},
                        {"args", {"sh", "-c", "echo $FOO $(pwd) $(id -u); cat /proc/self/status | grep CapEff"}},
                        {"env", {"PATH=/bin:/usr/bin", "FOO=from-json"}},
                        {"cwd", "/etc"},
                        {"user", {{"uid", 0}, {"gid", 0}}},
                        {"capabilities", {{"bounding", {"CAP_KILL"}}, {"effective", {"CAP_KILL"}}, {"permitted", {"CAP_KILL"}}}}};
    std::ofstream(dir_ + "/process.json") << p.dump();
    Result r = rt({"exec", "--process", dir_ + "/process.json", id_});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n') + 1), "from-json /etc 0\n") << r.out;
    EXPECT_NE(r.out.find("CapEff:\t0000000000000020"), std::string::npos) << r.out;  // CAP_KILL = 5
}

TEST_F(Running, OomScoreAdjOfTheProcessObject) {
    nlohmann::json p = {{"args", {"sleep", "100"}}, {"cwd", "/"}, {"user", {{"uid", 0}, {"gid", 0}}},
                        {"oomScoreAdj", 321}};  // raised: lowering needs CAP_SYS_RESOURCE, which a test host may lack
    std::ofstream(dir_ + "/process.json") << p.dump();
    pid_t pid = exec_detached({}, {"--process", dir_ + "/process.json"});
    ASSERT_GT(pid, 0);
    EXPECT_EQ(support::read_file("/proc/" + std::to_string(pid) + "/oom_score_adj"), "321\n");
    EXPECT_NE(support::read_file("/proc/" + std::to_string(init_) + "/oom_score_adj"), "321\n");
}

TEST_F(Running, PreserveFdsPassesExactlyThoseFds) {
    std::ofstream(dir_ + "/passed") << "passed through fd 3\n";
    std::string cmd = support::bin("step07_full") + " --root " + root_ + " exec --preserve-fds 1 " + id_ +
                      " sh -c 'cat <&3; for f in 4 5 6 7 8 9 10; do [ -e /proc/self/fd/$f ] && "
                      "echo leaked $f $(readlink /proc/self/fd/$f); done; true' 3<" + dir_ + "/passed";
    Result r = support::sh(cmd);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "passed through fd 3\n");
    // Without --preserve-fds, fd 3 does not reach the container.
    cmd = support::bin("step07_full") + " --root " + root_ + " exec " + id_ +
          " sh -c '[ -e /proc/self/fd/3 ] && echo leaked; true' 3<" + dir_ + "/passed";
    r = support::sh(cmd);
    EXPECT_EQ(r.out, "");
}

TEST_F(Running, TtyGoesToTheConsoleSocket) {
    std::string sock = dir_ + "/console.sock";
    unique_fd listening = console::listen_at(sock);
    pid_t pid = exec_detached({"sh", "-c", "echo hi from $(tty); stty size; sleep 100"},
                              {"--tty", "--console-socket", sock});
    ASSERT_GT(pid, 0);
    unique_fd master = console::receive_master(listening.get());
    ASSERT_TRUE(master);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline && out.find("\n", out.find("hi from")) == std::string::npos) {
        pollfd p{master.get(), POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        char buf[256];
        ssize_t n = ::read(master.get(), buf, sizeof(buf));
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    EXPECT_NE(out.find("hi from /dev/pts/"), std::string::npos) << out;
    // The slave is of the container's devpts instance, not the host's: its inode lives on the
    // container's /dev/pts file system.
    struct stat in {}, host {}, theirs {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(pid) + "/fd/0").c_str(), &in), 0);
    EXPECT_TRUE(S_ISCHR(in.st_mode));
    ASSERT_EQ(::stat("/dev/pts", &host), 0);
    ASSERT_EQ(::stat(("/proc/" + std::to_string(init_) + "/root/dev/pts").c_str(), &theirs), 0);
    EXPECT_EQ(in.st_dev, theirs.st_dev) << "the pty is of the container's devpts";
    EXPECT_NE(in.st_dev, host.st_dev) << "the pty was made in the host's devpts";
    // Typing reaches the process: its terminal is ours.
    ASSERT_EQ(::write(master.get(), "\x03", 1), 1);  // Ctrl-C: SIGINT to the foreground (sh, sleep)
    for (int i = 0; i < 200 && alive(pid) && support::read_file("/proc/" + std::to_string(pid) + "/stat").find(") Z") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(!alive(pid) || support::read_file("/proc/" + std::to_string(pid) + "/stat").find(") Z") != std::string::npos)
        << "Ctrl-C on the master ended the process";
}

TEST_F(Running, RefusedWhenStoppedOrAskedWrongly) {
    Result r = rt({"exec", "--tty", "--detach", id_, "true"});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("--console-socket"), std::string::npos) << r.err;
    // In the foreground, --tty without a socket uses the tool's own stdio (as `run` does).
    r = rt({"exec", "--tty", id_, "echo", "own stdio"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "own stdio\n");
    r = rt({"exec", "--console-socket", dir_ + "/none.sock", id_, "true"});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("only with --tty"), std::string::npos) << r.err;
    r = rt({"exec", id_});
    EXPECT_NE(r.status, 0);
    r = rt({"exec", "no-such-container", "true"});
    EXPECT_EQ(r.status, 1) << r.err;

    ASSERT_EQ(rt({"kill", id_, "KILL"}).status, 0);
    for (int i = 0; i < 200 && alive(init_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    r = exec({"true"});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("stopped"), std::string::npos) << r.err;
}

// With a user namespace (`spec --userns`: root inside mapped to an unprivileged host range): the
// exec'd process joins it first, and is root inside only.
class RunningUserns : public Running {
protected:
    bool userns() const override { return true; }
    // `run`: this test is about exec joining a user namespace, not about create's exec fifo
    // under one (create + start with a user namespace is the lifecycle tests' business).
    bool via_run() const override { return true; }
};

TEST_F(RunningUserns, JoinsTheUserNamespaceToo) {
    pid_t pid = exec_detached({"sleep", "100"});
    ASSERT_GT(pid, 0);
    EXPECT_EQ(support::ns_link(pid, "user"), support::ns_link(init_, "user"));
    EXPECT_NE(support::ns_link(pid, "user"), support::ns_link(0, "user"));
    struct stat st {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(pid)).c_str(), &st), 0);
    uint32_t host_root = config_["linux"]["uidMappings"][0]["hostID"];
    EXPECT_EQ(st.st_uid, host_root) << "root inside is not root on the host";
    EXPECT_NE(st.st_uid, 0u);
    Result r = exec({"sh", "-c", "id -u; grep Seccomp: /proc/self/status"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "0\nSeccomp:\t2\n");
    for (const char* ns : kNamespaces) EXPECT_EQ(support::ns_link(pid, ns), support::ns_link(init_, ns)) << ns;
}

}  // namespace
