// The daemonless front end as root: `step07_full run/ps/logs/exec/stop/rm/...` end to end,
// asserted from inside the container and from the host, and the host clean afterwards.
//
// Every test moves this process into a fresh network namespace of its own (unshare(2)
// CLONE_NEWNET: the bridge, veths and nft table live and die there) with private MINIBOX_RUN
// and MINIBOX_ROOT directories (the image store's `images` is a symlink to the real one), so
// nothing of the machine's own network or state is touched. Every shim the tool starts
// inherits both.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using support::run;

namespace {

std::string tool() { return support::bin("step07_full"); }

class Host {
public:
    void fresh() {
        if (::unshare(CLONE_NEWNET) < 0) {
            std::perror("unshare(CLONE_NEWNET)");
            std::abort();  // never in the machine's own namespace
        }
        if (std::system("ip link set lo up") != 0) std::abort();
        if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_forward", "w")) {
            std::fputs("0", f);
            std::fclose(f);
        }
        clear();
        char r[] = "/tmp/mbd-run-XXXXXX";
        char d[] = "/tmp/mbd-root-XXXXXX";
        if (!::mkdtemp(r) || !::mkdtemp(d)) std::abort();
        run_ = r;
        root_ = d;
        // The real store's images (busybox from scripts/make-image.sh), read-only for us.
        std::string real_images = fs::path(support::busybox_rootfs()).parent_path().parent_path().string();
        fs::create_symlink(real_images, root_ + "/images");
        ::setenv("MINIBOX_RUN", run_.c_str(), 1);
        ::setenv("MINIBOX_ROOT", root_.c_str(), 1);
        ::unsetenv("MINIBOX_BRIDGE");
        ::unsetenv("MINIBOX_SUBNET");
    }
    void clear() {
        if (run_.empty()) return;
        struct Unset {  // the next test's support::busybox_rootfs() reads the real store again
            ~Unset() {
                ::unsetenv("MINIBOX_RUN");
                ::unsetenv("MINIBOX_ROOT");
            }
        } unset;
        // Whatever a failed test left running: rm -f every container, then the directories.
        auto ids = run({tool(), "ps", "-a", "-q", "--no-trunc"});
        std::istringstream in(ids.out);
        for (std::string id; std::getline(in, id);)
            if (!id.empty()) run({tool(), "rm", "-f", id});
        fs::remove_all(run_);
        fs::remove(root_ + "/images");
        fs::remove_all(root_);
        run_.clear();
    }
    ~Host() { clear(); }
    const std::string& run_dir() const { return run_; }
    const std::string& root() const { return root_; }

private:
    std::string run_, root_;
};

Host g_host;

class Docker : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        if (!fs::exists(support::busybox_rootfs())) GTEST_SKIP() << "no busybox image: run scripts/make-image.sh";
        g_host.fresh();
    }
    void TearDown() override { g_host.clear(); }
};

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string inspect(const std::string& ref, const std::string& fmt) {
    auto r = run({tool(), "inspect", "--format", fmt, ref});
    EXPECT_EQ(r.status, 0) << r.err;
    return trim(r.out);
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 15s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return cond();
}

// The cgroup directories of container `id` (every hierarchy: v1 controllers or the v2 tree).
std::vector<std::string> cgroup_dirs(const std::string& id) {
    std::vector<std::string> out;
    for (auto& base : {std::string("/sys/fs/cgroup"), std::string("/sys/fs/cgroup/memory"), std::string("/sys/fs/cgroup/pids"),
                       std::string("/sys/fs/cgroup/cpu,cpuacct"), std::string("/sys/fs/cgroup/unified")}) {
        std::string d = base + "/minibox/docker/" + id;
        if (fs::exists(d)) out.push_back(d);
    }
    return out;
}

std::string mounts_text() { return support::read_file("/proc/self/mountinfo"); }

// What the host must look like once every container is removed.
void expect_clean(const std::string& when) {
    SCOPED_TRACE(when);
    std::string data = g_host.root() + "/docker/containers";
    if (fs::exists(data)) {
        EXPECT_TRUE(fs::is_empty(data)) << "container records are left";
    }
    std::string exec = g_host.run_dir() + "/docker";
    if (fs::exists(exec))
        for (auto& e : fs::directory_iterator(exec))
            if (e.path().filename() != "runtime") ADD_FAILURE() << "shim directory left: " << e.path();
    if (fs::exists(exec + "/runtime"))
        for (auto& e : fs::directory_iterator(exec + "/runtime"))
            if (!e.path().filename().string().starts_with("."))  // .cache: the runtime's seccomp cache
                ADD_FAILURE() << "runtime container left: " << e.path();
    EXPECT_EQ(mounts_text().find(g_host.root()), std::string::npos) << "an overlay mount is left";
    EXPECT_EQ(mounts_text().find(g_host.run_dir()), std::string::npos) << "a netns mount is left";
    auto veths = support::sh("ip -o link show type veth");
    EXPECT_EQ(trim(veths.out), "") << "veths are left";
    for (auto& base : {"/sys/fs/cgroup/memory/minibox/docker", "/sys/fs/cgroup/pids/minibox/docker", "/sys/fs/cgroup/minibox/docker"})
        if (fs::exists(base)) {
            for (auto& e : fs::directory_iterator(base))
                if (e.is_directory()) {
                    // Other tests' containers may be there (other processes): only ours matter,
                    // and ours are named by ids this test's records had. None may be left.
                    std::string id = e.path().filename().string();
                    EXPECT_FALSE(fs::exists(data + "/" + id)) << "cgroup of a removed container: " << e.path();
                }
        }
    auto ps = run({tool(), "ps", "-a", "-q"});
    EXPECT_EQ(trim(ps.out), "");
}

using support::http_get;

}  // namespace

TEST_F(Docker, RunRmEchoPrintsAndLeavesNothing) {
    auto mounts_before = support::host_mounts();
    auto r = run({tool(), "run", "--rm", "busybox", "echo", "hello from the container"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hello from the container\n");
    expect_clean("after run --rm");
    EXPECT_EQ(support::host_mounts(), mounts_before);
}

TEST_F(Docker, ExitCodesAreDockers) {
    EXPECT_EQ(run({tool(), "run", "--rm", "busybox", "sh", "-c", "exit 3"}).status, 3);
    auto nf = run({tool(), "run", "--rm", "busybox", "no-such-command-xyz"});
    EXPECT_EQ(nf.status, 127) << nf.err;
    auto ne = run({tool(), "run", "--rm", "busybox", "/etc/passwd"});
    EXPECT_EQ(ne.status, 126) << ne.err;
    auto bad = run({tool(), "run", "--rm", "-m", "lots", "busybox", "true"});
    EXPECT_EQ(bad.status, 125);
    EXPECT_NE(bad.err.find("--memory"), std::string::npos) << bad.err;
    auto noimg = run({tool(), "run", "--rm", "no-such-image", "true"});
    EXPECT_EQ(noimg.status, 125);
    EXPECT_NE(noimg.err.find("no-such-image"), std::string::npos);
    auto nosuch = run({tool(), "stop", "no-such-container"});
    EXPECT_EQ(nosuch.status, 1);
    EXPECT_NE(nosuch.err.find("No such container: no-such-container"), std::string::npos) << nosuch.err;
    expect_clean("after refusals");
}

TEST_F(Docker, DetachedLogsExecStopRm) {
    auto r = run({tool(), "run", "-d", "--name", "web", "busybox", "sh", "-c", "echo started; echo oops >&2; exec sleep 1000"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string id = trim(r.out);
    ASSERT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{64}"))) << id;

    auto ps = run({tool(), "ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Status}}"});
    EXPECT_NE(ps.out.find(id.substr(0, 12) + " web busybox Up"), std::string::npos) << ps.out;
    ASSERT_TRUE(wait_until([&] { return run({tool(), "logs", "web"}).out == "started\n"; })) << run({tool(), "logs", "web"}).out;
    auto logs = run({tool(), "logs", "web"});
    EXPECT_EQ(logs.err, "oops\n") << "stderr stays stderr";
    auto stamped = run({tool(), "logs", "-t", "--tail", "1", "web"});
    EXPECT_TRUE(std::regex_search(stamped.out + stamped.err, std::regex("^20[0-9-]+T[0-9:.]+Z "))) << stamped.out;

    // exec joins the init's namespaces: the same pid namespace as the init, seen from the host
    pid_t pid = std::stoi(inspect("web", "{{.State.Pid}}"));
    ASSERT_GT(pid, 0);
    auto ns = run({tool(), "exec", "web", "readlink", "/proc/self/ns/pid"});
    EXPECT_EQ(ns.status, 0) << ns.err;
    EXPECT_EQ(trim(ns.out), support::ns_link(pid, "pid"));
    EXPECT_NE(trim(ns.out), support::ns_link(0, "pid"));
    EXPECT_EQ(trim(run({tool(), "exec", "web", "hostname"}).out), id.substr(0, 12));
    auto env = run({tool(), "exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "65534", "web", "sh", "-c", "echo $FOO $(pwd) $(id -u)"});
    EXPECT_EQ(trim(env.out), "bar /tmp 65534") << env.err;
    EXPECT_EQ(run({tool(), "exec", "web", "sh", "-c", "exit 7"}).status, 7);
    // its capabilities are the container's: CAP_SYS_ADMIN is not among Docker's 14
    auto caps = run({tool(), "exec", "web", "sh", "-c", "grep CapBnd /proc/self/status"});
    EXPECT_NE(caps.out.find("00000000a80425fb"), std::string::npos) << caps.out;

    // the host side while it runs
    EXPECT_FALSE(cgroup_dirs(id).empty());
    EXPECT_NE(mounts_text().find(g_host.root() + "/docker/containers/" + id + "/merged"), std::string::npos);
    EXPECT_NE(trim(support::sh("ip -o link show type veth").out), "");

    auto top = run({tool(), "top", "web"});
    EXPECT_NE(top.out.find("sleep 1000"), std::string::npos) << top.out;
    auto stats = run({tool(), "stats", "--no-stream", "web"});
    EXPECT_NE(stats.out.find("web"), std::string::npos) << stats.out;

    auto stop = run({tool(), "stop", "-t", "1", "web"});
    EXPECT_EQ(stop.status, 0) << stop.err;
    EXPECT_EQ(trim(stop.out), "web");
    EXPECT_EQ(inspect("web", "{{.State.Status}}"), "exited");
    std::string code = inspect("web", "{{.State.ExitCode}}");
    EXPECT_TRUE(code == "137" || code == "143") << code;  // sh as PID 1 ignores SIGTERM: killed
    EXPECT_EQ(run({tool(), "ps", "-q"}).out, "") << "ps without -a: only running ones";
    EXPECT_NE(run({tool(), "ps", "-a"}).out.find("Exited (" + code + ")"), std::string::npos);
    EXPECT_TRUE(cgroup_dirs(id).empty()) << "a stopped container has no cgroup";
    EXPECT_EQ(mounts_text().find(g_host.root() + "/docker/containers/" + id + "/merged"), std::string::npos)
        << "a stopped container's root is unmounted";

    // start again: a new life, the same record, the log goes on
    ASSERT_EQ(run({tool(), "start", "web"}).status, 0);
    EXPECT_EQ(inspect("web", "{{.State.Running}}"), "true");
    EXPECT_EQ(run({tool(), "rm", "web"}).status, 1) << "a running container is not removed without -f";
    EXPECT_EQ(run({tool(), "rm", "-f", "web"}).status, 0);
    expect_clean("after rm -f");
}

TEST_F(Docker, NamesPrefixesAndRename) {
    // A PID 1 has no default signal actions (step 02): it exits on TERM only with a handler.
    auto a = run({tool(), "run", "-d", "--name", "one", "busybox", "sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done"});
    ASSERT_EQ(a.status, 0) << a.err;
    std::string id = trim(a.out);
    auto dup = run({tool(), "run", "-d", "--name", "one", "busybox", "true"});
    EXPECT_EQ(dup.status, 125);
    EXPECT_NE(dup.err.find("Conflict. The container name \"/one\" is already in use by container \"" + id), std::string::npos) << dup.err;
    EXPECT_EQ(inspect(id.substr(0, 5), "{{.Name}}"), "/one");
    EXPECT_EQ(inspect(id, "{{.Id}}"), id);
    auto b = run({tool(), "run", "-d", "busybox", "sleep", "1000"});
    ASSERT_EQ(b.status, 0);
    std::string generated = inspect(trim(b.out), "{{.Name}}");
    EXPECT_TRUE(std::regex_match(generated, std::regex("/[a-z]+_[a-z]+"))) << generated;
    EXPECT_EQ(run({tool(), "rename", "one", "two"}).status, 0);
    EXPECT_EQ(inspect(id, "{{.Name}}"), "/two");
    EXPECT_EQ(run({tool(), "inspect", "one"}).status, 1);
    EXPECT_EQ(run({tool(), "rename", "two", generated.substr(1)}).status, 125) << "a taken name";
    // kill, pause and exec of a docker container by name are the front end's, not runc's
    EXPECT_EQ(run({tool(), "pause", "two"}).status, 0);
    EXPECT_EQ(inspect("two", "{{.State.Status}}"), "paused");
    EXPECT_EQ(run({tool(), "unpause", "two"}).status, 0);
    EXPECT_EQ(run({tool(), "kill", "-s", "TERM", "two"}).status, 0);
    EXPECT_EQ(trim(run({tool(), "wait", "two"}).out), "42");
    auto prune = run({tool(), "container", "prune", "-f"});
    EXPECT_NE(prune.out.find(id), std::string::npos) << prune.out;
    EXPECT_EQ(run({tool(), "rm", "-f", trim(b.out).substr(0, 12)}).status, 0);
    expect_clean("after rm");
}

TEST_F(Docker, RestartOnFailureTwice) {
    auto r = run({tool(), "run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 3"});
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(wait_until([&] {
        return inspect("flaky", "{{.State.Status}}") == "exited" && inspect("flaky", "{{.RestartCount}}") == "2";
    }, 30s)) << inspect("flaky", "{{json .State}}") << " restarts " << inspect("flaky", "{{.RestartCount}}");
    EXPECT_EQ(inspect("flaky", "{{.State.ExitCode}}"), "3");
    EXPECT_EQ(run({tool(), "logs", "flaky"}).out, "try\ntry\ntry\n") << "the first run and two restarts";
    EXPECT_EQ(run({tool(), "rm", "flaky"}).status, 0);
    expect_clean("after rm");
}

TEST_F(Docker, PublishedPortAnswersFromTheHost) {
    auto r = run({tool(), "run", "-d", "--name", "www", "-p", "18090:80", "busybox", "sh", "-c",
                  "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 80 -h /www"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string got;
    EXPECT_TRUE(wait_until([&] { return (got = http_get(18090)).find("hello-web") != std::string::npos; })) << got;
    EXPECT_NE(inspect("www", "{{.NetworkSettings.IPAddress}}"), "");
    EXPECT_EQ(trim(run({tool(), "port", "www"}).out), "80/tcp -> 0.0.0.0:18090");
    EXPECT_EQ(run({tool(), "rm", "-f", "www"}).status, 0);
    EXPECT_EQ(http_get(18090), "") << "nothing answers once it is removed";
    expect_clean("after rm -f");
}

TEST_F(Docker, LimitsAreSeenInTheCgroupFromTheHost) {
    auto r = run({tool(), "run", "-d", "-m", "64m", "--pids-limit", "20", "--cpus", "0.5", "busybox", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string id = trim(r.out);
    auto dirs = cgroup_dirs(id);
    ASSERT_FALSE(dirs.empty());
    std::string mem, pids;
    for (auto& d : dirs) {
        if (fs::exists(d + "/memory.max")) mem = trim(support::read_file(d + "/memory.max"));
        if (fs::exists(d + "/memory.limit_in_bytes")) mem = trim(support::read_file(d + "/memory.limit_in_bytes"));
        if (fs::exists(d + "/pids.max")) pids = trim(support::read_file(d + "/pids.max"));
    }
    EXPECT_EQ(mem, "67108864");
    EXPECT_EQ(pids, "20");
    EXPECT_EQ(inspect(id, "{{.HostConfig.Memory}}"), "67108864");
    EXPECT_EQ(inspect(id, "{{.HostConfig.PidsLimit}}"), "20");
    // the limit holds inside: 30 sleeping children cannot all start
    auto fork_bomb = run({tool(), "exec", id, "sh", "-c", "for i in $(seq 30); do sleep 100 </dev/null >/dev/null 2>&1 & done 2>/dev/null; sleep 0.2; ps | grep -c 'sleep 100'"});
    EXPECT_LT(std::stoi(trim(fork_bomb.out).empty() ? "0" : trim(fork_bomb.out)), 30) << fork_bomb.out << fork_bomb.err;
    EXPECT_EQ(run({tool(), "rm", "-f", id}).status, 0);
    EXPECT_TRUE(cgroup_dirs(id).empty());
    expect_clean("after rm -f");
}

TEST_F(Docker, DryRunPrintsTheConfigAndMakesNothing) {
    auto r = run({tool(), "run", "--dry-run", "-m", "64m", "--cap-add", "NET_ADMIN", "busybox", "echo", "hi"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["process"]["args"], nlohmann::json({"echo", "hi"}));
    EXPECT_EQ(j["linux"]["resources"]["memory"]["limit"], 64 << 20);
    EXPECT_FALSE(fs::exists(g_host.root() + "/docker/containers") && !fs::is_empty(g_host.root() + "/docker/containers"));
    expect_clean("after --dry-run");
}

TEST_F(Docker, RuncFormsStayRuncs) {
    // `run --bundle` and `ps ID` are the runtime's; so are lines with a global --root.
    auto spec = run({tool(), "--root", g_host.run_dir() + "/rt", "list", "-q"});
    EXPECT_EQ(spec.status, 0) << spec.err;
    auto ps = run({tool(), "ps", "no-such-runtime-container"});
    EXPECT_EQ(ps.status, 1) << "runc's ps: " << ps.err;
    EXPECT_EQ(ps.err.find("unknown flag"), std::string::npos);
}

TEST_F(Docker, AKilledShimOrCliLeavesNothingTheNextCommandCannotClean) {
    auto r = run({tool(), "run", "-d", "--name", "victim", "-p", "18091:80", "-m", "32m", "busybox", "sleep", "1000"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string id = trim(r.out);
    // The shim is the init's parent (a subreaper).
    pid_t init = std::stoi(inspect("victim", "{{.State.Pid}}"));
    std::string stat = support::read_file("/proc/" + std::to_string(init) + "/stat");
    pid_t shim = std::stoi(stat.substr(stat.rfind(')') + 4).substr(0, stat.substr(stat.rfind(')') + 4).find(' ')));
    ASSERT_EQ(::kill(shim, SIGKILL), 0);
    EXPECT_TRUE(wait_until([&] { return inspect("victim", "{{.State.Status}}") == "exited"; }))
        << inspect("victim", "{{json .State}}");
    EXPECT_EQ(run({tool(), "rm", "victim"}).status, 0);
    EXPECT_TRUE(cgroup_dirs(id).empty());
    expect_clean("after a killed shim and rm");

    // The CLI killed at several moments of a run -d: the next run cleans what it left.
    for (int ms : {5, 30, 80, 150, 300}) {
        {
            support::Background bg({tool(), "run", "-d", "-p", "18092:80", "busybox", "sleep", "1000"});
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            bg.signal(SIGKILL);
            bg.wait();
        }
        std::this_thread::sleep_for(11s / 10);
        auto next = run({tool(), "run", "--rm", "busybox", "true"});
        EXPECT_EQ(next.status, 0) << "after a CLI killed at " << ms << " ms: " << next.err;
        auto ids = run({tool(), "ps", "-a", "-q", "--no-trunc"});
        std::istringstream in(ids.out);
        for (std::string x; std::getline(in, x);)
            if (!x.empty()) {
                EXPECT_EQ(run({tool(), "rm", "-f", x}).status, 0);
            }
    }
    std::this_thread::sleep_for(11s);  // records younger than 10 s without an owner are left alone
    run({tool(), "run", "--rm", "busybox", "true"});
    expect_clean("after killed CLIs and the next runs");
}

// ps --filter: Docker's keys, alternatives within a key, every key required; checked against
// the host (the running one's init is alive, the exited ones' are not).
TEST_F(Docker, PsFilters) {
    auto up = run({tool(), "run", "-d", "--name", "f-up", "-l", "tier=web", "-l", "team=a", "busybox", "sleep", "1000"});
    ASSERT_EQ(up.status, 0) << up.err;
    std::string up_id = trim(up.out);
    ASSERT_EQ(run({tool(), "run", "--name", "f-three", "-l", "tier=db", "busybox", "sh", "-c", "exit 3"}).status, 3);
    ASSERT_EQ(run({tool(), "run", "--name", "f-zero", "busybox", "true"}).status, 0);
    auto names = [&](std::vector<std::string> extra) {
        std::vector<std::string> v = {tool(), "ps", "--format", "{{.Names}}"};
        v.insert(v.end(), extra.begin(), extra.end());
        auto r = run(v);
        EXPECT_EQ(r.status, 0) << r.err;
        std::vector<std::string> out;
        std::istringstream in(r.out);
        for (std::string l; std::getline(in, l);) out.push_back(l);
        std::sort(out.begin(), out.end());
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(names({"--filter", "status=running"}), V{"f-up"});
    EXPECT_EQ(names({"--filter", "status=exited"}), (V{"f-three", "f-zero"})) << "status=exited needs no -a";
    EXPECT_EQ(names({"-f", "exited=3"}), V{"f-three"});
    EXPECT_EQ(names({"-a", "-f", "label=tier"}), (V{"f-three", "f-up"}));
    EXPECT_EQ(names({"-a", "-f", "label=tier=db"}), V{"f-three"});
    EXPECT_EQ(names({"-a", "-f", "label=tier=web", "-f", "label=team=b"}), V{}) << "every label must match";
    EXPECT_EQ(names({"-a", "-f", "name=f-z"}), V{"f-zero"}) << "a name is matched as a substring (regexp)";
    EXPECT_EQ(names({"-a", "-f", "name=^/f-t"}), V{"f-three"});
    EXPECT_EQ(names({"-a", "-f", "id=" + up_id.substr(0, 6)}), V{"f-up"});
    EXPECT_EQ(names({"-a", "-f", "ancestor=busybox:latest", "-f", "status=exited"}), (V{"f-three", "f-zero"}));
    EXPECT_EQ(names({"-a", "-f", "ancestor=alpine"}), V{});
    EXPECT_EQ(names({"-a", "-f", "status=exited", "-f", "status=running"}), (V{"f-three", "f-up", "f-zero"}));
    EXPECT_EQ(names({"-a", "-f", "since=f-three"}), V{"f-zero"});
    EXPECT_EQ(names({"-a", "-f", "before=f-three"}), V{"f-up"});
    auto q = run({tool(), "ps", "-q", "--no-trunc", "-f", "label=team=a"});
    EXPECT_EQ(trim(q.out), up_id);
    auto labels = run({tool(), "ps", "--format", "{{.Labels}}", "-f", "name=f-up"});
    EXPECT_EQ(trim(labels.out), "team=a,tier=web");
    auto label = run({tool(), "ps", "-a", "--format", "{{.Label \"tier\"}}:{{.Names}}", "-f", "label=tier"});
    EXPECT_EQ(label.out, "db:f-three\nweb:f-up\n") << label.err;
    auto bad = run({tool(), "ps", "-f", "colour=red"});
    EXPECT_EQ(bad.status, 125);
    EXPECT_NE(bad.err.find("Invalid filter 'colour'"), std::string::npos) << bad.err;
    EXPECT_EQ(run({tool(), "ps", "-f", "status=sleeping"}).status, 125);
    EXPECT_EQ(run({tool(), "ps", "-f", "novalue"}).status, 125);
    // the host: what status=running lists runs, what status=exited lists does not
    pid_t pid = std::stoi(inspect("f-up", "{{.State.Pid}}"));
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(fs::exists("/proc/" + std::to_string(pid)));
    EXPECT_EQ(inspect("f-three", "{{.State.Pid}}"), "0");
    EXPECT_TRUE(cgroup_dirs(trim(run({tool(), "ps", "-aq", "--no-trunc", "-f", "name=f-three"}).out)).empty());
    EXPECT_FALSE(cgroup_dirs(up_id).empty());
    for (auto n : {"f-up", "f-three", "f-zero"}) EXPECT_EQ(run({tool(), "rm", "-f", n}).status, 0);
    expect_clean("after rm -f");
}

// Volumes without a daemon: the same store under the data root as the engine's.
TEST_F(Docker, NamedAndAnonymousVolumes) {
    std::string vols = g_host.root() + "/docker/volumes";
    auto c = run({tool(), "volume", "create", "v1"});
    ASSERT_EQ(c.status, 0) << c.err;
    EXPECT_EQ(trim(c.out), "v1");
    EXPECT_TRUE(fs::is_directory(vols + "/v1/_data"));
    EXPECT_EQ(run({tool(), "run", "--rm", "--network", "none", "-v", "v1:/data", "busybox", "sh", "-c", "echo in-volume > /data/f"}).status, 0);
    EXPECT_EQ(support::read_file(vols + "/v1/_data/f"), "in-volume\n") << "the host sees the container's write";
    auto again = run({tool(), "run", "--rm", "--network", "none", "-v", "v1:/data", "busybox", "cat", "/data/f"});
    EXPECT_EQ(again.out, "in-volume\n") << again.err;
    // copy-up: a new volume over /etc starts with the image's /etc
    EXPECT_EQ(run({tool(), "run", "--rm", "--network", "none", "-v", "v2:/etc", "busybox", "true"}).status, 0);
    EXPECT_EQ(support::read_file(vols + "/v2/_data/passwd"), support::read_file(support::busybox_rootfs() + "/etc/passwd"));
    // an anonymous volume: listed, gone with rm -v; the named one stays
    auto a = run({tool(), "run", "-d", "--name", "anon", "--network", "none", "-v", "/scratch", "-v", "v1:/data", "busybox", "sleep", "1000"});
    ASSERT_EQ(a.status, 0) << a.err;
    std::string name;
    for (auto& m : nlohmann::json::parse(inspect("anon", "{{json .Mounts}}")))
        if (m["Destination"] == "/scratch" && m["Type"] == "volume") name = m["Name"];
    ASSERT_EQ(name.size(), 64u) << name;
    EXPECT_NE(run({tool(), "volume", "ls"}).out.find(name), std::string::npos);
    auto busy = run({tool(), "volume", "rm", "v1"});
    EXPECT_EQ(busy.status, 1);
    EXPECT_NE(busy.err.find("volume is in use"), std::string::npos) << busy.err;
    EXPECT_EQ(run({tool(), "rm", "-f", "-v", "anon"}).status, 0);
    EXPECT_FALSE(fs::exists(vols + "/" + name)) << "rm -v removed the anonymous volume";
    EXPECT_TRUE(fs::exists(vols + "/v1/_data/f"));
    // --rm takes its anonymous volumes too
    EXPECT_EQ(run({tool(), "run", "--rm", "--network", "none", "-v", "/tmpvol", "busybox", "true"}).status, 0);
    auto ls = run({tool(), "volume", "ls", "-q"});
    EXPECT_EQ(trim(ls.out), "v1\nv2") << ls.out;
    EXPECT_EQ(run({tool(), "volume", "rm", "v1", "v2"}).status, 0);
    EXPECT_FALSE(fs::exists(vols + "/v1"));
    EXPECT_EQ(run({tool(), "run", "--rm", "-v", "b@d:/x", "busybox", "true"}).status, 125);
    expect_clean("after volume rm");
}

TEST_F(Docker, RandomHostPortAnswers) {
    auto r = run({tool(), "run", "-d", "--name", "rnd", "-p", "80", "busybox", "sh", "-c",
                  "mkdir -p /www && echo hello-rnd > /www/index.html && exec httpd -f -p 80 -h /www"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string p = trim(run({tool(), "port", "rnd", "80"}).out);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(p, m, std::regex("0\\.0\\.0\\.0:([0-9]+)"))) << p;
    int port = std::stoi(m[1]);
    std::string got;
    EXPECT_TRUE(wait_until([&] { return (got = http_get(port)).find("hello-rnd") != std::string::npos; })) << got;
    EXPECT_EQ(run({tool(), "rm", "-f", "rnd"}).status, 0);
    EXPECT_EQ(http_get(port), "");
    expect_clean("after rm -f");
}

TEST_F(Docker, PrivilegedSeesHostDevices) {
    std::string dev;
    for (auto& e : fs::directory_iterator("/dev"))
        if (e.is_block_file()) {
            dev = e.path().string();
            break;
        }
    if (dev.empty()) dev = "/dev/kmsg";
    std::string script = "(exec 3<" + dev + ") 2>/dev/null && echo opened; grep Seccomp: /proc/self/status";
    auto p = run({tool(), "run", "--rm", "--privileged", "--network", "none", "busybox", "sh", "-c", script});
    EXPECT_EQ(p.status, 0) << p.err;
    EXPECT_NE(p.out.find("opened"), std::string::npos) << dev << ": " << p.out;
    EXPECT_NE(p.out.find("Seccomp:\t0"), std::string::npos) << p.out;
    auto n = run({tool(), "run", "--rm", "--network", "none", "busybox", "sh", "-c", script});
    EXPECT_EQ(n.out.find("opened"), std::string::npos) << n.out;
    // --dry-run shows the device entries the runtime is given (the host's node, its numbers)
    auto dry = run({tool(), "run", "--dry-run", "--privileged", "busybox", "true"});
    ASSERT_EQ(dry.status, 0) << dry.err;
    auto cfg = nlohmann::json::parse(dry.out);
    struct stat st {};
    ASSERT_EQ(::stat(dev.c_str(), &st), 0);
    bool found = false;
    for (auto& d : cfg["linux"]["devices"])
        found = found || (d["path"] == dev && d["major"] == major(st.st_rdev) && d["minor"] == minor(st.st_rdev));
    EXPECT_TRUE(found) << dev;
    expect_clean("after run --rm");
}

// stats without --no-stream: a table a second until stopped; its PIDS column is the
// container's pids cgroup's count on the host.
TEST_F(Docker, StatsStreams) {
    auto r = run({tool(), "run", "-d", "--name", "sw", "--network", "none", "busybox", "sh", "-c", "sleep 1000 & sleep 1000"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string id = trim(r.out);
    auto st = support::sh("timeout 3.5 " + tool() + " stats sw; true");
    size_t tables = 0;
    for (size_t at = 0; (at = st.out.find("CONTAINER ID", at)) != std::string::npos; ++at) ++tables;
    EXPECT_GE(tables, 3u) << st.out << st.err;
    EXPECT_LE(tables, 5u) << "about one a second: " << st.out;
    std::string last = st.out.substr(st.out.rfind(id.substr(0, 12)));
    last = last.substr(0, last.find('\n'));
    std::string pids = last.substr(last.find_last_of(' ') + 1);
    std::string host;
    for (auto& d : cgroup_dirs(id))
        if (fs::exists(d + "/pids.current")) host = trim(support::read_file(d + "/pids.current"));
    ASSERT_FALSE(host.empty()) << "no pids cgroup for " << id;
    EXPECT_EQ(pids, host) << last;
    EXPECT_GE(std::atoi(pids.c_str()), 2) << "the two sleeps (busybox sh execs its last command)";
    EXPECT_EQ(run({tool(), "rm", "-f", "sw"}).status, 0);
    expect_clean("after rm -f");
}
