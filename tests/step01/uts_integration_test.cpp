// step01 as root: the real executable, observed from inside and from the host.
#include <climits>
#include <csignal>

#include "support.hpp"

using support::bin;
using support::run;

namespace {

std::string host_hostname() {
    char buf[HOST_NAME_MAX + 1] = {};
    ::gethostname(buf, sizeof buf);
    return buf;
}

TEST(Step01, HostnameIsSetInsideOnly) {
    REQUIRE_ROOT();
    std::string before = host_hostname();
    auto r = run({bin("step01_uts"), "--hostname", "box-1", "hostname"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "box-1\n");
    EXPECT_EQ(host_hostname(), before);
}

TEST(Step01, DefaultHostnameAndEnvironment) {
    REQUIRE_ROOT();
    auto r = run({bin("step01_uts"), "sh", "-c", "hostname; echo $HOSTNAME"});
    EXPECT_EQ(r.out, "minibox\nminibox\n");
}

TEST(Step01, UtsNamespaceDiffersFromTheHost) {
    REQUIRE_ROOT();
    support::Background tool({bin("step01_uts"), "sh", "-c", "echo ready; exec sleep 5"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t child = support::wait_for_child(tool.pid(), "sleep");
    ASSERT_GT(child, 0);
    EXPECT_NE(support::ns_link(child, "uts"), support::ns_link(0, "uts"));
    // Only UTS is new: the PID namespace is still the host's.
    EXPECT_EQ(support::ns_link(child, "pid"), support::ns_link(0, "pid"));
}

TEST(Step01, ExitStatusIsTheContainers) {
    REQUIRE_ROOT();
    EXPECT_EQ(run({bin("step01_uts"), "true"}).status, 0);
    EXPECT_EQ(run({bin("step01_uts"), "sh", "-c", "exit 7"}).status, 7);
    EXPECT_EQ(run({bin("step01_uts"), "sh", "-c", "kill -9 $$"}).status, 128 + 9);
}

TEST(Step01, ToolAndExecFailuresAreDockerCodes) {
    REQUIRE_ROOT();
    auto bad = run({bin("step01_uts"), "--hostname", "no/slash", "true"});
    EXPECT_EQ(bad.status, 125);
    EXPECT_NE(bad.err.find("hostname"), std::string::npos) << bad.err;

    auto not_exec = run({bin("step01_uts"), "/etc"});  // a directory: found, not executable
    EXPECT_EQ(not_exec.status, 126);
    EXPECT_NE(not_exec.err.find("Permission denied"), std::string::npos) << not_exec.err;

    auto missing = run({bin("step01_uts"), "no-such-command-xyz"});
    EXPECT_EQ(missing.status, 127);
    EXPECT_NE(missing.err.find("command not found"), std::string::npos) << missing.err;
    // One clear line.
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

TEST(Step01, SignalsToTheToolReachTheContainer) {
    REQUIRE_ROOT();
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        std::string name = sigabbrev_np(sig);
        support::Background tool({bin("step01_uts"), "sh", "-c",
                                  "trap 'echo got " + name + "; exit 3' " + name + "; echo ready; while :; do sleep 0.1; done"});
        ASSERT_NE(tool.wait_for_line("ready"), "");
        tool.signal(sig);
        EXPECT_NE(tool.wait_for_line("got " + name), "") << name;
        EXPECT_EQ(tool.wait(), 3) << name;
    }
}

TEST(Step01, ExplainNamesEachKernelOperation) {
    REQUIRE_ROOT();
    auto r = run({bin("step01_uts"), "--explain", "--hostname", "box", "true"});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.err.find("clone(CLONE_NEWUTS|SIGCHLD)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("sethostname(\"box\") = 0"), std::string::npos) << r.err;
    // Quiet by default: nothing but the container's own output.
    auto quiet = run({bin("step01_uts"), "true"});
    EXPECT_EQ(quiet.err, "");
}

}  // namespace

namespace {

TEST(Step01, StepPausesBeforeEachOperationOnATerminal) {
    REQUIRE_ROOT();
    // script(1) gives the tool a terminal; each newline we feed is one Enter.
    auto r = support::sh("printf '\\n\\n\\n\\n' | script -qec '" + bin("step01_uts") +
                         " --step --hostname box hostname' /dev/null");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("next: clone("), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("next: sethostname(\"box\")"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("host, before: hostname; nsenter -t "), std::string::npos) << r.out;  // and "host, after:" once it ran
    EXPECT_NE(r.out.find("press Enter"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("box\r\n"), std::string::npos) << r.out;
}

}  // namespace
