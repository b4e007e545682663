// OCI hooks: fork, execve the hook with its own argv and environment, the container's state on
// its stdin, and a deadline. The wait uses a pidfd (pidfd_open(2), Linux 5.3): poll(2) on it
// wakes when the hook exits, and on the hook's stderr pipe at the same time, so the deadline
// and the captured output need no busy loop. Kernels without pidfds fall back to waitpid(WNOHANG)
// and short sleeps.
#include "hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "error.hpp"
#include "narrate.hpp"
#include "unique_fd.hpp"

namespace hooks {
namespace {

using Clock = std::chrono::steady_clock;

// A hook that exits without reading its stdin (many do: they only need their arguments) closes
// the pipe: write(2) then fails with EPIPE and the kernel sends SIGPIPE, which would kill the
// runtime. SIGPIPE is blocked while a hook runs and a SIGPIPE raised meanwhile is taken back,
// so the caller's signal setup is left as it was.
class SigpipeGuard {
public:
    SigpipeGuard() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeGuard() {
        sigset_t pending;
        sigpending(&pending);
        if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
            timespec zero{0, 0};
            sigtimedwait(&pipe_, nullptr, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
    sigset_t pipe_, old_;
    bool was_pending_ = false;
};

// The hook's process: killed and reaped if the runtime leaves run_one() by an exception.
struct Child {
    pid_t pid = -1;
    bool reaped = false;
    ~Child() {
        if (pid > 0 && !reaped) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    auto nl = text.find_last_of('\n');
    std::string line = nl == std::string::npos ? text : text.substr(nl + 1);
    if (line.size() > 200) line = line.substr(0, 197) + "...";
    return line;
}

std::string describe(const spec::Hook& h) {
    std::string text = h.path;
    for (size_t i = 1; i < h.args.size(); ++i) text += " " + h.args[i];
    return text;
}

// Reads what is available on the stderr pipe (non-blocking); false at end of file.
bool drain(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            into.append(buf, static_cast<size_t>(n));
            if (into.size() > 65536) into.erase(0, into.size() - 65536);  // keep the tail only
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        return true;  // EAGAIN
    }
}

void run_one(const spec::Hook& hook, const std::string& state, const std::string& kind) {
    // Everything the child needs is prepared before fork(): after it, in a process that may
    // have threads, only async-signal-safe calls are allowed until execve.
    std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = hook.env;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    int in_pipe[2], err_pipe[2];
    check(::pipe2(in_pipe, O_CLOEXEC), "pipe2(O_CLOEXEC) for the hook's stdin");
    unique_fd in_read(in_pipe[0]), in_write(in_pipe[1]);
    check(::pipe2(err_pipe, O_CLOEXEC), "pipe2(O_CLOEXEC) for the hook's stderr");
    unique_fd err_read(err_pipe[0]), err_write(err_pipe[1]);
    // Closed by a successful execve (O_CLOEXEC); an errno arrives on it when execve failed.
    int exec_pipe[2];
    check(::pipe2(exec_pipe, O_CLOEXEC), "pipe2(O_CLOEXEC) for the hook's execve result");
    unique_fd exec_read(exec_pipe[0]), exec_write(exec_pipe[1]);

    std::string name = kind + " hook " + hook.path;
    SigpipeGuard no_sigpipe;
    const pid_t runtime = ::getpid();
    pid_t pid = static_cast<pid_t>(narrate::sys(
        {"hooks", "fork() + execve(\"" + describe(hook) + "\")",
         "the engine asked for a " + kind + " hook; it gets the container's state on stdin", ""},
        [&] { return ::fork(); }));
    if (pid == 0) {
        // The child: stdin from the pipe, stdout to the runtime's stderr (the runtime's stdout
        // may be a protocol, e.g. `state`), stderr to the capture pipe.
        ::dup2(in_read.get(), STDIN_FILENO);
        ::dup2(STDERR_FILENO, STDOUT_FILENO);
        ::dup2(err_write.get(), STDERR_FILENO);
        // The runtime may block signals (to forward them) or ignore SIGPIPE; the hook starts clean.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        // The runtime enforces the hook's timeout; a runtime killed meanwhile cannot, so the
        // hook goes with it rather than outliving the operation it belonged to.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != runtime) ::_exit(137);  // it died before the prctl
        // No runtime descriptor leaks into the hook (close_range(2), Linux 5.9), except the
        // execve-result pipe, which closes itself on a successful execve.
        unsigned keep = static_cast<unsigned>(exec_write.get());
        if (keep > 3) ::syscall(SYS_close_range, 3U, keep - 1, 0U);
        ::syscall(SYS_close_range, keep + 1, ~0U, 0U);
        ::execve(hook.path.c_str(), argv.data(), envp.data());
        int err = errno;
        ssize_t ignored = ::write(exec_write.get(), &err, sizeof err);
        (void)ignored;
        ::_exit(127);
    }
    Child child{pid};
    in_read.reset();
    err_write.reset();
    exec_write.reset();
    int exec_errno = 0;
    ssize_t got;
    do {
        got = ::read(exec_read.get(), &exec_errno, sizeof exec_errno);
    } while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof exec_errno)) {
        ::waitpid(pid, nullptr, 0);
        child.reaped = true;
        throw Error(name + " could not be executed: " + std::strerror(exec_errno), exit_code::tool_failed, exec_errno)
            .with_hint(exec_errno == ENOENT ? "the path is on the host, not in the container's root" : "");
    }

    // The state is written as the hook reads it, in the same loop that waits for the exit: a
    // state larger than the pipe's buffer (64 KiB of annotations) must neither block the
    // runtime nor be cut short.
    ::fcntl(in_write.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
    unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

    const auto deadline = hook.timeout ? Clock::now() + std::chrono::seconds(*hook.timeout) : Clock::time_point::max();
    std::string output;
    size_t written = 0;
    bool output_open = true;
    int status = 0;
    bool timed_out = false;
    while (!child.reaped) {
        if (in_write && written == state.size()) in_write.reset();  // end of file for the hook's stdin
        int wait_ms = pidfd ? -1 : 20;  // without a pidfd, waitpid(WNOHANG) every 20 ms
        if (hook.timeout) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            wait_ms = wait_ms < 0 ? static_cast<int>(std::min<long long>(left, 60000))
                                  : static_cast<int>(std::min<long long>(left, wait_ms));
        }
        pollfd fds[3] = {{pidfd ? pidfd.get() : -1, POLLIN, 0},
                         {output_open ? err_read.get() : -1, POLLIN, 0},
                         {in_write ? in_write.get() : -1, POLLOUT, 0}};
        int n = ::poll(fds, 3, wait_ms);
        if (n < 0 && errno != EINTR) throw SysError("poll(the pidfd and pipes of " + name + ")", errno);
        if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) output_open = drain(err_read.get(), output);
        if (n > 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = ::write(in_write.get(), state.data() + written, state.size() - written);
            if (w > 0) {
                written += static_cast<size_t>(w);
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                in_write.reset();  // EPIPE: the hook did not want its stdin
                written = state.size();
            }
        }
        if (!pidfd || (n > 0 && (fds[0].revents & POLLIN))) {
            if (::waitpid(pid, &status, pidfd ? 0 : WNOHANG) == pid) child.reaped = true;
        }
    }
    if (timed_out) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        child.reaped = true;
        narrate::note("hooks", name + ": killed (SIGKILL) after its timeout of " + std::to_string(*hook.timeout) + " s");
        throw Error(name + " timed out after " + std::to_string(*hook.timeout) + " s");
    }
    if (output_open) drain(err_read.get(), output);

    std::string tail = last_line(output);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        narrate::note("hooks", name + ": exited with status 0");
        return;
    }
    std::string what;
    if (WIFEXITED(status)) {
        what = "exited with status " + std::to_string(WEXITSTATUS(status));
    } else {
        const char* sig = ::sigabbrev_np(WTERMSIG(status));
        what = "was killed by signal " + (sig ? "SIG" + std::string(sig) : std::to_string(WTERMSIG(status)));
    }
    throw Error(name + " " + what + (tail.empty() ? "" : ": " + tail));
}

}  // namespace

void run_all(const std::vector<spec::Hook>& list, const nlohmann::json& state, const std::string& kind) {
    if (list.empty()) return;
    std::string text = state.dump();
    narrate::note("hooks", "running " + std::to_string(list.size()) + " " + kind + " hook(s), state on stdin: " + text);
    for (const auto& hook : list) run_one(hook, text, kind);
}

}  // namespace hooks
