// The doctor and cleanup registries without root: report format, exit status, the run-dir
// finder over a temporary MINIBOX_RUN, and the pieces of the host checks.
#include <sstream>

#include "doctor.hpp"
#include "error.hpp"
#include "host_checks.hpp"
#include "owner_helpers.hpp"
#include "support.hpp"

using doctor::CheckResult;

namespace {

TEST(Doctor, PrintsOneLinePerCheckAFixUnderFailuresAndASummary) {
    std::vector<doctor::Check> checks = {
        {"alpha", [] { return CheckResult::ok("fine"); }},
        {"b", [] { return CheckResult::warn("meh", "do w"); }},
        {"gamma", [] { return CheckResult::fail("broken", "do f"); }},
    };
    std::ostringstream out;
    EXPECT_EQ(doctor::run_checks(checks, out), 1);
    EXPECT_EQ(out.str(),
              "ok    alpha  fine\n"
              "warn  b      meh\n"
              "      fix: do w\n"
              "FAIL  gamma  broken\n"
              "      fix: do f\n"
              "doctor: 3 checks: 1 ok, 1 warning, 1 failed\n");
}

TEST(Doctor, WarningsAloneDoNotFail) {
    std::ostringstream out;
    EXPECT_EQ(doctor::run_checks({{"w", [] { return CheckResult::warn("meh", "x"); }},
                                  {"o", [] { return CheckResult::ok("y"); }}},
                                 out),
              0);
}

TEST(Doctor, ACheckThatThrowsCountsAsFailed) {
    std::ostringstream out;
    EXPECT_EQ(doctor::run_checks({{"boom", []() -> CheckResult { throw Error("kaput"); }}}, out), 1);
    EXPECT_NE(out.str().find("FAIL  boom  the check itself failed: kaput\n"), std::string::npos) << out.str();
}

TEST(Doctor, InChildReportsTheProbesStatus) {
    EXPECT_EQ(doctor::in_child([] { return 0; }), 0);
    EXPECT_EQ(doctor::in_child([] { return EPERM; }), EPERM);
    EXPECT_EQ(doctor::in_child([]() -> int { throw Error("x"); }), 1);
}

TEST(Cleanup, NothingFoundPrintsExactlyNothingLeftBehind) {
    std::ostringstream out, err;
    EXPECT_EQ(doctor::run_cleanup({[] { return std::vector<doctor::Leftover>{}; }}, false, out, err), 0);
    EXPECT_EQ(out.str(), "nothing left behind\n");
    EXPECT_EQ(err.str(), "");
}

TEST(Cleanup, ListsWithoutRemovingAndRemovesWithRemove) {
    int removed = 0;
    doctor::Finder find = [&] {
        return std::vector<doctor::Leftover>{{"mount", "/x", [&] { ++removed; }},
                                             {"veth", "mb-1", [&] { ++removed; }}};
    };
    std::ostringstream out, err;
    EXPECT_EQ(doctor::run_cleanup({find}, false, out, err), 0);
    EXPECT_EQ(out.str(), "mount /x\nveth mb-1\n");
    EXPECT_EQ(removed, 0);
    std::ostringstream out2;
    EXPECT_EQ(doctor::run_cleanup({find}, true, out2, err), 0);
    EXPECT_EQ(out2.str(), "removed mount /x\nremoved veth mb-1\n");
    EXPECT_EQ(removed, 2);
}

TEST(Cleanup, AFailedRemovalIsReportedAndExits1) {
    doctor::Finder find = [] {
        return std::vector<doctor::Leftover>{{"cgroup", "/sys/fs/cgroup/x", [] { throw SysError("rmdir(\"x\")", EBUSY); }},
                                             {"veth", "mb-2", [] {}}};
    };
    std::ostringstream out, err;
    EXPECT_EQ(doctor::run_cleanup({find}, true, out, err), 1);
    EXPECT_EQ(out.str(), "removed veth mb-2\n");  // the others are still removed
    EXPECT_NE(err.str().find("cannot remove cgroup /sys/fs/cgroup/x: rmdir(\"x\")"), std::string::npos) << err.str();
}

TEST(RunRecords, OwnerOfFilesAndDirectories) {
    owner_test::TempRunDir run;
    EXPECT_EQ(state::record_owner(run.file("a", "12:34\n"))->str(), "12:34");
    EXPECT_EQ(state::record_owner(run.dir("b", "56:78"))->str(), "56:78");
    EXPECT_FALSE(state::record_owner(run.file("c.lock", "")));
    EXPECT_FALSE(state::record_owner(run.file("d", "not an owner\n")));
    EXPECT_FALSE(state::record_owner(run.path() + "/missing"));
}

TEST(RunRecords, FinderListsOnlyRecordsOfDeadOwners) {
    owner_test::TempRunDir run;
    state::Owner dead = owner_test::dead_owner();
    ASSERT_GT(dead.pid, 0);
    ASSERT_FALSE(dead.alive());
    std::string f = run.file("0a0a0a0a0a0a", dead.str() + "\n");
    std::string d = run.dir("0b0b0b0b0b0b", dead.str());
    run.file("live", state::Owner::self().str() + "\n");
    run.file("ipam.lock", "");
    run.file("foreign", "hello\n");
    // The same pid with another start time is another process: dead too.
    state::Owner self = state::Owner::self();
    std::string reused = run.file("reused", std::to_string(self.pid) + ":" + std::to_string(self.start + 1) + "\n");

    auto found = doctor::stale_run_records();
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].kind, "run-dir");
    EXPECT_EQ(found[0].what, f + " (owner " + dead.str() + " is gone)");
    EXPECT_EQ(found[1].what, d + " (owner " + dead.str() + " is gone)");
    EXPECT_EQ(found[2].what, reused + " (owner " + std::to_string(self.pid) + ":" + std::to_string(self.start + 1) + " is gone)");
}

TEST(RunRecords, RemoveDeletesFilesAndWholeDirectories) {
    owner_test::TempRunDir run;
    state::Owner dead = owner_test::dead_owner();
    std::string f = run.file("0a0a0a0a0a0a", dead.str() + "\n");
    std::string d = run.dir("0b0b0b0b0b0b", dead.str());
    std::string live = run.file("live", state::Owner::self().str() + "\n");
    std::ostringstream out, err;
    EXPECT_EQ(doctor::run_cleanup({doctor::stale_run_records}, true, out, err), 0) << err.str();
    EXPECT_NE(::access(f.c_str(), F_OK), 0);
    EXPECT_NE(::access(d.c_str(), F_OK), 0);
    EXPECT_EQ(::access(live.c_str(), F_OK), 0);
    std::ostringstream again;
    doctor::run_cleanup({doctor::stale_run_records}, false, again, err);
    EXPECT_EQ(again.str(), "nothing left behind\n");
}

TEST(HostChecks, KernelVersion) {
    EXPECT_EQ(host_checks::kernel_version("6.18.44-fc-v669"), std::make_pair(6, 18));
    EXPECT_EQ(host_checks::kernel_version("5.4.0-150-generic"), std::make_pair(5, 4));
    EXPECT_EQ(host_checks::kernel_version("junk"), std::make_pair(0, 0));
}

TEST(HostChecks, RootPropagation) {
    const char* shared = "1 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                         "2 1 0:5 / /proc rw - proc proc rw\n";
    const char* priv = "1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n";
    const char* slave = "1 0 8:1 / / rw master:3 - ext4 /dev/sda1 rw\n";
    // A mount stacked on / later in the table is the one in effect.
    std::string stacked = std::string(shared) + "9 1 0:40 / / rw - tmpfs none rw\n";
    EXPECT_EQ(host_checks::root_propagation(shared), "shared");
    EXPECT_EQ(host_checks::root_propagation(priv), "private");
    EXPECT_EQ(host_checks::root_propagation(slave), "slave");
    EXPECT_EQ(host_checks::root_propagation(stacked), "private");
    EXPECT_EQ(host_checks::root_propagation(""), "");
}

TEST(HostChecks, EnabledControllers) {
    const char* text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
                       "cpu\t1\t1\t1\n"
                       "memory\t4\t9\t1\n"
                       "rdma\t0\t1\t0\n";
    EXPECT_EQ(host_checks::enabled_controllers(text), (std::vector<std::string>{"cpu", "memory"}));
}

}  // namespace
