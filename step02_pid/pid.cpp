#include "pid.hpp"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "narrate.hpp"

namespace pid {
namespace {

// The signals init passes on. SIGCHLD is not among them: init consumes it to reap.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t init_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (int sig : kForwarded) sigaddset(&set, sig);
    return set;
}

}  // namespace

void add_options(CLI::App& app, Config& cfg) {
    app.add_flag("--init", cfg.init,
                 "run a minimal init as PID 1: it forwards signals to COMMAND and reaps orphans");
}

int Layer::clone_flags() const { return CLONE_NEWPID; }

int supervise(pid_t command) {
    sigset_t set = init_signals();
    for (;;) {
        siginfo_t info{};
        if (::sigwaitinfo(&set, &info) < 0) continue;  // EINTR
        if (info.si_signo != SIGCHLD) {
            ::kill(command, info.si_signo);
            continue;
        }
        // SIGCHLD may stand for several children: reap until none is left to reap.
        int status = 0;
        for (pid_t p; (p = ::waitpid(-1, &status, WNOHANG)) > 0;) {
            if (p != command) continue;  // an adopted orphan: reaped, nothing more to do
            // When PID 1 exits, the kernel kills every other process of the namespace.
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
}

void Layer::before_exec(launch::Context& ctx) {
    if (!cfg_.init) {
        narrate::note("pid", "the command will be PID 1: signals without a handler are ignored, orphans are not reaped");
        return;
    }
    // Block the signals before fork, so none is lost between fork and sigwaitinfo.
    sigset_t set = init_signals(), old;
    ::sigprocmask(SIG_BLOCK, &set, &old);
    narrate::Op op{"pid", "fork()", "PID 1 stays as init; its child execs the command",
                   "ps -o pid,ppid,stat,cmd --ppid {pid}"};
    narrate::before(op);
    pid_t command = static_cast<pid_t>(check(::fork(), op.call));
    if (command == 0) {
        // Narrated by the child, before it goes on to exec: from init, the line could come out
        // after the command's own first output.
        narrate::after(op, std::to_string(::getpid()));
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        return;  // the launcher goes on to execve the command here
    }
    // Init keeps no part in the handshake: only the command's execve must close the socket.
    ::close(ctx.sync_fd);
    ::_exit(supervise(command));
}

}  // namespace pid
