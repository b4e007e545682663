// step07 process and console, without root: sysctl classification and validation, rlimits,
// umask and cwd applied by process::prepare in a forked child (checked from /proc of that child),
// fds passed over unix sockets, and a pty made by console::setup whose master gets the output.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <poll.h>
#include <sstream>
#include <string>

#include "console.hpp"
#include "exec.hpp"
#include "error.hpp"
#include "process.hpp"
#include "spec.hpp"
#include "support.hpp"

namespace {

spec::Spec with_namespaces(std::initializer_list<int> types) {
    spec::Spec s;
    for (int t : types) {
        spec::Namespace n;
        n.type = t;
        s.namespaces.push_back(n);
    }
    return s;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.line();
    }
    return "";
}

int exit_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.exit_status();
    }
    return 0;
}

// A forked child that runs `body`, then tells the parent "ready" (or "error: ...") over a pipe
// and waits until the parent closes the other pipe, so the parent can look at it from /proc.
class Child {
public:
    explicit Child(const std::function<void()>& body) {
        int a[2], b[2];
        EXPECT_EQ(::pipe2(a, O_CLOEXEC), 0);
        EXPECT_EQ(::pipe2(b, O_CLOEXEC), 0);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::close(a[0]);
            ::close(b[1]);
            std::string msg = "ready";
            try {
                body();
            } catch (const Error& e) {
                msg = "error: " + e.line();
            }
            (void)!::write(a[1], msg.data(), msg.size());
            ::close(a[1]);
            char c;
            (void)!::read(b[0], &c, 1);
            ::_exit(0);
        }
        ::close(a[1]);
        ::close(b[0]);
        report_fd_ = a[0];
        release_fd_ = b[1];
        char buf[1024];
        ssize_t n;
        while ((n = ::read(report_fd_, buf, sizeof(buf))) > 0) report_.append(buf, static_cast<size_t>(n));
    }
    ~Child() {
        ::close(release_fd_);
        ::close(report_fd_);
        int st;
        ::waitpid(pid_, &st, 0);
    }
    pid_t pid() const { return pid_; }
    const std::string& report() const { return report_; }

private:
    pid_t pid_ = -1;
    int report_fd_ = -1, release_fd_ = -1;
    std::string report_;
};

std::string status_field(pid_t pid, const std::string& name) {
    std::istringstream in(support::read_file("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + ":", 0) == 0) {
            auto v = line.substr(name.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return "";
}

// "Max open files            100                  200                  files"
std::string limits_line(pid_t pid, const std::string& name) {
    std::istringstream in(support::read_file("/proc/" + std::to_string(pid) + "/limits"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name, 0) == 0) return line;
    return "";
}

std::string words(const std::string& s) {
    std::istringstream in(s);
    std::string out, w;
    while (in >> w) out += (out.empty() ? "" : " ") + w;
    return out;
}

std::string temp_dir() {
    char tmpl[] = "/tmp/step07-process-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    return d ? d : "";
}

// ---------------------------------------------------------------------------------------------

TEST(Sysctl, ClassifiesByNamespace) {
    EXPECT_EQ(process::sysctl_namespace("kernel.shmmax"), CLONE_NEWIPC);
    EXPECT_EQ(process::sysctl_namespace("kernel.msgmnb"), CLONE_NEWIPC);
    EXPECT_EQ(process::sysctl_namespace("kernel.sem"), CLONE_NEWIPC);
    EXPECT_EQ(process::sysctl_namespace("kernel.shm_rmid_forced"), CLONE_NEWIPC);
    EXPECT_EQ(process::sysctl_namespace("fs.mqueue.msg_max"), CLONE_NEWIPC);
    EXPECT_EQ(process::sysctl_namespace("kernel/shmmni"), CLONE_NEWIPC);
    EXPECT_EQ(process::sysctl_namespace("kernel.hostname"), CLONE_NEWUTS);
    EXPECT_EQ(process::sysctl_namespace("kernel.domainname"), CLONE_NEWUTS);
    EXPECT_EQ(process::sysctl_namespace("net.ipv4.ip_forward"), CLONE_NEWNET);
    EXPECT_EQ(process::sysctl_namespace("net/ipv4/conf/eth0.100/forwarding"), CLONE_NEWNET);
}

TEST(Sysctl, RefusesGlobalAndMalformedKeys) {
    for (const char* key : {"kernel.pid_max", "kernel.core_pattern", "vm.swappiness", "fs.file-max",
                            "kernel.shmmax.x", "kernel", "", "net..ipv4", "net/../../etc/passwd", "net/./x",
                            "kernel.sem."}) {
        EXPECT_EQ(process::sysctl_namespace(key), 0) << key;
    }
}

TEST(Sysctl, ValidationNeedsTheContainersOwnNamespace) {
    auto s = with_namespaces({CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNS});
    EXPECT_NO_THROW(process::validate_sysctl({{"kernel.shmmax", "1000"}, {"fs.mqueue.queues_max", "10"}}, s));
    EXPECT_NO_THROW(process::validate_sysctl({{"kernel.domainname", "example"}}, s));

    // No network namespace entry: net.* would be the host's.
    auto err = error_of([&] { process::validate_sysctl({{"net.ipv4.ip_forward", "1"}}, s); });
    EXPECT_NE(err.find("linux.sysctl.net.ipv4.ip_forward"), std::string::npos) << err;
    EXPECT_NE(err.find("host's network namespace"), std::string::npos) << err;
    EXPECT_EQ(exit_of([&] { process::validate_sysctl({{"net.ipv4.ip_forward", "1"}}, s); }), 125);

    // A joined network namespace (path) is the container's too.
    auto joined = s;
    spec::Namespace net;
    net.type = CLONE_NEWNET;
    net.path = "/run/netns/x";
    joined.namespaces.push_back(net);
    EXPECT_NO_THROW(process::validate_sysctl({{"net.ipv4.ip_forward", "1"}}, joined));

    // Without an ipc namespace, the ipc keys go too.
    auto no_ipc = with_namespaces({CLONE_NEWNET});
    err = error_of([&] { process::validate_sysctl({{"kernel.shmmax", "1"}}, no_ipc); });
    EXPECT_NE(err.find("ipc"), std::string::npos) << err;
}

TEST(Sysctl, ValidationRefusesGlobalKeysNewlinesAndContradictions) {
    auto s = with_namespaces({CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET});
    auto err = error_of([&] { process::validate_sysctl({{"kernel.pid_max", "100"}}, s); });
    EXPECT_NE(err.find("not namespaced"), std::string::npos) << err;
    err = error_of([&] { process::validate_sysctl({{"net/../../../etc/x", "1"}}, s); });
    EXPECT_NE(err.find("not a sysctl name"), std::string::npos) << err;
    err = error_of([&] { process::validate_sysctl({{"net.ipv4.ip_forward", "1\n0"}}, s); });
    EXPECT_NE(err.find("newline"), std::string::npos) << err;
    s.hostname = "box";
    err = error_of([&] { process::validate_sysctl({{"kernel.hostname", "other"}}, s); });
    EXPECT_NE(err.find("conflicts"), std::string::npos) << err;
    EXPECT_NO_THROW(process::validate_sysctl({{"kernel.hostname", "box"}}, s));
}

TEST(Sysctl, WriteNamesTheKeyOnFailure) {
    // A key this kernel does not have: ENOENT, named with the spec's field.
    auto err = error_of([] { process::write_sysctl({{"net.minibox_no_such_key", "1"}}); });
    EXPECT_NE(err.find("linux.sysctl.net.minibox_no_such_key"), std::string::npos) << err;
    EXPECT_NE(err.find("/proc/sys/net/minibox_no_such_key"), std::string::npos) << err;
}

// ---------------------------------------------------------------------------------------------

TEST(Prepare, AppliesRlimitsUmaskAndCwdSeenFromTheHost) {
    std::string dir = temp_dir();
    spec::Process p;
    p.cwd = dir;
    p.user.umask = 027;
    spec::Rlimit r;
    r.resource = RLIMIT_NOFILE;
    r.name = "RLIMIT_NOFILE";
    r.soft = 100;
    r.hard = 200;  // lower than any default: no privilege needed
    p.rlimits.push_back(r);
    spec::Rlimit core;
    core.resource = RLIMIT_CORE;
    core.name = "RLIMIT_CORE";
    core.soft = 0;
    core.hard = 0;
    p.rlimits.push_back(core);

    Child c([&] { process::prepare(p, std::nullopt); });
    ASSERT_EQ(c.report(), "ready");
    EXPECT_EQ(words(limits_line(c.pid(), "Max open files")), "Max open files 100 200 files");
    EXPECT_EQ(words(limits_line(c.pid(), "Max core file size")), "Max core file size 0 0 bytes");
    EXPECT_EQ(status_field(c.pid(), "Umask"), "0027");
    EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(c.pid()) + "/cwd").string(), dir);
    // ... and the test process itself is unchanged.
    EXPECT_NE(status_field(::getpid(), "Umask"), "0027");
    ::rmdir(dir.c_str());
}

TEST(Prepare, UmaskDefaultsTo0022) {
    ::umask(0077);
    spec::Process p;  // no umask, cwd "/"
    Child c([&] { process::prepare(p, std::nullopt); });
    ::umask(0022);
    ASSERT_EQ(c.report(), "ready");
    EXPECT_EQ(status_field(c.pid(), "Umask"), "0022");
    EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(c.pid()) + "/cwd").string(), "/");
}

TEST(Prepare, MissingCwdIsOneClearLine) {
    spec::Process p;
    p.cwd = "/minibox-no-such-dir";
    Child c([&] { process::prepare(p, std::nullopt); });
    EXPECT_EQ(c.report().rfind("error: process.cwd: chdir(\"/minibox-no-such-dir\"): No such file or directory", 0), 0u)
        << c.report();
}

TEST(Prepare, SoftAboveHardNamesTheLimit) {
    spec::Process p;
    spec::Rlimit r;
    r.resource = RLIMIT_NOFILE;
    r.name = "RLIMIT_NOFILE";
    r.soft = 300;
    r.hard = 200;
    p.rlimits.push_back(r);
    Child c([&] { process::prepare(p, std::nullopt); });
    EXPECT_NE(c.report().find("process.rlimits RLIMIT_NOFILE"), std::string::npos) << c.report();
    EXPECT_NE(c.report().find("Invalid argument"), std::string::npos) << c.report();
}

TEST(OomScoreAdj, WrittenToTheChildFromOutside) {
    Child c([] {});
    ASSERT_EQ(c.report(), "ready");
    process::set_oom_score_adj(c.pid(), 500);  // raising needs no privilege
    EXPECT_EQ(support::read_file("/proc/" + std::to_string(c.pid()) + "/oom_score_adj"), "500\n");
    EXPECT_NE(error_of([&] { process::set_oom_score_adj(c.pid(), 1001); }).find("between -1000 and 1000"),
              std::string::npos);
}

// ---------------------------------------------------------------------------------------------

std::string read_all(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[512];
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) break;  // EIO on a pty master once the slave is closed everywhere
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

TEST(Console, SendsAndReceivesAnFdOverASocketpair) {
    int sv[2], pipefd[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
    unique_fd a(sv[0]), b(sv[1]), rd(pipefd[0]);
    {
        unique_fd wr(pipefd[1]);
        console::send_fd(a.get(), wr.get(), "/dev/pts/7");
    }  // our write end is gone: only the received copy keeps the pipe open
    unique_fd got = console::recv_fd(b.get());
    ASSERT_TRUE(got);
    EXPECT_EQ(::fcntl(got.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);  // MSG_CMSG_CLOEXEC
    ASSERT_EQ(::write(got.get(), "hi", 2), 2);
    got.reset();
    EXPECT_EQ(read_all(rd.get()), "hi");
}

TEST(Console, ReceivingFromAClosedPeerIsAnError) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    unique_fd b(sv[1]);
    ::close(sv[0]);
    EXPECT_NE(error_of([&] { console::recv_fd(b.get()); }).find("without sending a terminal"), std::string::npos);
}

TEST(Console, ListenConnectReceive) {
    std::string dir = temp_dir();
    std::string path = dir + "/console.sock";
    unique_fd listening = console::listen_at(path);
    unique_fd conn = console::connect(path);  // the backlog holds it until accept
    int pipefd[2];
    ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
    unique_fd rd(pipefd[0]);
    {
        unique_fd wr(pipefd[1]);
        console::send_fd(conn.get(), wr.get(), "x");
    }
    unique_fd got = console::receive_master(listening.get());
    ASSERT_EQ(::write(got.get(), "ok", 2), 2);
    got.reset();
    EXPECT_EQ(read_all(rd.get()), "ok");
    EXPECT_NE(error_of([&] { console::connect(dir + "/none.sock"); }).find("--console-socket"), std::string::npos);
    EXPECT_NE(error_of([&] { console::listen_at("/tmp/" + std::string(200, 'x')); }).find("longer than"),
              std::string::npos);
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
}

TEST(Console, SetupMakesAPtyWhoseMasterGetsTheOutput) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    unique_fd ours(sv[0]);
    int release[2];
    ASSERT_EQ(::pipe2(release, O_CLOEXEC), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(sv[0]);
        ::close(release[1]);
        try {
            console::setup(sv[1], 24, 80);
        } catch (const Error& e) {
            ::_exit(3);
        }
        ::close(sv[1]);
        winsize ws{};
        ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
        int tty = ::open("/dev/tty", O_RDWR);  // works only with a controlling terminal
        std::string line = std::string("tty=") + (::isatty(STDOUT_FILENO) ? "yes" : "no") +
                           " rows=" + std::to_string(ws.ws_row) + " cols=" + std::to_string(ws.ws_col) +
                           " ctty=" + (tty >= 0 ? "yes" : "no") + " stdin=" + (::isatty(0) ? "yes" : "no") +
                           " DONE\n";
        (void)!::write(STDOUT_FILENO, line.data(), line.size());
        char c;
        (void)!::read(release[0], &c, 1);
        ::_exit(0);
    }
    ::close(sv[1]);
    ::close(release[0]);
    unique_fd release_w(release[1]);
    unique_fd master = console::recv_fd(ours.get());
    ASSERT_TRUE(master);

    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (out.find("DONE") == std::string::npos && std::chrono::steady_clock::now() < deadline)
        out += read_all(master.get(), std::chrono::milliseconds(200));
    EXPECT_NE(out.find("tty=yes rows=24 cols=80 ctty=yes stdin=yes DONE"), std::string::npos) << out;

    // From the host: the child leads its own session, and has a controlling tty (field 7).
    std::string stat = support::read_file("/proc/" + std::to_string(pid) + "/stat");
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string state, ppid, pgrp, session, tty_nr;
    rest >> state >> ppid >> pgrp >> session >> tty_nr;
    EXPECT_EQ(session, std::to_string(pid));
    EXPECT_NE(tty_nr, "0");
    // The master's side: the size is what the child saw.
    winsize ws{};
    ASSERT_EQ(::ioctl(master.get(), TIOCGWINSZ, &ws), 0);
    EXPECT_EQ(ws.ws_row, 24);
    EXPECT_EQ(ws.ws_col, 80);

    release_w.reset();
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// exec's process object from the command line (runc exec's flags over config.json's process).

namespace {

spec::Process base_process() {
    spec::Process p;
    p.args = {"sleep", "100"};
    p.env = {"PATH=/bin", "FOO=old", "HOME=/root"};
    p.cwd = "/";
    p.terminal = true;
    p.user.additional_gids = {10, 11};
    spec::Capabilities c;
    c.bounding = c.effective = c.permitted = {0, 5};
    p.capabilities = c;
    return p;
}

TEST(ExecCommandLine, FlagsOverTheContainersProcess) {
    auto p = exec::from_command_line(base_process(), {"sh", "-c", "true"}, {"FOO=new", "BAR=1"}, "/tmp", "1000:1001",
                                     false, {"CAP_NET_RAW", "sys_admin"}, true);
    EXPECT_EQ(p.args, (std::vector<std::string>{"sh", "-c", "true"}));
    EXPECT_EQ(p.env, (std::vector<std::string>{"PATH=/bin", "HOME=/root", "FOO=new", "BAR=1"}));
    EXPECT_EQ(p.cwd, "/tmp");
    EXPECT_EQ(p.user.uid, 1000u);
    EXPECT_EQ(p.user.gid, 1001u);
    EXPECT_TRUE(p.user.additional_gids.empty()) << "another user gets none of the base user's groups";
    EXPECT_FALSE(p.terminal) << "the container's terminal is not the exec's";
    EXPECT_TRUE(p.no_new_privileges);
    auto n = [](const char* name) { return *spec::capability_number(name); };
    EXPECT_EQ(p.capabilities->effective, (std::vector<int>{0, 5, n("CAP_NET_RAW"), n("CAP_SYS_ADMIN")}));
    EXPECT_EQ(p.capabilities->bounding, p.capabilities->effective);
    EXPECT_TRUE(p.capabilities->ambient.empty()) << "no inheritable set: no ambient";
}

TEST(ExecCommandLine, DefaultsKeepTheBase) {
    auto base = base_process();
    auto p = exec::from_command_line(base, {"true"}, {}, "", "", true, {}, false);
    EXPECT_EQ(p.env, base.env);
    EXPECT_EQ(p.cwd, "/");
    EXPECT_EQ(p.user.uid, 0u);
    EXPECT_EQ(p.user.additional_gids, base.user.additional_gids);
    EXPECT_TRUE(p.terminal);
    EXPECT_FALSE(p.no_new_privileges);
    EXPECT_EQ(p.capabilities->effective, base.capabilities->effective);
}

TEST(ExecCommandLine, RefusesBadInput) {
    auto base = base_process();
    auto bad = [&](std::vector<std::string> args, std::vector<std::string> env, std::string cwd, std::string user,
                   std::vector<std::string> caps) {
        return error_of([&] { exec::from_command_line(base, args, env, cwd, user, false, caps, false); });
    };
    EXPECT_NE(bad({}, {}, "", "", {}).find("no command"), std::string::npos);
    EXPECT_NE(bad({"true"}, {"NOEQUALS"}, "", "", {}).find("--env NOEQUALS"), std::string::npos);
    EXPECT_NE(bad({"true"}, {}, "tmp", "", {}).find("absolute"), std::string::npos);
    EXPECT_NE(bad({"true"}, {}, "", "bob", {}).find("--user bob"), std::string::npos);
    EXPECT_NE(bad({"true"}, {}, "", "1:x", {}).find("--user 1:x"), std::string::npos);
    EXPECT_NE(bad({"true"}, {}, "", "99999999999", {}).find("--user"), std::string::npos);
    EXPECT_NE(bad({"true"}, {}, "", "", {"CAP_NOPE"}).find("--cap CAP_NOPE"), std::string::npos);
}

}  // namespace
