// nsinfo as root: inside a container it reports the container's view; the copy in the default
// image runs there too.
#include <sys/stat.h>
#include <unistd.h>

#include "nsinfo_facts.hpp"
#include "support.hpp"

using nsinfo_test::facts;
using support::bin;
using support::run;

namespace {

TEST(NsinfoInside, Step02ShowsPid1AndItsOwnUtsAndPidNamespaces) {
    REQUIRE_ROOT();
    auto host = facts(run({bin("nsinfo")}).out);
    auto r = run({bin("step02_pid"), "--hostname", "probe", bin("nsinfo")});
    ASSERT_EQ(r.status, 0) << r.err;
    auto in = facts(r.out);
    EXPECT_EQ(in["pid"], "1");
    EXPECT_EQ(in["ppid"], "0");
    EXPECT_EQ(in["hostname"], "probe");
    EXPECT_NE(in["ns.uts"], host["ns.uts"]);
    EXPECT_NE(in["ns.pid"], host["ns.pid"]);
    EXPECT_NE(in["ns.uts"], "unavailable");
    EXPECT_NE(in["ns.pid"], "unavailable");
    // step02 creates no other namespace.
    for (const char* ns : {"ns.mnt", "ns.net", "ns.ipc", "ns.user", "ns.cgroup"})
        EXPECT_EQ(in[ns], host[ns]) << ns;
}

TEST(NsinfoInside, InodesMatchWhatTheHostSeesOfTheContainer) {
    REQUIRE_ROOT();
    support::Background tool({bin("step02_pid"), "sh", "-c", bin("nsinfo") + "; echo ready; exec sleep 5"});
    std::string line = tool.wait_for_line("ready");
    ASSERT_NE(line, "");
    pid_t child = support::wait_for_child(tool.pid(), "sleep");
    ASSERT_GT(child, 0);
    auto in = facts(tool.out());
    for (const char* ns : {"uts", "pid"}) {
        struct stat st {};
        std::string link = "/proc/" + std::to_string(child) + "/ns/" + ns;
        ASSERT_EQ(::stat(link.c_str(), &st), 0) << link;
        EXPECT_EQ(in[std::string("ns.") + ns], std::to_string(st.st_ino)) << ns;
    }
}

TEST(NsinfoInside, TheImageCopyIsStaticAndRunsInAContainer) {
    REQUIRE_ROOT();
    std::string probe = support::busybox_rootfs() + "/bin/nsinfo";
    ASSERT_EQ(::access(probe.c_str(), X_OK), 0)
        << probe << " missing: run scripts/setup.sh (or scripts/make-image.sh build/bin/nsinfo)";
    auto r = run({bin("step02_pid"), probe});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(facts(r.out)["pid"], "1");
}

}  // namespace
