#include "system.hpp"

#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "errors.hpp"
#include "events.hpp"
#include "router.hpp"
#include "streams.hpp"

namespace engine::system {

Hooks& hooks() {
    static Hooks h;
    return h;
}

Config& config() {
    static Config c;
    return c;
}

double parse_time(const std::string& s) {
    if (s.empty()) throw bad_request("empty timestamp");
    try {
        size_t used = 0;
        double v = std::stod(s, &used);
        if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
    std::tm tm{};
    std::istringstream in(s);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    if (in.fail()) throw bad_request("failed to parse value as time or duration: \"" + s + "\"");
    return static_cast<double>(::timegm(&tm));
}

namespace {

std::string kernel_version() {
    utsname u{};
    ::uname(&u);
    return u.release;
}

std::string os_name() {
    std::ifstream f("/etc/os-release");
    for (std::string line; std::getline(f, line);) {
        if (line.rfind("PRETTY_NAME=", 0) == 0) {
            std::string v = line.substr(12);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
    }
    return "Linux";
}

std::string iso_now() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1000000000;
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(ns));
    return std::string(buf) + frac + "Z";
}

const char* kVersion = "20.10.24-minibox";

void ping(Ctx& c) {
    if (c.req.method() == http::verb::head) {
        c.conn.send_empty(http::status::ok);
    } else {
        c.conn.send_text(http::status::ok, "OK", "text/plain; charset=utf-8");
    }
}

void version(Ctx& c) {
    std::string kernel = kernel_version();
    nlohmann::json details = {{"ApiVersion", "1.41"}, {"MinAPIVersion", "1.12"}, {"GitCommit", "minibox"},
                              {"GoVersion", "none (C++20, Boost.Beast)"}, {"Os", "linux"}, {"Arch", "amd64"},
                              {"KernelVersion", kernel}, {"Experimental", "false"}, {"BuildTime", __DATE__}};
    nlohmann::json j = {
        {"Platform", {{"Name", "minibox engine"}}},
        {"Components",
         {{{"Name", "Engine"}, {"Version", kVersion}, {"Details", details}},
          {{"Name", "minibox-shim"}, {"Version", "1"}, {"Details", {{"GitCommit", "minibox"}}}},
          {{"Name", "step07_full"}, {"Version", "1.0.2-dev"}, {"Details", {{"GitCommit", "minibox"}}}}}},
        {"Version", kVersion},
        {"ApiVersion", "1.41"},
        {"MinAPIVersion", "1.12"},
        {"GitCommit", "minibox"},
        {"GoVersion", "none (C++20, Boost.Beast)"},
        {"Os", "linux"},
        {"Arch", "amd64"},
        {"KernelVersion", kernel},
        {"BuildTime", __DATE__}};
    c.conn.send_json(http::status::ok, j);
}

nlohmann::json safe(const std::function<nlohmann::json()>& f) {
    if (!f) return nlohmann::json::array();
    try {
        return f();
    } catch (const std::exception&) {
        return nlohmann::json::array();
    }
}

void info(Ctx& c) {
    auto containers = safe(hooks().containers);
    auto images = safe(hooks().images);
    int running = 0, paused = 0, stopped = 0;
    for (auto& s : containers) {
        std::string st = s.value("State", "");
        if (st == "running") ++running;
        else if (st == "paused") ++paused;
        else ++stopped;
    }
    struct sysinfo si {};
    ::sysinfo(&si);
    char host[256] = "";
    ::gethostname(host, sizeof host - 1);
    bool v2 = ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    const Config& cfg = config();
    nlohmann::json j = {
        {"ID", "minibox"},
        {"Containers", containers.size()},
        {"ContainersRunning", running},
        {"ContainersPaused", paused},
        {"ContainersStopped", stopped},
        {"Images", images.size()},
        {"Driver", "overlay2"},
        {"DriverStatus", nlohmann::json::array({nlohmann::json::array({"Backing Filesystem", "extfs"}),
                                                 nlohmann::json::array({"Supports d_type", "true"})})},
        {"Plugins", {{"Volume", {"local"}}, {"Network", {"bridge", "host", "none"}}, {"Authorization", nullptr},
                     {"Log", {"json-file"}}}},
        {"MemoryLimit", true},
        {"SwapLimit", true},
        {"KernelMemory", false},
        {"CpuCfsPeriod", true},
        {"CpuCfsQuota", true},
        {"CPUShares", true},
        {"CPUSet", true},
        {"PidsLimit", true},
        {"IPv4Forwarding", true},
        {"BridgeNfIptables", false},
        {"BridgeNfIp6tables", false},
        {"Debug", false},
        {"NFd", 0},
        {"OomKillDisable", true},
        {"NGoroutines", 0},
        {"SystemTime", iso_now()},
        {"LoggingDriver", "json-file"},
        {"CgroupDriver", "cgroupfs"},
        {"CgroupVersion", v2 ? "2" : "1"},
        {"NEventsListener", 0},
        {"KernelVersion", kernel_version()},
        {"OperatingSystem", os_name()},
        {"OSVersion", ""},
        {"OSType", "linux"},
        {"Architecture", "x86_64"},
        {"IndexServerAddress", "https://index.docker.io/v1/"},
        {"RegistryConfig", {{"AllowNondistributableArtifactsCIDRs", nlohmann::json::array()},
                            {"AllowNondistributableArtifactsHostnames", nlohmann::json::array()},
                            {"InsecureRegistryCIDRs", {"127.0.0.0/8"}},
                            {"IndexConfigs", nlohmann::json::object()},
                            {"Mirrors", nlohmann::json::array()}}},
        {"NCPU", std::thread::hardware_concurrency()},
        {"MemTotal", static_cast<std::uint64_t>(si.totalram) * si.mem_unit},
        {"GenericResources", nullptr},
        {"DockerRootDir", cfg.data_root},
        {"HttpProxy", ""},
        {"HttpsProxy", ""},
        {"NoProxy", ""},
        {"Name", host},
        {"Labels", nlohmann::json::array()},
        {"ExperimentalBuild", false},
        {"ServerVersion", kVersion},
        {"Runtimes", {{"step07_full", {{"path", cfg.runtime}}}}},
        {"DefaultRuntime", "step07_full"},
        {"Swarm", {{"NodeID", ""}, {"NodeAddr", ""}, {"LocalNodeState", "inactive"}, {"ControlAvailable", false},
                   {"Error", ""}, {"RemoteManagers", nullptr}}},
        {"LiveRestoreEnabled", cfg.live_restore},
        {"Isolation", ""},
        {"InitBinary", "step07_full (--init)"},
        {"ContainerdCommit", {{"ID", "none: minibox-shim per container"}, {"Expected", "none"}}},
        {"RuncCommit", {{"ID", "step07_full"}, {"Expected", "step07_full"}}},
        {"InitCommit", {{"ID", "minibox"}, {"Expected", "minibox"}}},
        {"SecurityOptions", {"name=seccomp,profile=default"}},
        {"Warnings", nlohmann::json::array()}};
    if (v2) j["SecurityOptions"].push_back("name=cgroupns");
    c.conn.send_json(http::status::ok, j);
}

void event_stream(Ctx& c) {
    nlohmann::json filters = query_json(c, "filters");
    std::optional<double> since, until;
    if (!c.q("since").empty()) since = parse_time(c.q("since"));
    if (!c.q("until").empty()) until = parse_time(c.q("until"));
    c.conn.begin_stream(http::status::ok, "application/json");
    auto send = [&](const events::Event& e) {
        double t = static_cast<double>(e.time_nano) / 1e9;
        if (since && t < *since) return true;
        if (until && t > *until) return true;
        if (!events::matches(filters, e)) return true;
        return c.conn.chunk(e.json.dump() + "\n");
    };
    std::uint64_t seq = events::last_seq();
    if (since) {
        for (auto& e : events::history())
            if (e.seq <= seq && !send(e)) return;
    }
    // dockerd: with an --until in the past, only the history; else follow until then.
    while (!until || std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() < *until) {
        for (auto& e : events::after(seq, std::chrono::milliseconds(500))) {
            seq = e.seq;
            if (!send(e)) return;
        }
        if (c.conn.peer_gone()) return;
    }
    c.conn.end_stream();
}

void df(Ctx& c) {
    auto containers = safe(hooks().containers);
    auto images = safe(hooks().images);
    std::int64_t layers = 0;
    for (auto& i : images) layers += i.value("Size", std::int64_t(0));
    c.conn.send_json(http::status::ok, {{"LayersSize", layers},
                                        {"Images", images},
                                        {"Containers", containers},
                                        {"Volumes", safe(hooks().volumes)},
                                        {"BuildCache", nlohmann::json::array()}});
}

// The three networks a container can have (--network none|bridge|host: step04's bridge, the
// host's stack, a namespace with only lo), as docker network ls/inspect show them. Creating
// networks is not supported: POST /networks/create stays Docker's 404.
nlohmann::json network(const std::string& name) {
    // A stable 64-hex id per name (dockerd's are random, made once at its first start).
    std::string id;
    std::uint64_t h = 1469598103934665603ULL;
    while (id.size() < 64) {
        for (char ch : name + id) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
        id += buf;
    }
    return {{"Name", name},  {"Id", id.substr(0, 64)},     {"Created", "0001-01-01T00:00:00Z"}, {"Scope", "local"},
            {"Driver", name == "bridge" ? "bridge" : (name == "host" ? "host" : "null")},
            {"EnableIPv6", false}, {"IPAM", {{"Driver", "default"}, {"Options", nullptr}, {"Config", nlohmann::json::array()}}},
            {"Internal", false}, {"Attachable", false}, {"Ingress", false}, {"ConfigFrom", {{"Network", ""}}},
            {"ConfigOnly", false}, {"Containers", nlohmann::json::object()}, {"Options", nlohmann::json::object()},
            {"Labels", nlohmann::json::object()}};
}

void networks(Ctx& c) {
    nlohmann::json out = nlohmann::json::array();
    for (const char* n : {"bridge", "host", "none"}) out.push_back(network(n));
    c.conn.send_json(http::status::ok, out);
}

void network_inspect(Ctx& c) {
    std::string want = c.param("id");
    for (const char* n : {"bridge", "host", "none"}) {
        auto j = network(n);
        if (want == n || (want.size() >= 3 && j["Id"].get<std::string>().starts_with(want))) {
            c.conn.send_json(http::status::ok, j);
            return;
        }
    }
    throw not_found("network " + want + " not found");
}

}  // namespace
}  // namespace engine::system

namespace engine {

void add_system_routes(Router& r) {
    using namespace system;
    r.add(http::verb::get, "/_ping", ping);
    r.add(http::verb::head, "/_ping", ping);
    r.add(http::verb::get, "/version", version);
    r.add(http::verb::get, "/info", info);
    r.add(http::verb::get, "/events", event_stream);
    r.add(http::verb::get, "/system/df", df);
    r.add(http::verb::get, "/networks", networks);
    r.add(http::verb::get, "/networks/{id}", network_inspect);
}

}  // namespace engine
