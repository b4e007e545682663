// The engine's features found missing at the last review, with the real docker CLI (20.10) and
// the API itself (curl on the engine's socket, where the CLI hides the exchange): ps filters,
// stats streaming, named and anonymous volumes, random host ports, --privileged, exec resize
// and the exec records' lifetime, docker cp. Each checked from the host as well (the volume's
// directory, the port answering, the device nodes, the pty's size, the file in the upper dir).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/engine_harness.hpp"

using namespace enginetest;

namespace {

struct Api {
    int code = 0;
    std::string body;
};

class Features : public EngineTest {
protected:
    // One API call with curl: METHOD PATH [BODY] -> status code and body.
    Api api(const std::string& method, const std::string& path, const std::string& body = "",
            std::chrono::seconds timeout = 30s, const std::vector<std::string>& extra = {}) {
        std::vector<std::string> v = {"/usr/bin/curl", "-s", "--unix-socket", sock_, "-X", method, "-w", "\n%{http_code}"};
        if (method == "HEAD") v = {"/usr/bin/curl", "-s", "-I", "--unix-socket", sock_, "-w", "\n%{http_code}"};
        if (!body.empty()) v.insert(v.end(), {"-H", "Content-Type: application/json", "--data-binary", body});
        v.insert(v.end(), extra.begin(), extra.end());
        v.push_back("http://engine/v1.41" + path);
        auto r = run(v, transcript_, timeout, env_);
        Api a;
        auto nl = r.out.rfind('\n');
        a.code = nl == std::string::npos ? 0 : std::atoi(r.out.c_str() + nl + 1);
        a.body = nl == std::string::npos ? r.out : r.out.substr(0, nl);
        return a;
    }
    std::vector<std::string> names(std::vector<std::string> args) {
        std::vector<std::string> v = {"ps", "--format", "{{.Names}}"};
        v.insert(v.end(), args.begin(), args.end());
        auto r = docker(v);
        EXPECT_EQ(r.status, 0) << r.err;
        auto out = lines(r.out);
        std::sort(out.begin(), out.end());
        return out;
    }
    std::string detached(std::vector<std::string> args) {
        auto w = waiter();
        args.insert(args.end(), w.begin(), w.end());
        return run_detached(args);
    }
};

using support::http_get;

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (f()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return f();
}

}  // namespace

TEST_F(Features, PsFiltersThroughTheApi) {
    std::string up = detached({"--name", "f-up", "--network", "none", "-l", "tier=web", "busybox"});
    ASSERT_FALSE(up.empty());
    EXPECT_EQ(docker({"run", "--name", "f-three", "--network", "none", "-l", "tier=db", "busybox", "sh", "-c", "exit 3"}).status, 3);
    EXPECT_EQ(docker({"run", "--name", "f-zero", "--network", "none", "busybox", "true"}).status, 0);
    using V = std::vector<std::string>;
    EXPECT_EQ(names({"--filter", "status=running"}), V{"f-up"});
    EXPECT_EQ(names({"--filter", "status=exited"}), (V{"f-three", "f-zero"}));
    EXPECT_EQ(names({"-a", "--filter", "exited=3"}), V{"f-three"});
    EXPECT_EQ(names({"-a", "--filter", "label=tier"}), (V{"f-three", "f-up"}));
    EXPECT_EQ(names({"-a", "--filter", "label=tier=web"}), V{"f-up"});
    EXPECT_EQ(names({"-a", "--filter", "name=f-t"}), V{"f-three"});
    EXPECT_EQ(names({"-a", "--filter", "id=" + up.substr(0, 8)}), V{"f-up"});
    EXPECT_EQ(names({"-a", "--filter", "ancestor=busybox", "--filter", "status=exited"}), (V{"f-three", "f-zero"}));
    EXPECT_EQ(names({"-a", "--filter", "since=f-three"}), V{"f-zero"});
    EXPECT_EQ(names({"-a", "--filter", "before=f-three"}), V{"f-up"});
    auto labels = docker({"ps", "--format", "{{.Label \"tier\"}} {{.Names}}", "--filter", "name=f-up"});
    EXPECT_EQ(trim(labels.out), "web f-up") << labels.err;
    // Refusals as dockerd's: 400 with its message, which the CLI prints.
    auto bad = docker({"ps", "--filter", "colour=red"});
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.err.find("Invalid filter 'colour'"), std::string::npos) << bad.err;
    auto a = api("GET", "/containers/json?filters=%7B%22status%22%3A%5B%22sleeping%22%5D%7D");
    EXPECT_EQ(a.code, 400) << a.body;
    EXPECT_NE(a.body.find("Unrecognised filter value for status: sleeping"), std::string::npos) << a.body;
    // The API's older map form of the same filter.
    a = api("GET", "/containers/json?all=1&filters=%7B%22label%22%3A%7B%22tier%3Ddb%22%3Atrue%7D%7D");
    ASSERT_EQ(a.code, 200) << a.body;
    auto j = nlohmann::json::parse(a.body);
    ASSERT_EQ(j.size(), 1u) << a.body;
    EXPECT_EQ(j[0]["Names"][0], "/f-three");
    EXPECT_EQ(j[0]["Labels"]["tier"], "db");
    // The host: status=running's container has a live init, the exited ones have none.
    pid_t pid = pid_of("f-up");
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(alive(pid));
    EXPECT_EQ(inspect("f-three", "{{.State.Pid}}"), "0");
}

TEST_F(Features, StatsStreamUntilTheClientCloses) {
    std::string id = detached({"--name", "st", "--network", "none", "busybox"});
    ASSERT_FALSE(id.empty());
    pid_t pid = pid_of("st");
    // stream=true (the default): one JSON object a second while the client reads.
    auto t0 = std::chrono::steady_clock::now();
    auto r = run({"/usr/bin/curl", "-sN", "--max-time", "3.6", "--unix-socket", sock_, "http://engine/v1.41/containers/st/stats"},
                 transcript_, 20s, env_);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.status, 28) << "curl ends it at --max-time (28), not the engine: " << r.err;
    EXPECT_LT(took, 6.0);
    auto objs = lines(r.out);
    EXPECT_GE(objs.size(), 3u) << r.out;
    EXPECT_LE(objs.size(), 5u) << "about one a second: " << r.out;
    std::string prev_read;
    for (auto& o : objs) {
        auto j = nlohmann::json::parse(o);
        EXPECT_EQ(j["id"], id);
        EXPECT_GT(j["read"].get<std::string>(), prev_read) << "each sample is a new one";
        prev_read = j["read"];
        EXPECT_GE(j["pids_stats"].value("current", 0), 2) << o;  // sh and sleep
    }
    // The host: pids_stats is the container's pids cgroup's count.
    std::string cg = cgroup_dir(pid, "pids");
    ASSERT_FALSE(cg.empty());
    auto last = nlohmann::json::parse(objs.back());
    EXPECT_EQ(std::to_string(last["pids_stats"].value("current", 0)), trim(slurp(cg + "/pids.current")));
    // The engine stops sampling once the client is gone: its threads are back to what they were.
    auto threads = [&] {
        int n = 0;
        for (auto& e : fs::directory_iterator("/proc/" + std::to_string(engine_->pid()) + "/task")) n += e.is_directory() ? 1 : 0;
        return n;
    };
    int before = threads();
    auto bg = std::async(std::launch::async, [&] {
        return run({"/usr/bin/curl", "-sN", "--max-time", "2.5", "--unix-socket", sock_, "http://engine/v1.41/containers/st/stats"},
                   transcript_, 20s, env_);
    });
    std::this_thread::sleep_for(1200ms);
    int during = threads();
    bg.get();
    EXPECT_TRUE(eventually([&] { return threads() <= before; }, 5s)) << "before " << before << ", during " << during << ", after " << threads();
    // The docker CLI's own stats stream (no --no-stream): several frames in 3 s.
    auto cli = docker({"stats", "--format", "{{.Name}} {{.PIDs}}", "st"}, 3s);
    EXPECT_EQ(cli.status, 124) << "it streams until killed";
    size_t frames = 0;
    for (size_t at = 0; (at = cli.out.find("st ", at)) != std::string::npos; ++at) ++frames;
    EXPECT_GE(frames, 2u) << cli.out;
    auto once = docker({"stats", "--no-stream", "--format", "{{.Name}}", "st"});
    EXPECT_EQ(trim(once.out), "st") << once.err;
}

TEST_F(Features, NamedAndAnonymousVolumes) {
    std::string vols = root_ + "/docker/volumes";
    auto c = docker({"volume", "create", "--label", "k=v", "data1"});
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_EQ(trim(c.out), "data1");
    EXPECT_TRUE(fs::is_directory(vols + "/data1/_data")) << "Docker's layout under the data root";
    EXPECT_EQ(trim(docker({"volume", "inspect", "-f", "{{.Mountpoint}}", "data1"}).out), vols + "/data1/_data");
    EXPECT_EQ(trim(docker({"volume", "inspect", "-f", "{{.Driver}} {{.Labels.k}}", "data1"}).out), "local v");
    // A container writes, the host sees it, another container reads it.
    EXPECT_EQ(docker({"run", "--rm", "--network", "none", "-v", "data1:/data", "busybox", "sh", "-c", "echo kept > /data/f"}).status, 0);
    EXPECT_EQ(slurp(vols + "/data1/_data/f"), "kept\n");
    auto rd = docker({"run", "--rm", "--network", "none", "-v", "data1:/data:ro", "busybox", "sh", "-c", "cat /data/f; touch /data/g"});
    EXPECT_EQ(rd.out, "kept\n");
    EXPECT_NE(rd.status, 0) << ":ro is read-only";
    // A volume used for the first time gets the image's content at that path (copy-up).
    EXPECT_EQ(docker({"run", "--rm", "--network", "none", "-v", "etc1:/etc", "busybox", "true"}).status, 0);
    EXPECT_TRUE(exists(vols + "/etc1/_data/passwd")) << "the image's /etc copied into a new volume";
    EXPECT_EQ(slurp(vols + "/etc1/_data/passwd"), slurp(support::busybox_rootfs() + "/etc/passwd"));
    // In use: not removed; inspect shows the mount.
    std::string user = detached({"--name", "vuser", "--network", "none", "-v", "data1:/data", "busybox"});
    EXPECT_EQ(inspect("vuser", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}"), "volume data1 /data");
    auto busy = docker({"volume", "rm", "data1"});
    EXPECT_NE(busy.status, 0);
    EXPECT_NE(busy.err.find("volume is in use"), std::string::npos) << busy.err;
    // An anonymous volume (-v /path) goes with rm -v; a named one never does.
    std::string anon = detached({"--name", "anon", "--network", "none", "-v", "/scratch", "-v", "data1:/data", "busybox"});
    std::string aname = inspect("anon", "{{range .Mounts}}{{if eq .Destination \"/scratch\"}}{{.Name}}{{end}}{{end}}");
    ASSERT_EQ(aname.size(), 64u) << aname;
    EXPECT_TRUE(fs::is_directory(vols + "/" + aname + "/_data"));
    EXPECT_NE(docker({"volume", "ls", "-q"}).out.find(aname), std::string::npos);
    EXPECT_EQ(docker({"exec", "anon", "sh", "-c", "echo x > /scratch/y"}).status, 0);
    EXPECT_EQ(slurp(vols + "/" + aname + "/_data/y"), "x\n");
    EXPECT_EQ(docker({"rm", "-f", "-v", "anon"}).status, 0);
    EXPECT_FALSE(exists(vols + "/" + aname)) << "rm -v removes the anonymous volume";
    EXPECT_TRUE(exists(vols + "/data1/_data/f")) << "and keeps the named one";
    // container prune keeps volumes; volume prune removes the unused ones only.
    EXPECT_EQ(docker({"rm", "-f", "vuser"}).status, 0);
    EXPECT_EQ(docker({"run", "--network", "none", "-v", "/anon2", "busybox", "true"}).status, 0);
    EXPECT_EQ(docker({"container", "prune", "-f"}).status, 0);
    EXPECT_EQ(lines(docker({"volume", "ls", "-q"}).out).size(), 3u) << docker({"volume", "ls"}).out;
    std::string keep = detached({"--name", "keeper", "--network", "none", "-v", "etc1:/x", "busybox"});
    auto pr = docker({"volume", "prune", "-f"});
    EXPECT_EQ(pr.status, 0) << pr.err;
    EXPECT_EQ(trim(docker({"volume", "ls", "-q"}).out), "etc1");
    EXPECT_FALSE(exists(vols + "/data1"));
    // Bad names: refused before anything is made.
    EXPECT_NE(docker({"volume", "create", "bad/name"}).status, 0);
    auto badrun = docker({"run", "--rm", "-v", "b@d:/x", "busybox", "true"});
    EXPECT_EQ(badrun.status, 125);
    EXPECT_EQ(docker({"volume", "rm", "nosuch"}).status, 1);
}

TEST_F(Features, RandomHostPorts) {
    std::string httpd = "mkdir -p /www && echo hello-random > /www/index.html && exec httpd -f -p 80 -h /www";
    auto r = docker({"run", "-d", "--name", "rp", "-p", "80", "busybox", "sh", "-c", httpd});
    ASSERT_EQ(r.status, 0) << r.err;
    auto port = docker({"port", "rp", "80"});
    ASSERT_EQ(port.status, 0) << port.err;
    std::smatch m;
    std::string p = trim(port.out);
    ASSERT_TRUE(std::regex_match(p, m, std::regex("0\\.0\\.0\\.0:([0-9]+)"))) << p;
    int hp = std::stoi(m[1]);
    EXPECT_GE(hp, 1024);
    EXPECT_EQ(inspect("rp", "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}"), std::to_string(hp));
    EXPECT_EQ(inspect("rp", "{{(index (index .HostConfig.PortBindings \"80/tcp\") 0).HostPort}}"), "") << "as asked: none";
    std::string got;
    EXPECT_TRUE(eventually([&] { return (got = http_get(hp)).find("hello-random") != std::string::npos; })) << got;
    // -P: every exposed port (--expose here; busybox exposes none) on a port of its own.
    auto r2 = docker({"run", "-d", "--name", "rp2", "-P", "--expose", "8080", "busybox", "sh", "-c",
                      "mkdir -p /www && echo hello-P > /www/index.html && exec httpd -f -p 8080 -h /www"});
    ASSERT_EQ(r2.status, 0) << r2.err;
    std::string p2 = trim(docker({"port", "rp2", "8080/tcp"}).out);
    ASSERT_TRUE(std::regex_match(p2, m, std::regex("0\\.0\\.0\\.0:([0-9]+)"))) << p2;
    int hp2 = std::stoi(m[1]);
    EXPECT_NE(hp2, hp);
    EXPECT_TRUE(eventually([&] { return (got = http_get(hp2)).find("hello-P") != std::string::npos; })) << got;
    EXPECT_NE(docker({"ps", "--format", "{{.Ports}}", "--filter", "name=rp2"}).out.find(std::to_string(hp2) + "->8080/tcp"),
              std::string::npos);
    EXPECT_EQ(docker({"rm", "-f", "rp", "rp2"}).status, 0);
    EXPECT_EQ(http_get(hp), "") << "nothing answers once it is removed";
}

TEST_F(Features, PrivilegedSeesTheHostsDevices) {
    // A host device that no default container has: a block device, or else /dev/kmsg.
    std::string dev;
    for (auto& e : fs::directory_iterator("/dev"))
        if (e.is_block_file()) {
            dev = e.path().string();
            break;
        }
    if (dev.empty()) dev = "/dev/kmsg";
    ASSERT_TRUE(exists(dev));
    struct stat host {};
    ASSERT_EQ(::stat(dev.c_str(), &host), 0);
    std::string want = std::to_string(major(host.st_rdev)) + ":" + std::to_string(minor(host.st_rdev));
    std::string script = "stat -c '%t:%T' " + dev + " 2>&1; (exec 3<" + dev + ") 2>/dev/null && echo opened; "
                         "grep -E '^(Seccomp|CapEff):' /proc/self/status";
    auto p = docker({"run", "--rm", "--privileged", "--network", "none", "busybox", "sh", "-c", script});
    EXPECT_EQ(p.status, 0) << p.err;
    // stat prints hex major:minor
    char hex[32];
    std::snprintf(hex, sizeof hex, "%x:%x", major(host.st_rdev), minor(host.st_rdev));
    EXPECT_NE(p.out.find(hex), std::string::npos) << dev << " (" << want << ") in the container: " << p.out;
    EXPECT_NE(p.out.find("opened"), std::string::npos) << "the device cgroup lets it open: " << p.out;
    EXPECT_NE(p.out.find("Seccomp:\t0"), std::string::npos) << p.out;
    // Every capability the host's kernel has.
    std::string host_bnd;
    std::istringstream st(slurp("/proc/self/status"));
    for (std::string l; std::getline(st, l);)
        if (l.starts_with("CapBnd:")) host_bnd = l.substr(7);
    EXPECT_NE(p.out.find("CapEff:" + host_bnd), std::string::npos) << p.out << " host " << host_bnd;
    // The same container without --privileged: no such node, seccomp on.
    auto n = docker({"run", "--rm", "--network", "none", "busybox", "sh", "-c", script});
    EXPECT_EQ(n.out.find("opened"), std::string::npos) << n.out;
    EXPECT_NE(n.out.find("Seccomp:\t2"), std::string::npos) << n.out;
    // The host keeps its own node (the container's /dev is a tmpfs of its own).
    struct stat after {};
    EXPECT_EQ(::stat(dev.c_str(), &after), 0);
    EXPECT_EQ(after.st_rdev, host.st_rdev);
}

TEST_F(Features, ExecResizeAndExecRecordsFreed) {
    std::string id = detached({"--name", "ex", "--network", "none", "busybox"});
    ASSERT_FALSE(id.empty());
    auto c = api("POST", "/containers/ex/exec", R"({"Cmd":["sh","-c","sleep 2; stty size"],"Tty":true,"AttachStdout":true})");
    ASSERT_EQ(c.code, 201) << c.body;
    std::string exec_id = nlohmann::json::parse(c.body)["Id"];
    auto started = std::async(std::launch::async, [&] { return api("POST", "/exec/" + exec_id + "/start", R"({"Tty":true})", 20s); });
    // While it sleeps: the size, as the CLI sends it on SIGWINCH.
    std::this_thread::sleep_for(700ms);
    auto rs = api("POST", "/exec/" + exec_id + "/resize?h=33&w=77");
    EXPECT_EQ(rs.code, 200) << rs.body;
    // The host side: the exec's process has the pty as its stdin, with that size.
    auto top = docker({"top", "ex"});
    pid_t sleeper = 0;
    for (auto& l : lines(top.out))
        if (l.find("sleep 2") != std::string::npos) sleeper = std::atoi(l.substr(l.find_first_of("0123456789")).c_str());
    if (sleeper > 0) {
        int fd = ::open(("/proc/" + std::to_string(sleeper) + "/fd/0").c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        winsize ws{};
        EXPECT_EQ(::ioctl(fd, TIOCGWINSZ, &ws), 0);
        ::close(fd);
        EXPECT_EQ(ws.ws_row, 33);
        EXPECT_EQ(ws.ws_col, 77);
    } else {
        ADD_FAILURE() << "no sleep 2 in docker top: " << top.out;
    }
    auto out = started.get();
    EXPECT_NE(out.body.find("33 77"), std::string::npos) << out.body;
    auto ins = api("GET", "/exec/" + exec_id + "/json");
    ASSERT_EQ(ins.code, 200) << ins.body;
    EXPECT_EQ(nlohmann::json::parse(ins.body)["ExitCode"], 0);
    EXPECT_EQ(api("POST", "/exec/nosuch/resize?h=1&w=1").code, 404);
    // ExecIDs: the running ones.
    auto bg = api("POST", "/containers/ex/exec", R"({"Cmd":["sleep","30"]})");
    std::string bg_id = nlohmann::json::parse(bg.body)["Id"];
    EXPECT_EQ(api("POST", "/exec/" + bg_id + "/start", R"({"Detach":true})").code, 200);
    EXPECT_TRUE(eventually([&] { return inspect("ex", "{{json .ExecIDs}}").find(bg_id) != std::string::npos; }, 5s))
        << inspect("ex", "{{json .ExecIDs}}");
    // Freed with the container.
    EXPECT_EQ(docker({"rm", "-f", "ex"}).status, 0);
    EXPECT_EQ(api("GET", "/exec/" + exec_id + "/json").code, 404) << "its container is gone";
    EXPECT_EQ(api("GET", "/exec/" + bg_id + "/json").code, 404);
    // Finished ones expire (a short TTL for the test: MINIBOX_ENGINE_EXEC_TTL).
    stop_engine();
    env_.push_back("MINIBOX_ENGINE_EXEC_TTL=1");
    start_engine("engine2.log");
    detached({"--name", "ex2", "--network", "none", "busybox"});
    auto e1 = docker({"exec", "ex2", "true"});
    EXPECT_EQ(e1.status, 0) << e1.err;
    auto mk = api("POST", "/containers/ex2/exec", R"({"Cmd":["true"]})");
    std::string old_id = nlohmann::json::parse(mk.body)["Id"];
    api("POST", "/exec/" + old_id + "/start", R"({"Detach":true})");
    EXPECT_TRUE(eventually([&] { return api("GET", "/exec/" + old_id + "/json").body.find("\"Running\":false") != std::string::npos; }, 5s));
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(api("POST", "/containers/ex2/exec", R"({"Cmd":["true"]})").code, 201);  // a create sweeps
    EXPECT_EQ(api("GET", "/exec/" + old_id + "/json").code, 404) << "a finished exec past its TTL is forgotten";
}

TEST_F(Features, DockerCpBothWays) {
    std::string id = detached({"--name", "cp1", "--network", "none", "busybox"});
    ASSERT_FALSE(id.empty());
    std::string work = *dir_ / "cpwork";
    fs::create_directories(work);
    // Out of the container: a file, then a directory tree.
    auto f = docker({"cp", "cp1:/etc/passwd", work + "/passwd"});
    EXPECT_EQ(f.status, 0) << f.err;
    EXPECT_EQ(slurp(work + "/passwd"), slurp(support::busybox_rootfs() + "/etc/passwd"));
    EXPECT_EQ(docker({"exec", "cp1", "sh", "-c", "mkdir -p /tmp/t/sub && echo deep > /tmp/t/sub/x && ln -s sub/x /tmp/t/link"}).status, 0);
    auto d = docker({"cp", "cp1:/tmp/t", work + "/t"});
    EXPECT_EQ(d.status, 0) << d.err;
    EXPECT_EQ(slurp(work + "/t/sub/x"), "deep\n");
    EXPECT_TRUE(fs::is_symlink(work + "/t/link"));
    EXPECT_EQ(fs::read_symlink(work + "/t/link").string(), "sub/x");
    auto missing = docker({"cp", "cp1:/no/such", work + "/n"});
    EXPECT_NE(missing.status, 0);
    // The CLI words it itself when its HEAD finds nothing ("No such container:path: cp1:/no/such").
    EXPECT_NE(missing.err.find("cp1:/no/such"), std::string::npos) << missing.err;
    auto nf = api("GET", "/containers/cp1/archive?path=/no/such");
    EXPECT_EQ(nf.code, 404);
    EXPECT_NE(nf.body.find("Could not find the file /no/such in container"), std::string::npos) << nf.body;
    // Into the container; the host sees it in the container's upper directory.
    std::ofstream(work + "/in.txt") << "from the host\n";
    auto in = docker({"cp", work + "/in.txt", "cp1:/tmp/"});
    EXPECT_EQ(in.status, 0) << in.err;
    EXPECT_EQ(docker({"exec", "cp1", "cat", "/tmp/in.txt"}).out, "from the host\n");
    EXPECT_EQ(slurp(root_ + "/docker/containers/" + id + "/upper/tmp/in.txt"), "from the host\n");
    auto renamed = docker({"cp", work + "/in.txt", "cp1:/tmp/other.txt"});
    EXPECT_EQ(renamed.status, 0) << renamed.err;
    EXPECT_EQ(docker({"exec", "cp1", "cat", "/tmp/other.txt"}).out, "from the host\n");
    // HEAD: the stat header the CLI decodes.
    auto head = api("HEAD", "/containers/cp1/archive?path=/etc/passwd");
    EXPECT_EQ(head.code, 200);
    EXPECT_NE(head.body.find("X-Docker-Container-Path-Stat:"), std::string::npos) << head.body;
    // A symlink to / inside is the container's /, never the host's.
    EXPECT_EQ(docker({"exec", "cp1", "ln", "-s", "/", "/tmp/hostroot"}).status, 0);
    std::string marker = "minibox-cp-marker-" + id.substr(0, 8);
    std::ofstream(work + "/" + marker) << "m\n";
    EXPECT_EQ(docker({"cp", work + "/" + marker, "cp1:/tmp/hostroot/"}).status, 0);
    EXPECT_FALSE(exists("/" + marker)) << "written through the link onto the host's /";
    EXPECT_EQ(docker({"exec", "cp1", "cat", "/" + marker}).out, "m\n") << "it lands in the container's /";
    // A tar whose entry climbs out: 400, nothing written outside.
    std::string evil = work + "/evil.tar";
    fs::create_directories(work + "/a/b");
    std::ofstream(work + "/escape-" + marker) << "x\n";
    auto tar = run({"/bin/tar", "-C", work + "/a/b", "-cf", evil, "--absolute-names", "../../escape-" + marker}, transcript_);
    ASSERT_EQ(tar.status, 0) << tar.err;
    auto put = api("PUT", "/containers/cp1/archive?path=/tmp", "", 30s, {"-H", "Content-Type: application/x-tar", "--data-binary", "@" + evil});
    EXPECT_EQ(put.code, 400) << put.body;
    EXPECT_FALSE(exists(root_ + "/docker/containers/" + id + "/escape-" + marker));
    EXPECT_EQ(docker({"exec", "cp1", "ls", "/escape-" + marker}).status, 1);
    // A stopped container: its root is mounted for the copy and unmounted after.
    EXPECT_EQ(docker({"stop", "-t", "1", "cp1"}).status, 0);
    auto stopped = docker({"cp", "cp1:/tmp/in.txt", work + "/again.txt"});
    EXPECT_EQ(stopped.status, 0) << stopped.err;
    EXPECT_EQ(slurp(work + "/again.txt"), "from the host\n");
    EXPECT_TRUE(mounts_under_roots().empty()) << mounts_under_roots().front();
}

TEST_F(Features, OtherCommandsAnswerProperly) {
    std::string id = detached({"--name", "o1", "--network", "none", "busybox"});
    ASSERT_FALSE(id.empty());
    // Not implemented here: Docker's JSON error, never a hang or a crash, the engine lives on.
    for (auto& args : std::vector<std::vector<std::string>>{{"diff", "o1"}, {"export", "-o", *dir_ / "export.tar", "o1"},
                                                             {"update", "--memory", "64m", "o1"}, {"network", "create", "n1"},
                                                             {"commit", "o1", "x:1"}}) {
        auto r = docker(args, 20s);
        EXPECT_NE(r.status, 124) << args[0] << " hung";
        if (r.status != 0) {
            EXPECT_NE(r.err.find("Error response from daemon"), std::string::npos) << args[0] << ": " << r.err;
        }
        EXPECT_TRUE(engine_->alive()) << args[0];
    }
    // docker network ls/inspect: the three networks --network takes.
    auto nets = docker({"network", "ls", "--format", "{{.Name}} {{.Driver}}"});
    EXPECT_EQ(nets.status, 0) << nets.err;
    EXPECT_EQ(nets.out, "bridge bridge\nhost host\nnone null\n");
    EXPECT_EQ(trim(docker({"network", "inspect", "-f", "{{.Name}} {{.Scope}}", "bridge"}).out), "bridge local");
    EXPECT_EQ(docker({"network", "inspect", "nosuch"}).status, 1);
    auto unknown = api("GET", "/containers/o1/nosuch");
    EXPECT_EQ(unknown.code, 404);
    EXPECT_NE(unknown.body.find("\"message\""), std::string::npos) << unknown.body;
}
