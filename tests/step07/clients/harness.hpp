// The harness under step07_clients_integration_test: real engines (podman, containerd, dockerd)
// started privately, each calling the runtime under test through a logging wrapper.
//
// Isolation: the test process moves itself into new mount and network namespaces
// (unshare(2) with CLONE_NEWNS | CLONE_NEWNET), makes its mounts slaves of the host's, and puts a
// tmpfs over /run. So the engines' hard-coded /run paths (/run/containerd/s for shim sockets,
// /run/runc and /run/minibox/runtime for the runtime's state, /run/docker/plugins) and every
// overlay/bind mount they make stay in this process's namespace, and nothing is on the host
// network. /var/lib/containers and /var/tmp get a tmpfs too (podman load writes a blob-info cache
// and a temporary directory there whatever --root and TMPDIR say). It also marks itself a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER): conmon and
// the containerd shims double-fork, and being their subreaper lets the test find, and end by
// pid, anything an engine leaves behind. Header-only: the test's CMake rule takes one source.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace clients {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Out {
    int status = -1;  // exit status, 128+N for signal N, 124 on timeout
    std::string out;
    std::string err;
};

inline std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

inline void append(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::app);
    f << text;
}

inline std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && (s[i] == '\n' || s[i] == ' ')) ++i;
    return s.substr(i);
}

inline bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

inline std::string which(const std::string& name) {
    const char* p = std::getenv("PATH");
    std::string path = std::string(p ? p : "") + ":/usr/sbin:/usr/bin:/sbin:/bin";
    std::istringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) {
        if (dir.empty()) continue;
        std::string f = dir + "/" + name;
        if (::access(f.c_str(), X_OK) == 0) return f;
    }
    return "";
}

inline std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> v;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

inline int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// ---- the sandbox -------------------------------------------------------------------------

// Puts an empty tmpfs at `path` in our mount namespace without creating anything on the host.
// When `path` exists that is one mount. When it does not, its parent is rebuilt: the parent is
// bound aside, a tmpfs goes over it, each entry is bound (or its symlink recreated) back, and
// `path` is made in the tmpfs. (podman load writes a blob-info cache to /var/lib/containers/cache
// whatever --root says; this keeps it off the host.)
inline std::string hide_path(const std::string& path) {
    auto fail = [](const std::string& what) { return what + ": " + std::strerror(errno); };
    if (exists(path)) {
        if (::mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=700") != 0) return fail("tmpfs on " + path);
        return "";
    }
    std::string parent = fs::path(path).parent_path().string();
    char tmpl[] = "/tmp/mbxc-aside.XXXXXX";
    if (!::mkdtemp(tmpl)) return fail("mkdtemp");
    std::string aside = tmpl;
    if (::mount(parent.c_str(), aside.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return fail("bind " + parent);
    if (::mount("tmpfs", parent.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") != 0) return fail("tmpfs on " + parent);
    for (auto& name : entries(aside)) {
        std::string from = aside + "/" + name, to = parent + "/" + name;
        struct stat st {};
        if (::lstat(from.c_str(), &st) != 0) continue;
        if (S_ISLNK(st.st_mode)) {
            std::error_code ec;
            fs::create_symlink(fs::read_symlink(from, ec), to, ec);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            ::mkdir(to.c_str(), st.st_mode & 07777);
        } else {
            int fd = ::open(to.c_str(), O_WRONLY | O_CREAT, st.st_mode & 07777);
            if (fd >= 0) ::close(fd);
        }
        if (::mount(from.c_str(), to.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return fail("bind back " + to);
    }
    ::umount2(aside.c_str(), MNT_DETACH);
    ::rmdir(aside.c_str());
    if (::mkdir(path.c_str(), 0700) != 0) return fail("mkdir " + path);
    return "";
}

// Once per process: the namespaces, /run as tmpfs, subreaper. "" on success, else why not.
inline std::string enter_sandbox() {
    static std::string result = [] {
        // Only the calling thread moves; gtest has started no other thread at this point.
        if (::unshare(CLONE_NEWNS | CLONE_NEWNET) != 0)
            return std::string("unshare(CLONE_NEWNS|CLONE_NEWNET): ") + std::strerror(errno);
        // Slave: host mounts still arrive here, ours never propagate out.
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
            return std::string("mount(/, MS_REC|MS_SLAVE): ") + std::strerror(errno);
        if (::mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") != 0)
            return std::string("mount tmpfs on /run: ") + std::strerror(errno);
        if (std::string why = hide_path("/var/lib/containers"); !why.empty()) return why;
        // podman load unpacks into a temporary directory there first (trying oci-archive).
        if (::mount("tmpfs", "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
            return std::string("mount tmpfs on /var/tmp: ") + std::strerror(errno);
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
            return std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + std::strerror(errno);
        return std::string();
    }();
    return result;
}

// Between two tests of one process (the binary run by hand rather than by ctest): fresh /run
// and /var/tmp, an empty /var/lib/containers, so one test's leftovers are not the next one's.
inline std::string reset_sandbox() {
    static bool first = true;
    if (first) {
        first = false;
        return "";
    }
    for (auto [path, mode] : {std::pair<const char*, const char*>{"/run", "mode=755"}, {"/var/tmp", "mode=1777"}}) {
        ::umount2(path, MNT_DETACH);
        if (::mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, mode) != 0)
            return std::string("mount tmpfs on ") + path + ": " + std::strerror(errno);
    }
    std::error_code ec;
    for (auto& name : entries("/var/lib/containers")) fs::remove_all("/var/lib/containers/" + name, ec);
    return "";
}

// A directory /tmp/mbxc.XXXXXX (short: podman refuses a --runroot over 50 characters); on
// destruction every mount under it is detached and the tree removed.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/mbxc.XXXXXX";
        if (::mkdtemp(tmpl)) path_ = tmpl;
    }
    ~TempDir() {
        if (path_.empty()) return;
        // Daemons leave overlay, shm and bind mounts below their roots (here, only in our
        // namespace): deepest first, detached.
        std::vector<std::string> mounts;
        std::istringstream in(slurp("/proc/self/mountinfo"));
        for (std::string line; std::getline(in, line);) {
            std::istringstream f(line);
            std::string id, parent, devno, root, point;
            f >> id >> parent >> devno >> root >> point;
            if (point == path_ || point.rfind(path_ + "/", 0) == 0) mounts.push_back(point);
        }
        std::sort(mounts.begin(), mounts.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
        for (auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

// ---- processes ---------------------------------------------------------------------------

inline std::vector<char*> c_strings(const std::vector<std::string>& v) {
    std::vector<char*> c;
    for (auto& s : v) c.push_back(const_cast<char*>(s.c_str()));
    c.push_back(nullptr);
    return c;
}

// environ with `extra` ("NAME=value") set over it.
inline std::vector<std::string> environment(const std::vector<std::string>& extra) {
    std::map<std::string, std::string> m;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        m[kv.substr(0, kv.find('='))] = kv;
    }
    for (auto& kv : extra) m[kv.substr(0, kv.find('='))] = kv;
    std::vector<std::string> v;
    for (auto& [k, kv] : m) v.push_back(kv);
    return v;
}

inline std::string quote_argv(const std::vector<std::string>& argv) {
    std::string s;
    for (auto& a : argv) {
        if (!s.empty()) s += ' ';
        bool plain = !a.empty() && a.find_first_of(" \t'\"$;&|<>()*?") == std::string::npos;
        s += plain ? a : "'" + a + "'";
    }
    return s;
}

// `tie`: the child gets SIGKILL when the test dies (prctl PR_SET_PDEATHSIG), so a test killed by
// a timeout does not leave a daemon running.
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err,
                   const std::vector<std::string>& env, bool tie = false) {
    auto envs = environment(env);
    auto cenv = c_strings(envs);
    auto cargv = c_strings(argv);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        if (tie) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        int in = ::open("/dev/null", O_RDONLY);
        int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = err == out ? o : ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(in, 0);
        ::dup2(o, 1);
        ::dup2(e, 2);
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
        ::execve(cargv[0], cargv.data(), cenv.data());
        ::_exit(127);
    }
    return pid;
}

// Runs argv to completion (SIGKILL after `timeout`), stdin from /dev/null, stdout and stderr
// through files (a pipe would be held open by conmon or a shim that inherits it). Each call and
// its result is appended to `transcript`.
inline Out run(const std::vector<std::string>& argv, const std::string& transcript,
               std::chrono::seconds timeout = 30s, const std::vector<std::string>& env = {}) {
    std::string base = transcript + ".cmd";
    pid_t pid = spawn(argv, base + ".out", base + ".err", env);
    Out r;
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + timeout;
    int status = 0;
    bool timed_out = false;
    for (;;) {
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            timed_out = true;
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    r.status = timed_out ? 124 : decode(status);
    r.out = slurp(base + ".out");
    r.err = slurp(base + ".err");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::ostringstream t;
    t << "$ " << quote_argv(argv) << "\n  -> " << r.status << (timed_out ? " (timed out)" : "") << " in "
      << ms.count() << " ms\n";
    if (!r.out.empty()) t << "  stdout: " << trim(r.out).substr(0, 2000) << "\n";
    if (!r.err.empty()) t << "  stderr: " << trim(r.err).substr(0, 4000) << "\n";
    append(transcript, t.str());
    return r;
}

// A daemon: started with its output in `log`, stopped by pid (SIGTERM, then SIGKILL after
// `grace`) whatever the test's outcome.
class Daemon {
public:
    Daemon(const std::vector<std::string>& argv, const std::string& log, const std::vector<std::string>& env = {})
        : pid_(spawn(argv, log, log, env, true)) {}
    ~Daemon() { stop(); }
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;
    pid_t pid() const { return pid_; }
    bool alive() {
        if (reaped_ || pid_ <= 0) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            reaped_ = true;
            status_ = decode(status);
            return false;
        }
        return true;
    }
    // Stops it; returns how it ended (as Out::status).
    int stop(std::chrono::seconds grace = 20s) {
        if (pid_ <= 0 || reaped_) return status_;
        ::kill(pid_, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + grace;
        while (alive() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
        if (alive()) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            reaped_ = true;
            status_ = decode(status);
        }
        return status_;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    int status_ = -1;
};

// A live process among this test's descendants.
struct Proc {
    pid_t pid;
    pid_t ppid;
    std::string comm;
    std::string cmdline;
};

inline std::vector<Proc> all_procs(std::map<pid_t, char>* states = nullptr) {
    std::vector<Proc> v;
    for (auto& name : entries("/proc")) {
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat = slurp("/proc/" + name + "/stat");
        size_t close = stat.rfind(')');
        size_t open = stat.find('(');
        if (close == std::string::npos || open == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        char state = '?';
        pid_t ppid = 0;
        rest >> state >> ppid;
        std::string cmd = slurp("/proc/" + name + "/cmdline");
        std::replace(cmd.begin(), cmd.end(), '\0', ' ');
        pid_t pid = std::stoi(name);
        if (states) (*states)[pid] = state;
        v.push_back({pid, ppid, stat.substr(open + 1, close - open - 1), trim(cmd)});
    }
    return v;
}

// Live descendants of this process, minus the `keep` pids and their direct children (a daemon
// and, for dockerd, the containerd it manages). Zombies that are our children are reaped.
inline std::vector<Proc> strays(const std::set<pid_t>& keep) {
    std::map<pid_t, char> states;
    auto procs = all_procs(&states);
    std::map<pid_t, std::vector<const Proc*>> kids;
    for (auto& p : procs) kids[p.ppid].push_back(&p);
    std::vector<Proc> out;
    std::vector<pid_t> todo{::getpid()};
    while (!todo.empty()) {
        pid_t p = todo.back();
        todo.pop_back();
        for (auto* k : kids[p]) {
            if (states[k->pid] == 'Z') {
                if (k->ppid == ::getpid()) ::waitpid(k->pid, nullptr, WNOHANG);
                continue;
            }
            todo.push_back(k->pid);
            bool kept = keep.count(k->pid) || keep.count(k->ppid);
            if (!kept) out.push_back(*k);
        }
    }
    return out;
}

inline std::vector<Proc> wait_no_strays(const std::set<pid_t>& keep, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto s = strays(keep);
        if (s.empty() || std::chrono::steady_clock::now() > deadline) return s;
        std::this_thread::sleep_for(100ms);
    }
}

inline std::string describe(const std::vector<Proc>& procs) {
    std::string s;
    for (auto& p : procs) s += "\n  pid " + std::to_string(p.pid) + " (" + p.comm + "): " + p.cmdline.substr(0, 200);
    return s;
}

// SIGKILLs and reaps every live descendant (teardown after a failure): all of them are ours.
inline void kill_descendants() {
    for (int round = 0; round < 5; ++round) {
        auto s = strays({});
        if (s.empty()) return;
        for (auto& p : s) ::kill(p.pid, SIGKILL);
        std::this_thread::sleep_for(200ms);
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
    }
}

// ---- the runtime under test --------------------------------------------------------------

inline std::string runtime_under_test(const std::string& built) {
    const char* env = std::getenv("MINIBOX_CLIENTS_RUNTIME");
    return env && *env ? std::string(env) : built;
}

// Where a runtime keeps its state when the engine passes no --root.
inline std::string default_runtime_root(const std::string& runtime) {
    std::string base = fs::path(runtime).filename().string();
    if (base == "runc") return "/run/runc";
    if (base == "crun") return "/run/crun";
    return "/run/minibox/runtime";  // step07_full
}

// Writes DIR/rt: a shell script that logs each call's argv to DIR/argv.log, runs `runtime` with
// it (stdio untouched: a container's init inherits the runtime's stdio), then logs the exit
// status and, when a call failed, the file the engine passed as --log.
inline std::string write_wrapper(const TempDir& dir, const std::string& runtime) {
    std::string script = dir / "rt";
    std::string log = dir / "argv.log";
    std::ofstream f(script);
    f << "#!/bin/sh\n"
         "# test tooling: log the engine's call to the runtime, then make it\n"
         "log="
      << log
      << "\n"
         "{ printf '[%s]' \"$$\"; for a in \"$@\"; do printf ' %s' \"$a\"; done; printf '\\n'; } >> \"$log\"\n"
         "rlog=; prev=\n"
         "for a in \"$@\"; do\n"
         "  [ \"$prev\" = --log ] && rlog=$a\n"
         "  case $a in --log=*) rlog=${a#--log=};; esac\n"
         "  prev=$a\n"
         "done\n"
      << "'" << runtime << "' \"$@\"\n"
      << "rc=$?\n"
         "echo \"[$$] exit $rc\" >> \"$log\"\n"
         "if [ $rc -ne 0 ] && [ -n \"$rlog\" ] && [ -f \"$rlog\" ]; then\n"
         "  tail -n 5 \"$rlog\" | sed \"s/^/[$$] --log: /\" >> \"$log\"\n"
         "fi\n"
         "exit $rc\n";
    f.close();
    ::chmod(script.c_str(), 0755);
    return script;
}

// Every --root the engine passed (from argv.log), plus the runtime's default root.
inline std::set<std::string> runtime_roots(const std::string& argv_log, const std::string& runtime) {
    std::set<std::string> roots{default_runtime_root(runtime)};
    std::istringstream in(slurp(argv_log));
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string prev;
        for (std::string w; words >> w; prev = w) {
            if (prev == "--root") roots.insert(w);
            if (w.rfind("--root=", 0) == 0) roots.insert(w.substr(7));
        }
    }
    return roots;
}

// The runtime subcommands the engine called, in order of first use ("create start exec ...").
inline std::string subcommands(const std::string& argv_log) {
    static const std::set<std::string> known{"create", "start", "state", "kill", "delete", "exec", "ps",
                                             "pause", "resume", "features", "update", "events", "run",
                                             "checkpoint", "restore", "list", "spec"};
    std::vector<std::string> seen;
    std::istringstream in(slurp(argv_log));
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string w, prev;
        words >> w;  // [pid]
        while (words >> w) {
            // a value after --root/--log/--log-format is not the subcommand
            bool value = prev == "--root" || prev == "--log" || prev == "--log-format" || prev == "--criu";
            if (!value && w.rfind("-", 0) != 0) {
                if (known.count(w) && std::find(seen.begin(), seen.end(), w) == seen.end()) seen.push_back(w);
                break;
            }
            prev = w;
        }
    }
    std::string s;
    for (auto& w : seen) s += (s.empty() ? "" : " ") + w;
    return s;
}

// ---- cgroups -----------------------------------------------------------------------------

// The roots of every mounted cgroup hierarchy (v1 controllers, the named systemd one, the v2
// mount: /sys/fs/cgroup itself on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one).
inline std::vector<std::string> cgroup_hierarchies() {
    std::vector<std::string> v;
    std::istringstream in(slurp("/proc/self/mountinfo"));
    for (std::string line; std::getline(in, line);) {
        size_t dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream tail(line.substr(dash + 3));
        std::string type;
        tail >> type;
        if (type != "cgroup" && type != "cgroup2") continue;
        std::istringstream f(line);
        std::string id, parent, devno, root, point;
        f >> id >> parent >> devno >> root >> point;
        if (root == "/") v.push_back(point);
    }
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

// Cgroup directories below /<parent> in every hierarchy, except those named in `except`.
inline std::vector<std::string> cgroup_dirs_under(const std::string& parent, const std::set<std::string>& except = {}) {
    std::vector<std::string> found;
    for (auto& h : cgroup_hierarchies()) {
        std::error_code ec;
        std::string top = h + "/" + parent;
        if (!fs::is_directory(top, ec)) continue;
        for (auto it = fs::recursive_directory_iterator(top, ec); it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (ec) break;
            if (!it->is_directory(ec)) continue;
            if (except.count(it->path().filename().string())) {
                it.disable_recursion_pending();
                continue;
            }
            found.push_back(it->path().string());
        }
    }
    return found;
}

// Processes still in a cgroup at `dir` or below it.
inline std::string cgroup_procs_below(const std::string& dir) {
    std::string s;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return s;
    s += trim(slurp(dir + "/cgroup.procs"));
    for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->is_directory(ec)) {
            std::string p = trim(slurp(it->path().string() + "/cgroup.procs"));
            if (!p.empty()) s += " " + p;
        }
    }
    return trim(s);
}

// SIGKILLs what an interrupted run left in cgroups below /<parent> (our own parent: every
// process there is one of our containers); returns how many.
inline int kill_stale(const std::string& parent) {
    int n = 0;
    for (auto& h : cgroup_hierarchies()) {
        std::istringstream in(cgroup_procs_below(h + "/" + parent));
        for (pid_t p; in >> p;)
            if (p > 1 && ::kill(p, SIGKILL) == 0) ++n;
    }
    if (n) std::this_thread::sleep_for(300ms);
    return n;
}

// Removes /<parent> and the (empty) directories below it in every hierarchy; "" or what stayed.
inline std::string remove_cgroup_parent(const std::string& parent) {
    std::string stayed;
    for (auto& h : cgroup_hierarchies()) {
        std::string top = h + "/" + parent;
        std::error_code ec;
        if (!fs::is_directory(top, ec)) continue;
        std::vector<std::string> dirs;
        for (auto it = fs::recursive_directory_iterator(top, ec); it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (ec) break;
            if (it->is_directory(ec)) dirs.push_back(it->path().string());
        }
        std::sort(dirs.begin(), dirs.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
        dirs.push_back(top);
        for (auto& d : dirs)
            if (::rmdir(d.c_str()) != 0 && errno != ENOENT) stayed += " " + d + " (" + std::strerror(errno) + ")";
    }
    return stayed;
}

}  // namespace clients
