// Fault injection: "nothing leaks" proven at every kernel operation of steps 03-07.
//
// For each step: one run counts its narrated operations (MINIBOX_FAULT_COUNT=FILE lists them),
// then one run per operation fails exactly that one (MINIBOX_FAULT=N, errno EIO). After each:
// exit 125, one line on stderr naming the call, and the host exactly as before the sweep:
// mounts, links, the nft ruleset, the run directory (leases, records, generated files), the image
// store (overlay and container directories; the image tree with sizes and times), and no new
// cgroup under minibox/ in any hierarchy. Then the same with SIGKILL of the tool at each --step
// pause (driven over a pty), followed by one ordinary start that must reap what the killed one
// left.
//
// The "host" is this process's own network and mount namespaces (unshare(CLONE_NEWNET|
// CLONE_NEWNS), mounts private), with its own MINIBOX_RUN and MINIBOX_ROOT; only cgroups are the
// machine's, where other runs may come and go: a cgroup counts as leaked when it is new, empty
// and still there a second later.
//
// Every operation and every pause is covered (about 10 s for the four sweeps of operations on a
// 2-CPU VM); MINIBOX_FAULT_SWEEP=quick fails only 12 operations and 8 pauses per step, spread out.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "support.hpp"

namespace fs = std::filesystem;
using support::bin;
using support::run;

namespace {

std::string g_tmp, g_run, g_root, g_vol;
bool g_ready = false;

std::string sh_out(const std::string& cmd) { return support::sh(cmd).out; }

// ---------------------------------------------------------------------------------------------
// The host's state, as text: equal snapshots mean nothing changed.

std::string tree(const std::string& dir, bool times) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::none, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::string p = it->path().string();
        if (p.size() > 5 && p.substr(p.size() - 5) == ".lock") continue;  // locks stay by design
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) continue;
        std::string line = p.substr(dir.size()) + " " + std::to_string(st.st_mode);
        if (!S_ISDIR(st.st_mode)) line += " " + std::to_string(st.st_size);
        if (times) line += " " + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
        out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    std::string s;
    for (auto& l : out) s += l + "\n";
    return s;
}

std::string mounts() {
    std::vector<std::string> out;
    std::ifstream f("/proc/self/mountinfo");
    for (std::string line; std::getline(f, line);) {
        std::istringstream in(line);
        std::string id, parent, dev, root, point;
        in >> id >> parent >> dev >> root >> point;
        auto dash = line.find(" - ");
        out.push_back(point + " " + line.substr(dash + 3, line.find(' ', dash + 3) - dash - 3));
    }
    std::sort(out.begin(), out.end());
    std::string s;
    for (auto& l : out) s += l + "\n";
    return s;
}

// Cgroup directories under minibox/ in every hierarchy, each with "empty" or "busy".
std::map<std::string, bool> cgroups() {
    std::map<std::string, bool> out;
    std::error_code ec;
    for (auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        std::string parent = h.path().string() + "/minibox";
        for (auto& c : fs::directory_iterator(parent, ec)) {
            if (!c.is_directory()) continue;
            std::string procs = support::read_file(c.path().string() + "/cgroup.procs");
            out[c.path().string()] = procs.empty();
        }
    }
    return out;
}

struct Snapshot {
    std::string mounts, links, tables, run_dir, store, image;
    std::map<std::string, bool> cgroups;
    bool operator==(const Snapshot& o) const {
        return mounts == o.mounts && links == o.links && tables == o.tables && run_dir == o.run_dir &&
               store == o.store && image == o.image;
    }
};

Snapshot snapshot() {
    Snapshot s;
    s.mounts = mounts();
    s.links = sh_out("ip -o link show | cut -d: -f2 | sort");
    // The whole ruleset, not only the table names: a published port left in a map is a leak too.
    s.tables = sh_out("nft list ruleset");
    s.run_dir = tree(g_run, false);
    s.store = tree(g_root, false);
    s.image = tree(g_root + "/images", true);
    s.cgroups = cgroups();
    return s;
}

// What differs, for the failure message.
std::string diff(const Snapshot& a, const Snapshot& b) {
    std::string d;
    auto one = [&](const char* what, const std::string& x, const std::string& y) {
        if (x != y) d += std::string(what) + ":\n--- before\n" + x + "--- after\n" + y;
    };
    one("mounts", a.mounts, b.mounts);
    one("links", a.links, b.links);
    one("nft ruleset", a.tables, b.tables);
    one("run dir", a.run_dir, b.run_dir);
    one("store", a.store, b.store);
    one("image", a.image, b.image);
    return d;
}

// New, empty cgroups that stay: leaked. (Other runs on the machine make busy ones, and
// remove theirs.)
std::vector<std::string> leaked_cgroups(const Snapshot& before) {
    std::vector<std::string> out;
    for (int attempt = 0; attempt < 2; ++attempt) {
        out.clear();
        for (auto& [dir, empty] : cgroups())
            if (empty && !before.cgroups.count(dir)) out.push_back(dir);
        if (out.empty()) break;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return out;
}

// Numbers vary from run to run (pids, start times, hex container ids in paths): compare with
// every run of hex digits that holds a decimal digit replaced by '#'.
std::string without_digits(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        size_t j = i;
        bool digit = false;
        while (j < s.size() && std::isxdigit(static_cast<unsigned char>(s[j])) && !std::isupper(static_cast<unsigned char>(s[j])))
            digit |= std::isdigit(static_cast<unsigned char>(s[j++])) != 0;
        if (j > i && digit) {
            out += '#';
            i = j;
        } else if (j > i) {
            out.append(s, i, j - i);
            i = j;
        } else {
            out += s[i++];
        }
    }
    return out;
}

// A moment for what the kernel finishes by itself after a run (a dead container's network
// namespace and its veth are freed asynchronously).
Snapshot settled() {
    Snapshot s = snapshot();
    for (int i = 0; i < 60 && s.links.find("mbv") != std::string::npos; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        s = snapshot();
    }
    return s;
}

// The host as before, allowing the kernel a moment: a dead container's network namespace (and
// with it its veth) is freed asynchronously.
void expect_host_as(const Snapshot& before, const std::string& when) {
    Snapshot now;
    for (int i = 0; i < 40; ++i) {
        now = snapshot();
        if (now == before) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(now == before) << when << "\n" << diff(before, now);
    auto leaked = leaked_cgroups(before);
    EXPECT_TRUE(leaked.empty()) << when << ": cgroup left: " << leaked.front();
}

// ---------------------------------------------------------------------------------------------
// The stand-in host, made once for the whole process.

void make_host() {
    if (g_ready) return;
    if (::unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) std::abort();
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) std::abort();
    char tmpl[] = "/tmp/minibox-fault-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    g_tmp = tmpl;
    g_run = g_tmp + "/run";
    g_root = g_tmp + "/root";
    g_vol = g_tmp + "/vol";
    fs::create_directories(g_run);
    fs::create_directories(g_root + "/images/busybox");
    fs::create_directories(g_vol);
    auto cp = support::sh("cp -a '" + support::busybox_rootfs() + "' '" + g_root + "/images/busybox/rootfs'");
    if (cp.status != 0) std::abort();
    ::setenv("MINIBOX_RUN", g_run.c_str(), 1);
    ::setenv("MINIBOX_ROOT", g_root.c_str(), 1);
    for (const char* v : {"MINIBOX_BRIDGE", "MINIBOX_SUBNET", "MINIBOX_NETWORK", "MINIBOX_FAULT", "MINIBOX_FAULT_COUNT"})
        ::unsetenv(v);
    if (std::system("ip link set lo up") != 0) std::abort();
    std::ofstream("/proc/sys/net/ipv4/ip_forward") << "0";
    g_ready = true;
}

// One call per line: "N<TAB>call".
std::vector<std::string> count_ops(const std::vector<std::string>& argv) {
    std::string file = g_tmp + "/ops";
    fs::remove(file);
    ::setenv("MINIBOX_FAULT_COUNT", file.c_str(), 1);
    auto r = run(argv);
    ::unsetenv("MINIBOX_FAULT_COUNT");
    EXPECT_EQ(r.status, 0) << r.err;
    std::vector<std::string> ops;
    std::ifstream f(file);
    for (std::string line; std::getline(f, line);) ops.push_back(line.substr(line.find('\t') + 1));
    return ops;
}

// The operations to fail: all of them, or (the CI default) at most `cap`, spread evenly.
std::vector<size_t> chosen(size_t n, size_t cap) {
    const char* quick = std::getenv("MINIBOX_FAULT_SWEEP");
    if (quick && std::string(quick) == "quick") cap = std::min<size_t>(cap, n > 30 ? 12 : 8);
    std::vector<size_t> out;
    if (n <= cap) {
        for (size_t i = 1; i <= n; ++i) out.push_back(i);
        return out;
    }
    for (size_t k = 0; k < cap; ++k) out.push_back(1 + k * (n - 1) / (cap - 1));
    return out;
}

void sweep(const std::string& step, const std::vector<std::string>& argv) {
    make_host();
    // A first run makes what is meant to stay (the bridge, its rules, state directories).
    auto warm = run(argv);
    ASSERT_EQ(warm.status, 0) << warm.err;
    Snapshot before = settled();
    auto ops = count_ops(argv);
    ASSERT_FALSE(ops.empty());
    expect_host_as(before, step + " after the counting run");
    auto which = chosen(ops.size(), 1000);
    std::printf("[ fault    ] %s: %zu operations, failing %zu of them\n", step.c_str(), ops.size(), which.size());
    for (size_t n : which) {
        const std::string& call = ops[n - 1];
        ::setenv("MINIBOX_FAULT", std::to_string(n).c_str(), 1);
        auto r = run(argv);
        ::unsetenv("MINIBOX_FAULT");
        std::string when = step + ": operation " + std::to_string(n) + " failed: " + call;
        EXPECT_EQ(r.status, 125) << when << "\n" << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << when << "\n" << r.err;
        EXPECT_NE(without_digits(r.err).find(without_digits(call) + ": "), std::string::npos) << when << "\n" << r.err;
        EXPECT_NE(r.err.find("Input/output error"), std::string::npos) << when << "\n" << r.err;
        expect_host_as(before, when);
    }
}

// Runs `argv` on a pty (--step wants a terminal), answering Enter to every pause but the
// `kill_at`-th, where the tool gets SIGKILL (0: answer all, let it end). Returns the pauses seen.
struct PtyRun {
    size_t pauses = 0;
    int status = -1;
    std::string seen;
    std::vector<pid_t> children;  // the tool's children when it was killed
};
PtyRun on_pty(const std::vector<std::string>& argv, size_t kill_at) {
    PtyRun out;
    int master = -1;
    pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0) return out;
    if (pid == 0) {
        std::vector<char*> a;
        for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        ::execv(a[0], a.data());
        ::_exit(127);
    }
    size_t at = 0;
    bool killed = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!killed && std::chrono::steady_clock::now() < deadline) {
        pollfd p{master, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;  // EIO: the tool (and everything on the pty) has ended
        out.seen.append(buf, static_cast<size_t>(n));
        for (size_t q; (q = out.seen.find("press Enter to continue", at)) != std::string::npos;) {
            at = q + 1;
            ++out.pauses;
            if (out.pauses == kill_at) {
                // The container (if cloned yet) dies by its PDEATHSIG after the tool, a moment
                // later: remember it, and wait for it below, as a user's next command would
                // come after it (its bound host ports are released by its exit).
                out.children = support::children_of(pid);
                ::kill(pid, SIGKILL);
                killed = true;
                break;
            }
            (void)!::write(master, "\r", 1);
        }
    }
    if (!killed && std::chrono::steady_clock::now() >= deadline) ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    for (pid_t c : out.children) {
        for (int i = 0; i < 100; ++i) {
            std::string st = support::read_file("/proc/" + std::to_string(c) + "/stat");
            auto close = st.rfind(')');
            if (st.empty() || (close != std::string::npos && st.size() > close + 2 && st[close + 2] == 'Z')) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ::close(master);
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return out;
}

// --step over a pty: SIGKILL at the k-th pause, for each k; then one ordinary run reaps.
void kill_at_pauses(const std::string& step, std::vector<std::string> argv) {
    auto warm = run(argv);
    ASSERT_EQ(warm.status, 0) << warm.err;
    Snapshot before = settled();
    std::vector<std::string> stepped = argv;
    stepped.insert(stepped.begin() + (step == "step06" ? 2 : 1), "--step");
    auto all = on_pty(stepped, 0);
    ASSERT_EQ(all.status, 0) << all.seen;
    ASSERT_GT(all.pauses, 0u);
    expect_host_as(before, step + " after a --step run answered to the end");
    auto which = chosen(all.pauses, 1000);
    std::printf("[ fault    ] %s: %zu --step pauses, SIGKILL at %zu of them\n", step.c_str(), all.pauses, which.size());
    for (size_t k : which) {
        std::string when = step + ": SIGKILL at --step pause " + std::to_string(k);
        auto r = on_pty(stepped, k);
        EXPECT_EQ(r.pauses, k) << when << "\n" << r.seen;
        EXPECT_EQ(r.status, 128 + SIGKILL) << when;
        // The next start reaps what the killed tool left; after it the host is as before.
        auto next = run(argv);
        EXPECT_EQ(next.status, 0) << when << ": the next start\n" << next.err;
        expect_host_as(before, when + ", then one start");
    }
}

std::vector<std::string> step03() { return {bin("step03_mnt"), "--read-only", "-v", g_vol + ":/tmp/v", "true"}; }
std::vector<std::string> step04() { return {bin("step04_net"), "-p", "18190:80", "-v", g_vol + ":/tmp/v", "true"}; }
std::vector<std::string> step05() {
    return {bin("step05_cgroups"), "-m", "64m", "--pids-limit", "64", "--cpus", "0.5", "--network", "none", "true"};
}
std::vector<std::string> step06() {
    return {bin("step06_overlay"), "run", "-v", g_vol + ":/newdir", "-p", "18191:80", "-m", "64m", "busybox", "true"};
}

// step07: `run` of the default bundle (`step07_full spec`: six namespaces, the mounts, masks,
// capabilities, Docker's seccomp profile, the cgroup with its device rules), which goes through
// every operation of `create` (the cgroup in every hierarchy, the clone, the init's setup up to
// its exec) and then start, wait and delete. The runtime's root is under the stand-in image
// store, so a state directory or fifo left behind shows in the snapshot.
std::vector<std::string> step07() {
    std::string bundle = g_tmp + "/bundle07";
    if (!fs::exists(bundle + "/config.json")) {
        auto r = support::sh("mkdir -p '" + bundle + "' && cp -a '" + support::busybox_rootfs() + "' '" + bundle +
                             "/rootfs' && " + bin("step07_full") + " spec --bundle '" + bundle + "' -- true && sed -i " +
                             "'s/\"terminal\": true/\"terminal\": false/' '" + bundle + "/config.json'");
        if (r.status != 0) return {"/bin/false"};
    }
    return {bin("step07_full"), "--root", g_root + "/runtime", "run", "--bundle", bundle, "fault07"};
}

class Fault : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        make_host();  // before the argv are built: they name its directories
    }
};

TEST_F(Fault, Step03EveryOperation) { sweep("step03", step03()); }
TEST_F(Fault, Step04EveryOperation) { sweep("step04", step04()); }
TEST_F(Fault, Step05EveryOperation) { sweep("step05", step05()); }
TEST_F(Fault, Step06EveryOperation) { sweep("step06", step06()); }
TEST_F(Fault, Step07EveryOperation) { sweep("step07", step07()); }
TEST_F(Fault, Step03SigkillAtEveryPause) { kill_at_pauses("step03", step03()); }
TEST_F(Fault, Step04SigkillAtEveryPause) { kill_at_pauses("step04", step04()); }
TEST_F(Fault, Step05SigkillAtEveryPause) { kill_at_pauses("step05", step05()); }
TEST_F(Fault, Step06SigkillAtEveryPause) { kill_at_pauses("step06", step06()); }

}  // namespace
