// step07 cgroups and devices on the real kernel (root): a container's cgroup under a parent of
// the test's own (/minibox-test-<pid> in every hierarchy), its limit files as the kernel
// reads them back, pids.max refusing a fork, the freezer stopping a process, the device
// rules refusing an open, and nothing left in any hierarchy afterwards. On a hybrid host the
// v2 device program is also tried on the cgroup2 mount (unified/), where it applies to the
// processes of a cgroup2 directory even though the controllers are v1's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

#include "backend.hpp"
#include "devices.hpp"
#include "devices_bpf.hpp"
#include "error.hpp"
#include "limits.hpp"
#include "resources.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string test_parent() { return "/minibox-test-" + std::to_string(::getpid()); }

// Every directory named `rel` in every hierarchy of this host.
std::vector<std::string> everywhere(const cgroup::Host& h, const std::string& rel) {
    std::vector<std::string> out;
    if (!h.v2.empty()) out.push_back(h.v2 + rel);
    for (auto& [c, mount] : h.v1) out.push_back(mount + rel);
    return out;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// A child that waits until the parent has put it where it belongs, then runs `body` and exits
// with its result.
struct Child {
    pid_t pid = -1;
    int go = -1;
    explicit Child(std::function<int()> body) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        pid = ::fork();
        if (pid == 0) {
            ::close(p[1]);
            char c;
            if (::read(p[0], &c, 1) != 1) ::_exit(90);
            ::_exit(body());
        }
        ::close(p[0]);
        go = p[1];
    }
    void release() {
        if (go >= 0) {
            (void)!::write(go, "g", 1);
            ::close(go);
            go = -1;
        }
    }
    // The exit status, or 128+N for a signal; -1 on timeout.
    int wait(std::chrono::milliseconds timeout = 10s) {
        auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            int st = 0;
            pid_t r = ::waitpid(pid, &st, WNOHANG);
            if (r == pid) {
                pid = -1;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            std::this_thread::sleep_for(5ms);
        }
        return -1;
    }
    ~Child() {
        release();
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

// Removes the container whatever happens to the test.
struct Guard {
    resources::Container& c;
    ~Guard() {
        try {
            c.destroy();
        } catch (const Error& e) {
            ADD_FAILURE() << "destroy: " << e.line();
        }
    }
};

class Resources : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        host_ = cgroup::detect();
        if (host_.layout == cgroup::Layout::none) GTEST_SKIP() << "no cgroup file system";
        path_ = test_parent() + "/ctr";
    }
    void TearDown() override {
        // Nothing of the test's may be left, in any hierarchy.
        for (auto& d : everywhere(host_, test_parent())) {
            EXPECT_FALSE(fs::exists(d)) << d << " left behind";
            ::rmdir((d + "/ctr").c_str());
            ::rmdir(d.c_str());
        }
    }
    std::string dir_of(const resources::Container& c, const std::string& file) const {
        for (auto& d : c.dirs())
            if (fs::exists(d + "/" + file)) return d;
        return "";
    }
    cgroup::Host host_;
    std::string path_;
};

}  // namespace

TEST_F(Resources, LimitsAsTheKernelReadsThemAndPidsMaxRefusesAFork) {
    spec::Resources res;
    res.memory_limit = 64LL << 20;
    res.memory_reservation = 32LL << 20;
    res.memory_swap = 128LL << 20;
    res.pids_limit = 8;
    res.cpu_shares = 512;
    res.cpu_quota = 50000;
    res.cpu_period = 100000;
    auto c = resources::Container::plan(path_, "ctr", false, res);
    for (auto& d : c.dirs()) EXPECT_FALSE(fs::exists(d)) << "plan made " << d;
    c.create();
    Guard guard{c};
    for (auto& d : c.dirs()) EXPECT_TRUE(fs::is_directory(d)) << d;
    bool v2 = host_.uses_v2();
    if (v2) {
        std::string d = c.dirs().front();
        EXPECT_EQ(trimmed(support::read_file(d + "/memory.max")), "67108864");
        EXPECT_EQ(trimmed(support::read_file(d + "/memory.low")), "33554432");
        if (fs::exists(d + "/memory.swap.max")) {
            EXPECT_EQ(trimmed(support::read_file(d + "/memory.swap.max")), "67108864");
        }
        EXPECT_EQ(trimmed(support::read_file(d + "/pids.max")), "8");
        EXPECT_EQ(trimmed(support::read_file(d + "/cpu.max")), "50000 100000");
        EXPECT_EQ(trimmed(support::read_file(d + "/cpu.weight")), std::to_string(cgroup::shares_to_weight(512)));
    } else {
        std::string mem = dir_of(c, "memory.limit_in_bytes");
        ASSERT_FALSE(mem.empty());
        EXPECT_EQ(trimmed(support::read_file(mem + "/memory.limit_in_bytes")), "67108864");
        EXPECT_EQ(trimmed(support::read_file(mem + "/memory.soft_limit_in_bytes")), "33554432");
        if (fs::exists(mem + "/memory.memsw.limit_in_bytes")) {
            EXPECT_EQ(trimmed(support::read_file(mem + "/memory.memsw.limit_in_bytes")), "134217728");
        }
        std::string pids = dir_of(c, "pids.max");
        EXPECT_EQ(trimmed(support::read_file(pids + "/pids.max")), "8");
        std::string cpu = dir_of(c, "cpu.shares");
        EXPECT_EQ(trimmed(support::read_file(cpu + "/cpu.shares")), "512");
        EXPECT_EQ(trimmed(support::read_file(cpu + "/cpu.cfs_quota_us")), "50000");
        // The device list the kernel keeps: the defaults, nothing else.
        std::string dev = dir_of(c, "devices.list");
        ASSERT_FALSE(dev.empty());
        std::string list = support::read_file(dev + "/devices.list");
        EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << list;
        EXPECT_NE(list.find("c 136:* rwm"), std::string::npos) << list;
        EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
    }

    // A child in the cgroup forks until the kernel refuses: it may hold 8 tasks, itself included.
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    Child child([&] {
        ::close(report[0]);
        int made = 0, err = 0;
        for (; made < 50; ++made) {
            pid_t p = ::fork();
            if (p == 0) {
                ::pause();
                ::_exit(0);
            }
            if (p < 0) {
                err = errno;
                break;
            }
        }
        int out[2] = {made, err};
        (void)!::write(report[1], out, sizeof out);
        ::pause();
        return 0;
    });
    ::close(report[1]);
    c.add_pid(child.pid);
    child.release();
    int got[2] = {-1, -1};
    ASSERT_EQ(::read(report[0], got, sizeof got), static_cast<ssize_t>(sizeof got));
    ::close(report[0]);
    EXPECT_EQ(got[0], 7) << "children forked before the refusal";
    EXPECT_EQ(got[1], EAGAIN);
    EXPECT_EQ(c.pids().size(), 8U) << "the child and its 7 children, seen from the host";
    auto stats = c.stats();
    EXPECT_EQ(stats["pids"]["current"], 8);
    EXPECT_EQ(stats["pids"]["limit"], 8);
    EXPECT_GT(stats["memory"]["usage"]["usage"].get<uint64_t>(), 0U);

    // destroy kills all eight and removes every directory, the test's parent too (made by create).
    c.destroy();
    EXPECT_EQ(child.wait(), 128 + SIGKILL);
    for (auto& d : everywhere(host_, test_parent())) EXPECT_FALSE(fs::exists(d)) << d;
    EXPECT_NO_THROW(c.destroy());
}

TEST_F(Resources, FreezeStopsTheProcessesAndThawLetsThemRun) {
    auto c = resources::Container::plan(path_, "ctr", false, std::nullopt);
    c.create();
    Guard guard{c};
    int ticks[2];
    ASSERT_EQ(::pipe2(ticks, O_NONBLOCK), 0);
    Child child([&] {
        ::close(ticks[0]);
        for (;;) {
            (void)!::write(ticks[1], "t", 1);
            ::usleep(5000);
        }
        return 0;
    });
    ::close(ticks[1]);
    c.add_pid(child.pid);
    child.release();
    auto drain = [&] {
        char buf[4096];
        ssize_t total = 0, n;
        while ((n = ::read(ticks[0], buf, sizeof buf)) > 0) total += n;
        return total;
    };
    std::this_thread::sleep_for(100ms);
    EXPECT_GT(drain(), 0) << "the child ticks";
    c.freeze();
    EXPECT_TRUE(c.frozen());
    drain();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(drain(), 0) << "a frozen process does not run";
    c.thaw();
    EXPECT_FALSE(c.frozen());
    std::this_thread::sleep_for(200ms);
    EXPECT_GT(drain(), 0) << "thawed, it runs again";

    // Frozen again, then destroyed: destroy thaws first, or a v1 process would never die.
    c.freeze();
    c.destroy();
    EXPECT_EQ(child.wait(), 128 + SIGKILL);
    ::close(ticks[0]);
}

TEST_F(Resources, SignalAllReachesEveryProcess) {
    auto c = resources::Container::plan(path_, "ctr", false, std::nullopt);
    c.create();
    Guard guard{c};
    Child child([] {
        ::pause();
        return 0;
    });
    c.add_pid(child.pid);
    child.release();
    EXPECT_EQ(c.pids(), std::vector<pid_t>{child.pid});
    c.signal_all(SIGTERM);
    EXPECT_EQ(child.wait(), 128 + SIGTERM);
    c.destroy();
}

TEST_F(Resources, TheDefaultDeviceRulesRefuseOtherNodes) {
    // Nodes made by the test (on the host, as root) in a directory of its own: the cgroup
    // decides on open(2), whatever node it is and wherever it lies.
    char tmpl[] = "/tmp/step07-devices-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    ASSERT_EQ(::mknod((dir + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    // /dev/kmsg (1:11): not in the default list, and opens on any host (/dev/mem may not: ENXIO).
    ASSERT_EQ(::mknod((dir + "/kmsg").c_str(), S_IFCHR | 0600, makedev(1, 11)), 0);
    auto c = resources::Container::plan(path_, "ctr", false, std::nullopt);
    c.create();
    Guard guard{c};
    Child child([&] {
        int rc = 0;
        int fd = ::open((dir + "/null").c_str(), O_RDWR);
        if (fd < 0) rc |= 1;  // /dev/null's numbers are allowed
        else ::close(fd);
        fd = ::open((dir + "/kmsg").c_str(), O_RDONLY | O_NONBLOCK);
        if (fd >= 0 || errno != EPERM) rc |= 2;  // /dev/kmsg's are not: EPERM
        if (::mknod((dir + "/made").c_str(), S_IFCHR | 0600, makedev(1, 1)) != 0) rc |= 4;  // "c *:* m"
        return rc;
    });
    c.add_pid(child.pid);
    child.release();
    EXPECT_EQ(child.wait(), 0) << "1: null refused, 2: kmsg not refused with EPERM, 4: mknod refused";
    // The same opens from the test itself, outside the cgroup, work.
    int fd = ::open((dir + "/kmsg").c_str(), O_RDONLY | O_NONBLOCK);
    EXPECT_GE(fd, 0) << "outside the container the same node opens";
    if (fd >= 0) ::close(fd);
    c.destroy();
    fs::remove_all(dir);
}

TEST_F(Resources, DevicesProgramOnTheCgroup2Mount) {
    // Any cgroup2 directory takes a device program: on a hybrid host one under unified/ (no
    // controllers there, yet the program applies), on a pure v2 host one under the root.
    if (host_.v2.empty()) GTEST_SKIP() << "a legacy host: no cgroup2 mount";
    std::string dir = host_.v2 + test_parent();
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    struct Rm {
        std::string d;
        ~Rm() { ::rmdir(d.c_str()); }
    } rm{dir};
    auto rule = [](bool allow, char type, int64_t major, int64_t minor) {
        spec::DeviceRule r;
        r.allow = allow, r.type = type, r.major = major, r.minor = minor, r.access = "rwm";
        return r;
    };
    spec::DeviceRule all = rule(true, 'a', -1, -1);
    try {
        devices_bpf::attach(dir, devices_bpf::assemble({all, rule(false, 'c', 1, 3)}));
    } catch (const Error& e) {
        GTEST_SKIP() << "this kernel does not attach device programs here: " << e.line();
    }
    auto probe = [&] {
        Child child([] {
            int rc = 0;
            int fd = ::open("/dev/null", O_RDONLY);
            if (fd >= 0) ::close(fd), rc |= 1;
            else if (errno != EPERM) rc |= 4;
            fd = ::open("/dev/zero", O_RDONLY);
            if (fd >= 0) ::close(fd), rc |= 2;
            return rc;
        });
        std::string pid = std::to_string(child.pid);
        int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY);
        EXPECT_GE(fd, 0);
        EXPECT_EQ(::write(fd, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
        ::close(fd);
        child.release();
        return child.wait();
    };
    EXPECT_EQ(probe(), 2) << "/dev/null refused with EPERM, /dev/zero opened";
    // An update replaces our program (all attached programs must allow: were the old one
    // still there, /dev/null would stay refused).
    devices_bpf::attach(dir, devices_bpf::assemble({all}));
    EXPECT_EQ(probe(), 1 | 2) << "both open after the update";
}

// ---- the nodes in /dev ----------------------------------------------------------------------

namespace {

struct TempRoot {
    std::string dir;
    int fd = -1;
    TempRoot() {
        char tmpl[] = "/tmp/step07-devroot-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
        dir = tmpl;
        fs::create_directories(dir + "/dev");
        fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    ~TempRoot() {
        ::close(fd);
        fs::remove_all(dir);
    }
};

}  // namespace

TEST(DevNodes, MadeWithMknodTheirModesAndTheLinks) {
    REQUIRE_ROOT();
    TempRoot root;
    // An image's own ptmx (a plain file here) must give way to the link.
    support::sh("touch " + root.dir + "/dev/ptmx");
    spec::Device fuse;
    fuse.path = "/dev/fuse";
    fuse.type = 'c';
    fuse.major = 10;
    fuse.minor = 229;
    fuse.file_mode = 0620;
    fuse.uid = 1234;
    fuse.gid = 5678;
    spec::Device tun = fuse;
    tun.path = "/dev/net/tun";  // a directory made on the way
    tun.minor = 200;
    tun.file_mode = 0666;
    tun.uid = tun.gid = 0;
    ::umask(022);  // mknod applies it: the mode must still come out as asked
    devices::populate(root.fd, {fuse, tun}, false);
    for (auto& d : devices::default_nodes()) {
        struct stat st {};
        ASSERT_EQ(::lstat((root.dir + d.path).c_str(), &st), 0) << d.path;
        EXPECT_TRUE(S_ISCHR(st.st_mode)) << d.path;
        EXPECT_EQ(st.st_mode & 07777, 0666U) << d.path;
        EXPECT_EQ(major(st.st_rdev), static_cast<unsigned>(d.major)) << d.path;
        EXPECT_EQ(minor(st.st_rdev), static_cast<unsigned>(d.minor)) << d.path;
    }
    struct stat st {};
    ASSERT_EQ(::lstat((root.dir + "/dev/fuse").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0620U);
    EXPECT_EQ(st.st_uid, 1234U);
    EXPECT_EQ(st.st_gid, 5678U);
    EXPECT_EQ(st.st_rdev, makedev(10, 229));
    ASSERT_EQ(::lstat((root.dir + "/dev/net/tun").c_str(), &st), 0);
    EXPECT_EQ(st.st_rdev, makedev(10, 200));
    auto link = [&](const char* name) {
        std::error_code ec;
        return fs::read_symlink(root.dir + "/dev/" + name, ec).string();
    };
    EXPECT_EQ(link("ptmx"), "pts/ptmx");
    EXPECT_EQ(link("fd"), "/proc/self/fd");
    EXPECT_EQ(link("stdin"), "/proc/self/fd/0");
    EXPECT_EQ(link("stdout"), "/proc/self/fd/1");
    EXPECT_EQ(link("stderr"), "/proc/self/fd/2");
    // A device path that climbs out of the root is refused.
    spec::Device out = tun;
    out.path = "/dev/../../etc/evil";
    EXPECT_THROW(devices::populate(root.fd, {out}, false), Error);
    EXPECT_FALSE(fs::exists("/etc/evil"));
}

TEST(DevNodes, BoundFromTheHostInAUserNamespaceStyle) {
    REQUIRE_ROOT();
    TempRoot root;
    // In a mount namespace of its own (the binds vanish with it): bind_from_host as a user
    // namespace would need. The files are the host's nodes: same device numbers.
    Child child([&] {
        if (::unshare(CLONE_NEWNS) != 0) return 10;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 11;
        // The root opened in the new namespace: a mount onto an fd of another namespace's
        // mount is refused (EINVAL), as it would be for a container.
        int here = ::open(root.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (here < 0) return 11;
        try {
            devices::populate(here, {}, true);
        } catch (const Error& e) {
            std::fprintf(stderr, "populate: %s\n", e.line().c_str());
            return 12;
        }
        struct stat mine {}, host {};
        for (auto& d : devices::default_nodes()) {
            if (::stat((root.dir + d.path).c_str(), &mine) != 0 || ::stat(d.path.c_str(), &host) != 0) return 13;
            if (!S_ISCHR(mine.st_mode) || mine.st_rdev != host.st_rdev) return 14;
        }
        return 0;
    });
    child.release();
    EXPECT_EQ(child.wait(), 0) << "10/11: namespace, 12: populate threw, 13: stat, 14: not the host's node";
    // On the host side, the files stayed empty placeholders.
    struct stat st {};
    ASSERT_EQ(::lstat((root.dir + "/dev/null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
}
