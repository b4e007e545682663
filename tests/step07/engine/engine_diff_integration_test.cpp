// The differential test: one script of docker CLI commands, run against a private dockerd (with
// runc; started as the clients test starts it, in this process's own mount and network
// namespace) and against our minibox-engine. What a user or a script reads must be the same:
// ps --format, inspect --format, logs (stdout and stderr apart), exec output and exit codes,
// run's exit codes, wait, and the errors' exit codes and messages. Ids and times differ and
// are not compared.
#include "engine/engine_harness.hpp"

using namespace enginetest;

namespace {

struct Step {
    std::vector<std::string> args;
    bool compare_out = true;
    bool compare_err = false;
    std::chrono::milliseconds settle{0};  // wait before the step (logs of a just-started container)
};

std::string normal(std::string s, const std::vector<std::string>& ids) {
    for (auto& id : ids) {
        if (id.size() < 12) continue;
        for (std::string form : {id, id.substr(0, 12)})
            for (size_t p; (p = s.find(form)) != std::string::npos;) s.replace(p, form.size(), "<id>");
    }
    return s;
}

class EngineDiff : public EngineTest {
protected:
    void SetUp() override {
        EngineTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        for (auto t : {"dockerd", "containerd", "runc"}) {
            if (which(t).empty()) {
                if (support::in_ci()) FAIL() << "not installed: " << t;
                GTEST_SKIP() << "not installed: " << t << " (scripts/setup.sh installs docker.io)";
            }
        }
        const TempDir& d = *dir_;
        dsock_ = d / "d.sock";
        std::ofstream(d / "daemon.json") << "{\"deprecated-key-path\": \"" << (d / "key.json") << "\"}\n";
        dockerd_ = std::make_unique<Daemon>(
            std::vector<std::string>{which("dockerd"), "--config-file", d / "daemon.json", "--data-root", d / "droot",
                                     "--exec-root", d / "dx", "--pidfile", d / "dockerd.pid", "-H", "unix://" + dsock_,
                                     "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
                                     "--ip-forward=false", "--userland-proxy=false", "--exec-opt",
                                     "native.cgroupdriver=cgroupfs", "--cgroup-parent", "minibox-enginediff",
                                     "--storage-driver", "vfs"},
            d / "dockerd.log");
        bool up = false;
        for (int i = 0; i < 600 && !up && dockerd_->alive(); ++i) {
            if (exists(dsock_)) up = real({"version"}).status == 0;
            if (!up) std::this_thread::sleep_for(100ms);
        }
        ASSERT_TRUE(up) << "dockerd did not answer:\n" << slurp(d / "dockerd.log");
        std::string archive = d / "busybox.tar";
        auto mk = run({"/bin/sh", support::source_dir() + "/tests/step07/clients/make-archive.sh", support::busybox_rootfs(), archive},
                      transcript_, 120s);
        ASSERT_EQ(mk.status, 0) << mk.err;
        auto load = real({"load", "-i", archive}, 120s);
        ASSERT_EQ(load.status, 0) << load.err;
    }

    void TearDown() override {
        if (dockerd_) {
            auto ids = real({"ps", "-aq"});
            for (auto& id : lines(ids.out)) real({"rm", "-f", id});
            dockerd_->stop(30s);
            dockerd_.reset();
            remove_cgroup_parent("minibox-enginediff");
        }
        EngineTest::TearDown();
    }

    Out real(const std::vector<std::string>& args, std::chrono::seconds timeout = 60s) {
        std::vector<std::string> v = {docker_, "-H", "unix://" + dsock_};
        v.insert(v.end(), args.begin(), args.end());
        std::vector<std::string> env = {"DOCKER_CONFIG=" + (*dir_ / "cli")};
        return run(v, transcript_ + ".dockerd", timeout, env);
    }

    std::unique_ptr<Daemon> dockerd_;
    std::string dsock_;
};

}  // namespace

TEST_F(EngineDiff, SameAnswersAsDockerd) {
    const std::string waiter_cmd = "trap 'exit 0' TERM; echo out1; sleep 0.2; echo err1 >&2; sleep 1000 & wait";
    std::vector<Step> script = {
        {{"run", "-d", "--name", "d1", "--network", "none", "-e", "A=1", "busybox", "sh", "-c", waiter_cmd}, false},
        {{"ps", "--format", "{{.Names}} {{.Image}} {{.State}} {{.Ports}}"}},
        {{"ps", "--no-trunc", "--format", "{{.Command}}"}},
        {{"inspect", "--format",
          "{{.Name}} {{.State.Status}} {{.State.Running}} {{.State.Paused}} {{.State.ExitCode}} {{.Config.Image}} "
          "{{.Config.Cmd}} {{.Config.Entrypoint}} {{.HostConfig.NetworkMode}} {{.Config.Tty}} {{.Config.OpenStdin}} "
          "{{.HostConfig.AutoRemove}} {{.RestartCount}} {{.Path}} {{len .Args}}",
          "d1"}},
        {{"logs", "d1"}, true, true, std::chrono::milliseconds(800)},
        {{"logs", "--tail", "1", "d1"}, true, true},
        {{"exec", "d1", "echo", "hi"}},
        {{"exec", "d1", "sh", "-c", "echo $A; echo e >&2; exit 7"}, true, true},
        {{"exec", "d1", "cat", "/proc/1/comm"}},
        {{"exec", "d1", "/nosuch"}, false},
        {{"run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo gone; exit 3"}, true},
        {{"run", "--name", "d2", "--network", "none", "busybox", "sh", "-c", "echo done; exit 2"}},
        {{"wait", "d2"}},
        {{"inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.OOMKilled}}", "d2"}},
        {{"logs", "d2"}},
        {{"pause", "d1"}},
        {{"inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "d1"}},
        {{"unpause", "d1"}},
        {{"stop", "d1"}},
        {{"wait", "d1"}},
        {{"inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "d1"}},
        {{"start", "d1"}},
        {{"kill", "d1"}},
        {{"wait", "d1"}},
        {{"ps", "-a", "--format", "{{.Names}} {{.State}}"}},
        {{"rename", "d2", "d3"}},
        {{"ps", "-a", "--filter", "name=d3", "--format", "{{.Names}}"}},
        {{"rm", "d1", "d3"}},
        {{"ps", "-aq"}},
        {{"inspect", "nosuch"}, true, true},
        {{"rm", "nosuch"}, true, true},
        {{"logs", "nosuch"}, true, true},
        {{"exec", "nosuch", "true"}, true, true},
    };
    std::vector<std::string> ids_real, ids_ours;
    std::string report;
    int differ = 0;
    for (auto& step : script) {
        if (step.settle.count()) std::this_thread::sleep_for(step.settle);
        Out a = real(step.args), b = docker(step.args);
        if (step.args[0] == "run" && step.args[1] == "-d") {
            ids_real.push_back(trim(a.out));
            ids_ours.push_back(trim(b.out));
        }
        std::string ao = normal(a.out, ids_real), bo = normal(b.out, ids_ours);
        std::string ae = normal(a.err, ids_real), be = normal(b.err, ids_ours);
        bool same = a.status == b.status && (!step.compare_out || ao == bo) && (!step.compare_err || ae == be);
        if (!same) {
            ++differ;
            report += "\n$ docker " + quote_argv(step.args) + "\n  dockerd: " + std::to_string(a.status) + " out=[" + ao +
                      "] err=[" + ae + "]\n  ours:    " + std::to_string(b.status) + " out=[" + bo + "] err=[" + be + "]";
        }
    }
    EXPECT_EQ(differ, 0) << differ << " of " << script.size() << " steps differ:" << report;
}
