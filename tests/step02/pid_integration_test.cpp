// step02 as root: PID 1 inside, the PID namespace seen from the host, init duties.
#include <dirent.h>

#include <csignal>
#include <sstream>
#include <thread>

#include "support.hpp"

using support::bin;
using support::run;

namespace {

TEST(Step02, CommandIsPid1AndItsParentIs0) {
    REQUIRE_ROOT();
    auto r = run({bin("step02_pid"), "sh", "-c", "echo $$ $PPID"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "1 0\n");
}

TEST(Step02, UtsAndPidNamespacesDifferFromTheHost) {
    REQUIRE_ROOT();
    support::Background tool({bin("step02_pid"), "--hostname", "p", "sh", "-c", "echo ready; exec sleep 5"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t child = support::wait_for_child(tool.pid(), "sleep");
    ASSERT_GT(child, 0);
    EXPECT_NE(support::ns_link(child, "uts"), support::ns_link(0, "uts"));
    EXPECT_NE(support::ns_link(child, "pid"), support::ns_link(0, "pid"));
    // The host sees the child under its host pid; the kernel lists both numbers in NSpid.
    std::string status = support::read_file("/proc/" + std::to_string(child) + "/status");
    EXPECT_NE(status.find("NSpid:\t" + std::to_string(child) + "\t1\n"), std::string::npos) << status;
}

TEST(Step02, ExitCodes) {
    REQUIRE_ROOT();
    EXPECT_EQ(run({bin("step02_pid"), "sh", "-c", "exit 7"}).status, 7);
    EXPECT_EQ(run({bin("step02_pid"), "--init", "sh", "-c", "exit 7"}).status, 7);
    EXPECT_EQ(run({bin("step02_pid"), "--init", "sh", "-c", "kill -9 $$"}).status, 128 + 9);
    EXPECT_EQ(run({bin("step02_pid"), "--init", "no-such-command-xyz"}).status, 127);
    EXPECT_EQ(run({bin("step02_pid"), "--init", "/etc"}).status, 126);
    EXPECT_EQ(run({bin("step02_pid"), "--init", "--hostname", "", "true"}).status, 125);
}

TEST(Step02, InitRunsTheCommandAsPid2) {
    REQUIRE_ROOT();
    auto r = run({bin("step02_pid"), "--init", "sh", "-c", "echo $$ $PPID"});
    EXPECT_EQ(r.out, "2 1\n");
}

// Zombies in the PID namespace of `ns_of`: processes in state Z that share its pid namespace.
int zombies_in_namespace_of(pid_t ns_of) {
    std::string ns = support::ns_link(ns_of, "pid");
    int count = 0;
    DIR* d = ::opendir("/proc");
    while (dirent* e = ::readdir(d)) {
        pid_t p = std::atoi(e->d_name);
        if (p <= 0 || support::ns_link(p, "pid") != ns) continue;
        std::string stat = support::read_file("/proc/" + std::to_string(p) + "/stat");
        auto close = stat.rfind(')');
        if (close != std::string::npos && stat.compare(close + 2, 1, "Z") == 0) ++count;
    }
    ::closedir(d);
    return count;
}

// A subshell starts `sleep 0.1` in the background and exits: the sleep is orphaned and adopted
// by PID 1. When it ends, only PID 1 can reap it.
const char* kOrphanMaker = "(sleep 0.1 &); echo ready; exec sleep 3";

TEST(Step02, WithoutInitAnOrphanStaysAZombie) {
    REQUIRE_ROOT();
    support::Background tool({bin("step02_pid"), "sh", "-c", kOrphanMaker});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t pid1 = support::wait_for_child(tool.pid(), "sleep");
    ASSERT_GT(pid1, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    // PID 1 is `sleep`, which never calls wait(): the orphan's zombie remains.
    EXPECT_EQ(zombies_in_namespace_of(pid1), 1);
}

TEST(Step02, InitReapsOrphans) {
    REQUIRE_ROOT();
    support::Background tool({bin("step02_pid"), "--init", "sh", "-c", kOrphanMaker});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t init = support::wait_for_child(tool.pid(), "step02_pid");
    ASSERT_GT(init, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(zombies_in_namespace_of(init), 0);
}

TEST(Step02, Pid1IgnoresSignalsItHasNoHandlerFor) {
    REQUIRE_ROOT();
    // Without --init, `sleep` is PID 1 and has no SIGTERM handler: the kernel drops the signal
    // the tool forwards, and sleep runs to its end (status 0, not 143).
    support::Background tool({bin("step02_pid"), "sh", "-c", "echo ready; exec sleep 1"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    support::wait_for_child(tool.pid(), "sleep");
    tool.signal(SIGTERM);
    EXPECT_EQ(tool.wait(), 0);
}

TEST(Step02, InitForwardsSignalsToTheCommand) {
    REQUIRE_ROOT();
    support::Background tool({bin("step02_pid"), "--init", "sh", "-c", "echo ready; exec sleep 10"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t init = support::wait_for_child(tool.pid(), "step02_pid");
    ASSERT_GT(init, 0);
    ASSERT_GT(support::wait_for_child(init, "sleep"), 0);
    tool.signal(SIGTERM);
    EXPECT_EQ(tool.wait(), 128 + SIGTERM);
}

}  // namespace

namespace {

TEST(Step02, AnInteractiveShellGetsTheTerminal) {
    REQUIRE_ROOT();
    // script(1) runs the tool on a pseudo-terminal and types our lines into it.
    auto r = support::sh("printf 'echo pid=$$; tty; exit 5\\n' | script -qec '" + support::bin("step02_pid") +
                         " --init /bin/sh -i' /dev/null");
    EXPECT_EQ(r.status, 5) << r.out;
    EXPECT_NE(r.out.find("pid=2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/dev/pts/"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// --explain lines come out in the order things happen, interleaved with the command's output
// as a terminal shows them (the workshop compares these transcripts line by line). Before the
// fix, the parent's "send(go)" line raced the child's setup lines, and init's "fork()" line
// raced the command's first output.
TEST(Step02, ExplainLinesComeInLaunchOrder) {
    REQUIRE_ROOT();
    const std::vector<std::string> expected = {"[launch] clone(", "[launch] send(go", "[uts] sethostname(",
                                               "[pid] fork() = 2", "2", "[launch] container exited"};
    for (int i = 0; i < 20; ++i) {
        auto r = support::sh(support::bin("step02_pid") + " --explain --init sh -c 'echo $$' 2>&1");
        ASSERT_EQ(r.status, 0) << r.out;
        std::istringstream in(r.out);
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        ASSERT_EQ(lines.size(), expected.size()) << r.out;
        for (size_t k = 0; k < lines.size(); ++k)
            ASSERT_EQ(lines[k].rfind(expected[k], 0), 0u) << "line " << k + 1 << " of run " << i + 1 << ":\n" << r.out;
    }
}

}  // namespace
