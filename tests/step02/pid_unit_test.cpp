// step02 without root: the flags the layers ask for, and init's supervision loop run in an
// ordinary process (it does not need to be PID 1 to forward and reap).
#include <sched.h>
#include <sys/wait.h>

#include <csignal>

#include "pid.hpp"
#include "support.hpp"
#include "uts.hpp"

namespace {

TEST(PidLayer, FlagsComposeWithUts) {
    uts::Layer u{{}};
    pid::Layer p{{}};
    EXPECT_EQ(p.clone_flags(), CLONE_NEWPID);
    EXPECT_EQ(u.clone_flags() | p.clone_flags(), CLONE_NEWUTS | CLONE_NEWPID);
}

// Run supervise() in a forked process (as init does after its fork) and return its result.
int supervise_in_child(const std::function<void()>& command, const std::function<void(pid_t)>& poke = {}) {
    pid_t sup = ::fork();
    if (sup == 0) {
        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&set, s);
        sigset_t old;
        ::sigprocmask(SIG_BLOCK, &set, &old);
        pid_t cmd = ::fork();
        if (cmd == 0) {
            ::sigprocmask(SIG_SETMASK, &old, nullptr);
            command();
            ::_exit(0);
        }
        ::_exit(pid::supervise(cmd));
    }
    if (poke) poke(sup);
    int status = 0;
    ::waitpid(sup, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Init, ExitsWithTheCommandsStatus) {
    EXPECT_EQ(supervise_in_child([] { ::_exit(7); }), 7);
}

TEST(Init, ReportsASignalDeathAs128PlusN) {
    EXPECT_EQ(supervise_in_child([] { ::raise(SIGKILL); }), 128 + SIGKILL);
}

TEST(Init, ForwardsSignalsToTheCommand) {
    // The command waits for a signal; init must pass the SIGTERM we send to init itself.
    int status = supervise_in_child([] { ::pause(); }, [](pid_t sup) {
        ::usleep(100 * 1000);
        ::kill(sup, SIGTERM);
    });
    EXPECT_EQ(status, 128 + SIGTERM);
}

TEST(Init, ReapsChildrenThatAreNotTheCommand) {
    // A second child of init (an adopted orphan, in a real container) exits first and must
    // not be taken for the command.
    pid_t sup = ::fork();
    if (sup == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        ::sigprocmask(SIG_BLOCK, &set, nullptr);
        pid_t orphan = ::fork();
        if (orphan == 0) ::_exit(9);
        pid_t cmd = ::fork();
        if (cmd == 0) {
            ::usleep(200 * 1000);
            ::_exit(4);
        }
        int rc = pid::supervise(cmd);
        // The orphan was reaped: no child is left to wait for.
        ::_exit(::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD ? rc : 99);
    }
    int status = 0;
    ::waitpid(sup, &status, 0);
    EXPECT_EQ(WEXITSTATUS(status), 4);
}

}  // namespace
