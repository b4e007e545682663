#include "exec.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>

#include "console.hpp"
#include "error.hpp"
#include "files.hpp"
#include "launcher.hpp"
#include "narrate.hpp"
#include "process.hpp"
#include "resources.hpp"
#include "security.hpp"
#include "state.hpp"
#include "unique_fd.hpp"

namespace exec {
namespace {

// Lifecycle errors (the container is not there, not running, paused) end with 1, as runc's do;
// engines only tell zero from non-zero.
constexpr int kLifecycle = 1;

// ---------------------------------------------------------------------------------------------
// The report pipe. The runtime's child (after its setns calls) and grandchild (the process
// itself) write to it; the parent reads until EOF, which comes when the grandchild has exec'd
// (O_CLOEXEC) and the child has exited. One message is one write below PIPE_BUF: atomic.

enum Kind : int32_t { kPid = 1, kFailure = 2 };

struct Message {
    int32_t kind;
    int32_t value;  // kPid: the process's pid on the host; kFailure: the exit status
    char text[1000];
};

void report(int fd, Kind kind, int value, const std::string& text = "") {
    Message m{};
    m.kind = kind;
    m.value = value;
    std::strncpy(m.text, text.c_str(), sizeof(m.text) - 1);
    ssize_t n;
    do n = ::write(fd, &m, sizeof(m));
    while (n < 0 && errno == EINTR);
}

// ---------------------------------------------------------------------------------------------
// The namespaces to join, in this order. The user namespace goes first: joining it gives the
// capabilities, inside it, that the other setns calls check. The mount namespace goes last:
// setns(CLONE_NEWNS) moves root and cwd to the container's root, after which /proc/PID/ns of
// the host would no longer be found - which is why every fd is opened before any setns.

struct NsKind {
    const char* file;  // under /proc/PID/ns
    int type;
    const char* flag;
};
constexpr NsKind kOrder[] = {
    {"user", CLONE_NEWUSER, "CLONE_NEWUSER"}, {"ipc", CLONE_NEWIPC, "CLONE_NEWIPC"},
    {"uts", CLONE_NEWUTS, "CLONE_NEWUTS"},    {"net", CLONE_NEWNET, "CLONE_NEWNET"},
    {"pid", CLONE_NEWPID, "CLONE_NEWPID"},    {"cgroup", CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
    {"mnt", CLONE_NEWNS, "CLONE_NEWNS"},
};

struct NsFd {
    const NsKind* kind;
    unique_fd fd;
    bool shared;  // the same namespace as ours: nothing to join (setns to our own userns is EINVAL)
};

bool same_file(int a, int b) {
    struct stat sa {}, sb {};
    if (::fstat(a, &sa) != 0 || ::fstat(b, &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::vector<NsFd> open_namespaces(pid_t pid, const std::string& id) {
    std::vector<NsFd> out;
    for (const auto& k : kOrder) {
        std::string path = "/proc/" + std::to_string(pid) + "/ns/" + k.file;
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT && k.type == CLONE_NEWCGROUP) continue;  // a kernel without cgroup namespaces
            if (errno == ENOENT || errno == ESRCH) throw Error("container " + id + " is not running", kLifecycle);
            throw SysError("open(\"" + path + "\", O_RDONLY)", errno);
        }
        unique_fd theirs(fd);
        unique_fd ours(::open((std::string("/proc/self/ns/") + k.file).c_str(), O_RDONLY | O_CLOEXEC));
        bool shared = ours && same_file(ours.get(), theirs.get());
        narrate::note("exec", std::string("open ") + path + (shared ? "   (the host's own: not joined)" : ""));
        out.push_back({&k, std::move(theirs), shared});
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// The command's environment. Finding and running the command is the launcher's
// (launch::find_command, launch::exec_command): the container's PATH, and "not found" (127) told
// apart from "found but cannot run" (126), as for the init.

// runc's rule for HOME: when the process's environment has none, the home directory of its uid
// in the container's /etc/passwd (read after setns(CLONE_NEWNS), so it is the container's file),
// else "/". Docker sets HOME itself; a bare `runc exec` relies on this.
std::vector<std::string> with_home(std::vector<std::string> env, uid_t uid) {
    for (auto& e : env)
        if (e.rfind("HOME=", 0) == 0) return env;
    std::string home = "/";
    std::istringstream passwd(files::read("/etc/passwd"));
    for (std::string line; std::getline(passwd, line);) {
        // name:password:uid:gid:gecos:home:shell
        std::vector<std::string> f;
        for (size_t start = 0;;) {
            size_t end = line.find(':', start);
            f.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
            if (end == std::string::npos) break;
            start = end + 1;
        }
        if (f.size() >= 6 && f[2] == std::to_string(uid) && !f[5].empty()) {
            home = f[5];
            break;
        }
    }
    env.push_back("HOME=" + home);
    return env;
}

// fork(), narrated by the parent only (narrate::sys would print the result in both processes).
pid_t narrated_fork(const narrate::Op& op) {
    narrate::before(op);
    pid_t pid = ::fork();
    if (pid < 0) throw SysError(op.call, errno);
    if (pid > 0) narrate::after(op, std::to_string(pid));
    return pid;
}

// ---------------------------------------------------------------------------------------------
// The grandchild: inside every namespace (it was forked after setns(CLONE_NEWPID), so it is a
// member of the container's pid namespace), in the container's cgroup (inherited), at the
// container's root. What is left is the process object.

struct Plan {
    const container::State* st;
    const spec::Spec* spec;
    const Options* opts;
    int report_fd;
    int console_fd;  // -1 without a terminal
};

[[noreturn]] void grandchild(const Plan& plan) {
    const spec::Process& p = plan.opts->process;
    try {
        // Nothing of the runtime's may reach the command: every fd above the preserved ones is
        // marked close-on-exec (our own already are); the preserved ones lose the mark.
        unsigned first_closed = 3U + static_cast<unsigned>(plan.opts->preserve_fds);
        narrate::sys({"exec", "close_range(" + std::to_string(first_closed) + ", ~0U, CLOSE_RANGE_CLOEXEC)",
                      "no descriptor of the runtime leaks into the container (CVE-2024-21626 was one)",
                      "ls -l /proc/{pid}/fd"},
                     [&] { return ::syscall(SYS_close_range, first_closed, ~0U, CLOSE_RANGE_CLOEXEC); });
        for (int fd = 3; fd < static_cast<int>(first_closed); ++fd) {
            if (fd == plan.report_fd || fd == plan.console_fd) continue;
            int flags = ::fcntl(fd, F_GETFD);
            if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
        }
        if (p.terminal) console::setup(plan.console_fd, p.console_height, p.console_width);
        process::prepare(p, plan.spec->personality);
        spec::Process command = p;
        command.env = with_home(p.env, p.user.uid);
        security::apply(p, plan.spec->seccomp);
        // Looked up as the process's own user, after the identity switch.
        launch::exec_command(command.args, command.env, launch::find_command(command.args, command.env));
    } catch (const Error& e) {
        report(plan.report_fd, kFailure, e.exit_status(), e.line());
        ::_exit(e.exit_status());
    } catch (const std::exception& e) {
        report(plan.report_fd, kFailure, exit_code::tool_failed, e.what());
        ::_exit(exit_code::tool_failed);
    }
}

// The runtime's child: waits for the parent to put it in the cgroup, joins the namespaces,
// forks the process itself and reports its pid.
[[noreturn]] void child(const Plan& plan, std::vector<NsFd>& ns, int go_fd, int root_fd) {
    try {
        // Dies with the parent while it sets up (the grandchild does not inherit this).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        char go = 0;
        ssize_t got;
        do got = ::read(go_fd, &go, 1);
        while (got < 0 && errno == EINTR);
        if (got != 1) ::_exit(exit_code::tool_failed);  // the parent gave up
        ::close(go_fd);

        bool joined_mnt = false;
        for (auto& n : ns) {
            if (n.shared) continue;
            try {
                narrate::sys({"exec", std::string("setns(/proc/") + std::to_string(plan.st->pid) + "/ns/" +
                                          n.kind->file + ", " + n.kind->flag + ")",
                              n.kind->type == CLONE_NEWPID
                                  ? "our next child is born in the container's pid namespace (we stay outside)"
                                  : std::string("join the container's ") + n.kind->file + " namespace",
                              std::string("ls -l /proc/") + std::to_string(plan.st->pid) + "/ns/" + n.kind->file},
                             [&] { return ::setns(n.fd.get(), n.kind->type); });
            } catch (Error& e) {
                if (e.err() == EPERM) e.with_hint("joining a namespace needs CAP_SYS_ADMIN (run as root)");
                throw;
            }
            if (n.kind->type == CLONE_NEWNS) joined_mnt = true;
        }
        ns.clear();  // the grandchild needs none of them
        // A container without a mount namespace of its own still has a root of its own
        // (its init chrooted); take the init's, by the directory fd opened on the host.
        if (!joined_mnt && root_fd >= 0) {
            narrate::sys({"exec", "fchdir(/proc/" + std::to_string(plan.st->pid) + "/root)",
                          "the container shares our mount namespace: its root is the init's root", ""},
                         [&] { return ::fchdir(root_fd); });
            narrate::sys({"exec", "chroot(\".\")", "the same root directory as the container's init", ""},
                         [] { return ::chroot("."); });
        }
        if (root_fd >= 0) ::close(root_fd);

        pid_t pid = narrated_fork({"exec", "fork()", "the process itself, a member of every namespace of the container",
                                   "grep NSpid /proc/{pid}/status"});
        if (pid == 0) grandchild(plan);
        report(plan.report_fd, kPid, pid);
        ::_exit(0);
    } catch (Error& e) {
        if (e.err() == ENOMEM) e.with_hint("the container's init has exited: its pid namespace takes no new process");
        report(plan.report_fd, kFailure, e.exit_status(), e.line());
        ::_exit(e.exit_status());
    } catch (const std::exception& e) {
        report(plan.report_fd, kFailure, exit_code::tool_failed, e.what());
        ::_exit(exit_code::tool_failed);
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: signals are forwarded to the process, as `docker exec` without -d does.

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
volatile sig_atomic_t g_target = 0;
volatile sig_atomic_t g_pending = 0;

extern "C" void forward(int sig) {
    if (g_target > 0) ::kill(g_target, sig);
    else g_pending = sig;
}

class Forwarding {
public:
    Forwarding() {
        g_target = 0;
        g_pending = 0;
        struct sigaction sa {};
        sa.sa_handler = forward;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &sa, &old_[i]);
    }
    void target(pid_t pid) {
        g_target = pid;
        if (g_pending != 0) ::kill(pid, g_pending);
    }
    ~Forwarding() {
        for (size_t i = 0; i < std::size(kForwarded); ++i) ::sigaction(kForwarded[i], &old_[i], nullptr);
        g_target = 0;
    }

private:
    struct sigaction old_[std::size(kForwarded)] {};
};

int status_to_exit(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return exit_code::tool_failed;
}

// We are a subreaper while exec runs: the process, orphaned when our child exits, comes back to
// us. Reap everything that does (its own orphans too) until it is the process itself.
int wait_for(pid_t target) {
    for (;;) {
        int status = 0;
        pid_t got = ::waitpid(-1, &status, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw SysError("waitpid(" + std::to_string(target) + ")", errno);
        }
        if (got == target) return status_to_exit(status);
    }
}

void reap(pid_t pid) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

void write_pid_file(const std::string& path, pid_t pid) {
    // Temporary name in the same directory, then rename: an engine polling the file never
    // reads an empty or half-written pid.
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        narrate::sys({"exec", "write " + path + " = " + std::to_string(pid) + " (via " + tmp + ", rename)",
                      "the engine learns the process's host pid", "cat " + path},
                     [&] {
                         long rc = files::write_once(tmp, std::to_string(pid), O_WRONLY | O_CREAT | O_TRUNC);
                         if (rc == 0) rc = ::rename(tmp.c_str(), path.c_str());
                         return rc;
                     });
    } catch (Error& e) {
        ::unlink(tmp.c_str());
        e.context("--pid-file");
        throw;
    }
}

std::string absolute(const std::string& path) {
    if (path.empty() || path[0] == '/') return path;
    char buf[4096];
    if (::getcwd(buf, sizeof(buf)) == nullptr) throw SysError("getcwd()", errno);
    return std::string(buf) + "/" + path;
}

std::string cap_name(std::string c) {
    std::transform(c.begin(), c.end(), c.begin(), [](unsigned char ch) { return std::toupper(ch); });
    if (c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
    return c;
}

void add_unique(std::vector<int>& set, int cap) {
    if (std::find(set.begin(), set.end(), cap) == set.end()) set.push_back(cap);
}

}  // namespace

spec::Process from_command_line(const spec::Process& base, const std::vector<std::string>& args,
                                const std::vector<std::string>& env, const std::string& cwd,
                                const std::string& user, bool tty, const std::vector<std::string>& caps,
                                bool no_new_privs) {
    if (args.empty() || args[0].empty()) throw Error("exec: no command given");
    spec::Process p = base;
    p.args = args;
    // --env K=V replaces K of the container's environment, or adds it.
    for (const auto& e : env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) throw Error("--env " + e + ": not of the form NAME=VALUE");
        std::string key = e.substr(0, eq + 1);
        std::erase_if(p.env, [&](const std::string& old) { return old.rfind(key, 0) == 0; });
        p.env.push_back(e);
    }
    if (!cwd.empty()) {
        if (cwd[0] != '/') throw Error("--cwd " + cwd + ": must be an absolute path");
        p.cwd = cwd;
    }
    if (!user.empty()) {
        // uid[:gid], numbers only (names would need the container's /etc/passwd, read before
        // setns as root: the engine resolves names, as runc expects it to).
        auto colon = user.find(':');
        std::string u = user.substr(0, colon), g = colon == std::string::npos ? "" : user.substr(colon + 1);
        auto number = [&](const std::string& s) -> uint32_t {
            if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), ::isdigit))
                throw Error("--user " + user + ": expected uid[:gid], in numbers");
            unsigned long v = std::stoul(s);
            if (v > 0xfffffffeUL) throw Error("--user " + user + ": id out of range");
            return static_cast<uint32_t>(v);
        };
        p.user.uid = number(u);
        p.user.gid = g.empty() ? 0 : number(g);
        // The base process's extra groups belong to its user: another user gets none of them.
        p.user.additional_gids.clear();
    }
    // A terminal only when asked for: the container's own process.terminal is not the exec's.
    p.terminal = tty;
    if (!caps.empty()) {
        if (!p.capabilities) p.capabilities = spec::Capabilities{};
        auto& c = *p.capabilities;
        for (const auto& name : caps) {
            std::string full = cap_name(name);
            auto n = spec::capability_number(full);
            if (!n) throw Error("--cap " + name + ": unknown capability");
            add_unique(c.bounding, *n);
            add_unique(c.effective, *n);
            add_unique(c.permitted, *n);
            // Ambient capabilities need the inheritable bit: raise them only where the process
            // has an inheritable set already (runc's rule).
            if (!c.inheritable.empty()) {
                add_unique(c.inheritable, *n);
                add_unique(c.ambient, *n);
            }
        }
    }
    if (no_new_privs) p.no_new_privileges = true;
    return p;
}

int run(const container::State& st, const spec::Spec& spec, const Options& opts_in) {
    Options opts = opts_in;
    const spec::Process& p = opts.process;
    // Input first: nothing is opened or forked for a request that cannot work.
    if (p.args.empty()) throw Error("exec: no command given");
    if (p.terminal && opts.console_socket.empty()) {
        if (opts.detach)
            throw Error("exec --tty --detach: needs --console-socket")
                .with_hint("the engine's socket that receives the terminal; nobody else would hold it");
        // In the foreground, as `run` does: the process uses our own stdio (a terminal when we
        // run in one) instead of a pty of its own.
        narrate::note("exec", "--tty without --console-socket: the process gets our own stdio");
        opts.process.terminal = false;
    }
    if (!p.terminal && !opts.console_socket.empty())
        throw Error("exec --console-socket: only with --tty (process.terminal)");
    if (opts.preserve_fds < 0) throw Error("--preserve-fds: must be 0 or more");
    if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
        throw Error("process.oomScoreAdj: must be between -1000 and 1000");
    opts.pid_file = absolute(opts.pid_file);
    if (st.pid <= 0) throw Error("container " + st.id + " is not running", kLifecycle);
    // The container's cgroup, reopened once (the host's layout is read once, here).
    std::optional<resources::Container> cg;
    if (!st.cgroup_dirs.empty()) cg = resources::Container::from_dirs(st.cgroup_dirs);
    if (cg && cg->frozen()) throw Error("container " + st.id + " is paused", kLifecycle).with_hint("resume it first");

    // Preserved fds that are not open would be taken by our own descriptors below, and reach
    // the container: /dev/null fills them, so the process gets exactly fds 3..3+N-1.
    for (int fd = 3; fd < 3 + opts.preserve_fds; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int null = ::open("/dev/null", O_RDWR);
            if (null >= 0 && null != fd) {
                ::dup2(null, fd);
                ::close(null);
            }
        }
    }

    std::vector<NsFd> ns = open_namespaces(st.pid, st.id);
    bool shares_mnt = false;
    for (auto& n : ns)
        if (n.kind->type == CLONE_NEWNS && n.shared) shares_mnt = true;
    unique_fd root;
    if (shares_mnt) {
        root.reset(::open(("/proc/" + std::to_string(st.pid) + "/root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!root) throw Error("container " + st.id + " is not running", kLifecycle);
    }
    // The fds are the init's only if it is still the same process: checked after opening them,
    // so a pid reused in between cannot hand us another process's namespaces.
    auto start = state::start_time(st.pid);
    if (!start || *start != st.start_time) throw Error("container " + st.id + " is not running", kLifecycle);

    unique_fd console_fd;
    if (p.terminal) console_fd = console::connect(opts.console_socket);

    int go[2], rep[2];
    check(::pipe2(go, O_CLOEXEC), "pipe2(go, O_CLOEXEC)");
    unique_fd go_read(go[0]), go_write(go[1]);
    check(::pipe2(rep, O_CLOEXEC), "pipe2(report, O_CLOEXEC)");
    unique_fd rep_read(rep[0]), rep_write(rep[1]);

    // The process is our grandchild; when our child exits it is re-parented to the nearest
    // subreaper. Being one ourselves, we get it back and can wait for it (runc does the same).
    // Detached, we still reap a process that fails before its exec; once exec'd, it goes to our
    // caller (conmon, containerd-shim: subreapers) when we exit.
    int was_subreaper = 0;
    ::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
    narrate::sys({"exec", "prctl(PR_SET_CHILD_SUBREAPER, 1)",
                  "orphans among our descendants come to us, not to the host's init", ""},
                 [] { return ::prctl(PR_SET_CHILD_SUBREAPER, 1); });
    // Not for longer than this call: an engine (a shim) that calls run() stays as it was.
    struct Restore {
        int was;
        ~Restore() { ::prctl(PR_SET_CHILD_SUBREAPER, was); }
    } restore{was_subreaper};
    Forwarding forwarding;

    Plan plan{&st, &spec, &opts, rep_write.get(), console_fd ? console_fd.get() : -1};
    pid_t kid = narrated_fork({"exec", "fork()", "a child of the runtime that will join the namespaces", ""});
    if (kid == 0) {
        for (int sig : kForwarded) ::signal(sig, SIG_DFL);
        go_write.reset();
        rep_read.reset();
        child(plan, ns, go_read.get(), root ? root.get() : -1);
    }
    go_read.reset();
    rep_write.reset();
    ns.clear();
    root.reset();
    console_fd.reset();  // the child has its copy; the engine's end must see EOF when it is done

    std::optional<pid_t> process;
    std::optional<Message> failure;
    try {
        if (cg) {
            narrate::note("exec", "cgroup: add pid " + std::to_string(kid) + " to the container's cgroup (" +
                                      st.cgroup_dirs.front() + (st.cgroup_dirs.size() > 1 ? ", ..." : "") + ")");
            cg->add_pid(kid);
        }
        // From the host, on our child: the process inherits it at fork. Lowering the score needs
        // CAP_SYS_RESOURCE of the host's user namespace, which a process inside a user
        // namespace never has.
        if (p.oom_score_adj) process::set_oom_score_adj(kid, *p.oom_score_adj);
        check(::write(go_write.get(), "g", 1), "write(go)");
        go_write.reset();

        for (;;) {
            Message m{};
            ssize_t n = ::read(rep_read.get(), &m, sizeof(m));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw SysError("read(report pipe)", errno);
            if (n == 0) break;
            if (n != static_cast<ssize_t>(sizeof(m))) continue;
            if (m.kind == kPid) process = m.value;
            if (m.kind == kFailure && !failure) failure = m;
        }
    } catch (...) {
        ::kill(kid, SIGKILL);
        reap(kid);
        throw;
    }
    reap(kid);

    if (failure) {
        if (process) reap(*process);
        std::string text(failure->text, strnlen(failure->text, sizeof(failure->text)));
        throw Error(text, failure->value);
    }
    if (!process) throw Error("exec: the runtime's child ended without starting the process");
    narrate::set_container_pid(*process);
    narrate::note("exec", "process " + std::to_string(*process) + " exec'd " + p.args[0]);

    if (opts.detach) {
        if (!opts.pid_file.empty()) write_pid_file(opts.pid_file, *process);
        return 0;
    }
    if (!opts.pid_file.empty()) write_pid_file(opts.pid_file, *process);
    forwarding.target(*process);
    int status = wait_for(*process);
    narrate::note("exec", "process exited: status " + std::to_string(status));
    return status;
}

}  // namespace exec
