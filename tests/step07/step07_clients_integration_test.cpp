// Real container engines drive the runtime through the runc command line: podman 4.3 (through
// conmon), containerd 1.6 (ctr, through containerd-shim-runc-v2) and dockerd 20.10 (through the
// containerd it manages). Each engine runs privately (own root, state and socket under a
// /tmp/mbxc.XXXXXX directory, own mount and network namespace) and calls the runtime through a
// wrapper that logs every argv, so a failure names the call that caused it.
//
//   MINIBOX_CLIENTS_RUNTIME=$(command -v runc) runs the same suite on runc (proves the harness);
//   unset, the runtime is build/bin/step07_full.
//
// After each case the host is checked: no cgroup left under our parents in any hierarchy, no
// state left under the runtime's root, no process of the container (or of conmon / a shim) left.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>

#include "clients/harness.hpp"
#include "support.hpp"

using namespace clients;

namespace {

// A container that ends on SIGTERM at once (a plain sleep as PID 1 would ignore it, and every
// stop would wait for the engine's SIGKILL).
const std::vector<std::string> kWaiter = {"sh", "-c", "trap 'exit 0' TERM; echo log-line; sleep 1000 & wait"};

std::string clients_dir() { return support::source_dir() + "/tests/step07/clients"; }

class ClientsTest : public ::testing::Test {
protected:
    // The binaries this engine needs; the test skips without them (fails under CI=true).
    virtual std::vector<std::string> tools() const = 0;
    // Our cgroup parent for this engine (a top-level name in every hierarchy).
    virtual std::string cgroup_parent() const = 0;
    // Cgroups under the parent that belong to the engine itself, not to a container.
    virtual std::set<std::string> engine_cgroups() const { return {}; }
    // The daemon's pid, when the engine has one (its direct children are the daemon's too).
    virtual std::set<pid_t> daemons() const { return {}; }
    // Daemon log for the failure report.
    virtual std::string daemon_log() const { return ""; }
    virtual void stop_daemons() {}

    void SetUp() override {
        REQUIRE_ROOT();
        std::string missing;
        for (auto& t : tools())
            if (which(t).empty()) missing += " " + t;
        if (!missing.empty()) {
            if (support::in_ci()) FAIL() << "not installed:" << missing << " (scripts/setup.sh installs them)";
            GTEST_SKIP() << "not installed:" << missing << " (scripts/setup.sh installs them)";
        }
        runtime_ = runtime_under_test(support::bin("step07_full"));
        ASSERT_EQ(::access(runtime_.c_str(), X_OK), 0) << "runtime under test not executable: " << runtime_;
        std::string why = enter_sandbox();
        ASSERT_EQ(why, "") << "cannot isolate the engines";
        ASSERT_EQ(reset_sandbox(), "");
        dir_ = std::make_unique<TempDir>();
        ASSERT_FALSE(dir_->path().empty()) << "mkdtemp /tmp/mbxc.XXXXXX";
        wrapper_ = write_wrapper(*dir_, runtime_);
        transcript_ = *dir_ / "transcript.log";
        argv_log_ = *dir_ / "argv.log";
        // A leftover parent from an interrupted run would make the checks fail for nothing.
        if (int n = kill_stale(cgroup_parent()))
            std::cerr << "[ stale   ] killed " << n << " processes left in /" << cgroup_parent() << " by an earlier run\n";
        remove_cgroup_parent(cgroup_parent());

        // The image: step03's busybox root, copied so that an engine writing mount points into
        // it (podman --rootfs does) leaves the shared image alone.
        if (!exists(support::busybox_rootfs() + "/bin/sh")) {
            auto r = run({"/bin/sh", support::source_dir() + "/scripts/make-image.sh", support::bin("nsinfo")},
                         transcript_, 120s, {"MINIBOX_QUIET=1"});
            ASSERT_EQ(r.status, 0) << "scripts/make-image.sh: " << r.err;
        }
        rootfs_ = *dir_ / "rootfs";
        auto cp = run({"/bin/cp", "-a", support::busybox_rootfs(), rootfs_}, transcript_);
        ASSERT_EQ(cp.status, 0) << cp.err;
    }

    void TearDown() override {
        stop_daemons();
        if (dir_) {
            // Nothing of the engine may outlive its daemon: conmon, shims, containers.
            auto left = wait_no_strays({}, 10s);
            EXPECT_TRUE(left.empty()) << "left running after the engine stopped:" << describe(left);
            kill_descendants();
            std::string stayed = remove_cgroup_parent(cgroup_parent());
            EXPECT_EQ(stayed, "") << "cgroups that could not be removed";
            std::cerr << "[ runtime ] " << runtime_ << " called with: " << subcommands(argv_log_) << "\n";
            if (HasFailure() || std::getenv("MINIBOX_CLIENTS_VERBOSE")) {
                std::cerr << "---- runtime calls (" << argv_log_ << ") ----\n"
                          << slurp(argv_log_) << "---- engine commands ----\n"
                          << slurp(transcript_);
                if (!daemon_log().empty()) {
                    std::string log = slurp(daemon_log());
                    if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
                    std::cerr << "---- daemon log (tail) ----\n" << log << "\n";
                }
            }
        }
        dir_.reset();
    }

    Out sh(const std::vector<std::string>& argv, std::chrono::seconds timeout = 30s) {
        return run(argv, transcript_, timeout, env_);
    }

    // The host's view once a container is gone: no stray process (its own pid among them), no
    // cgroup under our parent, nothing under the runtime's state directories.
    void expect_clean(const std::string& what, pid_t container_pid = -1) {
        auto left = wait_no_strays(daemons(), 10s);
        EXPECT_TRUE(left.empty()) << what << ": processes left besides the daemon:" << describe(left);
        if (container_pid > 0) {
            std::string stat = slurp("/proc/" + std::to_string(container_pid) + "/stat");
            EXPECT_EQ(stat, "") << what << ": the container's init (pid " << container_pid << ") is still there";
        }
        std::vector<std::string> cgroups;
        for (int i = 0; i < 50; ++i) {
            cgroups = cgroup_dirs_under(cgroup_parent(), engine_cgroups());
            if (cgroups.empty()) break;
            std::this_thread::sleep_for(100ms);
        }
        std::string list;
        for (auto& c : cgroups) list += "\n  " + c + " (procs: " + cgroup_procs_below(c) + ")";
        EXPECT_TRUE(cgroups.empty()) << what << ": cgroups left under /" << cgroup_parent() << ":" << list;
        // runc leaves its root empty; a file per container (a lock, say) grows /run forever. The
        // one exception is per filter, not per container, and bounded: .cache/seccomp holds the
        // compiled seccomp filters (at most 16; newer crun releases keep theirs in .cache too).
        for (auto& root : runtime_roots(argv_log_, runtime_)) {
            std::string dirs, files;
            for (auto& n : entries(root)) {
                if (n == ".cache") continue;
                (fs::is_directory(root + "/" + n) ? dirs : files) += " " + n;
            }
            EXPECT_EQ(dirs, "") << what << ": container state directories left under the runtime root " << root;
            EXPECT_EQ(files, "") << what << ": files left under the runtime root " << root;
        }
    }

    // The engine really went through the wrapper (else every check above would pass vacuously).
    void expect_runtime_called(const std::string& subcommand) {
        std::string calls = " " + subcommands(argv_log_) + " ";
        EXPECT_NE(calls.find(" " + subcommand + " "), std::string::npos)
            << "the engine never called `" << subcommand << "` through " << wrapper_ << " (calls:" << calls << ")";
    }

    // From the host: pid is in a cgroup under our parent and in another PID namespace.
    void expect_contained(pid_t pid) {
        ASSERT_GT(pid, 0);
        std::string cg = slurp("/proc/" + std::to_string(pid) + "/cgroup");
        EXPECT_NE(cg.find("/" + cgroup_parent() + "/"), std::string::npos)
            << "pid " << pid << " is not under /" << cgroup_parent() << ":\n" << cg;
        EXPECT_NE(support::ns_link(pid, "pid"), support::ns_link(0, "pid")) << "pid " << pid << " shares our PID namespace";
        EXPECT_NE(support::ns_link(pid, "mnt"), support::ns_link(0, "mnt")) << "pid " << pid << " shares our mount namespace";
    }

    // A docker-archive of the root filesystem (docker load, podman load, ctr images import).
    std::string archive() {
        std::string tar = *dir_ / "busybox.tar";
        auto r = sh({"/bin/sh", clients_dir() + "/make-archive.sh", rootfs_, tar, "busybox:latest"});
        EXPECT_EQ(r.status, 0) << r.err;
        return tar;
    }

    std::unique_ptr<TempDir> dir_;
    std::string runtime_, wrapper_, transcript_, argv_log_, rootfs_;
    std::vector<std::string> env_;
};

// ---- podman ------------------------------------------------------------------------------

class Podman : public ClientsTest {
protected:
    std::vector<std::string> tools() const override { return {"podman", "conmon", "script"}; }
    std::string cgroup_parent() const override { return "minibox-podman"; }
    // With cgroupfs, podman moves conmon into <parent>/conmon and never removes it.
    std::set<std::string> engine_cgroups() const override { return {"conmon"}; }

    void SetUp() override {
        ClientsTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        const TempDir& d = *dir_;
        // Config files of our own, so neither /etc/containers nor the cleanup process that
        // conmon starts after the container exits (podman container cleanup) see other settings.
        std::ofstream(d / "containers.conf") << "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"none\"\n"
                                             << "[network]\nnetwork_config_dir = \"" << (d / "p/net") << "\"\n";
        std::ofstream(d / "storage.conf") << "[storage]\ndriver = \"vfs\"\ngraphroot = \"" << (d / "p/root")
                                          << "\"\nrunroot = \"" << (d / "p/run") << "\"\n";
        std::ofstream(d / "registries.conf") << "unqualified-search-registries = []\n";
        env_ = {"CONTAINERS_CONF=" + (d / "containers.conf"), "CONTAINERS_STORAGE_CONF=" + (d / "storage.conf"),
                "CONTAINERS_REGISTRIES_CONF=" + (d / "registries.conf"),
                // image copies stage big files in $TMPDIR (else /var/tmp)
                "TMPDIR=" + (d / "ptmp")};
        fs::create_directories(d / "ptmp");
    }

    std::vector<std::string> podman(std::vector<std::string> args) const {
        const TempDir& d = *dir_;
        std::vector<std::string> v = {which("podman"), "--root", d / "p/root", "--runroot", d / "p/run",
                                      "--tmpdir", d / "p/tmp", "--storage-driver", "vfs",
                                      "--cgroup-manager", "cgroupfs", "--events-backend", "none",
                                      "--network-config-dir", d / "p/net", "--runtime", wrapper_};
        v.insert(v.end(), args.begin(), args.end());
        return v;
    }
    // `podman run` options every case uses: no network, our cgroup parent, small limits (the
    // host withholds CAP_SYS_RESOURCE, so the defaults, copied from ours, cannot be set).
    std::vector<std::string> run_opts() const {
        return {"--network", "none", "--cgroup-parent", "/minibox-podman", "--ulimit", "nofile=1024:1024",
                "--ulimit", "nproc=1024:1024", "--pull", "never"};
    }
    std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) const {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    }
};

TEST_F(Podman, RunRootfsEchoHi) {
    auto r = sh(podman(with(with({"run", "--rm"}, run_opts()), {"--rootfs", rootfs_, "echo", "hi"})));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hi\n") << r.err;
    expect_runtime_called("create");
    expect_runtime_called("start");
    expect_clean("podman run --rm");
}

TEST_F(Podman, DetachedExecStopRm) {
    auto r = sh(podman(with(with({"run", "-d", "--name", "c1"}, run_opts()), with({"--rootfs", rootfs_}, kWaiter))));
    ASSERT_EQ(r.status, 0) << r.err;
    std::string id = trim(r.out);
    auto pid_out = sh(podman({"inspect", "-f", "{{.State.Pid}}", "c1"}));
    ASSERT_EQ(pid_out.status, 0) << pid_out.err;
    pid_t pid = std::atoi(trim(pid_out.out).c_str());
    expect_contained(pid);

    auto e = sh(podman({"exec", "c1", "sh", "-c", "echo hi-exec; echo pid1=$(cat /proc/1/comm)"}));
    EXPECT_EQ(e.status, 0) << e.err;
    EXPECT_EQ(e.out, "hi-exec\npid1=sh\n") << e.err;
    expect_runtime_called("exec");

    auto ps = sh(podman({"ps", "--format", "{{.Names}} {{.Status}}"}));
    EXPECT_NE(ps.out.find("c1 Up"), std::string::npos) << ps.out << ps.err;

    auto t0 = std::chrono::steady_clock::now();
    auto s = sh(podman({"stop", "-t", "10", "c1"}));
    EXPECT_EQ(s.status, 0) << s.err;
    // The trap ends the container on SIGTERM: a stop that takes the whole timeout means the
    // signal never reached it and podman fell back to SIGKILL.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s) << "SIGTERM did not reach the container";
    auto code = sh(podman({"inspect", "-f", "{{.State.ExitCode}}", "c1"}));
    EXPECT_EQ(trim(code.out), "0") << code.err;
    expect_runtime_called("kill");
    auto rm = sh(podman({"rm", "c1"}));
    EXPECT_EQ(rm.status, 0) << rm.err;
    EXPECT_NE(rm.out.find("c1"), std::string::npos);
    expect_runtime_called("delete");
    expect_clean("podman run -d / exec / stop / rm " + id, pid);
}

TEST_F(Podman, Tty) {
    // -t: conmon passes --console-socket and receives the pty master from the runtime. The
    // client itself must sit on a terminal, so it runs under script(1).
    std::string cmd = quote_argv(podman(
        with(with({"run", "--rm", "-t"}, run_opts()), {"--rootfs", rootfs_, "sh", "-c", "tty; test -t 0 && echo stdin-is-tty"})));
    auto r = sh({which("script"), "-qec", cmd, "/dev/null"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("/dev/pts/0"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("stdin-is-tty"), std::string::npos) << r.out << r.err;
    std::string log = slurp(argv_log_);
    EXPECT_NE(log.find("--console-socket"), std::string::npos) << "no --console-socket in the runtime calls";
    expect_clean("podman run -t");
}

TEST_F(Podman, LoadedImage) {
    auto load = sh(podman({"load", "-i", archive()}), 90s);
    ASSERT_EQ(load.status, 0) << load.err;
    auto r = sh(podman(with(with({"run", "--rm"}, run_opts()),
                            {"localhost/busybox:latest", "sh", "-c", "echo from-image; hostname"})));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, 11), "from-image\n") << r.out << r.err;
    expect_runtime_called("create");
    expect_clean("podman run IMAGE");
}

// ---- containerd (ctr) --------------------------------------------------------------------

class Ctr : public ClientsTest {
protected:
    std::vector<std::string> tools() const override { return {"containerd", "ctr", "containerd-shim-runc-v2"}; }
    std::string cgroup_parent() const override { return "minibox-ctr"; }
    std::set<pid_t> daemons() const override { return daemon_ ? std::set<pid_t>{daemon_->pid()} : std::set<pid_t>{}; }
    std::string daemon_log() const override { return *dir_ / "containerd.log"; }
    void stop_daemons() override {
        if (daemon_) {
            EXPECT_EQ(daemon_->stop(), 0) << "containerd did not end cleanly on SIGTERM";
        }
        daemon_.reset();
    }

    void SetUp() override {
        ClientsTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        const TempDir& d = *dir_;
        sock_ = d / "cd.sock";
        // Root, state, sockets and the opt directory all ours; the CRI plugin (kubelet's) and
        // the snapshotters this host cannot use are left out, which also shortens the start.
        std::ofstream(d / "containerd.toml")
            << "version = 2\nroot = \"" << (d / "cd/root") << "\"\nstate = \"" << (d / "cd/state") << "\"\n"
            << "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.aufs\", "
               "\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", "
               "\"io.containerd.snapshotter.v1.devmapper\"]\n"
            << "[grpc]\n  address = \"" << sock_ << "\"\n[ttrpc]\n  address = \"" << sock_ << ".ttrpc\"\n"
            << "[plugins]\n  [plugins.\"io.containerd.internal.v1.opt\"]\n    path = \"" << (d / "cd/opt") << "\"\n";
        daemon_ = std::make_unique<Daemon>(
            std::vector<std::string>{which("containerd"), "--config", d / "containerd.toml", "--log-level", "info"},
            daemon_log());
        bool up = false;
        for (int i = 0; i < 300 && !up && daemon_->alive(); ++i) {
            if (exists(sock_)) up = run(ctr({"version"}), d / "probe.log", 10s).status == 0;
            if (!up) std::this_thread::sleep_for(100ms);
        }
        ASSERT_TRUE(up) << "containerd did not answer on " << sock_ << ":\n" << slurp(daemon_log());
        auto imp = sh(ctr({"images", "import", archive()}), 90s);
        ASSERT_EQ(imp.status, 0) << imp.err;
    }

    std::vector<std::string> ctr(std::vector<std::string> args) const {
        std::vector<std::string> v = {which("ctr"), "-a", sock_, "-n", "minibox"};
        v.insert(v.end(), args.begin(), args.end());
        return v;
    }
    // ctr run's options: our runtime binary, a cgroup path under our parent.
    std::vector<std::string> run_opts(const std::string& id) const {
        return {"--runc-binary", wrapper_, "--cgroup", "/minibox-ctr/" + id};
    }
    // `ctr task ls` -> the task's pid and status.
    std::pair<pid_t, std::string> task(const std::string& id) {
        auto r = sh(ctr({"task", "ls"}));
        std::istringstream in(r.out);
        for (std::string line; std::getline(in, line);) {
            std::istringstream w(line);
            std::string name, status;
            pid_t pid = 0;
            if (w >> name >> pid >> status && name == id) return {pid, status};
        }
        return {-1, ""};
    }

    std::unique_ptr<Daemon> daemon_;
    std::string sock_;
    const std::string image_ = "docker.io/library/busybox:latest";
};

TEST_F(Ctr, RunRmEchoHi) {
    std::vector<std::string> args = {"run", "--rm"};
    for (auto& o : run_opts("t1")) args.push_back(o);
    for (auto& o : {image_, std::string("t1"), std::string("echo"), std::string("hi")}) args.push_back(o);
    auto r = sh(ctr(args));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hi\n") << r.err;
    expect_runtime_called("create");
    expect_runtime_called("delete");
    auto ls = sh(ctr({"containers", "ls", "-q"}));
    EXPECT_EQ(trim(ls.out), "") << "ctr run --rm left a container";
    expect_clean("ctr run --rm");
}

TEST_F(Ctr, DetachedTaskExecPsPauseKillRm) {
    std::vector<std::string> args = {"run", "-d"};
    for (auto& o : run_opts("t2")) args.push_back(o);
    args.push_back(image_);
    args.push_back("t2");
    for (auto& o : kWaiter) args.push_back(o);
    auto r = sh(ctr(args));
    ASSERT_EQ(r.status, 0) << r.err;
    auto [pid, status] = task("t2");
    EXPECT_EQ(status, "RUNNING");
    expect_contained(pid);
    std::string procs = trim(slurp("/sys/fs/cgroup/pids/minibox-ctr/t2/cgroup.procs") +
                             slurp("/sys/fs/cgroup/unified/minibox-ctr/t2/cgroup.procs") +
                             slurp("/sys/fs/cgroup/minibox-ctr/t2/cgroup.procs"));
    EXPECT_NE(procs.find(std::to_string(pid)), std::string::npos) << "cgroup /minibox-ctr/t2 holds: " << procs;

    auto e = sh(ctr({"task", "exec", "--exec-id", "e1", "t2", "echo", "hi"}));
    EXPECT_EQ(e.status, 0) << e.err;
    EXPECT_EQ(e.out, "hi\n") << e.err;
    expect_runtime_called("exec");

    // ctr task ps asks the runtime (ps --format json) for the pids in the container.
    auto ps = sh(ctr({"task", "ps", "t2"}));
    EXPECT_EQ(ps.status, 0) << ps.err;
    EXPECT_NE(ps.out.find(std::to_string(pid)), std::string::npos) << ps.out << ps.err;
    expect_runtime_called("ps");

    auto pause = sh(ctr({"task", "pause", "t2"}));
    EXPECT_EQ(pause.status, 0) << pause.err;
    EXPECT_EQ(task("t2").second, "PAUSED");
    if (exists("/sys/fs/cgroup/freezer/minibox-ctr/t2/freezer.state")) {
        EXPECT_EQ(trim(slurp("/sys/fs/cgroup/freezer/minibox-ctr/t2/freezer.state")), "FROZEN");
    }
    auto resume = sh(ctr({"task", "resume", "t2"}));
    EXPECT_EQ(resume.status, 0) << resume.err;
    EXPECT_EQ(task("t2").second, "RUNNING");

    auto kill = sh(ctr({"task", "kill", "t2"}));  // SIGTERM
    EXPECT_EQ(kill.status, 0) << kill.err;
    expect_runtime_called("kill");
    std::string st;
    for (int i = 0; i < 100 && (st = task("t2").second) != "STOPPED"; ++i) std::this_thread::sleep_for(100ms);
    EXPECT_EQ(st, "STOPPED") << "SIGTERM did not end the task";
    auto trm = sh(ctr({"task", "rm", "t2"}));
    EXPECT_EQ(trm.status, 0) << trm.err;
    auto crm = sh(ctr({"containers", "rm", "t2"}));
    EXPECT_EQ(crm.status, 0) << crm.err;
    expect_runtime_called("delete");
    expect_clean("ctr run -d / task exec / ps / pause / resume / kill / rm", pid);
}

// ---- dockerd -----------------------------------------------------------------------------

class Docker : public ClientsTest {
protected:
    std::vector<std::string> tools() const override { return {"dockerd", "docker", "containerd", "containerd-shim-runc-v2"}; }
    std::string cgroup_parent() const override { return "minibox-docker"; }
    std::set<pid_t> daemons() const override { return daemon_ ? std::set<pid_t>{daemon_->pid()} : std::set<pid_t>{}; }
    std::string daemon_log() const override { return *dir_ / "dockerd.log"; }
    void stop_daemons() override {
        if (daemon_) {
            EXPECT_EQ(daemon_->stop(30s), 0) << "dockerd did not end cleanly on SIGTERM";
        }
        daemon_.reset();
    }

    // The client matching dockerd 20.10 (API 1.41): Debian's /usr/bin/docker. A newer client
    // elsewhere on PATH (a 28.x in /usr/local/bin here) negotiates down, but is pinned to 1.41.
    std::string client() {
        for (std::string c : {std::string("/usr/bin/docker"), which("docker")}) {
            if (c.empty() || ::access(c.c_str(), X_OK) != 0) continue;
            auto v = run({c, "--version"}, *dir_ / "probe.log", 10s);
            if (v.out.find(" 20.10") != std::string::npos) return c;
        }
        env_.push_back("DOCKER_API_VERSION=1.41");
        return which("docker");
    }

    void SetUp() override {
        ClientsTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        const TempDir& d = *dir_;
        sock_ = d / "d.sock";
        docker_ = client();
        // DOCKER_CONFIG: the client's config.json stays ours too.
        env_.push_back("DOCKER_CONFIG=" + (d / "cli"));
        // The daemon's own config file (else /etc/docker/daemon.json), which also moves the
        // trust key dockerd 20.10 writes at every start (default /etc/docker/key.json).
        std::ofstream(d / "daemon.json") << "{\"deprecated-key-path\": \"" << (d / "key.json") << "\"}\n";
        // No --containerd: dockerd starts its own containerd, with its socket and state under
        // --exec-root (x/containerd/containerd.sock) and its root under --data-root.
        daemon_ = std::make_unique<Daemon>(
            std::vector<std::string>{which("dockerd"), "--config-file", d / "daemon.json", "--data-root", d / "root",
                                     "--exec-root", d / "x", "--pidfile", d / "dockerd.pid", "-H", "unix://" + sock_,
                                     "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
                                     "--ip-forward=false", "--userland-proxy=false",
                                     "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", "minibox-docker",
                                     "--storage-driver", "vfs", "--add-runtime", "minibox=" + wrapper_,
                                     "--default-runtime", "runc"},
            daemon_log());
        bool up = false;
        for (int i = 0; i < 600 && !up && daemon_->alive(); ++i) {
            if (exists(sock_)) up = run(docker({"version"}), d / "probe.log", 10s, env_).status == 0;
            if (!up) std::this_thread::sleep_for(100ms);
        }
        ASSERT_TRUE(up) << "dockerd did not answer on " << sock_ << ":\n" << slurp(daemon_log());
        auto load = sh(docker({"load", "-i", archive()}), 90s);
        ASSERT_EQ(load.status, 0) << load.err;
    }

    std::vector<std::string> docker(std::vector<std::string> args) const {
        std::vector<std::string> v = {docker_, "-H", "unix://" + sock_};
        v.insert(v.end(), args.begin(), args.end());
        return v;
    }

    std::unique_ptr<Daemon> daemon_;
    std::string sock_, docker_;
};

TEST_F(Docker, RunRmEchoHi) {
    auto r = sh(docker({"run", "--rm", "--runtime", "minibox", "--network", "none", "busybox", "echo", "hi"}));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hi\n") << r.err;
    expect_runtime_called("create");
    expect_runtime_called("delete");
    auto ps = sh(docker({"ps", "-aq"}));
    EXPECT_EQ(trim(ps.out), "") << "docker run --rm left a container";
    expect_clean("docker run --rm");
}

TEST_F(Docker, DetachedExecLogsStopRm) {
    std::vector<std::string> args = {"run", "-d", "--name", "c1", "--runtime", "minibox", "--network", "none", "busybox"};
    args.insert(args.end(), kWaiter.begin(), kWaiter.end());
    auto r = sh(docker(args));
    ASSERT_EQ(r.status, 0) << r.err;
    std::string id = trim(r.out);
    auto pid_out = sh(docker({"inspect", "-f", "{{.State.Pid}}", "c1"}));
    pid_t pid = std::atoi(trim(pid_out.out).c_str());
    expect_contained(pid);
    std::string cg = slurp("/proc/" + std::to_string(pid) + "/cgroup");
    EXPECT_NE(cg.find("/minibox-docker/" + id), std::string::npos) << cg;

    auto e = sh(docker({"exec", "c1", "sh", "-c", "echo hi-exec; echo pid1=$(cat /proc/1/comm)"}));
    EXPECT_EQ(e.status, 0) << e.err;
    EXPECT_EQ(e.out, "hi-exec\npid1=sh\n") << e.err;
    expect_runtime_called("exec");

    // exec -t: the shim passes --console-socket to exec and copies the pty master's output.
    auto et = sh(docker({"exec", "-t", "c1", "tty"}));
    EXPECT_EQ(et.status, 0) << et.err;
    EXPECT_EQ(trim(et.out), "/dev/pts/0") << et.err;
    bool console_exec = false;
    std::istringstream calls(slurp(argv_log_));
    for (std::string l; std::getline(calls, l);)
        console_exec |= l.find(" exec ") != std::string::npos && l.find(" --console-socket ") != std::string::npos;
    EXPECT_TRUE(console_exec) << "no `exec ... --console-socket S` call";

    auto logs = sh(docker({"logs", "c1"}));
    EXPECT_EQ(logs.status, 0) << logs.err;
    EXPECT_EQ(logs.out, "log-line\n") << logs.err;

    auto t0 = std::chrono::steady_clock::now();
    auto s = sh(docker({"stop", "-t", "10", "c1"}));
    EXPECT_EQ(s.status, 0) << s.err;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s) << "SIGTERM did not reach the container";
    auto code = sh(docker({"inspect", "-f", "{{.State.ExitCode}}", "c1"}));
    EXPECT_EQ(trim(code.out), "0") << code.err;
    expect_runtime_called("kill");
    auto rm = sh(docker({"rm", "c1"}));
    EXPECT_EQ(rm.status, 0) << rm.err;
    expect_runtime_called("delete");
    expect_clean("docker run -d / exec / logs / stop / rm " + id, pid);
}

}  // namespace
