// step07_full's privilege layers in a real container: Docker's 14 capabilities, its seccomp
// profile, the masked and read-only paths, a read-only root - and the escapes they close, each
// tried from inside and expected to fail with its own errno.
//
// The probe inside is this test executable itself: copied into the bundle's rootfs as /probe
// (with the shared libraries ldd names), it sees MINIBOX_SECURITY_PROBE in its environment and
// runs the probe before gtest starts. It makes the system calls directly, so each answer is an
// errno, not a busybox message.
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using support::Result;

namespace {

// ---- the probe (runs inside the container) -----------------------------------------------------

std::string outcome(long rc) { return rc == -1 ? strerrorname_np(errno) : "ok"; }

std::string status_line(const std::string& key) {
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind(key + ":", 0) == 0) {
            auto v = line.substr(key.size() + 1);
            return v.erase(0, v.find_first_not_of(" \t"));
        }
    return "missing";
}

// One "key=value" line per fact or attempt.
int probe(const std::string& mode) {
    std::string out;
    auto say = [&](const std::string& k, const std::string& v) { out += k + "=" + v + "\n"; };
    for (const char* k : {"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "Seccomp", "NoNewPrivs"}) say(k, status_line(k));

    // Masked files are /dev/null now: they read empty (ENOENT where this kernel has no such file).
    for (const char* masked : {"/proc/kcore", "/proc/keys", "/proc/timer_list"}) {
        int fd = open(masked, O_RDONLY);
        char buf[64];
        say(std::string("read_") + (masked + 6), fd < 0 ? outcome(-1) : std::to_string(read(fd, buf, sizeof buf)) + "bytes");
        if (fd >= 0) close(fd);
    }
    struct statvfs v {};
    say("proc_sys_readonly", statvfs("/proc/sys", &v) == 0 ? ((v.f_flag & ST_RDONLY) ? "yes" : "no") : outcome(-1));

    // The escapes.
    say("mount_tmpfs", outcome(mount("tmpfs", "/tmp", "tmpfs", 0, "")));
    say("write_hostname", outcome(open("/proc/sys/kernel/hostname", O_WRONLY)));
    say("write_sysrq", outcome(open("/proc/sysrq-trigger", O_WRONLY)));
    say("umount_masked", outcome(umount2("/proc/keys", MNT_DETACH)));
    say("remount_root_rw", outcome(mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND, nullptr)));
    say("create_in_root", outcome(open("/escape-file", O_WRONLY | O_CREAT, 0644)));
    // The classic way around a missing capability: a user namespace of one's own, where one is
    // root with every capability, and a mount namespace owned by it.
    long un = unshare(CLONE_NEWUSER | CLONE_NEWNS);
    say("unshare_user", outcome(un));
    if (un == 0) {
        // Mounts that came from the more privileged namespace are locked: a mask cannot be
        // lifted (EINVAL) nor a read-only mount made writable (EPERM), capabilities or not.
        say("userns_umount_masked", outcome(umount2("/proc/keys", MNT_DETACH)));
        say("userns_remount_proc_sys_rw", outcome(mount(nullptr, "/proc/sys", nullptr, MS_REMOUNT | MS_BIND, nullptr)));
        say("userns_write_hostname", outcome(open("/proc/sys/kernel/hostname", O_WRONLY)));
    }
    say("raw_socket", outcome(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)));
    const char* outside = std::getenv("PROBE_OUTSIDE_PID");
    say("ptrace_outside", outside ? outcome(ptrace(PTRACE_ATTACH, std::atoi(outside), nullptr, nullptr)) : "no pid given");

    ssize_t ignored = write(1, out.data(), out.size());
    (void)ignored;
    if (mode == "wait") {  // for the host side: stay until killed
        std::puts("ready");
        std::fflush(stdout);
        pause();
    }
    return 0;
}

// Before gtest's main: in the container, this executable is the probe.
[[maybe_unused]] const bool kIsProbe = [] {
    if (const char* mode = std::getenv("MINIBOX_SECURITY_PROBE")) _exit(probe(mode));
    return false;
}();

// ---- the tests (run on the host) ---------------------------------------------------------------

std::map<std::string, std::string> facts(const std::string& text) {
    std::map<std::string, std::string> m;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return m;
}

uint64_t mask_of(const std::vector<int>& caps) {
    uint64_t m = 0;
    for (int c : caps) m |= uint64_t{1} << c;
    return m;
}
// A missing or garbled value becomes all ones, which no expectation here matches.
uint64_t hex(const std::string& s) {
    try {
        return std::stoull(s, nullptr, 16);
    } catch (const std::exception&) {
        return ~uint64_t{0};
    }
}

// Docker's 14, by number from the kernel's header.
const std::vector<int> kDocker = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER,  CAP_MKNOD,
                                  CAP_NET_RAW, CAP_SETGID,      CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
                                  CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE};

// A masked file reads empty inside; one this kernel lacks is simply absent.
void expect_masked_reads(std::map<std::string, std::string>& f) {
    for (const char* name : {"kcore", "keys", "timer_list"}) {
        bool on_host = fs::exists(std::string("/proc/") + name);
        EXPECT_EQ(f[std::string("read_") + name], on_host ? "0bytes" : "ENOENT") << "/proc/" << name;
    }
    // At least one of them must exist, or the check proves nothing.
    EXPECT_TRUE(fs::exists("/proc/keys") || fs::exists("/proc/kcore") || fs::exists("/proc/timer_list"));
}

class Security : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        ASSERT_TRUE(fs::exists(support::bin("step07_full"))) << "build step07_full first";
        ASSERT_TRUE(fs::exists(support::busybox_rootfs())) << "run scripts/make-image.sh first";
        char tmpl[] = "/tmp/mbx07sec.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        root_ = dir_ + "/state";
        std::string rootfs = dir_ + "/rootfs";
        ASSERT_EQ(support::sh("cp -a " + support::busybox_rootfs() + " " + rootfs).status, 0);
        // This executable and what it links, at the same paths inside.
        std::string self = fs::read_symlink("/proc/self/exe");
        Result libs = support::sh("cp " + self + " " + rootfs + "/probe && for l in $(ldd " + self +
                                  " | grep -o '/[^ ]*'); do cp -L --parents $l " + rootfs + " || exit 1; done");
        ASSERT_EQ(libs.status, 0) << libs.err;

        Result r = support::run({support::bin("step07_full"), "spec", "--bundle", dir_});
        ASSERT_EQ(r.status, 0) << r.err;
        config_ = nlohmann::json::parse(support::read_file(dir_ + "/config.json"));
        config_["process"]["terminal"] = false;
        config_["process"]["args"] = {"/probe"};
        id_ = "sec" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
        config_["linux"]["cgroupsPath"] = "/minibox-test07sec/" + id_;
        probe_env("once");
    }
    void TearDown() override {
        if (dir_.empty()) return;
        rt({"delete", "--force", id_});
        support::sh("rm -rf " + dir_);
        support::sh("for h in /sys/fs/cgroup/*/minibox-test07sec /sys/fs/cgroup/minibox-test07sec; do "
                    "[ -d $h ] && rmdir $h/* $h 2>/dev/null; done; true");
    }
    void probe_env(const std::string& mode) {
        auto& env = config_["process"]["env"];
        env.push_back("MINIBOX_SECURITY_PROBE=" + mode);
        // A pid of the host the container must not reach: this test process.
        env.push_back("PROBE_OUTSIDE_PID=" + std::to_string(::getpid()));
    }
    void drop_cap(const std::string& cap) {
        for (const char* set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) {
            auto& s = config_["process"]["capabilities"][set];
            nlohmann::json kept = nlohmann::json::array();
            for (auto& c : s)
                if (c != cap) kept.push_back(c);
            s = kept;
        }
    }
    void save() { std::ofstream(dir_ + "/config.json") << config_.dump(2); }
    Result rt(std::vector<std::string> a) {
        std::vector<std::string> argv = {support::bin("step07_full"), "--root", root_};
        argv.insert(argv.end(), a.begin(), a.end());
        return support::run(argv);
    }
    std::map<std::string, std::string> run_probe() {
        save();
        Result r = rt({"run", "--bundle", dir_, id_});
        EXPECT_EQ(r.status, 0) << r.err << r.out;
        return facts(r.out);
    }
    std::string dir_, root_, id_;
    nlohmann::json config_;
    static inline int counter_ = 0;
};

TEST_F(Security, DockerDefaultsSeenFromInside) {
    auto f = run_probe();
    uint64_t want = mask_of(kDocker);
    EXPECT_EQ(hex(f["CapEff"]), want) << f["CapEff"];
    EXPECT_EQ(hex(f["CapPrm"]), want);
    EXPECT_EQ(hex(f["CapBnd"]), want);
    EXPECT_EQ(hex(f["CapInh"]), 0u);
    EXPECT_EQ(hex(f["CapAmb"]), 0u);
    EXPECT_EQ(f["Seccomp"], "2");
    EXPECT_EQ(f["NoNewPrivs"], "0");  // Docker's default: not asked
    expect_masked_reads(f);
    EXPECT_EQ(f["proc_sys_readonly"], "yes");
}

TEST_F(Security, NoNewPrivilegesWhenAsked) {
    config_["process"]["noNewPrivileges"] = true;
    auto f = run_probe();
    EXPECT_EQ(f["NoNewPrivs"], "1");
    EXPECT_EQ(f["Seccomp"], "2");
    EXPECT_EQ(hex(f["CapEff"]), mask_of(kDocker));
}

TEST_F(Security, EscapesFailWithTheirErrno) {
    config_["root"]["readonly"] = true;
    drop_cap("CAP_NET_RAW");
    auto f = run_probe();
    std::vector<int> without_raw;
    for (int c : kDocker)
        if (c != CAP_NET_RAW) without_raw.push_back(c);
    EXPECT_EQ(hex(f["CapEff"]), mask_of(without_raw));
    EXPECT_EQ(hex(f["CapBnd"]), mask_of(without_raw));
    EXPECT_EQ(f["mount_tmpfs"], "EPERM");       // seccomp (and no CAP_SYS_ADMIN)
    EXPECT_EQ(f["write_hostname"], "EROFS");    // /proc/sys is a read-only bind
    // so is /proc/sysrq-trigger, where the kernel has one (CONFIG_MAGIC_SYSRQ)
    EXPECT_EQ(f["write_sysrq"], fs::exists("/proc/sysrq-trigger") ? "EROFS" : "ENOENT");
    EXPECT_EQ(f["umount_masked"], "EPERM");     // the mask stays
    EXPECT_EQ(f["remount_root_rw"], "EPERM");   // root.readonly stays
    EXPECT_EQ(f["create_in_root"], "EROFS");
    EXPECT_EQ(f["unshare_user"], "EPERM");      // seccomp: unshare needs CAP_SYS_ADMIN in the profile
    EXPECT_EQ(f["raw_socket"], "EPERM");        // CAP_NET_RAW dropped
    EXPECT_TRUE(f["ptrace_outside"] == "ESRCH" || f["ptrace_outside"] == "EPERM") << f["ptrace_outside"];
    expect_masked_reads(f);
}

TEST_F(Security, WithoutSeccompTheCapabilitiesAndLockedMountsStillHold) {
    // Take the seccomp layer away: what is left must still keep the masks and read-only paths.
    config_["linux"].erase("seccomp");
    auto f = run_probe();
    EXPECT_EQ(f["Seccomp"], "0");
    EXPECT_EQ(f["mount_tmpfs"], "EPERM");    // the kernel's own CAP_SYS_ADMIN check now
    EXPECT_EQ(f["umount_masked"], "EPERM");
    EXPECT_EQ(f["write_hostname"], "EROFS");
    expect_masked_reads(f);
    // The profile is what refuses unshare; without it a user namespace is allowed (if the host
    // allows unprivileged ones) - and even then the locked mounts hold.
    if (f["unshare_user"] == "ok") {
        EXPECT_EQ(f["userns_umount_masked"], "EINVAL");
        EXPECT_EQ(f["userns_remount_proc_sys_rw"], "EPERM");
        EXPECT_EQ(f["userns_write_hostname"], "EROFS");
    } else {
        std::cout << "note: unshare(CLONE_NEWUSER) refused without seccomp too: " << f["unshare_user"] << "\n";
    }
}

TEST_F(Security, WithNetRawARawSocketOpens) {
    // The control for raw_socket above: with the capability the same call succeeds.
    auto f = run_probe();
    EXPECT_EQ(f["raw_socket"], "ok");
    EXPECT_EQ(f["create_in_root"], "ok");  // root not read-only here
}

TEST_F(Security, SeenFromTheHost) {
    config_["process"]["env"] = nlohmann::json::array({"PATH=/bin"});
    probe_env("wait");
    save();
    auto before = support::host_mounts();
    {
        support::Background run({support::bin("step07_full"), "--root", root_, "run", "--bundle", dir_, id_});
        ASSERT_NE(run.wait_for_line("ready").find("ready"), std::string::npos) << run.out();
        // The container's process, found in the state and checked through the host's /proc.
        Result st = rt({"state", id_});
        ASSERT_EQ(st.status, 0) << st.err;
        int pid = nlohmann::json::parse(st.out)["pid"];
        std::string status = support::read_file("/proc/" + std::to_string(pid) + "/status");
        auto line = [&](const std::string& k) {
            auto at = status.find("\n" + k + ":\t");
            return at == std::string::npos ? std::string() : status.substr(at + k.size() + 3, status.find('\n', at + 1) - at - k.size() - 3);
        };
        EXPECT_EQ(hex(line("CapEff")), mask_of(kDocker));
        EXPECT_EQ(hex(line("CapBnd")), mask_of(kDocker));
        EXPECT_EQ(line("Seccomp"), "2");
        // The masks are mounts of the container's namespace, not the host's.
        std::string mi = support::read_file("/proc/" + std::to_string(pid) + "/mountinfo");
        EXPECT_NE(mi.find(" /proc/keys "), std::string::npos);
        EXPECT_NE(mi.find(" /proc/sys ro,"), std::string::npos) << mi;
        EXPECT_EQ(support::read_file("/proc/self/mountinfo").find(" /proc/keys "), std::string::npos);
        rt({"kill", id_, "KILL"});
        run.wait();
    }
    EXPECT_EQ(support::host_mounts(), before);
}

}  // namespace
