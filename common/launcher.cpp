#include "launcher.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <linux/sched.h>  // clone3's struct clone_args, CLONE_INTO_CGROUP
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>

#include "error.hpp"
#include "narrate.hpp"
#include "state.hpp"
#include "unique_fd.hpp"

namespace launch {
namespace {

// ---------------------------------------------------------------------------------------------
// Signals. The tool forwards these to the container, as `docker run` does. Before the child is
// released they abort the launch instead (so Ctrl-C during --step stops cleanly).

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

volatile sig_atomic_t g_child = 0;    // set once the child is released
volatile sig_atomic_t g_pending = 0;  // a signal that arrived before that

extern "C" void on_signal(int sig) {
    if (g_child > 0) {
        ::kill(g_child, sig);  // async-signal-safe
    } else {
        g_pending = sig;
    }
}

void install_forwarding() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking read during --step must return EINTR
    for (int sig : kForwarded) ::sigaction(sig, &sa, nullptr);
}

void restore_default_signals() {
    for (int sig : kForwarded) ::signal(sig, SIG_DFL);
}

void throw_if_interrupted() {
    if (g_pending != 0) {
        throw Error(std::string("interrupted by ") + ::sigabbrev_np(g_pending), 128 + g_pending);
    }
}

// ---------------------------------------------------------------------------------------------
// The terminal. When the tool runs in the foreground of a terminal, the container gets its own
// process group and becomes the foreground: Ctrl-C and Ctrl-Z then reach the container only,
// as they reach a program started by a shell, and an interactive `sh` inside has job control.

class Terminal {
public:
    void give_to(pid_t pid) {
        if (!::isatty(STDIN_FILENO) || ::tcgetpgrp(STDIN_FILENO) != ::getpgrp()) return;
        ::setpgid(pid, pid);
        set_foreground(pid);
        given_ = true;
    }
    // Once the container has ended, before cleanup: a --step pause in a layer's cleanup reads
    // Enter, and a background process group that reads its terminal is stopped by SIGTTIN.
    void take_back() {
        if (given_) set_foreground(::getpgrp());
        given_ = false;
    }
    ~Terminal() { take_back(); }

private:
    static void set_foreground(pid_t pgrp) {
        // A background process group that changes the foreground gets SIGTTOU: ignore it here.
        auto old = ::signal(SIGTTOU, SIG_IGN);
        ::tcsetpgrp(STDIN_FILENO, pgrp);
        ::signal(SIGTTOU, old);
    }
    bool given_ = false;
};

// ---------------------------------------------------------------------------------------------
// The sync socket. Parent -> child: one "go" message carrying the child's host pid.
// Child -> parent: nothing if execve succeeds (SOCK_CLOEXEC closes the child's end and the parent
// reads EOF), or one failure message: {exit status, text}.

struct GoMessage {
    int32_t host_pid;
};

// Child -> parent. A failure, or (create mode only) "ready" and "detached".
enum Kind : int32_t { kFailure = 0, kReady = 1, kDetached = 2 };

struct Failure {
    int32_t kind;
    int32_t exit_status;
    char text[1016];
};

void send_kind(int fd, Kind kind) {
    Failure f{};
    f.kind = kind;
    if (::send(fd, &f, sizeof(f), MSG_NOSIGNAL) != sizeof(f)) throw SysError("send(sync socket)", errno);
}

void send_failure(int fd, const Error& e) {
    Failure f{};
    f.kind = kFailure;
    f.exit_status = e.exit_status();
    std::string line = e.line();
    std::strncpy(f.text, line.c_str(), sizeof(f.text) - 1);
    (void)!::send(fd, &f, sizeof(f), MSG_NOSIGNAL);
}

// ---------------------------------------------------------------------------------------------
// The child.

struct ChildArgs {
    const std::vector<Layer*>* layers;
    Context* ctx;
    int parent_end;
    const CreateHooks* create = nullptr;  // create mode: stop at the gate
};

std::string find_command(const Context& ctx) { return launch::find_command(ctx.argv, ctx.env); }

[[noreturn]] void exec_command(const Context& ctx, const std::string& path) { launch::exec_command(ctx.argv, ctx.env, path); }

}  // namespace

std::string find_command(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    if (args.empty()) throw Error("no command given");
    const std::string& cmd = args[0];
    if (cmd.empty()) throw Error("exec \"\": command not found (the command name is empty)", exit_code::not_found, ENOENT);
    std::vector<std::string> candidates;
    if (cmd.find('/') != std::string::npos) {
        candidates.push_back(cmd);
    } else {
        std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (auto& e : env)
            if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
        for (size_t start = 0; start <= path.size();) {
            size_t end = path.find(':', start);
            if (end == std::string::npos) end = path.size();
            std::string dir = path.substr(start, end - start);
            candidates.push_back((dir.empty() ? "." : dir) + "/" + cmd);
            start = end + 1;
        }
    }
    int last = ENOENT;
    for (auto& c : candidates) {
        struct stat st {};
        if (::stat(c.c_str(), &st) < 0) {
            if (errno != ENOENT && errno != ENOTDIR) last = errno;
            continue;
        }
        if (S_ISREG(st.st_mode) && ::access(c.c_str(), X_OK) == 0) return c;
        last = S_ISDIR(st.st_mode) ? EACCES : (errno ? errno : EACCES);  // found, but not runnable
        if (last == ENOENT) last = EACCES;
    }
    if (last == ENOENT) throw Error("exec " + cmd + ": command not found", exit_code::not_found, ENOENT);
    throw Error("exec " + cmd + ": " + std::strerror(last), exit_code::cannot_execute, last);
}

[[noreturn]] void exec_command(const std::vector<std::string>& args, const std::vector<std::string>& env,
                               const std::string& path) {
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(path.c_str(), argv.data(), envp.data());
    int err = errno;
    // A script whose interpreter is missing fails with ENOENT although the script exists.
    if (err == ENOENT) throw Error("exec " + args.at(0) + ": command not found", exit_code::not_found, err);
    throw Error("exec " + args.at(0) + ": " + std::strerror(err), exit_code::cannot_execute, err);
}

namespace {

int child_main(void* raw) {
    auto& a = *static_cast<ChildArgs*>(raw);
    restore_default_signals();
    ::close(a.parent_end);
    Context& ctx = *a.ctx;
    try {
        // If the tool dies (even by SIGKILL), the container dies with it: nothing is left
        // running that no one waits for. Set before reading "go", so a parent that died
        // earlier is seen as EOF below.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        // No host descriptor above stderr may reach the command: mark them all close-on-exec.
        ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);

        GoMessage go{};
        ssize_t n;
        do n = ::recv(ctx.sync_fd, &go, sizeof(go), 0);
        while (n < 0 && errno == EINTR);
        if (n != sizeof(go)) ::_exit(exit_code::tool_failed);  // the parent gave up
        ctx.pid = go.host_pid;
        narrate::set_container_pid(go.host_pid);

        for (Layer* l : *a.layers) l->setup_inside(ctx);
        if (a.create) {
            std::string path = find_command(ctx);
            send_kind(ctx.sync_fd, kReady);
            do n = ::recv(ctx.sync_fd, &go, sizeof(go), 0);  // "commit": we are recorded
            while (n < 0 && errno == EINTR);
            if (n != sizeof(go)) ::_exit(exit_code::tool_failed);
            // From here the container may outlive the tool that made it.
            ::prctl(PR_SET_PDEATHSIG, 0);
            send_kind(ctx.sync_fd, kDetached);
            ::close(ctx.sync_fd);
            ctx.sync_fd = -1;
            a.create->gate(ctx);
            for (Layer* l : *a.layers) l->before_exec(ctx);
            exec_command(ctx, path);
        }
        for (Layer* l : *a.layers) l->before_exec(ctx);
        exec_command(ctx, find_command(ctx));
    } catch (const Error& e) {
        // After create mode's "detached" nobody listens any more: the container's stderr gets it.
        if (ctx.sync_fd >= 0) send_failure(ctx.sync_fd, e);
        else narrate::error(e.line());
        ::_exit(e.exit_status());
    } catch (const std::exception& e) {
        if (ctx.sync_fd >= 0) send_failure(ctx.sync_fd, Error(e.what()));
        else narrate::error(e.what());
        ::_exit(exit_code::tool_failed);
    } catch (...) {
        if (ctx.sync_fd >= 0) send_failure(ctx.sync_fd, Error("unknown exception in the container's child"));
        ::_exit(exit_code::tool_failed);
    }
}

std::string clone_flags_text(int flags) {
    return spell_flags(static_cast<unsigned long>(flags),
                       {{CLONE_NEWUTS, "CLONE_NEWUTS"},
                        {CLONE_NEWPID, "CLONE_NEWPID"},
                        {CLONE_NEWNS, "CLONE_NEWNS"},
                        {CLONE_NEWNET, "CLONE_NEWNET"},
                        {CLONE_NEWIPC, "CLONE_NEWIPC"},
                        {CLONE_NEWUSER, "CLONE_NEWUSER"},
                        {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
                        {SIGCHLD, "SIGCHLD"}});
}

// clone(2) as fork(2) does it: no CLONE_VM, so the child gets a copy of our memory, and no
// stack of its own (NULL), so it goes on from this very line on its copy of ours. glibc's
// clone() wrapper insists on a separate stack and a function; the raw system call does not,
// which spares an mmap and lets sanitizers (which track each thread's stack) follow the child.
// On every architecture the first argument is the flags; the others matter only with
// CLONE_SETTLS / CLONE_*_TID flags, which we do not pass.
// With a cgroup_fd (Context::cgroup_fd, see launcher.hpp) the call is clone3(2) with
// CLONE_INTO_CGROUP instead, so the child starts in that cgroup2 directory; it returns -1 when
// this kernel cannot (ENOSYS before 5.3, E2BIG before 5.7), and the caller clones again
// without it.
pid_t clone_child(ChildArgs& args, int flags, int cgroup_fd = -1) {
    const bool into = cgroup_fd >= 0;
    clone_args ca{};
    ca.flags = static_cast<uint64_t>(static_cast<unsigned>(flags)) | CLONE_INTO_CGROUP;
    ca.exit_signal = SIGCHLD;
    ca.cgroup = static_cast<uint64_t>(cgroup_fd);
    narrate::Op op = into ? narrate::Op{"launch",
                                        "clone3({" + clone_flags_text(flags) +
                                            "|CLONE_INTO_CGROUP, exit_signal=SIGCHLD, cgroup=fd})",
                                        "a child process in new namespaces, born in the container's cgroup, "
                                        "waiting for our go",
                                        "cat /proc/{pid}/cgroup   # already the container's"}
                          : narrate::Op{"launch", "clone(" + clone_flags_text(flags | SIGCHLD) + ")",
                                        "a child process in new namespaces, waiting for our go",
                                        "ls -l /proc/" + std::to_string(::getpid()) +
                                            "/ns   # the tool's own, for comparison"};
    pid_t pid = -1;
    try {
        pid = static_cast<pid_t>(narrate::sys(op, [&] {
            long rc = into ? ::syscall(SYS_clone3, &ca, sizeof ca)
                           : ::syscall(SYS_clone, static_cast<unsigned long>(flags | SIGCHLD), nullptr, nullptr,
                                       nullptr, 0UL);
            // The child: it must never return from here, into narration and our callers, whose
            // frames it holds only as a copy (their destructors would undo the parent's work).
            // child_main ends in exec or _exit.
            if (rc == 0) ::_exit(child_main(&args));
            return rc;
        }));
    } catch (Error& e) {
        if (into && (e.err() == ENOSYS || e.err() == E2BIG)) return -1;
        if (e.err() == EPERM) e.with_hint("run as root (sudo); creating namespaces needs CAP_SYS_ADMIN");
        if (e.err() == EINVAL) e.with_hint("this kernel lacks one of these namespaces (see minibox doctor)");
        throw;
    }
    return pid;
}

int status_to_exit(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return exit_code::tool_failed;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw SysError("waitpid(" + std::to_string(pid) + ")", errno);
    }
    return status;
}

// After "go": EOF means the command was exec'd; a message means the child failed and exits.
bool read_failure(int fd, Failure& f) {
    for (;;) {
        ssize_t n = ::recv(fd, &f, sizeof(f), 0);
        if (n == 0) return false;
        if (n > 0) return true;
        if (errno != EINTR) throw SysError("recv(sync socket)", errno);
    }
}

}  // namespace

std::vector<std::string> default_env() {
    std::vector<std::string> env = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root",
    };
    if (const char* term = ::getenv("TERM")) env.push_back(std::string("TERM=") + term);
    return env;
}

Context for_command(std::vector<std::string> argv) {
    Context ctx;
    ctx.argv = std::move(argv);
    ctx.env = default_env();
    return ctx;
}

namespace {

// What run() and create() share: every layer's prepare_host, the clone, every layer's
// join_child. The child then waits for "go"; `parent_end` is our end of the sync socket.
void spawn(const std::vector<Layer*>& layers, Context& ctx, ChildArgs& args, pid_t& child, unique_fd& parent_end) {
    int flags = 0;
    for (Layer* l : layers) flags |= l->clone_flags();
    for (Layer* l : layers) {
        l->prepare_host(ctx);
        throw_if_interrupted();
    }

    int sv[2];
    check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), "socketpair(AF_UNIX, SOCK_SEQPACKET)");
    parent_end.reset(sv[0]);
    unique_fd child_end(sv[1]);
    ctx.sync_fd = child_end.get();

    args.layers = &layers;
    args.ctx = &ctx;
    args.parent_end = parent_end.get();
    child = ctx.cgroup_fd >= 0 ? clone_child(args, flags, ctx.cgroup_fd) : -1;
    if (child < 0) {
        ctx.cgroup_fd = -1;  // not born there: the layer moves it (join_child)
        child = clone_child(args, flags);
    }
    ctx.pid = child;
    narrate::set_container_pid(child);
    child_end.reset();  // only the child holds it now: its exec (or exit) gives us EOF

    for (Layer* l : layers) {
        l->join_child(ctx);
        throw_if_interrupted();
    }
}

}  // namespace

int run(const std::vector<Layer*>& layers, Context ctx) {
    if (ctx.argv.empty()) throw Error("no command given");
    if (ctx.id.empty()) ctx.id = state::new_container_id();

    g_child = 0;
    g_pending = 0;
    install_forwarding();

    pid_t child = -1;
    bool released = false;
    // Whatever happens from here on, the host is put back as it was: the child is killed if it
    // was not released yet, and every layer cleans up, last one first.
    auto cleanup_all = [&] {
        if (child > 0 && !released) {
            ::kill(child, SIGKILL);
            wait_for(child);
        }
        for (auto it = layers.rbegin(); it != layers.rend(); ++it) (*it)->cleanup(ctx);
    };

    try {
        ChildArgs args{};
        unique_fd parent_end;
        spawn(layers, ctx, args, child, parent_end);

        GoMessage go{static_cast<int32_t>(child)};
        narrate::Op release{"launch", "send(go, pid=" + std::to_string(child) + ")",
                            "the host side is ready: the child sets itself up and execs the command",
                            "grep NSpid /proc/{pid}/status"};
        narrate::before(release);  // --step pauses here, while the terminal is still ours
        Terminal terminal;
        terminal.give_to(child);
        // Narrate first: once "go" is sent the child narrates its own setup, and the lines must
        // come out in the order things happen (the workshop's transcripts are compared verbatim).
        narrate::after(release, "ok");
        check(::send(parent_end.get(), &go, sizeof(go), MSG_NOSIGNAL), release.call);
        released = true;
        g_child = child;
        if (g_pending != 0) ::kill(child, g_pending);  // arrived just before the release

        Failure failure{};
        bool failed = read_failure(parent_end.get(), failure);
        int status = wait_for(child);
        terminal.take_back();
        cleanup_all();
        if (failed) {
            narrate::error(failure.text);
            return failure.exit_status;
        }
        narrate::note("launch", "container exited: status " + std::to_string(status_to_exit(status)));
        return status_to_exit(status);
    } catch (...) {
        cleanup_all();
        throw;
    }
}

pid_t create(const std::vector<Layer*>& layers, Context& ctx, const CreateHooks& hooks) {
    if (ctx.argv.empty()) throw Error("no command given");
    if (ctx.id.empty()) ctx.id = state::new_container_id();

    g_child = 0;
    g_pending = 0;
    install_forwarding();

    pid_t child = -1;
    bool detached = false;
    auto undo = [&] {
        if (child > 0 && !detached) {
            ::kill(child, SIGKILL);
            wait_for(child);
        }
        for (auto it = layers.rbegin(); it != layers.rend(); ++it) (*it)->cleanup(ctx);
    };

    try {
        ChildArgs args{};
        args.create = &hooks;
        unique_fd parent_end;
        spawn(layers, ctx, args, child, parent_end);

        GoMessage go{static_cast<int32_t>(child)};
        narrate::Op release{"launch", "send(go, pid=" + std::to_string(child) + ")",
                            "the host side is ready: the child sets itself up, then waits for start",
                            "grep NSpid /proc/{pid}/status"};
        narrate::before(release);
        narrate::after(release, "ok");
        check(::send(parent_end.get(), &go, sizeof(go), MSG_NOSIGNAL), release.call);

        // "ready": every setup_inside is done and the command exists. Or a failure, or EOF (died).
        Failure msg{};
        if (!read_failure(parent_end.get(), msg) || msg.kind == kFailure) {
            int status = wait_for(child);
            child = -1;
            if (msg.kind == kFailure && msg.text[0] != '\0') throw Error(msg.text, msg.exit_status);
            throw Error("the container's init died during setup (status " + std::to_string(status_to_exit(status)) + ")");
        }
        hooks.on_ready(ctx);
        throw_if_interrupted();
        narrate::Op commit{"launch", "send(commit)", "recorded: the init may now outlive this process", ""};
        narrate::sys(commit, [&] { return ::send(parent_end.get(), &go, sizeof(go), MSG_NOSIGNAL); });
        if (!read_failure(parent_end.get(), msg) || msg.kind != kDetached)
            throw Error("the container's init died before it was detached");
        detached = true;
        restore_default_signals();
        return child;
    } catch (...) {
        undo();
        restore_default_signals();
        throw;
    }
}

}  // namespace launch
