// The real docker CLI (Debian's docker.io 20.10, API 1.41) against a private minibox-engine:
// every command of issue 11, with its output and exit code, and the host's side of it (the
// container's cgroup and limits, its veth and overlay mount while it runs, all gone after rm).
// Also the engine's own promises: Docker's error shapes, live-restore across an engine
// restart, a SIGKILLed shim reported as an exit, 20 concurrent `docker run -d`.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <future>

#include "engine/engine_harness.hpp"

using namespace enginetest;

namespace {

// One raw HTTP exchange on the engine's socket (what the CLI cannot send: malformed requests).
std::string raw_http(const std::string& sock, const std::string& request) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    sock.copy(a.sun_path, sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return "connect failed";
    }
    (void)::write(fd, request.data(), request.size());
    ::shutdown(fd, SHUT_WR);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

}  // namespace

TEST_F(EngineTest, VersionInfoAndErrors) {
    auto v = docker({"version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}"});
    EXPECT_EQ(v.status, 0) << v.err;
    EXPECT_EQ(trim(v.out), "1.41 linux");
    auto info = docker({"info", "--format", "{{.Containers}} {{.OSType}} {{.DockerRootDir}}"});
    EXPECT_EQ(info.status, 0) << info.err;
    EXPECT_EQ(trim(info.out), "0 linux " + root_);
    // The socket: root-equivalent, so not world-accessible.
    struct stat st {};
    ASSERT_EQ(::stat(sock_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    // Unknown endpoint: Docker's JSON error with 404; a version too new: 400; the engine lives on.
    std::string r = raw_http(sock_, "GET /v1.41/no/such/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(r.find("HTTP/1.1 404"), std::string::npos) << r;
    EXPECT_NE(r.find("{\"message\":\"page not found\"}"), std::string::npos) << r;
    r = raw_http(sock_, "GET /v1.99/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
    // Malformed JSON in a create: 400 and nothing made.
    std::string body = "{\"Image\": \"busybox\", ";
    r = raw_http(sock_, "POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
    EXPECT_NE(r.find("\"message\""), std::string::npos) << r;
    // Garbage instead of HTTP: 400, and the engine still answers.
    r = raw_http(sock_, "\x01\x02 not http\r\n\r\n");
    EXPECT_NE(r.find("400"), std::string::npos) << r;
    EXPECT_EQ(docker({"ps", "-aq"}).out, "");
    EXPECT_TRUE(engine_->alive());
    // Missing image, bad name, unknown container: the CLI's messages and exit codes.
    auto missing = docker({"run", "--name", "bad/name", "busybox"});
    EXPECT_EQ(missing.status, 125) << missing.err;
    EXPECT_NE(missing.err.find("Invalid container name"), std::string::npos) << missing.err;
    EXPECT_EQ(docker({"create", "--name", "bad/name", "busybox"}).status, 1);
    auto nosuch = docker({"inspect", "--type", "container", "nosuch"});
    EXPECT_EQ(nosuch.status, 1);
    EXPECT_NE(nosuch.err.find("No such container: nosuch"), std::string::npos) << nosuch.err;
    auto stop = docker({"stop", "nosuch"});
    EXPECT_EQ(stop.status, 1);
    EXPECT_NE(stop.err.find("No such container: nosuch"), std::string::npos) << stop.err;
    EXPECT_EQ(docker({"ps", "-aq"}).out, "");
}

TEST_F(EngineTest, RunRmForeground) {
    auto r = docker({"run", "--rm", "--network", "none", "busybox", "echo", "hi"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "hi\n") << r.err;
    // stderr stays stderr (stdcopy), the exit status is the container's.
    auto e = docker({"run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(e.status, 3) << e.err;
    EXPECT_EQ(e.out, "out\n");
    EXPECT_EQ(e.err, "err\n");
    // Not found / not executable: 127 / 126 as docker run.
    EXPECT_EQ(docker({"run", "--rm", "--network", "none", "busybox", "/nosuch"}).status, 127);
    EXPECT_EQ(docker({"run", "--rm", "--network", "none", "busybox", "/etc/passwd"}).status, 126);
    // stdin (-i): the CLI's stdin reaches the container, its EOF ends it.
    auto in = run({"/bin/sh", "-c", "echo piped | " + docker_ + " run --rm -i --network none busybox cat"}, transcript_, 60s, env_);
    EXPECT_EQ(in.status, 0) << in.err;
    EXPECT_EQ(in.out, "piped\n");
    EXPECT_EQ(docker({"ps", "-aq"}).out, "") << "run --rm left a container";
    EXPECT_TRUE(mounts_under_roots().empty()) << "mounts left: " << mounts_under_roots().front();
}

TEST_F(EngineTest, RunTtyInteractive) {
    // -it with a real terminal: script(1) gives the CLI a pty.
    auto r = run({"/usr/bin/script", "-qec", docker_ + " run --rm -it --network none busybox sh -c 'tty; exit 4'", "/dev/null"},
                 transcript_, 60s, env_);
    EXPECT_EQ(r.status, 4) << r.out << r.err;
    EXPECT_NE(r.out.find("/dev/pts/0"), std::string::npos) << r.out;
}

TEST_F(EngineTest, DetachedLifecycle) {
    std::vector<std::string> args = {"--name", "web", "-e", "FOO=bar", "-m", "64m", "--pids-limit", "50", "--cpus", "0.5",
                                     "--network", "none", "-w", "/tmp", "busybox"};
    auto w = waiter();
    args.insert(args.end(), w.begin(), w.end());
    std::string id = run_detached(args);
    ASSERT_EQ(id.size(), 64u) << id;
    auto ps = docker({"ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.State}}"});
    EXPECT_EQ(trim(ps.out), id.substr(0, 12) + " web busybox running");
    pid_t pid = pid_of("web");
    ASSERT_GT(pid, 0);
    // The host's side: the process, its memory and pids limits in its cgroup, its overlay.
    EXPECT_TRUE(exists("/proc/" + std::to_string(pid)));
    std::string mem = cgroup_dir(pid, "memory");
    ASSERT_FALSE(mem.empty());
    std::string limit = trim(slurp(mem + (exists(mem + "/memory.max") ? "/memory.max" : "/memory.limit_in_bytes")));
    EXPECT_EQ(limit, "67108864") << mem;
    std::string pids = cgroup_dir(pid, "pids");
    EXPECT_EQ(trim(slurp(pids + "/pids.max")), "50") << pids;
    EXPECT_FALSE(mounts_under_roots().empty()) << "no overlay mounted while it runs";

    // logs, exec (env, workdir, exit code), top, stats, inspect.
    for (int i = 0; i < 50 && docker({"logs", "web"}).out.empty(); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_EQ(docker({"logs", "web"}).out, "log-line\n");
    auto e = docker({"exec", "web", "sh", "-c", "echo $FOO $(pwd); echo to-err >&2; exit 5"});
    EXPECT_EQ(e.status, 5);
    EXPECT_EQ(e.out, "bar /tmp\n");
    EXPECT_EQ(e.err, "to-err\n");
    auto et = docker({"exec", "-e", "X=1", "-w", "/", "web", "sh", "-c", "echo $X $(pwd)"});
    EXPECT_EQ(et.out, "1 /\n") << et.err;
    auto top = docker({"top", "web"});
    EXPECT_EQ(top.status, 0) << top.err;
    EXPECT_NE(top.out.find("sleep 1000"), std::string::npos) << top.out;
    EXPECT_NE(top.out.find(std::to_string(pid)), std::string::npos) << top.out;
    auto stats = docker({"stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "web"});
    EXPECT_EQ(stats.status, 0) << stats.err;
    EXPECT_EQ(trim(stats.out).substr(0, 4), "web ") << stats.out;
    EXPECT_EQ(inspect("web", "{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Image}} {{.HostConfig.Memory}}"),
              "running true /web busybox 67108864");

    // pause / unpause: the freezer, seen from the host as the process's state.
    EXPECT_EQ(docker({"pause", "web"}).status, 0);
    EXPECT_EQ(inspect("web", "{{.State.Status}}"), "paused");
    std::string freezer = cgroup_dir(pid, "freezer");
    if (!freezer.empty() && exists(freezer + "/freezer.state")) {
        EXPECT_EQ(trim(slurp(freezer + "/freezer.state")), "FROZEN") << freezer;
    } else if (!freezer.empty()) {
        EXPECT_EQ(trim(slurp(freezer + "/cgroup.freeze")), "1") << freezer;
    }
    EXPECT_EQ(docker({"unpause", "web"}).status, 0);
    EXPECT_EQ(inspect("web", "{{.State.Status}}"), "running");

    // rename; a name in use is a conflict; a running container is not removed without -f.
    EXPECT_EQ(docker({"rename", "web", "web2"}).status, 0);
    EXPECT_EQ(inspect(id, "{{.Name}}"), "/web2");
    auto dup = docker({"run", "-d", "--name", "web2", "busybox"});
    EXPECT_EQ(dup.status, 125);
    EXPECT_NE(dup.err.find("is already in use"), std::string::npos) << dup.err;
    auto rm = docker({"rm", "web2"});
    EXPECT_NE(rm.status, 0);
    EXPECT_NE(rm.err.find("You cannot remove a running container"), std::string::npos) << rm.err;

    // restart: a new init; stop: exited with the trap's 0; wait says so.
    EXPECT_EQ(docker({"restart", "-t", "5", "web2"}).status, 0);
    pid_t pid2 = pid_of("web2");
    EXPECT_GT(pid2, 0);
    EXPECT_NE(pid2, pid);
    EXPECT_FALSE(alive(pid)) << "the first init outlived the restart";
    auto stop = docker({"stop", "-t", "5", "web2"});
    EXPECT_EQ(stop.status, 0) << stop.err;
    EXPECT_EQ(trim(stop.out), "web2");
    EXPECT_EQ(trim(docker({"wait", "web2"}).out), "0");
    EXPECT_EQ(inspect("web2", "{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
    EXPECT_EQ(docker({"ps", "-q"}).out, "");
    EXPECT_EQ(trim(docker({"ps", "-aq"}).out), id.substr(0, 12));
    // start again, kill: 137.
    EXPECT_EQ(docker({"start", "web2"}).status, 0);
    EXPECT_EQ(inspect("web2", "{{.State.Running}}"), "true");
    EXPECT_EQ(docker({"kill", "web2"}).status, 0);
    EXPECT_EQ(trim(docker({"wait", "web2"}).out), "137");
    std::string cg = cgroup_dir(pid2, "memory");
    EXPECT_EQ(docker({"rm", "web2"}).status, 0);
    EXPECT_EQ(docker({"ps", "-aq"}).out, "");
    EXPECT_TRUE(mounts_under_roots().empty());
    EXPECT_FALSE(alive(pid2));
}

TEST_F(EngineTest, BridgeNetworkPortsAndCleanup) {
    auto before = veths();
    std::vector<std::string> args = {"--name", "net1", "-p", "18080:80", "busybox"};
    auto w = waiter();
    args.insert(args.end(), w.begin(), w.end());
    std::string id = run_detached(args);
    ASSERT_FALSE(id.empty());
    std::string ip = inspect("net1", "{{.NetworkSettings.IPAddress}}");
    EXPECT_FALSE(ip.empty());
    EXPECT_EQ(veths().size(), before.size() + 1) << "a veth for the container";
    auto port = docker({"port", "net1"});
    EXPECT_EQ(port.status, 0) << port.err;
    EXPECT_NE(port.out.find("80/tcp -> 0.0.0.0:18080"), std::string::npos) << port.out;
    // The address inside is the one inspect reports.
    auto e = docker({"exec", "net1", "ip", "-4", "-o", "addr", "show", "eth0"});
    EXPECT_NE(e.out.find(ip + "/"), std::string::npos) << e.out << e.err;
    EXPECT_EQ(docker({"rm", "-f", "net1"}).status, 0);
    EXPECT_EQ(veths().size(), before.size()) << "the veth went with the container";
    EXPECT_TRUE(mounts_under_roots().empty());
}

TEST_F(EngineTest, EventsAndPrune) {
    double t0 = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_EQ(docker({"create", "--name", "ev", "--network", "none", "busybox", "true"}).status, 0);
    EXPECT_EQ(docker({"start", "ev"}).status, 0);
    EXPECT_EQ(trim(docker({"wait", "ev"}).out), "0");
    std::this_thread::sleep_for(300ms);  // the die event comes from the engine's watcher
    EXPECT_EQ(docker({"rm", "ev"}).status, 0);
    double t1 = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() + 1;
    auto ev = docker({"events", "--since", std::to_string(t0), "--until", std::to_string(t1), "--format",
                      "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"});
    EXPECT_EQ(ev.status, 0) << ev.err;
    EXPECT_EQ(ev.out, "container create ev\ncontainer start ev\ncontainer die ev\ncontainer destroy ev\n");
    // container prune: the stopped ones go, the running one stays.
    EXPECT_EQ(docker({"run", "--network", "none", "--name", "done1", "busybox", "true"}).status, 0);
    std::vector<std::string> args = {"--name", "alive", "--network", "none", "busybox"};
    auto w = waiter();
    args.insert(args.end(), w.begin(), w.end());
    run_detached(args);
    auto p = docker({"container", "prune", "-f"});
    EXPECT_EQ(p.status, 0) << p.err;
    EXPECT_NE(p.out.find("Total reclaimed space"), std::string::npos) << p.out;
    EXPECT_EQ(trim(docker({"ps", "-a", "--format", "{{.Names}}"}).out), "alive");
    auto df = docker({"system", "df", "--format", "{{.Type}} {{.TotalCount}}"});
    EXPECT_EQ(df.status, 0) << df.err;
    EXPECT_NE(df.out.find("Containers 1"), std::string::npos) << df.out;
}

TEST_F(EngineTest, Images) {
    // An image in the store (step06's busybox is read-only to it): a docker-archive of the
    // same tree, loaded as bb:base.
    std::string archive = *dir_ / "base.tar";
    auto mk = run({"/bin/sh", support::source_dir() + "/tests/step07/clients/make-archive.sh", support::busybox_rootfs(),
                   archive, "bb:base"}, transcript_, 120s);
    ASSERT_EQ(mk.status, 0) << mk.err;
    auto base = docker({"load", "-i", archive});
    ASSERT_EQ(base.status, 0) << base.err;
    EXPECT_NE(base.out.find("Loaded image: bb:base"), std::string::npos) << base.out;
    auto images = docker({"images", "--format", "{{.Repository}}:{{.Tag}}"});
    EXPECT_EQ(images.status, 0) << images.err;
    EXPECT_NE(images.out.find("busybox:latest"), std::string::npos) << images.out;
    EXPECT_NE(images.out.find("bb:base"), std::string::npos) << images.out;
    EXPECT_EQ(docker({"tag", "bb:base", "mine/bb:1"}).status, 0);
    EXPECT_EQ(inspect("mine/bb:1", "{{.Os}}"), "linux");
    auto r = docker({"run", "--rm", "--network", "none", "mine/bb:1", "echo", "tagged"});
    EXPECT_EQ(r.out, "tagged\n") << r.err;
    std::string tar = *dir_ / "bb.tar";
    auto save = docker({"save", "-o", tar, "mine/bb:1"});
    EXPECT_EQ(save.status, 0) << save.err;
    EXPECT_GT(fs::file_size(tar), 1000000u);
    EXPECT_EQ(docker({"rmi", "mine/bb:1"}).status, 0);
    EXPECT_EQ(docker({"inspect", "--type", "image", "mine/bb:1"}).status, 1);
    auto load = docker({"load", "-i", tar});
    EXPECT_EQ(load.status, 0) << load.err;
    EXPECT_NE(load.out.find("Loaded image: mine/bb:1"), std::string::npos) << load.out;
    r = docker({"run", "--rm", "--network", "none", "mine/bb:1", "echo", "loaded"});
    EXPECT_EQ(r.out, "loaded\n") << r.err;
    // A missing image: the CLI tries a pull, which fails offline, exit 125.
    auto missing = docker({"run", "--rm", "--network", "none", "localhost:1/nosuch:1", "true"});
    EXPECT_EQ(missing.status, 125);
    EXPECT_NE(missing.err.find("Unable to find image"), std::string::npos) << missing.err;
}

// The registry client and the archive code live in minibox-engine-worker, one child per pull,
// push, load, save or build: the daemon itself never maps libcurl or its TLS stack, before or
// after such a job, and the jobs still work (load, save, a failed pull's message).
TEST_F(EngineTest, EngineMapsNoTlsStackJobsRunInTheWorker) {
    auto maps_of_engine = [&] { return slurp("/proc/" + std::to_string(engine_->pid()) + "/maps"); };
    auto tls_libs = [](const std::string& maps) {
        std::string found;
        for (const char* lib : {"libcurl", "libssl", "libgnutls", "libnghttp2"})
            if (maps.find(lib) != std::string::npos) found += std::string(lib) + " ";
        return found;
    };
    std::string before = maps_of_engine();
    ASSERT_FALSE(before.empty());
    EXPECT_EQ(tls_libs(before), "") << "the idle engine maps these";
    std::string archive = *dir_ / "base.tar";
    auto mk = run({"/bin/sh", support::source_dir() + "/tests/step07/clients/make-archive.sh", support::busybox_rootfs(),
                   archive, "bb:worker"}, transcript_, 120s);
    ASSERT_EQ(mk.status, 0) << mk.err;
    auto load = docker({"load", "-i", archive});
    EXPECT_EQ(load.status, 0) << load.err;
    EXPECT_NE(load.out.find("Loaded image: bb:worker"), std::string::npos) << load.out;
    std::string tar = *dir_ / "saved.tar";
    EXPECT_EQ(docker({"save", "-o", tar, "bb:worker"}).status, 0);
    EXPECT_GT(fs::file_size(tar), 1000000u);
    auto bad = docker({"save", "-o", *dir_ / "none.tar", "nosuch:1"});
    EXPECT_NE(bad.status, 0);
    auto pull = docker({"pull", "localhost:1/nosuch:1"});
    EXPECT_NE(pull.status, 0);
    EXPECT_NE(pull.err.find("localhost:1"), std::string::npos) << pull.err;
    EXPECT_EQ(tls_libs(maps_of_engine()), "") << "after load, save and pull the engine maps these";
    // The worker is named in the trace, and each was waited for: the engine has no child left.
    EXPECT_NE(slurp(*dir_ / "engine.log").find("minibox-engine-worker"), std::string::npos);
    std::string children;
    for (auto& t : fs::directory_iterator("/proc/" + std::to_string(engine_->pid()) + "/task"))
        children += slurp(t.path().string() + "/children");
    EXPECT_EQ(trim(children), "") << "children of the engine";
}

TEST_F(EngineTest, EngineRestartKeepsContainers) {
    std::vector<std::string> args = {"--name", "keep", "--network", "none", "busybox", "sh", "-c",
                                     "trap 'exit 0' TERM; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"};
    std::string id = run_detached(args);
    pid_t pid = pid_of("keep");
    ASSERT_GT(pid, 0);
    EXPECT_EQ(stop_engine(), 0) << "the engine did not end cleanly on SIGTERM";
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(alive(pid)) << "the container died with the engine";
    start_engine("engine2.log");
    EXPECT_EQ(trim(docker({"ps", "--format", "{{.Names}} {{.State}}"}).out), "keep running");
    EXPECT_EQ(pid_of("keep"), pid);
    // logs -f follows the live log after the restart; it ends when the container stops.
    std::string out = *dir_ / "follow.out";
    pid_t follower = spawn({docker_, "logs", "-f", "keep"}, out, out, env_);
    std::this_thread::sleep_for(1s);
    auto stop = docker({"stop", "keep"});
    EXPECT_EQ(stop.status, 0) << stop.err;
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(follower, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(100ms);
    if (::waitpid(follower, &status, WNOHANG) == 0) {
        ADD_FAILURE() << "logs -f did not end with the container";
        ::kill(follower, SIGKILL);
        ::waitpid(follower, &status, 0);
    }
    std::string followed = slurp(out);
    EXPECT_NE(followed.find("tick0\n"), std::string::npos) << followed;
    EXPECT_GT(lines(followed).size(), 5u) << followed;
    EXPECT_EQ(inspect("keep", "{{.State.Status}}"), "exited");
    EXPECT_FALSE(alive(pid));
}

TEST_F(EngineTest, KilledShimIsReportedAndCleaned) {
    auto w = waiter();
    std::vector<std::string> args = {"--name", "victim", "busybox"};
    args.insert(args.end(), w.begin(), w.end());
    std::string id = run_detached(args);
    pid_t pid = pid_of("victim");
    ASSERT_GT(pid, 0);
    // The shim is the container init's parent (its subreaper).
    std::istringstream stat(slurp("/proc/" + std::to_string(pid) + "/stat").substr(slurp("/proc/" + std::to_string(pid) + "/stat").rfind(')') + 2));
    char state;
    pid_t shim = 0;
    stat >> state >> shim;
    ASSERT_GT(shim, 1);
    EXPECT_NE(slurp("/proc/" + std::to_string(shim) + "/cmdline").find("minibox-shim"), std::string::npos);
    ASSERT_EQ(::kill(shim, SIGKILL), 0);
    std::string status;
    for (int i = 0; i < 100; ++i) {
        status = inspect("victim", "{{.State.Status}}");
        if (status == "exited") break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(status, "exited");
    EXPECT_EQ(inspect("victim", "{{.State.ExitCode}}"), "255");
    // The init and its host resources are reaped; the record goes with rm.
    for (int i = 0; i < 50 && alive(pid); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(alive(pid)) << "the init outlived its shim";
    EXPECT_EQ(docker({"rm", "victim"}).status, 0);
    EXPECT_TRUE(veths().empty());
    EXPECT_TRUE(mounts_under_roots().empty());
}

TEST_F(EngineTest, TwentyConcurrentRuns) {
    constexpr int kN = 20;
    std::vector<std::future<Out>> runs;
    auto w = waiter();
    for (int i = 0; i < kN; ++i) {
        std::vector<std::string> args = {"run", "-d", "--name", "c" + std::to_string(i), "busybox"};
        args.insert(args.end(), w.begin(), w.end());
        runs.push_back(std::async(std::launch::async, [this, args] { return docker(args, 120s); }));
    }
    int ok = 0;
    for (auto& f : runs) {
        auto r = f.get();
        EXPECT_EQ(r.status, 0) << r.err;
        ok += r.status == 0;
    }
    EXPECT_EQ(ok, kN);
    auto names = lines(docker({"ps", "--format", "{{.Names}}"}).out);
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), static_cast<size_t>(kN));
    std::set<std::string> ips;
    for (int i = 0; i < kN; ++i) ips.insert(inspect("c" + std::to_string(i), "{{.NetworkSettings.IPAddress}}"));
    ips.erase("");
    EXPECT_EQ(ips.size(), static_cast<size_t>(kN)) << "distinct addresses";
    std::vector<std::string> rm = {"rm", "-f"};
    for (int i = 0; i < kN; ++i) rm.push_back("c" + std::to_string(i));
    EXPECT_EQ(docker(rm, 120s).status, 0);
    EXPECT_EQ(docker({"ps", "-aq"}).out, "");
    EXPECT_TRUE(veths().empty());
    EXPECT_TRUE(mounts_under_roots().empty());
    EXPECT_TRUE(wait_no_strays({engine_->pid()}, 10s).empty());
}

TEST_F(EngineTest, RunOptionsReachTheContainer) {
    std::string data = *dir_ / "data";
    fs::create_directories(data);
    std::ofstream(data + "/f") << "from-the-host\n";
    auto r = docker({"run", "--rm", "--network", "none", "-v", data + ":/data", "--user", "1000:1000", "-h", "myhost",
                     "--entrypoint", "/bin/sh", "--cap-add", "NET_ADMIN", "-w", "/data", "busybox", "-c",
                     "id -u; id -g; cat f; hostname; pwd; touch g 2>/dev/null || echo read-only-for-1000"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "1000\n1000\nfrom-the-host\nmyhost\n/data\nread-only-for-1000\n") << r.err;
    // --cap-add: CAP_NET_ADMIN (bit 12) in the root process's effective set, not without it.
    auto caps = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = {"run", "--rm", "--network", "none"};
        a.insert(a.end(), extra.begin(), extra.end());
        a.insert(a.end(), {"busybox", "sh", "-c", "grep CapEff /proc/self/status"});
        auto o = docker(a);
        std::string hex = trim(o.out.substr(o.out.find(':') + 1));
        return std::stoull(hex.empty() ? "0" : hex, nullptr, 16);
    };
    EXPECT_TRUE(caps({"--cap-add", "NET_ADMIN"}) & (1ull << 12));
    EXPECT_FALSE(caps({}) & (1ull << 12));
    // --network host: the container sees our namespace's interfaces (lo, and no eth0).
    auto host = docker({"run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"});
    EXPECT_NE(host.out.find("lo:"), std::string::npos) << host.out;
    EXPECT_EQ(host.out.find("eth0:"), std::string::npos) << host.out;
    // A bad value is refused before anything is made.
    auto bad = docker({"run", "--rm", "-m", "1k", "busybox", "true"});
    EXPECT_EQ(bad.status, 125) << bad.err;
    auto badport = docker({"run", "--rm", "-p", "99999:80", "busybox", "true"});
    EXPECT_EQ(badport.status, 125) << badport.err;
    EXPECT_EQ(docker({"ps", "-aq"}).out, "");
    EXPECT_TRUE(mounts_under_roots().empty());
}

TEST_F(EngineTest, ExecTtyLogsTimestampsAndTcp) {
    auto w = waiter();
    std::vector<std::string> args = {"--name", "tt", "--network", "none", "busybox"};
    args.insert(args.end(), w.begin(), w.end());
    run_detached(args);
    // exec -it with a real terminal (script(1)); the CLI resizes it to its own size.
    auto t = run({"/usr/bin/script", "-qec", docker_ + " exec -it tt sh -c 'tty; stty size; exit 6'", "/dev/null"},
                 transcript_, 60s, env_);
    EXPECT_EQ(t.status, 6) << t.out;
    EXPECT_NE(t.out.find("/dev/pts/"), std::string::npos) << t.out;
    for (int i = 0; i < 50 && docker({"logs", "tt"}).out.empty(); ++i) std::this_thread::sleep_for(100ms);
    auto ts = docker({"logs", "-t", "tt"});
    EXPECT_EQ(ts.status, 0) << ts.err;
    EXPECT_EQ(ts.out.substr(0, 2), "20") << ts.out;  // 2026-12-01T12:00:00.123456789Z log-line
    EXPECT_NE(ts.out.find("Z log-line\n"), std::string::npos) << ts.out;
    // No TCP listener unless asked: our namespace has no listening TCP socket.
    EXPECT_EQ(slurp("/proc/net/tcp").find(" 0A "), std::string::npos) << slurp("/proc/net/tcp");
    // With -H tcp://127.0.0.1:PORT, a second engine on the same state answers there too.
    Daemon second({support::bin("minibox-engine"), "-H", "unix://" + (*dir_ / "e2.sock"), "-H", "tcp://127.0.0.1:23751",
                   "--data-root", root_, "--exec-root", run_},
                  *dir_ / "engine-tcp.log", env_);
    Out v;
    for (int i = 0; i < 100; ++i) {
        v = run({docker_, "-H", "tcp://127.0.0.1:23751", "ps", "--format", "{{.Names}}"}, transcript_, 10s, env_);
        if (v.status == 0) break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(trim(v.out), "tt") << v.err << slurp(*dir_ / "engine-tcp.log");
    EXPECT_EQ(second.stop(10s), 0);
    // A bad -H is refused at once, and nothing is left (exit 125, no socket file).
    auto bad = run({support::bin("minibox-engine"), "-H", "unix://relative.sock", "-H", "unix://" + (*dir_ / "e3.sock")},
                   transcript_, 10s, env_);
    EXPECT_EQ(bad.status, 125) << bad.err;
    EXPECT_FALSE(exists(*dir_ / "e3.sock"));
    EXPECT_EQ(docker({"rm", "-f", "tt"}).status, 0);
}
