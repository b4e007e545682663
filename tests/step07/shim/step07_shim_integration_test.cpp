// minibox-shim driven directly, as the front end and the engine drive it (shim/client.hpp):
// a bundle from `step07_full spec` over a copy of the busybox rootfs, a shim per container,
// and checks from the host: the json-file log, attach streams (stdcopy frames, raw tty),
// stdin, exit codes, restarts, a bridge address reachable from this test's own network
// namespace, a SIGKILLed shim reaped, and nothing left after the end (no cgroup, no veth, no
// mount, no runtime state, no shim process).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "client.hpp"
#include "error.hpp"
#include "state.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

bool process_alive(pid_t pid) {
    std::string stat = support::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (stat.empty()) return false;
    auto close = stat.rfind(')');
    return close != std::string::npos && stat[close + 2] != 'Z' && stat[close + 2] != 'X';
}

pid_t parent_of(pid_t pid) {
    std::string stat = support::read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    return ppid;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return cond();
}

class Shim : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        // A network namespace of this test's own: the bridge, veths and rules are made in it and
        // vanish with it; the shims inherit it as their "host".
        ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
        ASSERT_EQ(support::sh("ip link set lo up").status, 0);
        char tmpl[] = "/tmp/mbxshim.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        top_ = tmpl;
        ::setenv("MINIBOX_RUN", (top_ + "/run").c_str(), 1);
        ::setenv("MINIBOX_SHIM", support::bin("minibox-shim").c_str(), 1);
        ::mkdir((top_ + "/run").c_str(), 0700);
        ASSERT_EQ(support::sh("cp -a " + support::busybox_rootfs() + " " + top_ + "/rootfs").status, 0);
    }
    void TearDown() override {
        if (top_.empty()) return;
        for (auto& d : dirs_) {
            if (shim::alive(d)) {
                try {
                    shim::Client(d).shutdown();
                } catch (...) {
                }
            }
        }
        shim::reap_dead();
        for (auto& id : ids_) support::run({support::bin("step07_full"), "--root", top_ + "/rt", "delete", "--force", id});
        support::sh("umount -l " + top_ + "/*/netns 2>/dev/null; rm -rf " + top_);
        ::unsetenv("MINIBOX_RUN");
    }

    // A container directory with bundle/config.json running `args`.
    std::string make(const std::vector<std::string>& args, bool tty = false, const std::string& netmode = "none") {
        std::string id = "shimt" + std::to_string(::getpid()) + "x" + std::to_string(counter_++);
        std::string dir = top_ + "/" + std::to_string(counter_);
        fs::create_directories(dir + "/bundle");
        auto r = support::run({support::bin("step07_full"), "spec", "--bundle", dir + "/bundle"});
        EXPECT_EQ(r.status, 0) << r.err;
        json c = json::parse(support::read_file(dir + "/bundle/config.json"));
        c["root"]["path"] = top_ + "/rootfs";
        c["process"]["args"] = args;
        c["process"]["terminal"] = tty;
        auto& ns = c["linux"]["namespaces"];
        json kept = json::array();
        for (auto& n : ns)
            if (n["type"] != "network") kept.push_back(n);
        if (netmode != "host") kept.push_back({{"type", "network"}, {"path", shim::netns_path(dir)}});
        ns = kept;
        std::ofstream(dir + "/bundle/config.json") << c.dump(2);
        opts_ = {};
        opts_.id = id;
        opts_.runtime = support::bin("step07_full");
        opts_.runtime_root = top_ + "/rt";
        opts_.tty = tty;
        opts_.network.mode = netmode;
        dirs_.push_back(dir);
        ids_.push_back(id);
        return dir;
    }

    json log_lines(const std::string& dir) {
        json out = json::array();
        std::ifstream f(shim::log_path(dir));
        for (std::string l; std::getline(f, l);) out.push_back(json::parse(l));
        return out;
    }

    // Every cgroup directory of container `id` (/minibox/ID under each hierarchy).
    std::vector<std::string> cgroups(const std::string& id) {
        std::vector<std::string> out;
        if (fs::exists("/sys/fs/cgroup/minibox/" + id)) out.push_back("/sys/fs/cgroup/minibox/" + id);
        for (auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
            auto d = h.path() / "minibox" / id;
            if (fs::exists(d)) out.push_back(d.string());
        }
        return out;
    }

    // Nothing of the container is left on the host once its shim is gone.
    void expect_nothing_left(const std::string& dir, const std::string& id, pid_t shim_pid) {
        EXPECT_TRUE(wait_until([&] { return !process_alive(shim_pid); })) << "the shim outlived its container";
        EXPECT_TRUE(cgroups(id).empty()) << cgroups(id).front();
        EXPECT_FALSE(fs::exists(top_ + "/rt/" + id)) << "runtime state left";
        EXPECT_FALSE(fs::exists(dir + "/shim.sock"));
        EXPECT_FALSE(fs::exists(dir + "/owner"));
        EXPECT_FALSE(fs::exists(shim::netns_path(dir)));
        EXPECT_FALSE(fs::exists(top_ + "/run/shims/" + id));
        for (auto& m : support::host_mounts()) EXPECT_EQ(m.find(dir), std::string::npos) << m;
        // The veth goes with the namespace, which the kernel tears down asynchronously.
        std::string links;
        EXPECT_TRUE(wait_until([&] {
            links = support::sh("ip -o link show").out;
            return links.find("mbv") == std::string::npos;
        })) << links;
    }

    std::string top_;
    std::vector<std::string> dirs_, ids_;
    shim::Options opts_;
    static inline int counter_ = 0;
};

// All frames of an attach stream until the shim closes it.
std::map<int, std::string> read_frames(int fd) {
    std::map<int, std::string> out;
    shim::Stream s;
    std::string data;
    while (shim::read_frame(fd, s, data)) out[s] += data;
    return out;
}

std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

TEST_F(Shim, RunsDetachedLogsAndLeavesOnlyTheRecord) {
    std::string dir = make({"sh", "-c", "echo out; echo err >&2; printf partial; exit 3"});
    opts_.start = true;
    auto ready = shim::spawn(dir, opts_);
    EXPECT_EQ(ready.status, "running");
    EXPECT_GT(ready.pid, 0);
    // Detached: a session of its own, and not our child (re-parented by the double fork).
    EXPECT_NE(::getsid(ready.shim_pid), ::getsid(0)) << "setsid: a session of its own";
    EXPECT_NE(::getsid(ready.shim_pid), ready.shim_pid) << "the second fork: not the session's leader";
    EXPECT_NE(parent_of(ready.shim_pid), ::getpid()) << "the double fork: not our child";
    auto exit = shim::Client(dir).wait();
    EXPECT_EQ(exit.exit_code, 3);
    EXPECT_FALSE(exit.restarting);
    EXPECT_NE(exit.finished_at, shim::zero_time);

    json lines = log_lines(dir);
    ASSERT_EQ(lines.size(), 3u) << lines.dump();
    std::map<std::string, std::string> by_log;
    for (auto& l : lines) by_log[l["log"]] = l["stream"];
    EXPECT_EQ(by_log["out\n"], "stdout");
    EXPECT_EQ(by_log["err\n"], "stderr");
    EXPECT_EQ(by_log["partial"], "stdout") << "a line without newline is flushed at the end";
    std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
    for (auto& l : lines) EXPECT_TRUE(std::regex_match(l["time"].get<std::string>(), rfc3339)) << l.dump();

    expect_nothing_left(dir, opts_.id, ready.shim_pid);
    auto st = shim::read_state(dir);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->status, "exited");
    EXPECT_EQ(st->exit_code, 3);
    EXPECT_FALSE(st->shim_alive);
}

TEST_F(Shim, AttachBeforeStartGetsStdcopyFrames) {
    std::string dir = make({"sh", "-c", "echo to-out; echo to-err >&2"});
    auto ready = shim::spawn(dir, opts_);
    EXPECT_EQ(ready.status, "created");
    shim::Client client(dir);
    EXPECT_EQ(client.state().status, "created");
    bool tty = true;
    unique_fd stream = client.attach(false, true, true, &tty);
    EXPECT_FALSE(tty);
    EXPECT_GT(client.start(), 0);
    auto frames = read_frames(stream.get());
    EXPECT_EQ(frames[1], "to-out\n");
    EXPECT_EQ(frames[2], "to-err\n");
    EXPECT_EQ(client.wait().exit_code, 0);
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

TEST_F(Shim, StdinThroughAttachClosedByHalfClose) {
    std::string dir = make({"sh", "-c", "cat; echo end of input"});
    opts_.open_stdin = true;
    opts_.stdin_once = true;
    auto ready = shim::spawn(dir, opts_);
    shim::Client client(dir);
    unique_fd stream = client.attach(true, true, false);
    client.start();
    std::string input = "hello through the shim\n";
    ASSERT_EQ(::write(stream.get(), input.data(), input.size()), static_cast<ssize_t>(input.size()));
    ::shutdown(stream.get(), SHUT_WR);  // EOF for cat: the container's stdin closes
    auto frames = read_frames(stream.get());
    EXPECT_EQ(frames[1], input + "end of input\n");
    EXPECT_TRUE(frames[2].empty()) << "stderr was not asked for";
    EXPECT_EQ(client.wait().exit_code, 0);
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

TEST_F(Shim, TtyIsRawAndResizes) {
    std::string dir = make({"sh", "-c", "tty; stty size; read x; stty size"}, true);
    opts_.open_stdin = true;
    opts_.height = 30;
    opts_.width = 100;
    auto ready = shim::spawn(dir, opts_);
    shim::Client client(dir);
    bool tty = false;
    unique_fd stream = client.attach(true, true, true, &tty);
    EXPECT_TRUE(tty);
    client.start();
    // Wait for the first size before resizing.
    std::string seen;
    char buf[1024];
    while (seen.find("30 100") == std::string::npos) {
        ssize_t n = ::read(stream.get(), buf, sizeof buf);
        ASSERT_GT(n, 0) << seen;
        seen.append(buf, static_cast<size_t>(n));
    }
    client.resize(40, 120);
    ASSERT_EQ(::write(stream.get(), "go\n", 3), 3);
    seen += read_all(stream.get());
    EXPECT_NE(seen.find("/dev/pts/0"), std::string::npos) << seen;
    EXPECT_NE(seen.find("40 120"), std::string::npos) << seen;
    EXPECT_NE(seen.find("\r\n"), std::string::npos) << "a terminal writes CR LF";
    EXPECT_EQ(client.wait().exit_code, 0);
    json lines = log_lines(dir);
    ASSERT_FALSE(lines.empty());
    for (auto& l : lines) EXPECT_EQ(l["stream"], "stdout") << "a pty merges the streams";
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

TEST_F(Shim, KillAndWaitReportDockersExitCodes) {
    std::string dir = make({"sleep", "1000"});
    opts_.start = true;
    opts_.restart = "always";  // a killed container is "manually stopped": never restarted
    auto ready = shim::spawn(dir, opts_);
    EXPECT_TRUE(process_alive(ready.pid));
    // The init is the shim's child (the subreaper), not the runtime's or init(1)'s.
    EXPECT_EQ(parent_of(ready.pid), ready.shim_pid);
    EXPECT_EQ(shim::Client(dir).state().status, "running");
    std::thread killer([&] {
        std::this_thread::sleep_for(200ms);
        shim::Client(dir).kill(SIGKILL);
    });
    auto exit = shim::Client(dir).wait();
    killer.join();
    EXPECT_EQ(exit.exit_code, 137);
    EXPECT_FALSE(exit.restarting);
    EXPECT_FALSE(exit.oom_killed);
    EXPECT_FALSE(process_alive(ready.pid));
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
    EXPECT_EQ(shim::read_state(dir)->restart_count, 0);

    // A signal the process handles: its own status.
    dir = make({"sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.05; done"});
    opts_.start = true;
    ready = shim::spawn(dir, opts_);
    std::this_thread::sleep_for(200ms);
    shim::Client(dir).kill(SIGTERM);
    EXPECT_EQ(shim::Client(dir).wait().exit_code, 7);
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

TEST_F(Shim, RestartOnFailureCounts) {
    std::string dir = make({"sh", "-c", "echo run; exit 2"});
    opts_.start = true;
    opts_.restart = "on-failure:2";
    auto ready = shim::spawn(dir, opts_);
    EXPECT_TRUE(wait_until([&] { return !process_alive(ready.shim_pid); }, 20s));
    auto st = shim::read_state(dir);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->status, "exited");
    EXPECT_EQ(st->restart_count, 2);
    EXPECT_EQ(st->exit_code, 2);
    int runs = 0;
    for (auto& l : log_lines(dir)) runs += l["log"] == "run\n";
    EXPECT_EQ(runs, 3) << "the first run and two restarts";
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

TEST_F(Shim, BridgeAddressIsReachableAndGoesAway) {
    std::string dir = make({"sh", "-c", "while :; do echo hello | nc -l -p 8080; done"}, false, "bridge");
    opts_.start = true;
    opts_.network.ports = {"18080:8080/tcp"};
    auto ready = shim::spawn(dir, opts_);
    ASSERT_FALSE(ready.ip.empty());
    EXPECT_EQ(ready.ip.rfind("10.61.", 0), 0u) << ready.ip;
    EXPECT_NE(support::read_file(dir + "/hosts").find(ready.ip), std::string::npos);
    // From the host side (this test's namespace), through the bridge.
    std::string got;
    EXPECT_TRUE(wait_until([&] {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(8080);
        ::inet_pton(AF_INET, ready.ip.c_str(), &a.sin_addr);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        if (ok) got = read_all(fd);
        ::close(fd);
        return ok && got == "hello\n";
    })) << got;
    EXPECT_NE(support::sh("ip -o link show").out.find("mbv"), std::string::npos) << "the host end of the veth";
    EXPECT_NE(support::sh("nft list ruleset").out.find("18080"), std::string::npos) << "the published port";
    // The address from inside is the lease.
    EXPECT_NE(support::sh("nsenter --net=" + shim::netns_path(dir) + " ip -o addr show eth0").out.find(ready.ip),
              std::string::npos);

    shim::Client(dir).shutdown();
    EXPECT_EQ(support::sh("ip -o link show").out.find("mbv"), std::string::npos) << "gone when shutdown returns";
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
    EXPECT_EQ(support::sh("nft list ruleset").out.find("18080"), std::string::npos) << "port unpublished";
    EXPECT_EQ(support::sh("find " + top_ + "/run/net -path '*/leases/*'").out, "") << "the lease is released";
}

TEST_F(Shim, KilledShimIsReapedByTheNextOne) {
    std::string dir = make({"sleep", "1000"}, false, "bridge");
    opts_.start = true;
    auto first = shim::spawn(dir, opts_);
    std::string first_id = opts_.id;
    ASSERT_EQ(::kill(first.shim_pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !process_alive(first.shim_pid); }));
    // The engine's view: the container is exited (255: its status died with the shim).
    auto st = shim::read_state(dir);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->status, "exited");
    EXPECT_EQ(st->exit_code, 255);
    EXPECT_FALSE(st->shim_alive);
    EXPECT_TRUE(process_alive(first.pid)) << "the orphaned init still runs until reaped";
    EXPECT_TRUE(fs::exists(shim::netns_path(dir)));

    // The next shim start reaps it: init killed, runtime container, cgroup, netns, veth gone.
    std::string dir2 = make({"true"});
    opts_.start = true;
    auto second = shim::spawn(dir2, opts_);
    EXPECT_FALSE(process_alive(first.pid));
    EXPECT_EQ(shim::read_state(dir)->exit_code, 255);
    shim::Client(dir2).wait();
    expect_nothing_left(dir, first_id, first.shim_pid);
    expect_nothing_left(dir2, opts_.id, second.shim_pid);
}

TEST_F(Shim, KilledShimIsReapedByCleanup) {
    std::string dir = make({"sleep", "1000"});
    opts_.start = true;
    auto ready = shim::spawn(dir, opts_);
    ASSERT_EQ(::kill(ready.shim_pid, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !process_alive(ready.shim_pid); }));
    auto reaped = shim::reap_dead();
    ASSERT_EQ(reaped.size(), 1u);
    EXPECT_EQ(reaped[0], opts_.id);
    EXPECT_FALSE(process_alive(ready.pid));
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
    EXPECT_TRUE(shim::reap_dead().empty()) << "nothing twice";
}

TEST_F(Shim, OomKillIsRecorded) {
    std::string dir = make({"sh", "-c", "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived"});
    json c = json::parse(support::read_file(dir + "/bundle/config.json"));
    c["linux"]["resources"]["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
    std::ofstream(dir + "/bundle/config.json") << c.dump(2);
    opts_.start = true;
    auto ready = shim::spawn(dir, opts_);
    auto exit = shim::Client(dir).wait();
    EXPECT_TRUE(exit.oom_killed) << "exit " << exit.exit_code;
    EXPECT_TRUE(shim::read_state(dir)->oom_killed);
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

TEST_F(Shim, ExitCommandRunsOnceAtTheEnd) {
    std::string dir = make({"sh", "-c", "exit 4"});
    opts_.start = true;
    opts_.exit_command = {"/bin/sh", "-c", "cat " + dir + "/state.json > " + dir + "/seen; echo ran >> " + dir + "/count"};
    auto ready = shim::spawn(dir, opts_);
    shim::Client(dir).wait();
    ASSERT_TRUE(wait_until([&] { return support::read_file(dir + "/count") == "ran\n"; }));
    // It ran after the end: the state it saw is final.
    EXPECT_EQ(json::parse(support::read_file(dir + "/seen"))["status"], "exited");
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(support::read_file(dir + "/count"), "ran\n") << "once";
    expect_nothing_left(dir, opts_.id, ready.shim_pid);

    // Not after a shutdown request: its caller cleans up.
    dir = make({"sleep", "100"});
    opts_.start = true;
    opts_.exit_command = {"/bin/sh", "-c", "echo ran >> " + dir + "/count"};
    ready = shim::spawn(dir, opts_);
    shim::Client(dir).shutdown();
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(fs::exists(dir + "/count"));
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

// A waiter that cleans up itself (the engine's watcher: shim::CleaningWaiter on its thread)
// keeps the shim from running the exit command; one that has gone away does not.
TEST_F(Shim, ExitCommandSkippedWhileACleaningWaiterWaits) {
    std::string dir = make({"sh", "-c", "sleep 0.5; exit 2"});
    opts_.start = true;
    opts_.exit_command = {"/bin/sh", "-c", "echo ran >> " + dir + "/count"};
    auto ready = shim::spawn(dir, opts_);
    {
        shim::CleaningWaiter cleaning;
        EXPECT_EQ(shim::Client(dir).wait().exit_code, 2);
    }
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(fs::exists(dir + "/count")) << "the exit command ran although the waiter cleans up";
    expect_nothing_left(dir, opts_.id, ready.shim_pid);

    // The cleaning waiter leaves before the exit (an engine killed while it waits): the exit
    // command runs, as for a container nobody watches.
    dir = make({"sh", "-c", "sleep 0.5; exit 3"});
    opts_.start = true;
    opts_.exit_command = {"/bin/sh", "-c", "echo ran >> " + dir + "/count"};
    ready = shim::spawn(dir, opts_);
    {
        unique_fd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::string path = shim::socket_path(dir);
        ASSERT_LT(path.size(), sizeof a.sun_path);
        std::memcpy(a.sun_path, path.c_str(), path.size());
        ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        std::string req = "{\"op\":\"wait\",\"cleanup\":true}\n";
        ASSERT_EQ(::write(c.get(), req.data(), req.size()), static_cast<ssize_t>(req.size()));
    }  // closed: gone before the exit
    EXPECT_EQ(shim::Client(dir).wait().exit_code, 3);
    ASSERT_TRUE(wait_until([&] { return support::read_file(dir + "/count") == "ran\n"; }));
    expect_nothing_left(dir, opts_.id, ready.shim_pid);
}

TEST_F(Shim, FailuresAreReportedAndLeaveNothing) {
    std::string dir = make({"/no/such/program"});
    opts_.start = true;
    try {
        shim::spawn(dir, opts_);
        ADD_FAILURE() << "spawn succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_status(), 127) << e.line();
        EXPECT_NE(e.message().find("no/such/program"), std::string::npos) << e.message();
    }
    EXPECT_TRUE(cgroups(opts_.id).empty());
    EXPECT_FALSE(fs::exists(dir + "/shim.sock"));
    EXPECT_FALSE(fs::exists(dir + "/owner"));
    EXPECT_FALSE(fs::exists(shim::netns_path(dir)));

    // Bad options never reach the host.
    dir = make({"true"});
    opts_.restart = "sometimes";
    EXPECT_THROW(shim::spawn(dir, opts_), Error);
    EXPECT_FALSE(fs::exists(dir + "/owner"));
}

}  // namespace
