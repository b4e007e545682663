// The engine tests' harness: a private minibox-engine per test case, and the real docker CLI
// talking to it. Each test process moves into its own mount and network namespace (clients'
// enter_sandbox: /run is a tmpfs, we are the subreaper of the shims), makes MINIBOX_ROOT and
// MINIBOX_RUN temporary directories (step06's busybox image bound in read-only, so `busybox` is
// there without a pull), starts the engine on DIR/e.sock and stops it by pid at the end.
// After each case: every container removed, no shim or container process left, no cgroup of
// ours left, nothing mounted under the temporary root.
#pragma once

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <iostream>
#include <memory>

#include "clients/harness.hpp"
#include "support.hpp"

namespace enginetest {

using namespace clients;
using namespace std::chrono_literals;

// The docker CLI of Debian's docker.io 20.10 (API 1.41); a newer one elsewhere on PATH is pinned.
inline std::string docker_cli() {
    if (::access("/usr/bin/docker", X_OK) == 0) return "/usr/bin/docker";
    return which("docker");
}

// A container that ends at once on SIGTERM and prints one line.
inline std::vector<std::string> waiter(const std::string& line = "log-line") {
    return {"sh", "-c", "trap 'exit 0' TERM; echo " + line + "; sleep 1000 & wait"};
}

class EngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        docker_ = docker_cli();
        if (docker_.empty()) {
            if (support::in_ci()) FAIL() << "no docker CLI (scripts/setup.sh installs docker.io)";
            GTEST_SKIP() << "no docker CLI (scripts/setup.sh installs docker.io)";
        }
        ASSERT_EQ(enter_sandbox(), "") << "cannot isolate the engine";
        ASSERT_EQ(reset_sandbox(), "");
        run({"/usr/sbin/ip", "link", "set", "lo", "up"}, "/dev/null");
        dir_ = std::make_unique<TempDir>();
        ASSERT_FALSE(dir_->path().empty());
        root_ = *dir_ / "root";
        run_ = *dir_ / "run";
        transcript_ = *dir_ / "transcript.log";
        fs::create_directories(root_ + "/images/busybox");
        fs::create_directories(run_);
        if (!exists(support::busybox_rootfs() + "/bin/sh")) {
            auto r = run({"/bin/sh", support::source_dir() + "/scripts/make-image.sh", support::bin("nsinfo")},
                         transcript_, 120s, {"MINIBOX_QUIET=1"});
            ASSERT_EQ(r.status, 0) << "scripts/make-image.sh: " << r.err;
        }
        // step06's busybox, read-only: the tests' containers write into their own overlay only.
        std::string image = fs::path(support::busybox_rootfs()).parent_path().string();
        ASSERT_EQ(::mount(image.c_str(), (root_ + "/images/busybox").c_str(), nullptr, MS_BIND, nullptr), 0) << image;
        ::mount(nullptr, (root_ + "/images/busybox").c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
        ::setenv("MINIBOX_ROOT", root_.c_str(), 1);
        ::setenv("MINIBOX_RUN", run_.c_str(), 1);
        sock_ = *dir_ / "e.sock";
        env_ = {"DOCKER_HOST=unix://" + sock_, "DOCKER_CONFIG=" + (*dir_ / "cli"), "MINIBOX_ROOT=" + root_,
                "MINIBOX_RUN=" + run_};
        if (docker_ != "/usr/bin/docker") env_.push_back("DOCKER_API_VERSION=1.41");
        start_engine();
    }

    void TearDown() override {
        if (!dir_) return;
        if (engine_ && engine_->alive()) {
            auto ids = docker({"ps", "-aq"});
            for (auto& id : lines(ids.out)) docker({"rm", "-f", id}, 60s);
        }
        stop_engine();
        auto left = wait_no_strays({}, 10s);
        EXPECT_TRUE(left.empty()) << "left running after rm -f of everything and the engine's stop:" << describe(left);
        kill_descendants();
        if (HasFailure() || std::getenv("MINIBOX_ENGINE_VERBOSE")) {
            std::string log = slurp(*dir_ / "engine.log");
            if (log.size() > 8000) log = "..." + log.substr(log.size() - 8000);
            std::cerr << "---- docker commands ----\n" << slurp(transcript_) << "---- engine log (tail) ----\n" << log << "\n";
        }
        dir_.reset();
    }

    void start_engine(const std::string& log_name = "engine.log") {
        std::vector<std::string> argv = {support::bin("minibox-engine"), "-H", "unix://" + sock_, "--data-root", root_,
                                         "--exec-root", run_, "--trace"};
        engine_ = std::make_unique<Daemon>(argv, *dir_ / log_name, env_);
        bool up = false;
        for (int i = 0; i < 200 && !up && engine_->alive(); ++i) {
            if (exists(sock_)) up = run({docker_, "version"}, *dir_ / "probe.log", 10s, env_).status == 0;
            if (!up) std::this_thread::sleep_for(50ms);
        }
        ASSERT_TRUE(up) << "minibox-engine did not answer on " << sock_ << ":\n" << slurp(*dir_ / log_name);
    }

    // SIGTERM, by pid: the containers stay with their shims.
    int stop_engine() {
        if (!engine_) return -1;
        int rc = engine_->stop(10s);
        engine_.reset();
        return rc;
    }

    Out docker(const std::vector<std::string>& args, std::chrono::seconds timeout = 60s) {
        std::vector<std::string> v = {docker_};
        v.insert(v.end(), args.begin(), args.end());
        return run(v, transcript_, timeout, env_);
    }

    // `docker run -d ... IMAGE CMD...`: asserts success, returns the id.
    std::string run_detached(std::vector<std::string> args) {
        std::vector<std::string> v = {"run", "-d"};
        v.insert(v.end(), args.begin(), args.end());
        auto r = docker(v);
        EXPECT_EQ(r.status, 0) << r.err;
        return trim(r.out);
    }

    std::string inspect(const std::string& what, const std::string& format) {
        return trim(docker({"inspect", "-f", format, what}).out);
    }

    pid_t pid_of(const std::string& what) { return std::atoi(inspect(what, "{{.State.Pid}}").c_str()); }

    // True while `pid` runs. A container's init whose shim died is reparented to us (the
    // subreaper): once killed it is our zombie, reaped here.
    static bool alive(pid_t pid) {
        std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
        if (stat.empty()) return false;
        size_t close = stat.rfind(')');
        if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') {
            ::waitpid(pid, nullptr, WNOHANG);
            return false;
        }
        return true;
    }

    static std::vector<std::string> lines(const std::string& s) {
        std::vector<std::string> v;
        std::istringstream in(s);
        for (std::string l; std::getline(in, l);)
            if (!trim(l).empty()) v.push_back(trim(l));
        return v;
    }

    // Mount points in our namespace under the engine's roots (overlays, netns binds).
    std::vector<std::string> mounts_under_roots() {
        std::vector<std::string> v;
        std::istringstream in(slurp("/proc/self/mountinfo"));
        for (std::string line; std::getline(in, line);) {
            std::istringstream f(line);
            std::string id, parent, devno, root, point;
            f >> id >> parent >> devno >> root >> point;
            bool ours = point.rfind(root_ + "/", 0) == 0 || point.rfind(run_ + "/", 0) == 0;
            if (ours && point.find("/images/busybox") == std::string::npos) v.push_back(point);
        }
        return v;
    }

    // veth interfaces in our network namespace.
    std::vector<std::string> veths() {
        std::vector<std::string> v;
        auto r = run({"/usr/sbin/ip", "-o", "link", "show", "type", "veth"}, "/dev/null");
        for (auto& l : lines(r.out)) v.push_back(l);
        return v;
    }

    // The cgroup directory of `pid` in the hierarchy holding `controller` (v1), or the v2 one.
    static std::string cgroup_dir(pid_t pid, const std::string& controller) {
        std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
        for (std::string line; std::getline(in, line);) {
            auto a = line.find(':'), b = line.find(':', a + 1);
            std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
            std::istringstream cs(ctrls);
            for (std::string c; std::getline(cs, c, ',');)
                if (c == controller) return "/sys/fs/cgroup/" + ctrls + path;
            if (ctrls.empty() && exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup" + path;
        }
        return "";
    }

    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<Daemon> engine_;
    std::string docker_, root_, run_, sock_, transcript_;
    std::vector<std::string> env_;
};

}  // namespace enginetest
