// step03 as root: the container's tree seen from inside (what `ls` and mountinfo show) and from
// the host (the host's mount table never changes, volumes write through, the namespace differs),
// bad input, the escape probe, and the teaching toggles.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "launcher.hpp"
#include "mnt.hpp"
#include "pid.hpp"
#include "support.hpp"
#include "uts.hpp"

using support::bin;
using support::run;

namespace {

const std::string kTool = bin("step03_mnt");

// A scratch directory on the host, removed at the end; with a private copy of the busybox image
// for the tests that change the image (a volume's mount point made inside, writes to /).
class Scratch {
public:
    Scratch() {
        char tmpl[] = "/tmp/minibox-step03-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~Scratch() {
        // Never rm -rf through a mount: if a test left one behind, leave the files too.
        if (support::read_file("/proc/self/mountinfo").find(path_) == std::string::npos)
            support::sh("rm -rf '" + path_ + "'");
    }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
    std::string rootfs() {
        if (rootfs_.empty()) {
            rootfs_ = path_ + "/rootfs";
            auto r = support::sh("cp -a '" + support::busybox_rootfs() + "' '" + rootfs_ + "'");
            EXPECT_EQ(r.status, 0) << r.err;
        }
        return rootfs_;
    }

private:
    std::string path_, rootfs_;
};

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

std::string listing(const std::string& dir) {
    return support::sh("cd '" + dir + "' && find . | sort").out;
}

// The host's mount table must come back exactly as it was; on a difference, show it.
std::string mount_diff(const std::vector<std::string>& before, const std::vector<std::string>& after) {
    std::string d;
    for (auto& l : before)
        if (!std::binary_search(after.begin(), after.end(), l)) d += "- " + l + "\n";
    for (auto& l : after)
        if (!std::binary_search(before.begin(), before.end(), l)) d += "+ " + l + "\n";
    return d;
}
#define EXPECT_HOST_MOUNTS(before) EXPECT_EQ(mount_diff(before, support::host_mounts()), "")

// ---------------------------------------------------------------------------------------------
// Inside

TEST(Step03Inside, ProcShowsOnlyTheContainersProcesses) {
    REQUIRE_ROOT();
    auto r = run({kTool, "ls", "/proc"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> pids;
    for (auto& l : lines(r.out))
        if (!l.empty() && std::all_of(l.begin(), l.end(), ::isdigit)) pids.push_back(l);
    EXPECT_EQ(pids, std::vector<std::string>{"1"}) << r.out;  // ls itself, PID 1
    // And ps agrees: two processes, sh and ps.
    r = run({kTool, "sh", "-c", "ps -o pid,comm > /tmp/ps; cat /tmp/ps"});
    EXPECT_EQ(r.out, "PID   COMMAND\n    1 sh\n    2 ps\n") << r.err;
}

TEST(Step03Inside, TheRootIsTheImageAndHostPathsAreAbsent) {
    REQUIRE_ROOT();
    auto r = run({kTool, "sh", "-c", "ls -a /; test -e '" + support::source_dir() + "' && echo SOURCE-VISIBLE; "
                                     "test -e /var/lib/minibox && echo STORE-VISIBLE; true"});
    ASSERT_EQ(r.status, 0) << r.err;
    // What / holds inside is what the image holds.
    auto host = support::sh("ls -a '" + support::busybox_rootfs() + "'").out;
    EXPECT_EQ(r.out, host);
    EXPECT_EQ(r.out.find("VISIBLE"), std::string::npos) << r.out;
}

TEST(Step03Inside, MountinfoHoldsOnlyTheContainersMountsAndNoOldRoot) {
    REQUIRE_ROOT();
    auto r = run({kTool, "cat", "/proc/self/mountinfo"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::set<std::string> points;
    for (auto& l : lines(r.out)) {
        EXPECT_EQ(l.find("oldroot"), std::string::npos) << l;
        EXPECT_EQ(l.find("put_old"), std::string::npos) << l;
        std::istringstream in(l);
        std::string id, parent, dev, root, point;
        in >> id >> parent >> dev >> root >> point;
        points.insert(point);
        // The root mount is the image, bound: its "root" field names the image's directory.
        // The host's root (root field "/" on the host's root device) must be nowhere.
        if (point == "/") {
            EXPECT_EQ(root, support::busybox_rootfs()) << l;
        }
    }
    std::set<std::string> expected = {"/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/tmp"};
    EXPECT_EQ(points, expected) << r.out;
    EXPECT_EQ(lines(r.out).size(), expected.size()) << r.out;
}

TEST(Step03Inside, SpecialFileSystems) {
    REQUIRE_ROOT();
    auto r = run({kTool, "sh", "-c",
                  "for d in null zero full random urandom tty; do test -c /dev/$d || echo missing $d; done; "
                  "echo x > /dev/null || echo null-not-writable; "
                  "head -c 4 /dev/zero | wc -c; "
                  "for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done; "
                  "ls /dev/fd/ >/dev/null || echo no-fd; "
                  "touch /sys/x 2>&1; grep -w /sys /proc/self/mountinfo | cut -d' ' -f6; "
                  "grep -w /dev/pts /proc/self/mountinfo | grep -o 'ptmxmode=[0-9]*'; "
                  "echo s > /dev/shm/s && cat /dev/shm/s; echo t > /tmp/t && cat /tmp/t"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "4\n"
              "pts/ptmx\n/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\n"
              "touch: /sys/x: Read-only file system\n"
              "ro,nosuid,nodev,noexec,relatime\n"
              "ptmxmode=666\n"
              "s\nt\n");
}

TEST(Step03Inside, TmpIsPrivateToEachContainer) {
    REQUIRE_ROOT();
    Scratch s;
    auto r = run({kTool, "--rootfs", s.rootfs(), "sh", "-c", "echo mine > /tmp/mine"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(exists(s.rootfs() + "/tmp/mine"));  // not in the image
    r = run({kTool, "--rootfs", s.rootfs(), "ls", "/tmp"});
    EXPECT_EQ(r.out, "");  // nor in the next container
}

TEST(Step03Inside, ReadOnlyRootFailsWithEROFSButTmpShmAndVolumesWrite) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "vol").c_str(), 0755);
    ::mkdir((s.rootfs() + "/vol").c_str(), 0755);  // the mount point, in the image
    auto r = run({kTool, "--rootfs", s.rootfs(), "--read-only", "-v", s / "vol" + ":/vol", "sh", "-c",
                  "touch /etc/x 2>&1; mkdir /newdir 2>&1; "
                  "echo t > /tmp/t && echo tmp-ok; echo s > /dev/shm/s && echo shm-ok; "
                  "echo v > /vol/v && echo vol-ok; awk '$5 == \"/\" {print $6}' /proc/self/mountinfo"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "touch: /etc/x: Read-only file system\n"
              "mkdir: can't create directory '/newdir': Read-only file system\n"
              "tmp-ok\nshm-ok\nvol-ok\n"
              "ro,relatime\n");
    EXPECT_FALSE(exists(s.rootfs() + "/etc/x"));
    EXPECT_EQ(support::read_file(s / "vol/v"), "v\n");
    // Without --read-only the same write goes through (the test can fail).
    r = run({kTool, "--rootfs", s.rootfs(), "touch", "/etc/x"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(exists(s.rootfs() + "/etc/x"));
}

TEST(Step03Inside, VolumesReadAndWriteAsAsked) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "rw").c_str(), 0755);
    ::mkdir((s / "ro").c_str(), 0755);
    std::ofstream(s / "ro/hello") << "from the host\n";
    std::ofstream(s / "file") << "a single file\n";
    // The mount points are in the image (step03 never makes them there: see Step03Image).
    std::filesystem::create_directories(s.rootfs() + "/data/rw");
    std::filesystem::create_directories(s.rootfs() + "/data/ro");
    std::ofstream(s.rootfs() + "/etc/single") << "";
    auto image = listing(s.rootfs());
    auto r = run({kTool, "--rootfs", s.rootfs(), "-v", s / "rw" + ":/data/rw", "-v", s / "ro" + ":/data/ro:ro",
                  "-v", s / "file" + ":/etc/single:ro", "sh", "-c",
                  "echo written-inside > /data/rw/out && echo rw-ok; cat /data/ro/hello; "
                  "{ echo x > /data/ro/x; } 2>&1; rm /data/ro/hello 2>&1; cat /etc/single; "
                  "{ echo y >> /etc/single; } 2>&1; true"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "rw-ok\nfrom the host\n"
              "sh: can't create /data/ro/x: Read-only file system\n"
              "rm: can't remove '/data/ro/hello': Read-only file system\n"
              "a single file\n"
              "sh: can't create /etc/single: Read-only file system\n");
    // From the host: the file written inside is here; the read-only side is untouched.
    EXPECT_EQ(support::read_file(s / "rw/out"), "written-inside\n");
    EXPECT_TRUE(exists(s / "ro/hello"));
    EXPECT_FALSE(exists(s / "ro/x"));
    EXPECT_EQ(listing(s.rootfs()), image) << "the image is not written";
}

// ---------------------------------------------------------------------------------------------
// The image is never written: every container of step03 shares it.

TEST(Step03Image, AMissingVolumeTargetIsRefusedAndTheImageStaysAsItWas) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "x").c_str(), 0755);
    std::ofstream(s / "f") << "f\n";
    auto image = listing(support::busybox_rootfs());
    auto mounts = support::host_mounts();
    for (auto& spec : {s / "x" + ":/mnt", s / "f" + ":/mnt/newdir/f", s / "x" + ":/etc/newdir"}) {
        auto r = run({kTool, "-v", spec, "true"});
        EXPECT_EQ(r.status, 125) << spec << ": " << r.err;
        EXPECT_NE(r.err.find("does not exist in the image, and this step never writes into the image"), std::string::npos)
            << r.err;
        EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    }
    // Under /tmp (the container's own tmpfs) a missing point is fine, and made there.
    auto ok = run({kTool, "-v", s / "x" + ":/tmp/a/b", "ls", "-d", "/tmp/a/b"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(listing(support::busybox_rootfs()), image);
    EXPECT_FALSE(exists(support::busybox_rootfs() + "/mnt"));
    EXPECT_HOST_MOUNTS(mounts);
}

TEST(Step03Image, AnImageWithoutItsMountPointsIsRefusedNotChanged) {
    REQUIRE_ROOT();
    Scratch s;
    std::string rootfs = s.rootfs();
    ASSERT_EQ(::rmdir((rootfs + "/sys").c_str()), 0);
    auto image = listing(rootfs);
    auto r = run({kTool, "--rootfs", rootfs, "true"});
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find("has no directory /sys to mount on"), std::string::npos) << r.err;
    EXPECT_EQ(listing(rootfs), image);
}

TEST(Step03Image, VolumesOverTheKernelFileSystemsAreRefused) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "x").c_str(), 0755);
    std::string rootfs = s.rootfs();
    ASSERT_EQ(::symlink("proc/sys", (rootfs + "/psys").c_str()), 0);  // through the image's symlink
    auto image = listing(rootfs);
    for (std::string target : {"/proc", "/proc/sys", "/sys", "/sys/fs/cgroup", "/dev", "/dev/shm", "/psys"}) {
        auto r = run({kTool, "--rootfs", rootfs, "-v", s / "x" + ":" + target, "true"});
        EXPECT_EQ(r.status, 125) << target << ": " << r.err;
        EXPECT_NE(r.err.find("where the container's own /proc, /sys or /dev is mounted"), std::string::npos) << r.err;
        EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    }
    for (std::string target : {"/procx", "/device"}) {  // only the paths themselves and below
        std::filesystem::create_directories(rootfs + target);
        auto r = run({kTool, "--rootfs", rootfs, "-v", s / "x" + ":" + target, "true"});
        EXPECT_EQ(r.status, 0) << target << ": " << r.err;
    }
}

TEST(Step03Image, TheHostsRootIsRefusedAsAnImage) {
    REQUIRE_ROOT();
    auto mounts = support::host_mounts();
    auto r = run({kTool, "--rootfs", "/", "true"});
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find("is the host's own root"), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_HOST_MOUNTS(mounts);
}

TEST(Step03Inside, AVolumeMayGoIntoTmp) {
    REQUIRE_ROOT();
    Scratch s;
    std::ofstream(s / "f") << "in tmp\n";
    // Volumes come after /tmp's tmpfs: this one lands on the tmpfs, and the image is untouched.
    auto before = listing(support::busybox_rootfs());
    auto r = run({kTool, "-v", s / "f" + ":/tmp/sub/f:ro", "cat", "/tmp/sub/f"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "in tmp\n");
    EXPECT_EQ(listing(support::busybox_rootfs()), before);
}

// ---------------------------------------------------------------------------------------------
// Outside

TEST(Step03Outside, MountNamespaceDiffersAndTheHostTableIsUnchangedDuringTheRun) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "vol").c_str(), 0755);
    auto before = support::host_mounts();
    support::Background tool({kTool, "--read-only", "-v", s / "vol" + ":/tmp/vol", "sh", "-c", "echo ready; exec sleep 10"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t child = support::wait_for_child(tool.pid(), "sleep");
    ASSERT_GT(child, 0);
    EXPECT_NE(support::ns_link(child, "mnt"), support::ns_link(0, "mnt"));
    EXPECT_NE(support::ns_link(child, "mnt"), "");
    // The container has its mounts (seen through its own mountinfo)...
    auto inside = support::read_file("/proc/" + std::to_string(child) + "/mountinfo");
    EXPECT_NE(inside.find(" /tmp/vol "), std::string::npos) << inside;
    // ...and the host has none of them.
    EXPECT_HOST_MOUNTS(before);
    tool.signal(SIGKILL);
    tool.wait();
}

TEST(Step03Outside, HostMountTableIsUnchangedAfterRuns) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "vol").c_str(), 0755);
    auto before = support::host_mounts();
    EXPECT_EQ(run({kTool, "true"}).status, 0);
    EXPECT_EQ(run({kTool, "--read-only", "-v", s / "vol" + ":/tmp/v:ro", "--init", "true"}).status, 0);
    EXPECT_EQ(run({kTool, "sh", "-c", "exit 3"}).status, 3);
    EXPECT_HOST_MOUNTS(before);
}

TEST(Step03Outside, AFileWrittenToAVolumeIsOnTheHost) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "vol").c_str(), 0755);
    auto r = run({kTool, "-v", s / "vol" + ":/tmp/out", "sh", "-c", "hostname > /tmp/out/name"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(support::read_file(s / "vol/name"), "minibox\n");
}

TEST(Step03Outside, SigkillOfTheToolLeavesTheHostTableAsItWas) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "vol").c_str(), 0755);
    auto before = support::host_mounts();
    support::Background tool({kTool, "-v", s / "vol" + ":/tmp/v", "sh", "-c", "echo ready; exec sleep 30"});
    ASSERT_NE(tool.wait_for_line("ready"), "");
    pid_t child = support::wait_for_child(tool.pid(), "sleep");
    ASSERT_GT(child, 0);
    tool.signal(SIGKILL);
    EXPECT_EQ(tool.wait(), 128 + SIGKILL);
    // The container dies with the tool (PR_SET_PDEATHSIG), and its namespace with it.
    for (int i = 0; i < 500 && support::ns_link(child, "mnt") != ""; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(support::ns_link(child, "mnt"), "");
    EXPECT_HOST_MOUNTS(before);
}

// ---------------------------------------------------------------------------------------------
// Bad input: one line, 125 (127 for a missing command), nothing mounted, nothing created.

TEST(Step03BadInput, OneLineExit125AndNothingLeftBehind) {
    REQUIRE_ROOT();
    Scratch s;
    std::string rootfs = s.rootfs();
    ::mkdir((s / "vol").c_str(), 0755);
    ::mkdir((s / "outside").c_str(), 0755);
    ASSERT_EQ(::symlink("../../../../../../../../outside", (rootfs + "/out").c_str()), 0);
    ASSERT_EQ(::symlink("../../../../../../../../outside/new", (rootfs + "/outnew").c_str()), 0);
    std::string v = s / "vol";
    struct Case {
        std::vector<std::string> args;
        int status;
        std::string says;
    };
    const Case cases[] = {
        {{"--rootfs", s / "missing", "true"}, 125, "No such file or directory"},
        {{"--rootfs", "/etc/passwd", "true"}, 125, "not a directory"},
        {{"--rootfs", rootfs, "no-such-command"}, 127, "command not found"},
        {{"--rootfs", rootfs, "--", ""}, 127, "exec \"\": command not found"},
        {{"--rootfs", rootfs, "-v", s / "missing" + ":/x", "true"}, 125, "No such file or directory"},
        {{"--rootfs", rootfs, "-v", v + ":relative", "true"}, 125, "must be absolute"},
        {{"--rootfs", rootfs, "-v", v + ":/../x", "true"}, 125, "escapes the root"},
        {{"--rootfs", rootfs, "-v", v + ":/out/x", "true"}, 125, "escapes the root through the symlink /out"},
        {{"--rootfs", rootfs, "-v", v + ":/outnew", "true"}, 125, "escapes the root"},
        {{"--rootfs", rootfs, "-v", v + ":/etc/passwd", "true"}, 125, "is a file in the rootfs"},
        {{"--rootfs", rootfs, "-v", v + ":/x:rx", "true"}, 125, "unknown mode"},
        {{"--rootfs", rootfs, "-v", v, "true"}, 125, "expected HOST:CONTAINER"},
        {{"--rootfs", rootfs, "--no-such-option", "true"}, 125, "--no-such-option"},
    };
    auto mounts = support::host_mounts();
    auto image = listing(rootfs);
    auto out = listing(s / "outside");
    for (auto& c : cases) {
        std::vector<std::string> argv = {kTool};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = run(argv);
        std::string shown = c.args[c.args.size() - 2] + " " + c.args.back();
        EXPECT_EQ(r.status, c.status) << shown << ": " << r.err;
        EXPECT_EQ(lines(r.err).size(), 1u) << shown << ": " << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << shown << ": " << r.err;
        EXPECT_EQ(r.out, "");
    }
    EXPECT_HOST_MOUNTS(mounts);
    EXPECT_EQ(listing(rootfs), image);
    EXPECT_EQ(listing(s / "outside"), out);
}

// ---------------------------------------------------------------------------------------------
// The escape probe: the classic ways out, under pivot_root and under --chroot.

class Step03Escape : public ::testing::Test {
protected:
    void SetUp() override {
        marker_ = s_ / "host-marker";
        std::ofstream(marker_) << "host secret\n";
    }
    support::Result probe(std::vector<std::string> extra) {
        std::vector<std::string> argv = {kTool};
        argv.insert(argv.end(), extra.begin(), extra.end());
        for (std::string a : {std::string("-v"), bin("step03_escape") + ":/tmp/escape:ro", std::string("/tmp/escape"), marker_}) argv.push_back(a);
        return run(argv);
    }
    Scratch s_;
    std::string marker_;
};

TEST_F(Step03Escape, UnderPivotRootEveryAttemptStaysInside) {
    REQUIRE_ROOT();
    ASSERT_EQ(support::read_file(marker_), "host secret\n");  // the host can read it
    auto r = probe({});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 3u) << r.out;
    EXPECT_EQ(l[0].rfind(".. past /:       contained", 0), 0u) << l[0];
    EXPECT_EQ(l[1].rfind("/proc/1/root:    contained", 0), 0u) << l[1];
    EXPECT_EQ(l[2].rfind("chroot escape:   contained", 0), 0u) << l[2];
    EXPECT_EQ(r.out.find("host secret"), std::string::npos);
}

TEST_F(Step03Escape, UnderChrootTheClassicEscapeReachesTheHost) {
    REQUIRE_ROOT();
    auto before = support::host_mounts();
    auto r = probe({"--chroot"});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("chroot escape:   ESCAPED: read \"host secret\""), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("warning: --chroot is a teaching aid and unsafe"), std::string::npos) << r.err;
    EXPECT_HOST_MOUNTS(before);
}

// ---------------------------------------------------------------------------------------------
// --no-private, on a host whose mounts are shared. This machine's are private, so the tests make
// a throwaway mount namespace that behaves like a systemd host: `unshare --propagation shared`.
// Everything happens in there; the real host's table is compared around it as well.

support::Result in_shared_host(const std::string& run_dir, const std::string& script) {
    return support::run({"unshare", "--mount", "--propagation", "shared", "env", "MINIBOX_RUN=" + run_dir,
                         "T=" + kTool, "/bin/sh", "-c", script});
}

TEST(Step03NoPrivate, PivotRootRefusesASharedRootAndTheLeakIsCleanedUp) {
    REQUIRE_ROOT();
    Scratch s;
    auto host = support::host_mounts();
    auto r = in_shared_host(s.path(), "grep -c . /proc/self/mountinfo; $T --rootfs " + s.rootfs() +
                                          " --no-private true; echo status=$?; grep -c . /proc/self/mountinfo");
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 3u) << r.out << r.err;
    EXPECT_EQ(l[1], "status=125");
    EXPECT_EQ(l[0], l[2]) << "the shared host's table changed";
    EXPECT_NE(r.err.find("warning: --no-private is a teaching aid and unsafe"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("mount(s) of the container had propagated to the host, unmounted"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("pivot_root(\".\", \".\"): Invalid argument - the root mount is shared"), std::string::npos)
        << r.err;
    EXPECT_HOST_MOUNTS(host);
}

// The container waits until the host script creates `go` in the gate volume: no timing.
const char* kWaitForGate = "while [ ! -e /tmp/gate/go ]; do sleep 0.05; done";

TEST(Step03NoPrivate, MountsAppearOnTheHostDuringTheRunAndAreGoneAfter) {
    REQUIRE_ROOT();
    Scratch s;
    std::string rootfs = s.rootfs();
    ::mkdir((s / "gate").c_str(), 0755);
    auto host = support::host_mounts();
    // --chroot as well, so the container runs (pivot_root would refuse the shared root).
    auto r = in_shared_host(
        s.path(),
        "before=$(grep -c . /proc/self/mountinfo); "
        "$T --rootfs " + rootfs + " --no-private --chroot -v " + s / "gate" + ":/tmp/gate sh -c '" + kWaitForGate + "' & "
        "while ! grep -q ' " + rootfs + "/tmp/gate ' /proc/self/mountinfo; do sleep 0.05; done; "
        "echo during: $(grep -c ' " + rootfs + "/proc ' /proc/self/mountinfo) proc mounts under the rootfs; "
        "touch " + s / "gate/go" + "; wait $!; echo status=$?; "
        "echo after: $(grep -c ' " + rootfs + "' /proc/self/mountinfo); "
        "[ $before = $(grep -c . /proc/self/mountinfo) ] && echo table-restored");
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 4u) << r.out << r.err;
    EXPECT_NE(l[0], "during: 0 proc mounts under the rootfs");  // the leak is real...
    EXPECT_EQ(l[1], "status=0") << r.err;
    EXPECT_EQ(l[2], "after: 0");                                // ...and cleaned up
    EXPECT_EQ(l[3], "table-restored");
    EXPECT_NE(r.err.find("had propagated to the host, unmounted"), std::string::npos) << r.err;
    EXPECT_HOST_MOUNTS(host);
}

// Shell text: a --no-private run whose volume propagated to the (shared) host, SIGKILLed once
// its mount is visible there; the dead tool leaves the propagated mounts and its record.
std::string killed_no_private_run(Scratch& s) {
    std::string rootfs = s.rootfs();
    return "$T --rootfs " + rootfs + " --no-private --chroot -v " + s / "gate" + ":/tmp/gate sh -c '" + kWaitForGate +
           "' & while ! grep -q ' " + rootfs + "/tmp/gate ' /proc/self/mountinfo; do sleep 0.05; done; "
           "kill -KILL $!; wait $!; ";
}

TEST(Step03NoPrivate, AfterASigkillTheNextStartReapsWhatPropagated) {
    REQUIRE_ROOT();
    Scratch s;
    std::string rootfs = s.rootfs();
    ::mkdir((s / "gate").c_str(), 0755);
    auto host = support::host_mounts();
    auto r = in_shared_host(
        s.path(),
        "before=$(grep -c . /proc/self/mountinfo); "
        + killed_no_private_run(s) + "echo status=$?; "
        "echo left: $(grep -c ' " + rootfs + "' /proc/self/mountinfo); ls $MINIBOX_RUN | grep -c '^mnt-.*propagated$'; "
        "$T --explain --rootfs " + rootfs + " true 2>&1 | grep -c 'reaped .*left by dead run'; "
        "echo after: $(grep -c ' " + rootfs + "' /proc/self/mountinfo); ls $MINIBOX_RUN | grep -c '^mnt-'; "
        "[ $before = $(grep -c . /proc/self/mountinfo) ] && echo table-restored");
    auto l = lines(r.out);
    ASSERT_EQ(l.size(), 7u) << r.out << r.err;
    EXPECT_EQ(l[0], "status=137");
    EXPECT_NE(l[1], "left: 0");  // a SIGKILL leaves the propagated mounts behind...
    EXPECT_EQ(l[2], "1");        // ...with the record of who made them
    EXPECT_NE(l[3], "0");        // the next start reaps them
    EXPECT_EQ(l[4], "after: 0");
    EXPECT_EQ(l[5], "0");
    EXPECT_EQ(l[6], "table-restored");
    EXPECT_HOST_MOUNTS(host);
}

TEST(Step03NoPrivate, MiniboxCleanupListsAndRemovesWhatADeadRunPropagated) {
    REQUIRE_ROOT();
    Scratch s;
    std::string rootfs = s.rootfs();
    ::mkdir((s / "gate").c_str(), 0755);
    auto host = support::host_mounts();
    auto r = in_shared_host(
        s.path(),
        "before=$(grep -c . /proc/self/mountinfo); "
        + killed_no_private_run(s) + bin("minibox") + " cleanup; echo ---; " + bin("minibox") + " cleanup --remove >/dev/null; "
        "echo status=$?; " + bin("minibox") + " cleanup; "
        "[ $before = $(grep -c . /proc/self/mountinfo) ] && echo table-restored");
    auto l = lines(r.out);
    auto sep = std::find(l.begin(), l.end(), "---");
    ASSERT_NE(sep, l.end()) << r.out << r.err;
    std::vector<std::string> listed(l.begin(), sep), after(sep + 1, l.end());
    auto has = [&](const std::string& text) {
        return std::any_of(listed.begin(), listed.end(), [&](auto& x) { return x.find(text) != std::string::npos; });
    };
    EXPECT_TRUE(has("mount " + rootfs + " (propagated to the host by a --no-private run")) << r.out;
    EXPECT_TRUE(has("mount " + rootfs + "/tmp/gate (")) << r.out;
    EXPECT_TRUE(has("run-dir " + s.path() + "/mnt-")) << r.out;
    EXPECT_EQ(after, (std::vector<std::string>{"status=0", "nothing left behind", "table-restored"})) << r.out << r.err;
    EXPECT_HOST_MOUNTS(host);
}

// ---------------------------------------------------------------------------------------------
// For later layers: a detached copy of a host file, taken on the host side, attached inside
// after the root switch (what step04 does for /etc/hosts).

class Inject : public launch::Layer {
public:
    explicit Inject(std::string host) : host_(std::move(host)) {}
    const char* name() const override { return "inject"; }
    void prepare_host(launch::Context&) override { fd_ = mnt::detach(host_, true); }
    void setup_inside(launch::Context&) override { mnt::attach(fd_.get(), "/etc/injected"); }
    void cleanup(launch::Context&) noexcept override { fd_.reset(); }

private:
    std::string host_;
    unique_fd fd_;
};

TEST(Step03Later, ALaterLayerAttachesAHostFileAfterThePivot) {
    REQUIRE_ROOT();
    Scratch s;
    ::mkdir((s / "out").c_str(), 0755);
    std::ofstream(s / "hosts") << "127.0.0.1 injected\n";
    auto host = support::host_mounts();
    mnt::Config cfg;
    cfg.rootfs = s.rootfs();
    cfg.root_is_private = true;  // a copy of this test's own: mount points may be made in it
    cfg.volumes.push_back({s / "out", "/out", false});
    uts::Layer u{{}};
    pid::Layer p{{}};
    mnt::Layer m{cfg};
    Inject inject{s / "hosts"};
    auto ctx = launch::for_command(
        {"/bin/sh", "-c", "cat /etc/injected > /out/seen; echo x 2>/out/err >> /etc/injected; true"});
    EXPECT_EQ(launch::run({&u, &p, &m, &inject}, ctx), 0);
    EXPECT_EQ(support::read_file(s / "out/seen"), "127.0.0.1 injected\n");
    EXPECT_NE(support::read_file(s / "out/err").find("Read-only file system"), std::string::npos);
    EXPECT_EQ(support::read_file(s / "hosts"), "127.0.0.1 injected\n");
    EXPECT_HOST_MOUNTS(host);
}

// ---------------------------------------------------------------------------------------------
// Narration: every mount with its flags spelled out.

TEST(Step03Explain, NarratesEveryMountWithSymbolicFlags) {
    REQUIRE_ROOT();
    auto r = run({kTool, "--explain", "--read-only", "true"});
    EXPECT_EQ(r.status, 0) << r.err;
    for (std::string call : {"mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE)", "\", NULL, MS_BIND|MS_REC)",
                             "/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC)",
                             "/sys\", \"sysfs\", MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC)",
                             "\"newinstance,ptmxmode=0666,mode=0620\"", "pivot_root(\".\", \".\")",
                             "umount2(\".\", MNT_DETACH)", "mount(NULL, \"/\", NULL, MS_RDONLY|MS_REMOUNT|MS_BIND"})
        EXPECT_NE(r.err.find(call), std::string::npos) << call << "\n" << r.err;
}

}  // namespace
