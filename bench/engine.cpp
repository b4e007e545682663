// The engine: `docker run --rm busybox true` through our minibox-engine (-> minibox-shim ->
// step07_full) against the same CLI through a private dockerd (-> containerd -> its shim ->
// runc); the daemons' idle resident memory, once, printed with the first comparison; and the
// daemonless path, `step07_full run -d` + `rm -f`, against `podman run -d` + `podman rm -f`.
//
// Both daemons run privately: each in its own mount and network namespace (unshare(1) -m -n,
// /run a fresh tmpfs there, so dockerd's /run/docker and containerd's /run/containerd stay
// inside), with roots under /tmp/minibox-bench-engine, stopped by pid in the teardown. The
// containers use --network none on both sides (dockerd runs with --bridge=none).
// podman: its own --root/--runroot (the runroot under 50 characters, podman's limit), small
// --ulimit values (this host withholds CAP_SYS_RESOURCE), cgroupfs, --rootfs of a copy of the
// busybox tree (no image store to fill).
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "bench.hpp"
#include "error.hpp"

namespace bench {
namespace {

const std::string kDir = "/tmp/minibox-bench-engine";

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// A daemon started with `sh -c SCRIPT` in new mount and network namespaces; its pid is the
// daemon's own (unshare and sh exec into it).
struct Daemon {
    pid_t pid = -1;
    ~Daemon() { stop(); }
    void start(const std::string& unshare, const std::string& script, const std::string& log) {
        pid = ::fork();
        if (pid == 0) {
            ::setsid();
            std::freopen("/dev/null", "r", stdin);
            std::freopen(log.c_str(), "w", stdout);
            ::dup2(STDOUT_FILENO, STDERR_FILENO);
            ::execl(unshare.c_str(), unshare.c_str(), "-m", "-n", "--propagation", "slave", "sh", "-c",
                    script.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    void stop() {
        if (pid <= 0) return;
        ::kill(pid, SIGTERM);
        for (int i = 0; i < 300; ++i) {
            if (::waitpid(pid, nullptr, WNOHANG) == pid) {
                pid = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = -1;
    }
};

// Pss of `pid` in KiB (shared library pages divided among their users), for the report.
long pss_kib(pid_t pid) {
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/smaps_rollup"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("Pss:", 0) == 0) return std::atol(line.c_str() + 4);
    return 0;
}

// VmRSS of `pid` in KiB, plus that of its children named `child` (dockerd's containerd).
long rss_kib(pid_t pid, const std::string& child = "") {
    auto one = [](const std::string& p) {
        std::istringstream in(slurp("/proc/" + p + "/status"));
        for (std::string line; std::getline(in, line);)
            if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
        return 0L;
    };
    long total = one(std::to_string(pid));
    if (!child.empty()) {
        // Each thread's children file lists the children that thread forked: dockerd (Go) starts
        // containerd from whichever thread runs the goroutine, not always the main one (a run
        // here counted 77952 KiB, dockerd without its containerd, and printed 0.101x).
        std::string tasks = "/proc/" + std::to_string(pid) + "/task";
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(tasks.c_str()), ::closedir);
        for (dirent* e; d && (e = ::readdir(d.get()));) {
            if (e->d_name[0] == '.') continue;
            std::istringstream kids(slurp(tasks + "/" + e->d_name + "/children"));
            for (std::string k; kids >> k;)
                if (slurp("/proc/" + k + "/comm").rfind(child, 0) == 0) total += one(k);
        }
    }
    return total;
}

// The source tree, from the build directory's CMakeCache.txt (tests/step07/clients' script).
std::string source_dir(const std::string& bin_dir) {
    std::istringstream in(slurp(bin_dir + "/../CMakeCache.txt"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("minibox_SOURCE_DIR:STATIC=", 0) == 0) return line.substr(26);
    return "";
}

bool answers(const std::string& docker, const std::string& sock) {
    std::string cmd = docker + " -H unix://" + sock + " version >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

bool wait_up(const std::string& docker, const std::string& sock, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
        if (answers(docker, sock)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

}  // namespace

std::vector<Comparison> engine(const Env& env) {
    std::string docker = ::access("/usr/bin/docker", X_OK) == 0 ? "/usr/bin/docker" : find_program("docker");
    std::string dockerd = find_program("dockerd"), unshare = find_program("unshare"), sh = find_program("sh");
    std::string podman = find_program("podman");
    std::string ours = env.bin_dir + "/minibox-engine";
    std::string image_dir = env.rootfs.substr(0, env.rootfs.rfind('/'));  // images/busybox

    auto daemons = std::make_shared<std::pair<Daemon, Daemon>>();  // ours, dockerd
    Comparison run;
    run.name = "engine: docker run --rm busybox true";
    std::string ocli = docker + " -H unix://" + kDir + "/e.sock";
    std::string dcli = docker + " -H unix://" + kDir + "/d.sock";
    run.ours = {"docker -> minibox-engine -> minibox-shim -> step07_full",
                {sh, "-c", "DOCKER_CONFIG=" + kDir + "/cli " + ocli + " run --rm --network none busybox true"}};
    run.reference = {"docker -> dockerd -> containerd -> shim -> runc",
                     {sh, "-c", "DOCKER_CONFIG=" + kDir + "/cli " + dcli + " run --rm --network none busybox true"}};
    run.goal = 0.3;
    if (docker.empty() || dockerd.empty()) run.skip = "no docker.io (docker, dockerd): scripts/setup.sh installs it";
    else if (::access(ours.c_str(), X_OK) != 0) run.skip = "minibox-engine not built";
    run.setup = [=] {
        std::system(("rm -rf " + kDir + " && mkdir -p " + kDir + "/root/images/busybox " + kDir + "/cli").c_str());
        std::string e = "mount -t tmpfs tmpfs /run && mount --bind " + image_dir + " " + kDir +
                        "/root/images/busybox && exec " + ours + " -H unix://" + kDir + "/e.sock --data-root " + kDir +
                        "/root --exec-root /run/minibox";
        daemons->first.start(unshare, e, kDir + "/engine.log");
        std::ofstream(kDir + "/daemon.json") << "{\"deprecated-key-path\": \"" << kDir << "/key.json\"}\n";
        std::string d = "mount -t tmpfs tmpfs /run && exec " + dockerd + " --config-file " + kDir + "/daemon.json --data-root " +
                        kDir + "/droot --exec-root /run/dx --pidfile /run/dockerd.pid -H unix://" + kDir +
                        "/d.sock --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false "
                        "--userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent minibox-bench-docker "
                        "--storage-driver overlay2";
        daemons->second.start(unshare, d, kDir + "/dockerd.log");
        if (!wait_up(docker, kDir + "/e.sock", 20)) throw Error("minibox-engine did not answer: " + slurp(kDir + "/engine.log"));
        if (!wait_up(docker, kDir + "/d.sock", 60)) throw Error("dockerd did not answer: " + slurp(kDir + "/dockerd.log"));
        // dockerd's busybox: the same tree, as a docker-archive (tests/step07/clients' script).
        std::string mk = "sh " + source_dir(env.bin_dir) + "/tests/step07/clients/make-archive.sh " + env.rootfs +
                         " " + kDir + "/bb.tar && DOCKER_CONFIG=" + kDir + "/cli " + dcli + " load -i " + kDir +
                         "/bb.tar >/dev/null";
        if (std::system(mk.c_str()) != 0) throw Error("could not load busybox into dockerd");
        // Idle memory, both daemons settled after their start-up (and one container each).
        std::system((ocli + " run --rm --network none busybox true >/dev/null 2>&1").c_str());
        std::system(("DOCKER_CONFIG=" + kDir + "/cli " + dcli + " run --rm --network none busybox true >/dev/null 2>&1").c_str());
        std::this_thread::sleep_for(std::chrono::seconds(2));
        // dockerd's containerd, counted with it: once it is there (a run here once measured
        // dockerd alone, 76 MiB instead of 116, and reported 0.19x for ours instead of 0.12x).
        long d_only = rss_kib(daemons->second.pid);
        for (int i = 0; i < 50 && rss_kib(daemons->second.pid, "containerd") == d_only; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        long o = rss_kib(daemons->first.pid), r = rss_kib(daemons->second.pid, "containerd");
        double ratio = r > 0 ? static_cast<double>(o) / static_cast<double>(r) : 0;
        std::printf("  idle memory: minibox-engine %ld KiB, dockerd + containerd %ld KiB: %.3fx (goal 0.1x) %s\n", o, r, ratio,
                    ratio <= 0.1 ? "PASS" : "OVER");
        // Most of ours is file-backed: libcurl's TLS stack, libarchive, libstdc++ (the image
        // module's), shared with every other process using them; Pss divides those pages.
        std::printf("  (Pss: minibox-engine %ld KiB, dockerd %ld KiB)\n", pss_kib(daemons->first.pid), pss_kib(daemons->second.pid));
    };
    run.teardown = [=] {
        daemons->first.stop();
        daemons->second.stop();
        std::system(("rm -rf " + kDir + " 2>/dev/null").c_str());
        std::system(("for h in /sys/fs/cgroup/*/minibox-bench-docker; do [ -d \"$h\" ] && find \"$h\" -depth -type d -exec rmdir {} + 2>/dev/null; done; true"));
    };

    Comparison daemonless;
    daemonless.name = "engine: run -d + rm -f, daemonless";
    std::string step07 = env.bin_dir + "/step07_full";
    daemonless.ours = {"step07_full run -d + rm -f",
                       {sh, "-c", "id=$(" + step07 + " run -d --network none busybox sleep 100) && " + step07 + " rm -f \"$id\""}};
    // runc, not podman's default crun: crun refuses this host's hybrid cgroup layout.
    std::string runc = find_program("runc");
    std::string p = podman + " --root " + kDir + "/p/root --runroot /tmp/mbxb-podrun --tmpdir " + kDir +
                    "/p/tmp --storage-driver vfs --cgroup-manager cgroupfs --events-backend none --runtime " + runc;
    daemonless.reference = {"podman run -d --rootfs + podman rm -f",
                            {sh, "-c", "id=$(" + p + " run -d --network none --cgroup-parent /minibox-bench-podman "
                                       "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --rootfs " + kDir +
                                       "/prootfs sleep 100) && " + p + " rm -f -t 0 \"$id\""}};
    daemonless.goal = 1.0;
    if (podman.empty() || runc.empty()) daemonless.skip = "no podman or runc (scripts/setup.sh installs them)";
    daemonless.setup = [=] {
        std::system(("mkdir -p " + kDir + " && rm -rf " + kDir + "/prootfs && cp -a " + env.rootfs + " " + kDir + "/prootfs").c_str());
    };
    daemonless.teardown = [=] {
        std::system((p + " rm -af -t 0 >/dev/null 2>&1; rm -rf " + kDir + " /tmp/mbxb-podrun").c_str());
        std::system("for h in /sys/fs/cgroup/*/minibox-bench-podman; do [ -d \"$h\" ] && find \"$h\" -depth -type d -exec rmdir {} + 2>/dev/null; done; true");
    };
    return {run, daemonless};
}

}  // namespace bench
