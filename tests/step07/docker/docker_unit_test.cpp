// The front end's pure parts, without root: flags -> RunOptions, RunOptions -> config.json
// (each flag seen in its field), refusals (one line each), names and id prefixes, the inspect
// shape, docker's output formats.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "docker/bundle.hpp"
#include "docker/filters.hpp"
#include "docker/flags.hpp"
#include "docker/format.hpp"
#include "docker/internal.hpp"
#include "docker/manager.hpp"
#include "docker/record.hpp"
#include "docker/volumes.hpp"

namespace fs = std::filesystem;
using docker::BadRequest;
using docker::parse_run_flags;
using docker::RunOptions;
using json = nlohmann::json;

namespace {

docker::SourceImage fake_image(const std::string& dir) {
    docker::SourceImage img;
    img.ref = "busybox";
    img.image.name = "busybox";
    img.image.layers = {dir};
    img.image.config.cmd = {"sh"};
    img.image.config.env = {"PATH=/bin:/usr/bin", "FROM_IMAGE=1"};
    return img;
}

class TempDir {
public:
    TempDir() {
        char t[] = "/tmp/minibox-docker-unit-XXXXXX";
        if (!::mkdtemp(t)) std::abort();
        path = t;
    }
    ~TempDir() { fs::remove_all(path); }
    std::string path;
};

json config_for(const std::vector<std::string>& args, const std::string& layer = "/nonexistent") {
    RunOptions o = parse_run_flags(args);
    auto img = fake_image(layer);
    std::string id(64, 'a');
    auto p = docker::plan_process(o, img, id);
    return docker::make_config(o, p, {"/x/merged", "/run/x"}, id);
}

std::string refusal(const std::vector<std::string>& args) {
    try {
        parse_run_flags(args);
    } catch (const BadRequest& e) {
        EXPECT_EQ(e.exit_status(), 125);
        EXPECT_EQ(std::string(e.what()).find('\n') == std::string::npos || std::string(e.what()).find("See '") != std::string::npos, true)
            << "one line (or docker's line plus its 'See' hint): " << e.what();
        return e.what();
    }
    ADD_FAILURE() << "accepted";
    return "";
}

bool has(const json& arr, const std::string& v) {
    for (auto& x : arr)
        if (x == v) return true;
    return false;
}

}  // namespace

TEST(DockerFlags, OptionsStopAtTheImage) {
    auto o = parse_run_flags({"-d", "--name", "web", "-e", "A=1", "busybox", "sh", "-c", "echo -d --name"});
    EXPECT_TRUE(o.detach);
    EXPECT_EQ(o.name, "web");
    EXPECT_EQ(o.image, "busybox");
    EXPECT_EQ(o.cmd, (std::vector<std::string>{"sh", "-c", "echo -d --name"}));
    EXPECT_EQ(o.env, std::vector<std::string>{"A=1"});
}

TEST(DockerFlags, CombinedShortFlagsAndAttachedValues) {
    auto o = parse_run_flags({"-dit", "-m64m", "--cpus=0.5", "-p", "8080:80", "busybox"});
    EXPECT_TRUE(o.detach && o.interactive && o.tty);
    EXPECT_EQ(o.memory, 64u << 20);
    ASSERT_TRUE(o.cpus);
    EXPECT_DOUBLE_EQ(*o.cpus, 0.5);
    ASSERT_EQ(o.ports.size(), 1u);
    EXPECT_EQ(o.ports[0].host_port, 8080);
    EXPECT_EQ(o.ports[0].container_port, 80);
}

TEST(DockerFlags, EveryFlagOfTheIssueIsKnown) {
    TempDir d;
    std::ofstream(d.path + "/env") << "# comment\nFROM_FILE=yes\n\n";
    auto o = parse_run_flags({"-d", "--name", "n1", "-i", "-t", "--rm", "-e", "K=V", "--env-file", d.path + "/env", "-w", "/work",
                              "-u", "1000:1000", "--entrypoint", "/bin/echo", "-h", "box", "--init", "--read-only", "-v",
                              d.path + ":/data:ro", "--network", "bridge", "-p", "8080:80", "-m", "64m", "--memory-swap", "128m",
                              "--cpus", "1", "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "20", "--cap-add",
                              "NET_ADMIN", "--cap-drop", "chown", "--security-opt", "no-new-privileges", "--userns", "host",
                              "--device", "/dev/null:/dev/mynull:rw", "--dry-run", "busybox", "hello"});
    EXPECT_TRUE(o.auto_remove && o.init && o.read_only && o.dry_run);
    EXPECT_EQ(o.env, (std::vector<std::string>{"K=V", "FROM_FILE=yes"}));
    EXPECT_EQ(o.workdir, "/work");
    EXPECT_EQ(o.user, "1000:1000");
    ASSERT_TRUE(o.entrypoint);
    EXPECT_EQ(*o.entrypoint, std::vector<std::string>{"/bin/echo"});
    EXPECT_EQ(o.hostname, "box");
    ASSERT_EQ(o.volumes.size(), 1u);
    EXPECT_TRUE(o.volumes[0].read_only);
    EXPECT_EQ(o.memory_swap, 128 << 20);
    EXPECT_EQ(o.cpu_shares, 512u);
    EXPECT_EQ(o.cpuset_cpus, "0");
    EXPECT_EQ(o.pids_limit, 20);
    EXPECT_EQ(o.cap_add, std::vector<std::string>{"NET_ADMIN"});
    EXPECT_EQ(o.cap_drop, std::vector<std::string>{"CHOWN"});  // normalized: upper case, no CAP_
    ASSERT_EQ(o.devices.size(), 1u);
    EXPECT_EQ(o.devices[0].container, "/dev/mynull");
    auto r = parse_run_flags({"--restart", "on-failure:2", "busybox"});
    EXPECT_EQ(r.restart.name, "on-failure");
    EXPECT_EQ(r.restart.max_retries, 2);
    EXPECT_EQ(parse_run_flags({"--privileged", "busybox"}).privileged, true);
    EXPECT_EQ(parse_run_flags({"--network", "none", "busybox"}).network, "none");
}

TEST(DockerFlags, BadValuesAreRefusedWithOneLine) {
    EXPECT_NE(refusal({"--frobnicate", "busybox"}).find("unknown flag: --frobnicate"), std::string::npos);
    EXPECT_NE(refusal({"-m", "lots", "busybox"}).find("-m, --memory"), std::string::npos);
    EXPECT_NE(refusal({"-m", "1k", "busybox"}).find("Minimum memory limit"), std::string::npos);
    EXPECT_NE(refusal({"--memory-swap", "64m", "busybox"}).find("Memory limit"), std::string::npos);
    EXPECT_NE(refusal({"-m", "64m", "--memory-swap", "32m", "busybox"}).find("larger than memory"), std::string::npos);
    EXPECT_NE(refusal({"--cpus", "abc", "busybox"}).find("--cpus"), std::string::npos);
    EXPECT_NE(refusal({"--cpus", "9999", "busybox"}).find("Range of CPUs"), std::string::npos);
    EXPECT_NE(refusal({"--cpuset-cpus", "999", "busybox"}).find("999"), std::string::npos);
    EXPECT_NE(refusal({"-p", "99999:80", "busybox"}).find("-p, --publish"), std::string::npos);
    EXPECT_NE(refusal({"-p", "0:80", "busybox"}).find("-p, --publish"), std::string::npos);
    EXPECT_NE(refusal({"-p", "80/sctp", "busybox"}).find("tcp"), std::string::npos);
    EXPECT_NE(refusal({"--expose", "x", "busybox"}).find("--expose"), std::string::npos);
    EXPECT_NE(refusal({"-P", "--network", "none", "busybox"}).find("--publish-all"), std::string::npos);
    EXPECT_NE(refusal({"-p", "8080:80/udp", "busybox"}).find("tcp"), std::string::npos);
    EXPECT_NE(refusal({"-p", "8080:80", "-p", "8080:81", "busybox"}).find("twice"), std::string::npos);
    EXPECT_NE(refusal({"--network", "host", "-p", "8080:80", "busybox"}).find("bridge"), std::string::npos);
    EXPECT_NE(refusal({"--network", "weave", "busybox"}).find("network weave not found"), std::string::npos);
    EXPECT_NE(refusal({"-v", "b@d:/x", "busybox"}).find("invalid characters for a local volume name"), std::string::npos);
    EXPECT_NE(refusal({"-v", "name", "busybox"}).find("-v, --volume"), std::string::npos);
    EXPECT_NE(refusal({"-v", "name:relative", "busybox"}).find("-v, --volume"), std::string::npos);
    EXPECT_NE(refusal({"-v", "/tmp:/proc", "busybox"}).find("/proc"), std::string::npos);
    EXPECT_NE(refusal({"--cap-add", "FLY", "busybox"}).find("FLY"), std::string::npos);
    EXPECT_NE(refusal({"--restart", "sometimes", "busybox"}).find("restart policy"), std::string::npos);
    EXPECT_NE(refusal({"--restart", "always:3", "busybox"}).find("retry count"), std::string::npos);
    EXPECT_NE(refusal({"--rm", "--restart", "always", "busybox"}).find("Conflicting options"), std::string::npos);
    EXPECT_NE(refusal({"--name", "-bad", "busybox"}).find("Invalid container name"), std::string::npos);
    EXPECT_NE(refusal({"--name", "a/b", "busybox"}).find("Invalid container name"), std::string::npos);
    EXPECT_NE(refusal({"-w", "relative", "busybox"}).find("absolute path"), std::string::npos);
    EXPECT_NE(refusal({"--device", "/etc/passwd", "busybox"}).find("not a device"), std::string::npos);
    EXPECT_NE(refusal({"--security-opt", "apparmor=x", "busybox"}).find("--security-opt"), std::string::npos);
    EXPECT_NE(refusal({"--userns", "sideways", "busybox"}).find("--userns"), std::string::npos);
    EXPECT_NE(refusal({"--pids-limit", "x", "busybox"}).find("--pids-limit"), std::string::npos);
    EXPECT_NE(refusal({"--name"}).find("flag needs an argument"), std::string::npos);
    EXPECT_NE(refusal({"-d"}).find("requires at least 1 argument"), std::string::npos);
    EXPECT_NE(refusal({"--env-file", "/nonexistent/env", "busybox"}).find("/nonexistent/env"), std::string::npos);
}

TEST(DockerConfig, DefaultsAreDockersAndTheImagesCommand) {
    json c = config_for({"busybox"});
    EXPECT_EQ(c["process"]["args"], json({"sh"}));
    EXPECT_EQ(c["process"]["terminal"], false);
    EXPECT_EQ(c["root"]["path"], "/x/merged");
    EXPECT_EQ(c["root"]["readonly"], false);
    EXPECT_EQ(c["hostname"], std::string(12, 'a'));
    EXPECT_TRUE(has(c["process"]["env"], "FROM_IMAGE=1"));
    EXPECT_TRUE(has(c["process"]["env"], "HOSTNAME=" + std::string(12, 'a')));
    EXPECT_EQ(c["process"]["capabilities"]["bounding"].size(), 14u);
    EXPECT_TRUE(c["linux"].contains("seccomp"));
    EXPECT_TRUE(c["linux"].contains("maskedPaths"));
    EXPECT_EQ(c["linux"]["cgroupsPath"], "docker/" + std::string(64, 'a'));
    bool netns = false;
    for (auto& n : c["linux"]["namespaces"])
        if (n["type"] == "network") netns = n["path"] == "/run/x/netns";
    EXPECT_TRUE(netns) << "bridge: joins the shim's network namespace by path";
}

TEST(DockerConfig, EachFlagChangesItsField) {
    TempDir d;
    EXPECT_EQ(config_for({"busybox", "echo", "hi"})["process"]["args"], json({"echo", "hi"}));
    EXPECT_EQ(config_for({"--entrypoint", "/bin/ls", "busybox", "-l"})["process"]["args"], json({"/bin/ls", "-l"}));
    EXPECT_EQ(config_for({"--entrypoint", "/bin/ls", "busybox"})["process"]["args"], json({"/bin/ls"}))
        << "--entrypoint resets the image's Cmd";
    json t = config_for({"-t", "busybox"});
    EXPECT_EQ(t["process"]["terminal"], true);
    EXPECT_TRUE(has(t["process"]["env"], "TERM=xterm"));
    EXPECT_TRUE(has(config_for({"-e", "FROM_IMAGE=2", "busybox"})["process"]["env"], "FROM_IMAGE=2"));
    EXPECT_FALSE(has(config_for({"-e", "FROM_IMAGE=2", "busybox"})["process"]["env"], "FROM_IMAGE=1"));
    EXPECT_EQ(config_for({"-w", "/srv", "busybox"})["process"]["cwd"], "/srv");
    json u = config_for({"-u", "1000:1001", "busybox"});
    EXPECT_EQ(u["process"]["user"]["uid"], 1000);
    EXPECT_EQ(u["process"]["user"]["gid"], 1001);
    EXPECT_TRUE(u["process"]["capabilities"]["effective"].empty()) << "a non-root user has no effective capabilities";
    EXPECT_EQ(config_for({"-h", "box", "busybox"})["hostname"], "box");
    json init = config_for({"--init", "busybox", "sleep", "1"});
    EXPECT_EQ(init["process"]["args"], json({"/sbin/docker-init", "--", "sleep", "1"}));
    bool tini = false;
    for (auto& m : init["mounts"]) tini = tini || m["destination"] == "/sbin/docker-init";
    EXPECT_TRUE(tini);
    EXPECT_EQ(config_for({"--read-only", "busybox"})["root"]["readonly"], true);
    json v = config_for({"-v", d.path + ":/data:ro", "busybox"});
    bool vol = false;
    for (auto& m : v["mounts"])
        if (m["destination"] == "/data") vol = m["source"] == d.path && has(m["options"], "ro") && has(m["options"], "rbind");
    EXPECT_TRUE(vol);
    for (auto& n : config_for({"--network", "host", "busybox"})["linux"]["namespaces"]) EXPECT_NE(n["type"], "network");
    json r = config_for({"-m", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
                         "--pids-limit", "20", "busybox"})["linux"]["resources"];
    EXPECT_EQ(r["memory"]["limit"], 64 << 20);
    EXPECT_EQ(r["memory"]["swap"], 128 << 20);
    EXPECT_EQ(r["cpu"]["quota"], 50000);
    EXPECT_EQ(r["cpu"]["period"], 100000);
    EXPECT_EQ(r["cpu"]["shares"], 512);
    EXPECT_EQ(r["cpu"]["cpus"], "0");
    EXPECT_EQ(r["pids"]["limit"], 20);
    json caps = config_for({"--cap-add", "SYS_ADMIN", "--cap-drop", "NET_RAW", "busybox"})["process"]["capabilities"]["bounding"];
    EXPECT_TRUE(has(caps, "CAP_SYS_ADMIN"));
    EXPECT_FALSE(has(caps, "CAP_NET_RAW"));
    EXPECT_TRUE(config_for({"--cap-drop", "ALL", "busybox"})["process"]["capabilities"]["bounding"].empty());
    json priv = config_for({"--privileged", "busybox"});
    EXPECT_FALSE(priv["linux"].contains("seccomp"));
    EXPECT_FALSE(priv["linux"].contains("maskedPaths"));
    EXPECT_GT(priv["process"]["capabilities"]["bounding"].size(), 30u);
    EXPECT_EQ(config_for({"--security-opt", "no-new-privileges", "busybox"})["process"]["noNewPrivileges"], true);
    EXPECT_FALSE(config_for({"--security-opt", "seccomp=unconfined", "busybox"})["linux"].contains("seccomp"));
    json userns = config_for({"--userns", "private", "busybox"});
    EXPECT_TRUE(userns["linux"].contains("uidMappings"));
    json dev = config_for({"--device", "/dev/null:/dev/mynull", "busybox"});
    ASSERT_EQ(dev["linux"]["devices"].size(), 1u);
    EXPECT_EQ(dev["linux"]["devices"][0]["path"], "/dev/mynull");
    EXPECT_EQ(dev["linux"]["devices"][0]["major"], 1);
    EXPECT_EQ(dev["linux"]["devices"][0]["minor"], 3);
}

TEST(DockerConfig, UsersComeFromTheImagesPasswd) {
    TempDir d;
    fs::create_directories(d.path + "/etc");
    std::ofstream(d.path + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n";
    std::ofstream(d.path + "/etc/group") << "root:x:0:\nwww:x:34:\nstaff:x:50:www\n";
    auto ids = docker::resolve_user("www", {d.path});
    EXPECT_EQ(ids.uid, 33u);
    EXPECT_EQ(ids.gid, 34u);
    EXPECT_EQ(ids.additional_gids, std::vector<unsigned>{50});
    EXPECT_EQ(docker::resolve_user("www:staff", {d.path}).gid, 50u);
    EXPECT_EQ(docker::resolve_user("4242", {d.path}).uid, 4242u);
    EXPECT_THROW(docker::resolve_user("nobody-here", {d.path}), BadRequest);
    EXPECT_THROW(docker::resolve_user("www:nogroup", {d.path}), BadRequest);
}

TEST(DockerRecords, NamesAndPrefixesResolveAsDockers) {
    TempDir d;
    docker::Records records(d.path);
    docker::Record a, b;
    a.id = "abc" + std::string(61, '1');
    a.name = "web";
    a.complete = true;
    b.id = "abd" + std::string(61, '2');
    b.name = "abc";  // a name that is also a prefix of a's id: the name wins
    b.complete = true;
    records.save(a);
    records.save(b);
    EXPECT_EQ(records.resolve("web"), a.id);
    EXPECT_EQ(records.resolve("/web"), a.id);
    EXPECT_EQ(records.resolve(a.id), a.id);
    EXPECT_EQ(records.resolve("abc1"), a.id);
    EXPECT_EQ(records.resolve("abc"), b.id) << "an exact name beats an id prefix";
    EXPECT_THROW(records.resolve("ab"), BadRequest) << "ambiguous prefix";
    try {
        records.resolve("nosuch");
        ADD_FAILURE();
    } catch (const docker::NotFound& e) {
        EXPECT_STREQ(e.what(), "No such container: nosuch");
        EXPECT_EQ(e.exit_status(), 1);
    }
    auto back = records.load(a.id);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->name, "web");
}

TEST(DockerRecords, IdsAre64HexAndNamesDockerLike) {
    auto id = docker::new_id();
    EXPECT_EQ(id.size(), 64u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(id, docker::new_id());
    std::string why;
    EXPECT_TRUE(docker::valid_name(docker::random_name(), why)) << why;
    auto o = docker::options_from_json(docker::to_json(parse_run_flags({"-m", "64m", "-p", "8080:80", "--restart", "always", "busybox", "true"})));
    EXPECT_EQ(o.memory, 64u << 20);
    EXPECT_EQ(o.ports.size(), 1u);
    EXPECT_EQ(o.restart.name, "always");
    EXPECT_EQ(o.cmd, std::vector<std::string>{"true"});
}

TEST(DockerInspect, HasDockersShape) {
    TempDir d;
    docker::Record r;
    r.id = std::string(64, 'b');
    r.name = "shape";
    r.created = "2026-12-01T12:00:00.000000001Z";
    r.image_ref = "busybox";
    r.opts = parse_run_flags({"-p", "8080:80", "-m", "64m", "-v", d.path + ":/data", "busybox", "sleep", "9"});
    r.process.args = {"sleep", "9"};
    r.process.hostname = "bbbbbbbbbbbb";
    r.complete = true;
    docker::detail::Live l;
    l.status = "running";
    l.pid = 4242;
    l.ip = "10.61.0.7";
    l.started_at = "2026-12-01T12:00:01Z";
    json j = docker::detail::inspect_json({d.path, d.path}, r, l);
    for (const char* k : {"Id", "Name", "Created", "State", "Config", "HostConfig", "NetworkSettings", "Mounts", "RestartCount", "Path", "Args", "Image"})
        EXPECT_TRUE(j.contains(k)) << k;
    for (const char* k : {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"})
        EXPECT_TRUE(j["State"].contains(k)) << k;
    EXPECT_EQ(j["Name"], "/shape");
    EXPECT_EQ(j["Path"], "sleep");
    EXPECT_EQ(j["Args"], json({"9"}));
    EXPECT_EQ(j["State"]["Running"], true);
    EXPECT_EQ(j["State"]["Pid"], 4242);
    EXPECT_EQ(j["NetworkSettings"]["IPAddress"], "10.61.0.7");
    EXPECT_EQ(j["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"], "8080");
    EXPECT_EQ(j["HostConfig"]["Memory"], 64 << 20);
    EXPECT_EQ(j["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
    EXPECT_EQ(j["Mounts"][0]["Destination"], "/data");
    EXPECT_EQ(j["Config"]["Cmd"], json({"sleep", "9"}));
}

TEST(DockerFormat, GoTemplatesAndTables) {
    json row = {{"ID", "abc"}, {"Names", "web"}, {"State", {{"Status", "running"}}}, {"Ports", {{"80/tcp", "x"}}}};
    EXPECT_EQ(docker::format::render("{{.ID}} {{.Names}}", row), "abc web");
    EXPECT_EQ(docker::format::render("{{ .State.Status }}", row), "running");
    EXPECT_EQ(docker::format::render("{{json .State}}", row), "{\"Status\":\"running\"}");
    EXPECT_EQ(docker::format::render("{{index .Ports \"80/tcp\"}}", row), "x");
    EXPECT_EQ(docker::format::render("{{.Nope}}", row), "<no value>");
    EXPECT_EQ(docker::format::render("{{.ID}}\\t{{.Names}}", row), "abc\tweb");
    EXPECT_THROW(docker::format::render("{{.ID", row), BadRequest);
    std::string t = "table {{.ID}}\t{{.Names}}";
    EXPECT_TRUE(docker::format::is_table(t));
    EXPECT_EQ(docker::format::header(t), "CONTAINER ID\tNAMES");
    EXPECT_EQ(docker::format::tabulate({{"A", "B"}, {"long", "x"}}), "A      B\nlong   x\n");
    EXPECT_EQ(docker::format::bytes_size(1536), "1.5KiB");
    EXPECT_EQ(docker::format::human_size(1200), "1.2kB");
    EXPECT_EQ(docker::detail::human_duration(3), "3 seconds");
    EXPECT_EQ(docker::detail::human_duration(90), "About a minute");
    EXPECT_EQ(docker::detail::human_duration(7200), "2 hours");
    EXPECT_EQ(docker::detail::quote_command({"sh", "-c", "echo hi"}), "sh -c 'echo hi'");
}

TEST(DockerFlags, VolumesAndRandomPorts) {
    auto o = parse_run_flags({"-v", "data:/d:ro", "-v", "/anon", "-v", "/tmp:/t", "-p", "80", "-p", "8080:81", "-P",
                              "--expose", "9000", "busybox"});
    docker::validate(o);
    ASSERT_EQ(o.volumes.size(), 3u);
    EXPECT_EQ(o.volumes[0].volume, "data");
    EXPECT_TRUE(o.volumes[0].read_only);
    EXPECT_TRUE(o.volumes[0].is_volume());
    EXPECT_EQ(o.volumes[1].volume, "");
    EXPECT_TRUE(o.volumes[1].is_volume()) << "anonymous until create names it";
    EXPECT_EQ(o.volumes[1].container, "/anon");
    EXPECT_FALSE(o.volumes[2].is_volume());
    ASSERT_EQ(o.ports.size(), 2u);
    EXPECT_EQ(o.ports[0].host_port, 0);
    EXPECT_EQ(o.ports[0].container_port, 80);
    EXPECT_EQ(o.ports[1].host_port, 8080);
    EXPECT_TRUE(o.publish_all);
    EXPECT_EQ(o.expose, std::vector<std::string>{"9000/tcp"});
}

TEST(DockerFilters, DockersRules) {
    auto row = [](std::string name, std::string state, int code, std::string created, std::map<std::string, std::string> labels) {
        docker::Summary s;
        s.id = std::string(64, name[0]);
        s.name = name;
        s.image = "busybox";
        s.image_id = "sha256:" + std::string(64, 'e');
        s.state = state;
        s.exit_code = code;
        s.created_at = created;
        s.labels = labels;
        return s;
    };
    std::vector<docker::Summary> all = {row("alpha", "running", 0, "2026-01-01T00:00:01.000000001Z", {{"tier", "web"}}),
                                        row("beta", "exited", 3, "2026-01-01T00:00:01.000000002Z", {{"tier", "db"}, {"x", ""}}),
                                        row("gamma", "exited", 0, "2026-01-01T00:00:01.000000003Z", {})};
    auto names = [&](const docker::Filters& f, bool every) {
        std::string out;
        for (auto& s : docker::apply_filters(f, all, every)) out += s.name + " ";
        return out;
    };
    EXPECT_EQ(names({}, false), "alpha ");
    EXPECT_EQ(names({}, true), "alpha beta gamma ");
    EXPECT_EQ(names({{"status", {"exited"}}}, false), "beta gamma ") << "status=exited needs no -a";
    EXPECT_EQ(names({{"status", {"exited", "running"}}}, false), "alpha beta gamma ") << "values of one key: any";
    EXPECT_EQ(names({{"exited", {"3"}}}, false), "beta ");
    EXPECT_EQ(names({{"label", {"tier"}}}, true), "alpha beta ");
    EXPECT_EQ(names({{"label", {"tier=db", "x"}}}, true), "beta ") << "labels: every one";
    EXPECT_EQ(names({{"label", {"tier=db", "y"}}}, true), "");
    EXPECT_EQ(names({{"name", {"^/a"}}}, true), "alpha ") << "a regexp against /NAME";
    EXPECT_EQ(names({{"name", {"a"}}}, true), "alpha beta gamma ");
    EXPECT_EQ(names({{"id", {"bbb"}}}, true), "beta ");
    EXPECT_EQ(names({{"ancestor", {"busybox:latest"}}, {"status", {"running"}}}, true), "alpha ") << "keys: all";
    EXPECT_EQ(names({{"ancestor", {"eeeeee"}}}, true), "alpha beta gamma ");
    EXPECT_EQ(names({{"ancestor", {"alpine"}}}, true), "");
    EXPECT_EQ(names({{"since", {"alpha"}}}, true), "beta gamma ") << "created in the same second: by nanoseconds";
    EXPECT_EQ(names({{"before", {"gamma"}}}, true), "alpha beta ");
    EXPECT_THROW(names({{"colour", {"red"}}}, true), BadRequest);
    EXPECT_THROW(names({{"status", {"sleeping"}}}, true), BadRequest);
    EXPECT_THROW(names({{"exited", {"x"}}}, true), BadRequest);
    EXPECT_THROW(docker::filters_from_flags({"novalue"}), BadRequest);
    auto f = docker::filters_from_json(json::parse(R"({"status": {"exited": true}, "label": ["a=b"]})"));
    EXPECT_EQ(f["status"], std::vector<std::string>{"exited"});
    EXPECT_EQ(f["label"], std::vector<std::string>{"a=b"});
    EXPECT_EQ(docker::filters_from_json(docker::filters_to_json(f)), f);
}

TEST(DockerVolumes, StoreAndTheImagesVolumes) {
    TempDir t;
    docker::Roots roots{t.path + "/data", t.path + "/exec"};
    docker::Volumes vols(roots);
    auto v = vols.create("cache", {{"k", "v"}});
    EXPECT_EQ(v.mountpoint, t.path + "/data/volumes/cache/_data");
    EXPECT_TRUE(fs::is_directory(v.mountpoint));
    EXPECT_EQ(vols.create("cache").created, v.created) << "create is idempotent";
    EXPECT_EQ(v.to_json()["Labels"]["k"], "v");
    EXPECT_THROW(vols.create("b@d"), BadRequest);
    // -v cache:/c, -v /anon, and the image's VOLUME /data (and /c, which -v covers already)
    auto o = parse_run_flags({"-v", "cache:/c", "-v", "/anon", "busybox"});
    docker::validate(o);
    vols.attach(o, json::parse(R"({"Volumes": {"/data": {}, "/c": {}}})"));
    ASSERT_EQ(o.volumes.size(), 3u);
    EXPECT_EQ(o.volumes[0].host, v.mountpoint);
    EXPECT_EQ(o.volumes[1].volume.size(), 64u) << "an anonymous one gets a 64-hex name";
    EXPECT_EQ(o.volumes[2].container, "/data");
    EXPECT_EQ(o.volumes[2].volume.size(), 64u);
    EXPECT_TRUE(vols.find(o.volumes[2].volume)->anonymous);
    EXPECT_FALSE(vols.find("cache")->anonymous);
    EXPECT_EQ(vols.list().size(), 3u);
    // No container record uses them: prune takes all three.
    auto p = vols.prune();
    EXPECT_EQ(p.deleted.size(), 3u);
    EXPECT_TRUE(vols.list().empty());
    EXPECT_THROW(vols.remove("cache"), docker::NotFound);
}
