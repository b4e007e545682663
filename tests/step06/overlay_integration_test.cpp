// step06 as root: copy-on-write roots (inside: changes do not survive into the next
// container; outside: the image is byte-for-byte unchanged, no mount or directory is left on
// any path), imports of a tarball and of an OCI layout, malicious archives, bad input.
#include <dirent.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "oci_helper.hpp"
#include "support.hpp"
#include "tar_helper.hpp"
#include "unpack.hpp"

using support::bin;
using support::run;
using tartest::TempDir;

namespace {

// The machine's own network is never touched: the test process moves into a network namespace
// of its own (with a private run directory) before any test, as step04's tests do. Every tool it
// starts inherits both; step04's bridge and NAT for the containers live and die there.
class PrivateNetwork : public ::testing::Environment {
public:
    void SetUp() override {
        if (!support::is_root()) return;
        if (::unshare(CLONE_NEWNET) < 0) {
            std::perror("unshare(CLONE_NEWNET)");
            std::abort();
        }
        if (std::system("ip link set lo up") != 0) std::abort();
        ::setenv("MINIBOX_RUN", (run_.path() + "/run").c_str(), 1);
    }

private:
    TempDir run_;
};
const auto* const g_private_network = ::testing::AddGlobalTestEnvironment(new PrivateNetwork);

// Content and metadata of every file under `dir`, hashed: names, types, modes, owners, sizes,
// link targets, mtimes, and the bytes of every regular file.
// With `times`, modification times too (a store's own directories change their times as
// imports come and go; an image's files must not change at all).
std::string tree_hash(const std::string& dir, bool times = true) {
    std::string format = times ? "%P %y %m %U %G %s %l %T@\\n" : "%P %y %m %U %G %s %l\\n";
    auto r = support::sh("cd '" + dir + "' && { find . -printf '" + format + "' | LC_ALL=C sort; "
                         "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } | sha256sum");
    return r.out;
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Overlay mounts whose mount point is under `root`.
int overlay_mounts_under(const std::string& root) {
    int n = 0;
    for (auto& l : support::host_mounts())
        if (l.find(" " + root + "/") != std::string::npos && l.find(" - overlay ") != std::string::npos) ++n;
    return n;
}

// A store of its own for each test: a temporary MINIBOX_ROOT with busybox imported from a
// tarball of the default image (which is itself the "tarball of a root file system" test).
class Store : public ::testing::Test {
protected:
    void SetUp() override {
        if (!support::is_root()) return;
        root_ = tmp_ / "root";
        tarball_ = tmp_ / "busybox.tar";
        auto r = support::sh("tar -C '" + support::busybox_rootfs() + "' -cf '" + tarball_ + "' .");
        ASSERT_EQ(r.status, 0) << r.err;
        auto i = tool({"image", "import", tarball_, "busybox"});
        ASSERT_EQ(i.status, 0) << i.err;
    }
    void TearDown() override {
        // A failed test may leave a container's overlay mounted: unmount it so the temporary
        // directory can go (the tool itself would reap it on its next start).
        if (!root_.empty()) support::sh("findmnt -rn -o TARGET | grep '^" + root_ + "/' | xargs -r umount -l");
    }
    support::Result tool(std::vector<std::string> args, const std::string& input = "") {
        args.insert(args.begin(), {bin("step06_overlay"), "--root", root_});
        return run(args, input);
    }
    std::string containers() const { return root_ + "/containers"; }
    TempDir tmp_;
    std::string root_, tarball_;
};

TEST(Step06, ChangesDoNotReachTheNextContainerAndTheImageStaysUnchanged) {
    REQUIRE_ROOT();
    std::string image = support::busybox_rootfs();
    std::string before = tree_hash(image);
    ASSERT_FALSE(before.empty());
    auto first = run({bin("step06_overlay"), "run", "busybox", "sh", "-c",
                      "echo changed > /etc/written; rm /etc/group; echo x >> /etc/passwd; "
                      "ls /etc/written; cat /etc/group"});
    EXPECT_EQ(first.out, "/etc/written\n") << first.err;  // inside the same container: both changes seen
    auto second = run({bin("step06_overlay"), "run", "busybox", "sh", "-c",
                       "ls /etc/written 2>/dev/null; head -1 /etc/group; grep -c x$ /etc/passwd || true"});
    EXPECT_EQ(second.status, 0) << second.err;
    EXPECT_EQ(second.out, "root:x:0:\n0\n");  // not written, not deleted, not appended
    EXPECT_EQ(tree_hash(image), before);
}

TEST_F(Store, TheRootIsAnOverlayWhileTheContainerRuns) {
    REQUIRE_ROOT();
    support::Background box({bin("step06_overlay"), "--root", root_, "run", "--init", "busybox", "sh", "-c",
                             "echo ready; exec sleep 30"});
    ASSERT_NE(box.wait_for_line("ready"), "");
    // --init: the tool's child is init (PID 1), the command its child.
    auto kids = support::children_of(box.pid());
    ASSERT_EQ(kids.size(), 1u);
    pid_t child = support::wait_for_child(kids[0], "sleep");
    ASSERT_GT(child, 0);
    // Inside: "/" is an overlay. Outside: one overlay mount under the store, one container dir.
    std::string mi = support::read_file("/proc/" + std::to_string(child) + "/mountinfo");
    std::string root_line;
    std::istringstream lines(mi);
    for (std::string l; std::getline(lines, l);) {
        std::istringstream f(l);
        std::string id, parent, dev, root, point;
        f >> id >> parent >> dev >> root >> point;
        if (point == "/") root_line = l;
    }
    EXPECT_NE(root_line.find(" - overlay overlay "), std::string::npos) << mi;
    // Linux 5.10+: no sync of the upper file system when the overlay goes (see overlay.cpp);
    // mountinfo says ",volatile" (older kernels) or ",fsync=volatile" (newer ones: 6.18 here).
    EXPECT_NE(root_line.find("volatile"), std::string::npos) << root_line;
    EXPECT_EQ(overlay_mounts_under(root_), 1);
    auto ids = entries(containers());
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(entries(containers() + "/" + ids[0]),
              (std::vector<std::string>{"image", "merged", "owner", "upper", "work"}));
    box.signal(SIGTERM);
    box.wait();
    EXPECT_EQ(overlay_mounts_under(root_), 0);
    EXPECT_TRUE(entries(containers()).empty());
}

TEST_F(Store, NothingIsLeftAfterExitOrAnErrorHalfWay) {
    REQUIRE_ROOT();
    auto mounts = support::host_mounts();
    EXPECT_EQ(tool({"run", "busybox", "true"}).status, 0);
    EXPECT_EQ(tool({"run", "busybox", "sh", "-c", "exit 3"}).status, 3);
    // The overlay is mounted, then the mnt layer refuses a volume: an error half-way.
    auto r = tool({"run", "-v", "/tmp:/etc/hostname", "busybox", "true"});
    EXPECT_EQ(r.status, 125);
    EXPECT_NE(r.err.find("/etc/hostname"), std::string::npos) << r.err;
    // The child fails after pivot_root: the command does not exist.
    EXPECT_EQ(tool({"run", "busybox", "no-such-command"}).status, 127);
    EXPECT_EQ(overlay_mounts_under(root_), 0);
    EXPECT_TRUE(entries(containers()).empty());
    EXPECT_EQ(support::host_mounts(), mounts);
}

// step05's options reach the container: it runs in a cgroup of its own, its id the container's.
TEST_F(Store, Step05OptionsApply) {
    REQUIRE_ROOT();
    auto r = tool({"run", "--network", "none", "--pids-limit", "50", "busybox", "cat", "/proc/self/cgroup"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("/minibox/"), std::string::npos) << r.out;
    EXPECT_EQ(tool({"run", "--pids-limit", "0", "busybox", "true"}).status, 125);
    EXPECT_TRUE(entries(containers()).empty());
}

TEST_F(Store, AfterSigkillTheNextStartRemovesTheLeftovers) {
    REQUIRE_ROOT();
    {
        support::Background box({bin("step06_overlay"), "--root", root_, "run", "busybox", "sh", "-c",
                                 "echo ready; exec sleep 30"});
        ASSERT_NE(box.wait_for_line("ready"), "");
        box.signal(SIGKILL);
        box.wait();
    }
    // The tool could not clean up: its overlay and its directory are still there.
    EXPECT_EQ(overlay_mounts_under(root_), 1);
    EXPECT_EQ(entries(containers()).size(), 1u);
    // `minibox cleanup` lists it (and would remove it with --remove).
    ::setenv("MINIBOX_ROOT", root_.c_str(), 1);
    auto listed = run({bin("minibox"), "cleanup"});
    ::unsetenv("MINIBOX_ROOT");
    EXPECT_NE(listed.out.find("overlay " + containers() + "/"), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("with its overlay mount"), std::string::npos) << listed.out;
    auto r = tool({"run", "--explain", "busybox", "true"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("left by dead run"), std::string::npos) << r.err;
    EXPECT_EQ(overlay_mounts_under(root_), 0);
    EXPECT_TRUE(entries(containers()).empty());
}

TEST_F(Store, KeepLeavesTheUpperDirectoryAndSaysWhere) {
    REQUIRE_ROOT();
    auto r = tool({"run", "--keep", "busybox", "sh", "-c", "echo new > /root/file; rm /etc/group"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto ids = entries(containers());
    ASSERT_EQ(ids.size(), 1u);
    std::string upper = containers() + "/" + ids[0] + "/upper";
    EXPECT_NE(r.err.find(upper), std::string::npos) << r.err;
    EXPECT_EQ(support::read_file(upper + "/root/file"), "new\n");
    struct stat st {};
    ASSERT_EQ(::lstat((upper + "/etc/group").c_str(), &st), 0);  // the whiteout of a deletion
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, ::makedev(0, 0));
    EXPECT_EQ(overlay_mounts_under(root_), 0);
    // A kept directory is the learner's: the next start leaves it alone.
    EXPECT_EQ(tool({"run", "busybox", "true"}).status, 0);
    EXPECT_EQ(entries(containers()), ids);
}

// A real distribution's root file system, made offline from the host's own installed Debian
// packages (tests reach no network, so no debootstrap here): the files dpkg says bash, coreutils,
// dpkg, libc6 and their libraries own, at their canonical paths (merged /usr: /bin, /lib and
// /lib64 are the host's symlinks into usr/), with dpkg's database: about a thousand files of
// the kinds a distribution has: directories, symlinks, programs and shared libraries.
TEST_F(Store, ATarballOfARealDistributionRuns) {
    REQUIRE_ROOT();
    if (support::sh("command -v dpkg-query").status != 0)
        GTEST_SKIP() << "not a Debian-based host: no dpkg to take a distribution's files from";
    std::string root = tmp_ / "distro", tarball = tmp_ / "distro.tar";
    auto made = support::sh(
        "set -e; mkdir -p '" + root + "'; cd '" + root + "'; "
        "pkgs=$(dpkg-query -W -f='${Package}\\n' base-files bash coreutils dpkg libc6 libacl1 libattr1 "
        "libselinux1 libpcre2-8-0 libtinfo6 libgmp10 libzstd1 liblzma5 libbz2-1.0 zlib1g libmd0 libcrypt1 2>/dev/null); "
        "for p in $pkgs; do dpkg -L $p; done | while read -r f; do "
        "  [ -f \"$f\" ] || continue; d=$(readlink -f \"$(dirname \"$f\")\"); echo \"$d/$(basename \"$f\")\"; "
        "done | sort -u > ../files; "
        "cut -c2- ../files | tar -C / --no-recursion -cf - -T - | tar -xf -; "
        "for l in bin sbin lib lib64; do [ -L /$l ] && ln -sfn \"$(readlink /$l)\" $l || true; done; "
        "mkdir -p etc root tmp proc sys dev var/lib/dpkg; "
        "cp /var/lib/dpkg/status var/lib/dpkg/; cp /etc/debian_version etc/; "
        "echo 'root:x:0:0:root:/root:/bin/bash' > etc/passwd; echo 'root:x:0:' > etc/group; "
        "tar -C '" + root + "' -cf '" + tarball + "' .; wc -l < ../files");
    ASSERT_EQ(made.status, 0) << made.out << made.err;
    EXPECT_GT(std::stol(made.out), 500) << "too few files for a distribution: " << made.out;

    auto imp = tool({"image", "import", tarball, "debian"});
    ASSERT_EQ(imp.status, 0) << imp.err;
    auto r = tool({"run", "--network", "none", "debian", "/bin/bash", "-c",
                   "cat /etc/debian_version; id -un; dpkg-query -W -f='${Package}\\n' bash; ls -l /bin/ls | cut -c1"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, support::sh("cat /etc/debian_version").out + "root\nbash\n-\n") << r.err;
    EXPECT_EQ(overlay_mounts_under(root_), 0);
}

TEST_F(Store, AnImportedOciLayoutRunsWithItsConfigAndWhiteouts) {
    REQUIRE_ROOT();
    // Layer 0: the busybox root. Layer 1: deletes /etc/group, empties /root (opaque), adds a
    // file; the config gives Env, WorkingDir and Cmd.
    tartest::write_text(tmp_ / "motd", "");
    tartest::write_tar(tmp_ / "l1.tar", {tartest::file("etc/.wh.group", ""), tartest::file("root/.wh..wh..opq", ""),
                                         tartest::file("root/only", "upper\n"), tartest::file("srv/motd", "hello from layer 1\n")},
                       true);
    ASSERT_EQ(support::sh("echo kept > /dev/null; mkdir -p '" + tmp_ / "l0" + "' && tar -C '" +
                          support::busybox_rootfs() + "' -cf '" + tmp_ / "l0.tar" + "' . && mkdir -p '" +
                          tmp_ / "l0" + "/root'").status, 0);
    ocitest::make_layout(tmp_ / "oci", {tmp_ / "l0.tar", tmp_ / "l1.tar"},
                         {{"Env", {"GREETING=hi", "PATH=/bin:/usr/bin"}}, {"WorkingDir", "/srv"},
                          {"Entrypoint", {"/bin/sh", "-c"}}, {"Cmd", {"echo $GREETING; pwd; cat motd"}}},
                         true);
    auto imp = tool({"image", "import", tmp_ / "oci", "app"});
    ASSERT_EQ(imp.status, 0) << imp.err;
    EXPECT_NE(imp.out.find("imported app: 2 layers"), std::string::npos) << imp.out;
    auto r = tool({"run", "app"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hi\n/srv\nhello from layer 1\n");
    // The Entrypoint stays, the given words replace Cmd.
    r = tool({"run", "app", "ls /etc/group 2>&1; ls /root; echo $PATH"});
    EXPECT_NE(r.out.find("No such file"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("only\n/bin:/usr/bin\n"), std::string::npos) << r.out;
    // The whiteouts are overlayfs's own in the stored layer.
    std::string l1 = root_ + "/images/app/layers/1";
    struct stat st {};
    ASSERT_EQ(::lstat((l1 + "/etc/group").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(0, 0));
    char v[4] = {};
    EXPECT_EQ(::lgetxattr((l1 + "/root").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
    EXPECT_EQ(v[0], 'y');
    auto ls = tool({"image", "ls"});
    EXPECT_NE(ls.out.find("app "), std::string::npos) << ls.out;
}

// The same with a layout made by a real tool, when Debian's umoci is installed: gzip layers, a
// root entry "/", a whiteout added by `umoci insert --whiteout`.
TEST_F(Store, AnOciLayoutMadeByUmociRuns) {
    REQUIRE_ROOT();
    if (support::sh("command -v umoci").status != 0) GTEST_SKIP() << "umoci is not installed (optional package)";
    std::string l = tmp_ / "umoci";
    auto made = support::sh("umoci init --layout '" + l + "' && umoci new --image '" + l + ":t' && " +
                            "umoci insert --image '" + l + ":t' '" + support::busybox_rootfs() + "' / && " +
                            "umoci insert --image '" + l + ":t' --whiteout /etc/group && " +
                            "umoci config --image '" + l + ":t' --config.workingdir /root --config.cmd sh " +
                            "--config.cmd -c --config.cmd 'pwd; ls /etc/group 2>&1; cat /etc/passwd | head -1'");
    ASSERT_EQ(made.status, 0) << made.err;
    auto imp = tool({"image", "import", l, "umo"});
    ASSERT_EQ(imp.status, 0) << imp.err;
    EXPECT_NE(imp.out.find("2 layers"), std::string::npos) << imp.out;
    auto r = tool({"run", "--network", "none", "umo"});
    EXPECT_EQ(r.out, "/root\nls: /etc/group: No such file or directory\nroot:x:0:0:root:/root:/bin/sh\n") << r.err;
}

// A device node in an image (here /dev/zero's 1:5 as /root/zero) cannot be opened: the
// overlay is mounted MS_NODEV.
TEST_F(Store, DeviceNodesOfAnImageCannotBeOpened) {
    REQUIRE_ROOT();
    // The busybox root plus the device, in one tarball.
    ASSERT_EQ(support::sh("cd '" + tmp_.path() + "' && mkdir -p dev/root && mknod dev/root/zero c 1 5 && "
                          "tar -C '" + support::busybox_rootfs() + "' -cf devs.tar . && tar -C dev -rf devs.tar ./root/zero")
                  .status, 0);
    ASSERT_EQ(tool({"image", "import", tmp_ / "devs.tar", "devs"}).status, 0);
    auto r = tool({"run", "--network", "none", "devs", "sh", "-c", "head -c 1 /dev/zero | wc -c"});
    EXPECT_EQ(r.out, "1\n") << r.err;  // the container's own /dev works
    r = tool({"run", "--network", "none", "devs", "sh", "-c", "ls -l /root/zero; head -c 1 /root/zero"});
    EXPECT_NE(r.out.find("1,   5"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.out << r.err;
}

TEST_F(Store, MaliciousArchivesAreRefusedAndTheStoreIsUnchanged) {
    REQUIRE_ROOT();
    std::string outside = tmp_ / "outside";
    ::mkdir(outside.c_str(), 0755);
    tartest::write_text(outside + "/secret", "s");
    std::string before = tree_hash(root_, false);
    struct Case {
        const char* name;
        std::vector<tartest::Entry> entries;
        const char* says;
    } cases[] = {
        {"dotdot", {tartest::file("ok", "1"), tartest::file("../../../escaped", "x")}, "\"..\""},
        {"absolute", {tartest::file(outside + "/planted", "x")}, "absolute"},
        {"symlink", {tartest::symlink("evil", outside), tartest::file("evil/planted", "x")}, "symlink"},
        {"hardlink", {tartest::hardlink("h", outside + "/secret")}, "hard link"},
    };
    for (auto& c : cases) {
        std::string tar = tmp_ / (std::string(c.name) + ".tar");
        tartest::write_tar(tar, c.entries);
        auto r = tool({"image", "import", tar, c.name});
        EXPECT_EQ(r.status, 125) << c.name;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << c.name << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    EXPECT_EQ(entries(outside), (std::vector<std::string>{"secret"}));
    struct stat st {};
    ::stat((outside + "/secret").c_str(), &st);
    EXPECT_EQ(st.st_nlink, 1u);
    EXPECT_EQ(tree_hash(root_, false), before);
    EXPECT_FALSE(tartest::exists(tmp_ / "escaped"));
}

TEST_F(Store, BadInputIsOneLineAndExit125AndTheStoreIsUnchanged) {
    REQUIRE_ROOT();
    tartest::write_text(tmp_ / "corrupt.tar", std::string(5000, 'z'));
    tartest::write_tar(tmp_ / "l0.tar", {tartest::file("a", "1")});
    auto manifest = ocitest::make_layout(tmp_ / "oci-missing", {tmp_ / "l0.tar"}, nlohmann::json::object());
    ::unlink((tmp_ / ("oci-missing/blobs/sha256/" + manifest["layers"][0]["digest"].get<std::string>().substr(7))).c_str());
    tartest::write_tar(tmp_ / "l0.tar", {tartest::file("a", "1")});
    manifest = ocitest::make_layout(tmp_ / "oci-changed", {tmp_ / "l0.tar"}, nlohmann::json::object());
    std::string blob = tmp_ / ("oci-changed/blobs/sha256/" + manifest["layers"][0]["digest"].get<std::string>().substr(7));
    std::string bytes = support::read_file(blob);
    bytes[513] = 'X';  // inside the file's data block
    tartest::write_text(blob, bytes);

    std::string before = tree_hash(root_, false);
    std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"image", "import", tmp_ / "missing.tar", "x"}, "No such file"},
        {{"image", "import", tmp_ / "corrupt.tar", "x"}, "tar"},
        {{"image", "import", tarball_, "busybox"}, "already exists"},
        {{"image", "import", tarball_, "Bad/Name"}, "image name"},
        {{"image", "import", tmp_ / "oci-missing", "x"}, "missing blob"},
        {{"image", "import", tmp_ / "oci-changed", "x"}, "does not match its digest"},
        {{"image", "rm", "nosuch"}, "unknown image"},
        {{"run", "nosuch", "true"}, "unknown image"},
        {{"run", "--rootfs", "/", "busybox", "true"}, "--rootfs"},
    };
    for (auto& [args, says] : cases) {
        auto r = tool(args);
        EXPECT_EQ(r.status, 125) << args[1] << " " << args[2];
        EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    EXPECT_EQ(tree_hash(root_, false), before);
}

TEST_F(Store, ImageRmIsRefusedWhileAContainerUsesTheImage) {
    REQUIRE_ROOT();
    ASSERT_EQ(tool({"image", "import", tarball_, "second"}).status, 0);
    {
        support::Background box({bin("step06_overlay"), "--root", root_, "run", "--init", "second", "sh", "-c",
                                 "echo ready; exec sleep 30"});
        ASSERT_NE(box.wait_for_line("ready"), "");
        auto r = tool({"image", "rm", "second"});
        EXPECT_EQ(r.status, 125);
        EXPECT_NE(r.err.find("used by running container"), std::string::npos) << r.err;
        EXPECT_TRUE(tartest::exists(root_ + "/images/second"));
        box.signal(SIGTERM);
        box.wait();
    }
    auto r = tool({"image", "rm", "second"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(tartest::exists(root_ + "/images/second"));
    EXPECT_EQ(entries(root_ + "/images"), (std::vector<std::string>{"busybox"}));
}

TEST(Step06Whiteouts, OverlayFormsAreMadeInADirectory) {
    REQUIRE_ROOT();
    TempDir t;
    tartest::write_tar(t / "l.tar", {tartest::file("etc/.wh.passwd", ""), tartest::file("var/.wh..wh..opq", ""),
                                     tartest::file(".wh..wh.plnk", "")});
    ::mkdir((t / "layer").c_str(), 0755);
    image::unpack_layer(t / "l.tar", t / "layer", {});
    struct stat st {};
    ASSERT_EQ(::lstat((t / "layer/etc/passwd").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, ::makedev(0, 0));
    EXPECT_FALSE(tartest::exists(t / "layer/etc/.wh.passwd"));
    char v[4] = {};
    EXPECT_EQ(::lgetxattr((t / "layer/var").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
    EXPECT_EQ(v[0], 'y');
    EXPECT_FALSE(tartest::exists(t / "layer/.wh..wh.plnk"));
}

// ---------------------------------------------------------------------------------------------
// Issue 13: volume mount points go to the container's upper directory; imports are capped and
// sparse.

TEST_F(Store, AMissingVolumeMountPointIsMadeInTheUpperDirectoryNotTheImage) {
    REQUIRE_ROOT();
    std::string image = root_ + "/images/busybox";
    std::string before = tree_hash(image);
    ::mkdir((tmp_ / "vol").c_str(), 0755);
    std::ofstream(tmp_ / "vol/hello") << "hi\n";
    auto r = tool({"run", "-v", tmp_ / "vol" + ":/newdir/sub", "-v", tmp_ / "vol/hello" + ":/etc/new/hello:ro", "busybox",
                   "sh", "-c", "cat /newdir/sub/hello /etc/new/hello"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hi\nhi\n");
    EXPECT_EQ(tree_hash(image), before) << "the image's layers are not written";
    EXPECT_EQ(entries(containers()), std::vector<std::string>{}) << "the upper directory went with the container";
}

struct Blocks {
    off_t size = -1;
    long long allocated = -1;  // bytes, from st_blocks
};
Blocks blocks_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    return {st.st_size, static_cast<long long>(st.st_blocks) * 512};
}

TEST_F(Store, ImportWritesZerosAsHolesAndKeepsSparseEntriesSparse) {
    REQUIRE_ROOT();
    std::string src = tmp_ / "src";
    // zeros: 64 MiB of zeros stored in full in the tar (not a sparse entry); sparse: a GNU
    // sparse entry with data at 1 MiB and at its end.
    std::string cmd = "mkdir -p '" + src + "' && cd '" + src + "' && head -c 67108864 /dev/zero > zeros && "
                      "truncate -s 64M sparse && printf data | dd of=sparse bs=1 seek=1048576 conv=notrunc 2>/dev/null && "
                      "printf tail | dd of=sparse bs=1 seek=67108860 conv=notrunc 2>/dev/null && "
                      "tar -czf ../plain.tar.gz zeros && tar --sparse --format=gnu -cf ../sparse.tar sparse";
    ASSERT_EQ(support::sh(cmd).status, 0);
    ASSERT_EQ(tool({"image", "import", tmp_ / "plain.tar.gz", "zeros"}).status, 0);
    ASSERT_EQ(tool({"image", "import", tmp_ / "sparse.tar", "sparse"}).status, 0);
    auto z = blocks_of(root_ + "/images/zeros/layers/0/zeros");
    EXPECT_EQ(z.size, 67108864);
    EXPECT_LT(z.allocated, 1 << 20) << "64 MiB of zeros written as a hole";
    auto sp = blocks_of(root_ + "/images/sparse/layers/0/sparse");
    EXPECT_EQ(sp.size, 67108864);
    EXPECT_LT(sp.allocated, 1 << 20);
    EXPECT_EQ(support::sh("cmp '" + src + "/sparse' '" + root_ + "/images/sparse/layers/0/sparse'").status, 0);
    EXPECT_EQ(support::sh("cmp '" + src + "/zeros' '" + root_ + "/images/zeros/layers/0/zeros'").status, 0);
}

TEST_F(Store, ImportRefusesAnImageLargerThanMaxSizeAndLeavesNothing) {
    REQUIRE_ROOT();
    std::string src = tmp_ / "big";
    // 5 GiB apparent, a few bytes on disk and in the tarball: over the 4 GiB default.
    ASSERT_EQ(support::sh("mkdir -p '" + src + "' && truncate -s 5G '" + src + "/huge' && "
                          "tar --sparse -C '" + src + "' -czf '" + tmp_ / "huge.tar.gz" + "' huge && "
                          "head -c 3000000 /dev/urandom > '" + src + "/three' && "
                          "tar -C '" + src + "' -cf '" + tmp_ / "three.tar" + "' three").status, 0);
    auto before = entries(root_ + "/images");
    auto r = tool({"image", "import", tmp_ / "huge.tar.gz", "huge"});
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find("past the limit of 4294967296 bytes"), std::string::npos) << r.err;
    r = tool({"image", "import", "--max-size", "2m", tmp_ / "three.tar", "three"});
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find("past the limit of 2097152 bytes"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(entries(root_ + "/images"), before) << "no image, no .import directory";
    r = tool({"image", "import", "--max-size", "lots", tmp_ / "three.tar", "three"});
    EXPECT_EQ(r.status, 125);
    EXPECT_NE(r.err.find("--max-size"), std::string::npos) << r.err;
    EXPECT_EQ(tool({"image", "import", "--max-size", "4m", tmp_ / "three.tar", "three"}).status, 0);
}

TEST_F(Store, AZombieToolIsADeadOwnerItsOverlayIsListedAndReaped) {
    REQUIRE_ROOT();
    // The tool's parent never waits: after a SIGKILL the tool stays a zombie (state Z).
    std::string pidfile = tmp_ / "tool.pid";
    support::Background parent({"/bin/sh", "-c",
                                bin("step06_overlay") + " --root " + root_ + " run busybox sh -c 'echo ready; exec sleep 60' & "
                                "echo $! > " + pidfile + "; exec sleep 60"});
    ASSERT_NE(parent.wait_for_line("ready", std::chrono::seconds(20)), "");
    pid_t tool_pid = std::atoi(support::read_file(pidfile).c_str());
    ASSERT_GT(tool_pid, 0);
    ASSERT_EQ(::kill(tool_pid, SIGKILL), 0);
    std::string state;
    for (int i = 0; i < 100 && state != "Z"; ++i) {
        std::string st = support::read_file("/proc/" + std::to_string(tool_pid) + "/stat");
        auto close = st.rfind(')');
        state = close == std::string::npos ? "" : st.substr(close + 2, 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(state, "Z") << "the killed tool is a zombie";
    ASSERT_EQ(entries(containers()).size(), 1u);
    ::setenv("MINIBOX_ROOT", root_.c_str(), 1);
    auto listed = support::run({bin("minibox"), "cleanup"});
    ::unsetenv("MINIBOX_ROOT");
    EXPECT_NE(listed.out.find(containers() + "/"), std::string::npos) << "cleanup lists the zombie's container\n" << listed.out;
    auto next = tool({"run", "busybox", "true"});
    EXPECT_EQ(next.status, 0) << next.err;
    EXPECT_EQ(entries(containers()), std::vector<std::string>{}) << "the next start reaped it, zombie and all";
    EXPECT_EQ(overlay_mounts_under(root_), 0);
}

}  // namespace
