// `minibox doctor` as another user than root, as a learner who forgot sudo runs it: a probe the
// kernel refuses must say "not permitted, run as root", never blame the machine (modprobe, a
// newer kernel, a missing image); and a check that cannot look must not say ok.
// Also `minibox cleanup` and step06's --keep: a kept container is listed and removable.
#include <sys/stat.h>

#include <regex>

#include "support.hpp"

using support::bin;
using support::run;

namespace {

// minibox doctor as nobody (needs root to switch users).
support::Result doctor_as_nobody(const std::vector<std::string>& names) {
    std::vector<std::string> argv = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                     bin("minibox"), "doctor"};
    argv.insert(argv.end(), names.begin(), names.end());
    return run(argv);
}

TEST(MiniboxDoctorUnprivileged, RefusedProbesSayRunAsRoot) {
    REQUIRE_ROOT();
    auto r = doctor_as_nobody({"veth", "bridge", "firewall", "nat", "mount-api", "uts", "mnt"});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    for (const char* name : {"veth", "bridge", "firewall", "nat", "mount-api", "uts", "mnt"}) {
        std::regex line(std::string("(^|\n)FAIL +") + name + " +[^\n]*not permitted as uid 65534[^\n]*\n +fix: run as root");
        EXPECT_TRUE(std::regex_search(r.out, line)) << name << " in:\n" << r.out;
    }
    // None of the fixes meant for a machine that lacks something.
    for (const char* wrong : {"modprobe", "Linux 5.2", "CONFIG_", "apt-get"})
        EXPECT_EQ(r.out.find(wrong), std::string::npos) << wrong << " in:\n" << r.out;
}

TEST(MiniboxDoctorUnprivileged, AnUnreadableStoreIsNotAMissingImage) {
    REQUIRE_ROOT();
    struct stat st {};
    std::string rootfs = support::busybox_rootfs();
    if (::stat((rootfs + "/bin/busybox").c_str(), &st) != 0) GTEST_SKIP() << "no default image";
    auto as_nobody = doctor_as_nobody({"image"});
    auto as_root = run({bin("minibox"), "doctor", "image"});
    EXPECT_EQ(as_root.status, 0) << as_root.out;
    // Only when nobody cannot read the store does the check differ, and then it says why.
    if (run({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "test", "-e", rootfs + "/bin/busybox"})
            .status != 0) {
        EXPECT_NE(as_nobody.out.find("not permitted as uid 65534"), std::string::npos) << as_nobody.out;
        EXPECT_EQ(as_nobody.out.find("is missing"), std::string::npos) << as_nobody.out;
    }
}

TEST(MiniboxDoctorUnprivileged, ForwardIsNotOkWhenItCouldNotLook) {
    REQUIRE_ROOT();
    auto r = doctor_as_nobody({"forward"});
    EXPECT_TRUE(std::regex_search(r.out, std::regex("(^|\n)warn +forward +not checked"))) << r.out;
    auto root = run({bin("minibox"), "doctor", "forward"});
    EXPECT_EQ(root.out.find("not checked"), std::string::npos) << root.out;
}

TEST(MiniboxDoctor, FirewallTriesLibnftablesNotAProgram) {
    REQUIRE_ROOT();
    auto r = run({bin("minibox"), "doctor", "firewall"});
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("libnftables"), std::string::npos) << r.out;
}

TEST(MiniboxCleanup, AKeptContainerIsListedAndRemoved) {
    REQUIRE_ROOT();
    char tmpl[] = "/tmp/minibox-kept.XXXXXX";
    std::string root = ::mkdtemp(tmpl);
    std::string dir = root + "/containers/0123456789ab";
    ASSERT_EQ(support::sh("mkdir -p " + dir + "/upper && echo box > " + dir + "/kept").status, 0);
    auto env = std::vector<std::string>{"/usr/bin/env", "MINIBOX_ROOT=" + root, bin("minibox"), "cleanup"};
    auto r = run(env);
    EXPECT_NE(r.out.find("kept " + dir + " (step06_overlay run --keep of image box"), std::string::npos) << r.out;
    env.push_back("--remove");
    r = run(env);
    EXPECT_NE(r.out.find("removed kept " + dir), std::string::npos) << r.out;
    struct stat st {};
    EXPECT_NE(::stat(dir.c_str(), &st), 0);
    support::sh("rm -rf " + root);
}

}  // namespace
