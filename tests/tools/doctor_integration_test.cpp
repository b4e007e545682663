// `minibox doctor` and `minibox cleanup` as root, run as the learner runs them.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>

#include <regex>

#include "owner_helpers.hpp"
#include "support.hpp"

using support::bin;
using support::run;
namespace fs = std::filesystem;

namespace {

TEST(MiniboxDoctor, ReportsRootOkAndASummary) {
    REQUIRE_ROOT();
    auto r = run({bin("minibox"), "doctor"});
    EXPECT_TRUE(r.status == 0 || r.status == 1) << r.status << r.err;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("(^|\n)ok +root +running as uid 0\n"))) << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\ndoctor: [0-9]+ checks: [0-9]+ ok, [0-9]+ warnings?, [0-9]+ failed\n$")))
        << r.out;
    // The status follows the report: 1 exactly when a line says FAIL.
    EXPECT_EQ(r.status == 1, r.out.find("\nFAIL ") != std::string::npos || r.out.rfind("FAIL ", 0) == 0) << r.out;
    // Every check of the foundation is there.
    for (const char* name : {"root", "kernel", "namespaces", "userns", "propagation", "cgroups", "controllers",
                             "overlayfs", "veth", "bridge", "firewall", "image", "uts", "pid"})
        EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string("(^|\n)(ok|warn|FAIL) +") + name + " ")))
            << name << " missing in:\n" << r.out;
}

TEST(MiniboxDoctor, RunsNamedChecksOnly) {
    REQUIRE_ROOT();
    auto r = run({bin("minibox"), "doctor", "root", "uts", "pid"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out,
              "ok    root  running as uid 0\n"
              "ok    uts   unshare(CLONE_NEWUTS) + sethostname work\n"
              "ok    pid   unshare(CLONE_NEWPID): the first child is PID 1\n"
              "doctor: 3 checks: 3 ok, 0 warnings, 0 failed\n");
    EXPECT_EQ(run({bin("minibox"), "doctor", "no-such-check"}).status, 125);
}

TEST(MiniboxDoctor, AMissingImageFailsWithItsFix) {
    REQUIRE_ROOT();
    char tmpl[] = "/tmp/minibox-noimage.XXXXXX";
    std::string root = ::mkdtemp(tmpl);
    auto r = run({"/usr/bin/env", "MINIBOX_ROOT=" + root, bin("minibox"), "doctor", "image"});
    ::rmdir(root.c_str());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("FAIL  image  no default image: " + root + "/images/busybox/rootfs/bin/busybox is missing\n"
                         "      fix: MINIBOX_ROOT=" + root + " "),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("scripts/make-image.sh"), std::string::npos) << r.out;
}

TEST(MiniboxCleanup, AnEmptyRunDirLeavesNothing) {
    REQUIRE_ROOT();
    owner_test::TempRunDir run_dir;  // sets MINIBOX_RUN for the minibox we start
    auto r = run({bin("minibox"), "cleanup"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "nothing left behind\n");
    EXPECT_EQ(r.err, "");
}

TEST(MiniboxCleanup, FindsAndRemovesAStaleRecordButNotALiveOne) {
    REQUIRE_ROOT();
    owner_test::TempRunDir run_dir;
    state::Owner dead = owner_test::dead_owner();
    std::string stale = run_dir.dir("deadbeef0001", dead.str());
    std::string live = run_dir.file("deadbeef0002", state::Owner::self().str() + "\n");
    std::string line = "run-dir " + stale + " (owner " + dead.str() + " is gone)\n";

    auto listed = run({bin("minibox"), "cleanup"});
    EXPECT_EQ(listed.status, 0);
    EXPECT_EQ(listed.out, line);
    EXPECT_EQ(::access(stale.c_str(), F_OK), 0) << "listing must not remove";

    auto removed = run({bin("minibox"), "cleanup", "--remove"});
    EXPECT_EQ(removed.status, 0) << removed.err;
    EXPECT_EQ(removed.out, "removed " + line);
    EXPECT_NE(::access(stale.c_str(), F_OK), 0);
    EXPECT_EQ(::access(live.c_str(), F_OK), 0);

    EXPECT_EQ(run({bin("minibox"), "cleanup"}).out, "nothing left behind\n");
}

TEST(MiniboxCleanup, RefusesToRemoveThroughAMount) {
    REQUIRE_ROOT();
    // A mount namespace of this test process alone: the tmpfs below never reaches the host.
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    owner_test::TempRunDir run_dir;
    state::Owner dead = owner_test::dead_owner();
    std::string stale = run_dir.dir("deadbeef0003", dead.str());
    ASSERT_EQ(::mount("tmpfs", (stale + "/sub").c_str(), "tmpfs", 0, nullptr), 0);
    std::ofstream(stale + "/sub/precious") << "keep";

    auto r = run({bin("minibox"), "cleanup", "--remove"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("refusing to remove " + stale + ": " + stale + "/sub is mounted there"), std::string::npos)
        << r.err;
    EXPECT_EQ(::access((stale + "/sub/precious").c_str(), F_OK), 0);
    ::umount2((stale + "/sub").c_str(), MNT_DETACH);
}

// A tool killed while it used a store of its own (MINIBOX_ROOT) leaves its overlay mounted on
// the host; a cleanup looking only at the default store never saw it (found on this VM: an
// overlay on /tmp/lt.XXXX/root/containers/ID/merged outlived every run).
TEST(MiniboxCleanup, FindsTheOverlayOfAKilledRunInAnotherStore) {
    REQUIRE_ROOT();
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0);  // the overlay stays in this test's mount namespace
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    owner_test::TempRunDir run_dir;
    char tmpl[] = "/tmp/minibox-elsewhere-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string root = std::string(tmpl) + "/root";
    ASSERT_EQ(support::sh("mkdir -p '" + root + "/images/busybox' && cp -a '" + support::busybox_rootfs() + "' '" +
                          root + "/images/busybox/rootfs'")
                  .status,
              0);
    {
        support::Background tool({"env", "MINIBOX_ROOT=" + root, bin("step06_overlay"), "run", "--network", "none",
                                  "busybox", "sh", "-c", "echo ready; exec sleep 30"});
        ASSERT_NE(tool.wait_for_line("ready"), "");
        tool.signal(SIGKILL);
        tool.wait();
    }
    std::string containers = root + "/containers/";
    ASSERT_NE(support::read_file("/proc/self/mountinfo").find(containers), std::string::npos)
        << "a SIGKILLed tool leaves its overlay mounted";

    auto listed = run({bin("minibox"), "cleanup"});  // the default store: not this one
    EXPECT_NE(listed.out.find("overlay " + containers), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("(with its overlay mount"), std::string::npos) << listed.out;

    auto removed = run({bin("minibox"), "cleanup", "--remove"});
    EXPECT_EQ(removed.status, 0) << removed.err;
    EXPECT_EQ(support::read_file("/proc/self/mountinfo").find(containers), std::string::npos);
    EXPECT_TRUE(fs::is_empty(containers)) << "the container's directory goes too";
    EXPECT_EQ(run({bin("minibox"), "cleanup"}).out.find(containers), std::string::npos);
    fs::remove_all(tmpl);
}

}  // namespace
