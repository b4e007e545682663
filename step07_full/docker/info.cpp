// What docker::Manager reports: list (ps), inspect, logs, top, stats; and step06's own
// containers (--keep, leftovers) that ps -a shows and rm removes.
#include <dirent.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "container.hpp"
#include "files.hpp"
#include "image_store.hpp"
#include "internal.hpp"
#include "manager.hpp"
#include "narrate.hpp"
#include "overlay.hpp"
#include "resources.hpp"
#include "shim/client.hpp"
#include "state.hpp"
#include "volumes.hpp"

namespace docker {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::int64_t now_s() { return static_cast<std::int64_t>(::time(nullptr)); }

std::string status_text(const detail::Live& l) {
    if (l.status == "running" || l.status == "paused")
        return "Up " + detail::human_duration(now_s() - detail::parse_time(l.started_at)) + (l.status == "paused" ? " (Paused)" : "");
    if (l.status == "restarting")
        return "Restarting (" + std::to_string(l.exit_code) + ") " + detail::human_duration(now_s() - detail::parse_time(l.finished_at)) + " ago";
    if (l.status == "exited")
        return "Exited (" + std::to_string(l.exit_code) + ") " + detail::human_duration(now_s() - detail::parse_time(l.finished_at)) + " ago";
    if (l.status == "created") return "Created";
    if (l.status == "removing") return "Removal In Progress";
    return "Dead";
}

// The command as docker shows it: the process without --init's tini.
std::vector<std::string> shown_args(const Record& r) {
    auto a = r.process.args;
    if (r.opts.init && a.size() >= 2 && a[0] == "/sbin/docker-init" && a[1] == "--") a.erase(a.begin(), a.begin() + 2);
    return a;
}

std::string gateway_of(const std::string& ip) {
    // step04's subnets are /16 by default, the bridge their .1.
    auto a = ip.find('.');
    auto b = a == std::string::npos ? a : ip.find('.', a + 1);
    if (b == std::string::npos) return "";
    return ip.substr(0, b) + ".0.1";
}

// Step06's containers: root_dir()/containers/<12 hex> with "kept" (--keep) or a dead owner.
struct Foreign {
    std::string id, dir, image;
    bool kept = false;
    std::int64_t created = 0;
};
std::vector<Foreign> foreign_containers() {
    std::vector<Foreign> out;
    image::Store store;
    for (auto& l : overlay::find_leftovers(store)) {
        Foreign f;
        f.dir = l.dir;
        f.id = l.dir.substr(l.dir.rfind('/') + 1);
        f.image = files::read_line(l.dir + "/image");
        out.push_back(f);
    }
    // step06 has no public list of its kept containers (find_leftovers skips them): a scan.
    for (auto& n : detail::dir_names(store.containers_dir())) {
        std::string dir = store.containers_dir() + "/" + n;
        struct stat st {};
        if (::stat((dir + "/kept").c_str(), &st) != 0) continue;
        Foreign f{n, dir, files::read_line(dir + "/kept"), true, static_cast<std::int64_t>(st.st_mtime)};
        out.push_back(f);
    }
    return out;
}

json port_map(const Record& r, bool with_ip) {
    json ports = json::object();
    for (auto& p : r.opts.ports) {
        std::string key = std::to_string(p.container_port) + "/" + p.proto;
        // HostConfig keeps what was asked ("" for a picked port), NetworkSettings what is used.
        json b = {{"HostIp", with_ip ? "0.0.0.0" : p.host_ip}, {"HostPort", !with_ip && p.random ? "" : std::to_string(p.host_port)}};
        ports[key].push_back(b);
    }
    return ports;
}

std::vector<pid_t> container_pids(const detail::Paths& p, const std::string& id) {
    container::Store rt(p.runtime_root);
    if (!rt.exists(id)) return {};
    auto st = rt.load(id);
    if (st.cgroup_dirs.empty()) return {};
    return resources::Container::from_dirs(st.cgroup_dirs).pids();
}

}  // namespace

namespace detail {

json inspect_json(const Roots& roots, const Record& r, const Live& l) {
    auto p = paths(roots, r.id);
    auto args = shown_args(r);
    const json& ic = r.image_config;
    json entry = r.opts.entrypoint ? json(*r.opts.entrypoint) : (ic.contains("Entrypoint") ? ic["Entrypoint"] : json(nullptr));
    json cmd = !r.opts.cmd.empty() ? json(r.opts.cmd) : (r.opts.entrypoint ? json(nullptr) : (ic.contains("Cmd") ? ic["Cmd"] : json(nullptr)));
    json exposed = json::object();
    if (ic.contains("ExposedPorts") && ic["ExposedPorts"].is_object()) exposed = ic["ExposedPorts"];
    for (auto& port : r.opts.ports) exposed[std::to_string(port.container_port) + "/" + port.proto] = json::object();
    for (auto& e : r.opts.expose) exposed[e] = json::object();
    json labels = ic.contains("Labels") && ic["Labels"].is_object() ? ic["Labels"] : json::object();
    for (auto& [k, v] : r.opts.labels) labels[k] = v;

    json binds = json::array(), mounts = json::array(), volumes = json::object();
    for (auto& v : r.opts.volumes) {
        if (v.is_volume()) {
            // Docker's shape of a volume mount; an anonymous one is in Config.Volumes, not Binds.
            auto anon = Volumes(roots).find(v.volume);
            if (!anon || !anon->anonymous) binds.push_back(v.volume + ":" + v.container + (v.read_only ? ":ro" : ""));
            else volumes[v.container] = json::object();
            mounts.push_back({{"Type", "volume"}, {"Name", v.volume}, {"Source", v.host}, {"Destination", v.container},
                              {"Driver", "local"}, {"Mode", v.read_only ? "ro" : "z"}, {"RW", !v.read_only}, {"Propagation", ""}});
            continue;
        }
        binds.push_back(v.host + ":" + v.container + (v.read_only ? ":ro" : ""));
        mounts.push_back({{"Type", "bind"}, {"Source", v.host}, {"Destination", v.container}, {"Mode", v.read_only ? "ro" : ""},
                          {"RW", !v.read_only}, {"Propagation", "rprivate"}});
    }
    json devices = json::array();
    for (auto& d : r.opts.devices)
        devices.push_back({{"PathOnHost", d.host}, {"PathInContainer", d.container}, {"CgroupPermissions", d.perms}});
    auto nul_or = [](bool has, auto v) { return has ? json(v) : json(nullptr); };
    json host_config = {
        {"Binds", binds.empty() ? json(nullptr) : binds},
        {"NetworkMode", r.opts.network == "bridge" ? "default" : r.opts.network},
        {"PortBindings", port_map(r, false)},
        {"PublishAllPorts", r.opts.publish_all},
        {"RestartPolicy", {{"Name", r.opts.restart.name}, {"MaximumRetryCount", r.opts.restart.max_retries}}},
        {"AutoRemove", r.opts.auto_remove},
        {"CapAdd", r.opts.cap_add.empty() ? json(nullptr) : json(r.opts.cap_add)},
        {"CapDrop", r.opts.cap_drop.empty() ? json(nullptr) : json(r.opts.cap_drop)},
        {"Privileged", r.opts.privileged},
        {"ReadonlyRootfs", r.opts.read_only},
        {"SecurityOpt", r.opts.security_opt.empty() ? json(nullptr) : json(r.opts.security_opt)},
        {"UsernsMode", r.opts.userns == "host" ? "host" : (r.opts.userns.empty() ? "" : r.opts.userns)},
        {"Init", nul_or(r.opts.init, true)},
        {"Memory", r.opts.memory ? static_cast<std::int64_t>(*r.opts.memory) : 0},
        {"MemorySwap", r.opts.memory_swap ? *r.opts.memory_swap : (r.opts.memory ? static_cast<std::int64_t>(2 * *r.opts.memory) : 0)},
        {"NanoCpus", r.opts.cpus ? static_cast<std::int64_t>(*r.opts.cpus * 1e9 + 0.5) : 0},
        {"CpuShares", r.opts.cpu_shares ? static_cast<std::int64_t>(*r.opts.cpu_shares) : 0},
        {"CpusetCpus", r.opts.cpuset_cpus},
        {"PidsLimit", nul_or(r.opts.pids_limit.has_value(), r.opts.pids_limit.value_or(0))},
        {"Devices", devices},
        {"LogConfig", {{"Type", "json-file"}, {"Config", json::object()}}},
        {"Runtime", "step07_full"},
    };
    json config = {
        {"Hostname", r.process.hostname},
        {"Domainname", ""},
        {"User", r.opts.user},
        {"AttachStdin", r.opts.interactive && !r.opts.detach},
        {"AttachStdout", !r.opts.detach},
        {"AttachStderr", !r.opts.detach},
        {"ExposedPorts", exposed.empty() ? json(nullptr) : exposed},
        {"Tty", r.opts.tty},
        {"OpenStdin", r.opts.interactive},
        {"StdinOnce", r.opts.interactive && !r.opts.detach},
        {"Env", r.process.env},
        {"Cmd", cmd},
        {"Image", r.image_ref},
        {"Volumes", volumes.empty() ? json(nullptr) : volumes},
        {"WorkingDir", r.opts.workdir.empty() ? (ic.contains("WorkingDir") ? ic["WorkingDir"] : json("")) : json(r.opts.workdir)},
        {"Entrypoint", entry},
        {"OnBuild", nullptr},
        {"Labels", labels},
    };
    if (!r.stop_signal.empty()) config["StopSignal"] = r.stop_signal;
    if (r.opts.stop_timeout) config["StopTimeout"] = *r.opts.stop_timeout;
    std::string ip = l.running() ? l.ip : "";
    json networks = json::object();
    if (r.opts.network != "none" || true) {
        std::string net = r.opts.network;
        networks[net] = {{"IPAddress", ip}, {"IPPrefixLen", ip.empty() ? 0 : 16}, {"Gateway", ip.empty() ? "" : gateway_of(ip)},
                         {"MacAddress", ""}, {"NetworkID", ""}, {"EndpointID", ""}, {"Aliases", nullptr}};
    }
    return {
        {"Id", r.id},
        {"Created", r.created},
        {"Path", args.empty() ? "" : args[0]},
        {"Args", args.empty() ? json::array() : json(std::vector<std::string>(args.begin() + 1, args.end()))},
        {"State",
         {{"Status", l.status},
          {"Running", l.status == "running" || l.status == "paused"},
          {"Paused", l.status == "paused"},
          {"Restarting", l.status == "restarting"},
          {"OOMKilled", l.oom_killed},
          {"Dead", l.status == "dead"},
          {"Pid", l.pid},
          {"ExitCode", l.exit_code},
          {"Error", l.error},
          {"StartedAt", l.started_at},
          {"FinishedAt", l.finished_at}}},
        {"Image", r.image_id},
        {"ResolvConfPath", ""},
        {"HostnamePath", r.opts.network == "host" ? "" : p.shim + "/hostname"},
        {"HostsPath", r.opts.network == "host" ? "" : p.shim + "/hosts"},
        {"LogPath", p.log},
        {"Name", "/" + r.name},
        {"RestartCount", l.restart_count},
        {"Driver", "overlay"},
        {"Platform", "linux"},
        {"MountLabel", ""},
        {"ProcessLabel", ""},
        {"AppArmorProfile", ""},
        {"ExecIDs", nullptr},
        {"HostConfig", host_config},
        {"GraphDriver",
         {{"Name", "overlay"},
          {"Data", {{"UpperDir", p.record + "/upper"}, {"WorkDir", p.record + "/work"}, {"MergedDir", p.record + "/merged"}}}}},
        {"Mounts", mounts},
        {"Config", config},
        {"NetworkSettings",
         {{"Bridge", ""},
          {"SandboxID", ""},
          {"HairpinMode", false},
          {"SandboxKey", r.opts.network == "host" ? "" : p.shim + "/netns"},
          {"Ports", l.running() ? port_map(r, true) : json::object()},
          {"IPAddress", ip},
          {"IPPrefixLen", ip.empty() ? 0 : 16},
          {"Gateway", ip.empty() ? "" : gateway_of(ip)},
          {"MacAddress", ""},
          {"Networks", networks}}},
    };
}

}  // namespace detail

json Summary::to_json() const {
    json ports_j = json::array();
    for (auto& p : ports)
        ports_j.push_back({{"IP", "0.0.0.0"}, {"PrivatePort", p.container_port}, {"PublicPort", p.host_port}, {"Type", p.proto}});
    return {{"Id", id},         {"Names", {"/" + name}}, {"Image", image}, {"ImageID", image_id}, {"Command", command},
            {"Created", created}, {"Ports", ports_j},     {"Labels", labels}, {"State", state}, {"Status", status},
            {"HostConfig", {{"NetworkMode", "default"}}}, {"Mounts", json::array()}};
}

json TopResult::to_json() const { return {{"Titles", titles}, {"Processes", processes}}; }

std::vector<Summary> Manager::list(bool all) const {
    std::vector<Summary> out;
    Records records(roots_.data);
    for (auto& id : records.ids()) {
        auto r = records.load(id);
        if (!r) continue;
        auto l = detail::live(roots_, *r);
        if (!all && !l.running()) continue;
        Summary s;
        s.id = id;
        s.name = r->name;
        s.image = r->image_ref;
        s.image_id = r->image_id;
        s.command = detail::quote_command(shown_args(*r));
        s.created = detail::parse_time(r->created);
        s.created_at = r->created;
        s.state = l.status;
        s.status = status_text(l);
        s.exit_code = l.exit_code;
        const json& ic = r->image_config;
        if (ic.contains("Labels") && ic["Labels"].is_object())
            for (auto& [k, v] : ic["Labels"].items())
                if (v.is_string()) s.labels[k] = v.get<std::string>();
        for (auto& [k, v] : r->opts.labels) s.labels[k] = v;
        if (l.running()) s.ports = r->opts.ports;
        out.push_back(s);
    }
    if (all) {
        for (auto& f : foreign_containers()) {
            Summary s;
            s.id = f.id;
            s.name = f.kept ? "step06-kept-" + f.id : "step06-leftover-" + f.id;
            s.image = f.image;
            s.command = "";
            s.created = f.created;
            s.state = f.kept ? "exited" : "dead";
            s.status = f.kept ? "Exited (kept by step06 --keep)" : "Dead (left by a killed step06 run)";
            s.foreign = true;
            out.push_back(s);
        }
    }
    // Newest first; within one second by the nanoseconds of the record's creation time.
    std::sort(out.begin(), out.end(), [](const Summary& a, const Summary& b) {
        return a.created != b.created ? a.created > b.created : a.created_at > b.created_at;
    });
    return out;
}

bool Manager::remove_foreign(const std::string& ref) {
    for (auto& f : foreign_containers()) {
        std::string name = f.kept ? "step06-kept-" + f.id : "step06-leftover-" + f.id;
        if (f.id != ref && name != ref && !(ref.size() >= 3 && f.id.starts_with(ref))) continue;
        std::string merged = f.dir + "/merged";
        if (overlay::is_mount_point(merged))
            narrate::sys({"docker", "umount2(\"" + merged + "\", MNT_DETACH)", "a dead step06 run's root", "findmnt -t overlay"},
                         [&] { return ::umount2(merged.c_str(), MNT_DETACH); });
        image::remove_tree(f.dir);
        return true;
    }
    return false;
}

json Manager::inspect(const std::string& ref) const {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    return detail::inspect_json(roots_, *r, detail::live(roots_, *r));
}

void Manager::logs(const std::string& ref, const LogOptions& opts, const LogSink& sink) const {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto p = detail::paths(roots_, id);
    std::ifstream in(p.log);
    auto emit_line = [&](const std::string& line) -> bool {
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception&) {
            return true;  // not a whole entry: skipped
        }
        std::string stream = j.value("stream", "stdout");
        Stream s = stream == "stderr" ? Stream::err : Stream::out;
        if ((s == Stream::out && !opts.show_stdout) || (s == Stream::err && !opts.show_stderr)) return true;
        std::string time = j.value("time", "");
        std::int64_t t = detail::parse_time(time);
        if (opts.since && t < opts.since) return true;
        if (opts.until && t > opts.until) return true;
        return sink(s, j.value("log", ""), time);
    };
    // The whole lines there now (the last may be half-written: kept for the next read).
    std::string pending;
    auto read_lines = [&](std::vector<std::string>& lines) {
        char buf[65536];
        in.clear();
        while (in.read(buf, sizeof buf) || in.gcount() > 0) {
            pending.append(buf, static_cast<size_t>(in.gcount()));
            if (in.eof()) break;
        }
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
            lines.push_back(pending.substr(start, nl - start));
        pending.erase(0, start);
    };
    std::vector<std::string> lines;
    read_lines(lines);
    size_t first = 0;
    if (opts.tail && *opts.tail < lines.size()) first = lines.size() - *opts.tail;
    for (size_t i = first; i < lines.size(); ++i)
        if (!emit_line(lines[i])) return;
    if (!opts.follow) return;
    for (;;) {
        auto r = records.load(id);
        bool over = !r;
        if (r) {
            auto l = detail::live(roots_, *r);
            over = !l.shim_alive && !l.running();
        }
        lines.clear();
        read_lines(lines);
        for (auto& line : lines)
            if (!emit_line(line)) return;
        if (over) return;
        std::this_thread::sleep_for(100ms);
    }
}

TopResult Manager::top(const std::string& ref, const std::string& ps_args) const {
    (void)ps_args;  // the columns of ps -ef, from /proc; other ps options are not supported
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    auto l = detail::live(roots_, *r);
    if (!l.running()) throw Conflict("Container " + id + " is not running");
    auto p = detail::paths(roots_, id);
    TopResult t;
    t.titles = {"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"};
    long hz = ::sysconf(_SC_CLK_TCK);
    std::string uptime_s = files::read("/proc/uptime");
    double uptime = uptime_s.empty() ? 0 : std::stod(uptime_s);
    auto pids = container_pids(p, id);
    std::sort(pids.begin(), pids.end());
    for (pid_t pid : pids) {
        std::string base = "/proc/" + std::to_string(pid);
        std::string stat = files::read(base + "/stat");
        auto rp = stat.rfind(')');
        if (rp == std::string::npos) continue;
        std::istringstream f(stat.substr(rp + 2));
        std::vector<std::string> fields;
        for (std::string x; f >> x;) fields.push_back(x);
        if (fields.size() < 20) continue;
        // fields[0] is field 3 (state): ppid 4, tty_nr 7, utime 14, stime 15, starttime 22.
        std::string ppid = fields[1];
        long tty = std::stol(fields[4]);
        unsigned long long cpu = (std::stoull(fields[11]) + std::stoull(fields[12])) / static_cast<unsigned long long>(hz);
        double started = std::stod(fields[19]) / static_cast<double>(hz);
        struct stat st {};
        ::stat(base.c_str(), &st);
        std::string user = std::to_string(st.st_uid);
        if (passwd* pw = ::getpwuid(st.st_uid)) user = pw->pw_name;
        std::time_t start_time = ::time(nullptr) - static_cast<std::time_t>(uptime - started);
        char stime[16];
        std::tm tm{};
        ::localtime_r(&start_time, &tm);
        std::strftime(stime, sizeof stime, "%H:%M", &tm);
        char cputime[32];
        std::snprintf(cputime, sizeof cputime, "%02llu:%02llu:%02llu", cpu / 3600, cpu / 60 % 60, cpu % 60);
        std::string cmdline = files::read(base + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        while (!cmdline.empty() && cmdline.back() == ' ') cmdline.pop_back();
        if (cmdline.empty()) cmdline = "[" + stat.substr(stat.find('(') + 1, rp - stat.find('(') - 1) + "]";
        std::string tty_s = tty == 0 ? "?" : (major(static_cast<dev_t>(tty)) == 136 ? "pts/" + std::to_string(minor(static_cast<dev_t>(tty))) : "?");
        t.processes.push_back({user, std::to_string(pid), ppid, "0", stime, tty_s, cputime, cmdline});
    }
    return t;
}

json Manager::stats(const std::string& ref) const {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    auto l = detail::live(roots_, *r);
    auto p = detail::paths(roots_, id);
    unsigned online = 0;
    {
        std::ifstream cpuinfo("/proc/stat");
        for (std::string line; std::getline(cpuinfo, line);)
            if (line.starts_with("cpu") && line.size() > 3 && std::isdigit(static_cast<unsigned char>(line[3]))) ++online;
    }
    auto system_ns = [] {
        std::ifstream s("/proc/stat");
        std::string cpu;
        s >> cpu;
        unsigned long long total = 0, v;
        for (int i = 0; i < 8 && (s >> v); ++i) total += v;
        return total * (1000000000ULL / static_cast<unsigned long long>(::sysconf(_SC_CLK_TCK)));
    };
    auto sample = [&]() -> json {
        json cg = json::object();
        container::Store rt(p.runtime_root);
        if (l.running() && rt.exists(id)) {
            auto st = rt.load(id);
            if (!st.cgroup_dirs.empty()) cg = resources::Container::from_dirs(st.cgroup_dirs).stats();
        }
        auto u = cg.contains("cpu") ? cg["cpu"]["usage"] : json::object();
        return {{"cpu_usage",
                 {{"total_usage", u.value("total", 0ULL)},
                  {"usage_in_kernelmode", u.value("kernel", 0ULL)},
                  {"usage_in_usermode", u.value("user", 0ULL)}}},
                {"system_cpu_usage", system_ns()},
                {"online_cpus", online},
                {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}},
                {"_cg", cg}};
    };
    json pre = sample();
    if (l.running()) std::this_thread::sleep_for(250ms);
    json cur = sample();
    json cg = cur["_cg"];
    cur.erase("_cg");
    pre.erase("_cg");
    std::uint64_t mem_total = 0;
    {
        std::ifstream mi("/proc/meminfo");
        std::string k;
        std::uint64_t kb;
        if (mi >> k >> kb) mem_total = kb * 1024;
    }
    json mem = json::object();
    if (cg.contains("memory")) {
        auto& m = cg["memory"]["usage"];
        mem = {{"usage", m.value("usage", 0ULL)}, {"max_usage", m.value("max", 0ULL)}, {"limit", m.value("limit", mem_total)},
               {"stats", json::object()}};
    }
    json pids = json::object();
    if (cg.contains("pids")) {
        pids["current"] = cg["pids"].value("current", 0ULL);
        if (cg["pids"].contains("limit")) pids["limit"] = cg["pids"]["limit"];
    }
    json networks = json::object();
    if (l.running() && l.pid > 0) {
        std::ifstream dev("/proc/" + std::to_string(l.pid) + "/net/dev");
        std::string line;
        std::getline(dev, line);
        std::getline(dev, line);
        while (std::getline(dev, line)) {
            auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string ifname = line.substr(0, colon);
            ifname.erase(0, ifname.find_first_not_of(' '));
            if (ifname == "lo") continue;
            std::istringstream f(line.substr(colon + 1));
            std::uint64_t v[16] = {};
            for (auto& x : v) f >> x;
            networks[ifname] = {{"rx_bytes", v[0]}, {"rx_packets", v[1]}, {"rx_errors", v[2]}, {"rx_dropped", v[3]},
                                {"tx_bytes", v[8]}, {"tx_packets", v[9]}, {"tx_errors", v[10]}, {"tx_dropped", v[11]}};
        }
    }
    json out = {
        {"read", container::now_rfc3339()},
        {"preread", container::now_rfc3339()},
        {"pids_stats", pids},
        {"blkio_stats",
         {{"io_service_bytes_recursive", nullptr}, {"io_serviced_recursive", nullptr}, {"io_queue_recursive", nullptr},
          {"io_service_time_recursive", nullptr}, {"io_wait_time_recursive", nullptr}, {"io_merged_recursive", nullptr},
          {"io_time_recursive", nullptr}, {"sectors_recursive", nullptr}}},
        {"num_procs", 0},
        {"storage_stats", json::object()},
        {"cpu_stats", cur},
        {"precpu_stats", pre},
        {"memory_stats", mem},
        {"name", "/" + r->name},
        {"id", id},
    };
    if (!networks.empty()) out["networks"] = networks;
    return out;
}

}  // namespace docker
