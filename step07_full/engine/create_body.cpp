#include "create_body.hpp"

#include <cmath>

#include "errors.hpp"

namespace engine {
namespace {

using json = nlohmann::json;

std::vector<std::string> strings(const json& j, const char* field) {
    std::vector<std::string> out;
    if (j.is_null()) return out;
    if (j.is_string()) return {j.get<std::string>()};  // API < 1.?: Cmd as one string
    if (!j.is_array()) throw bad_request(std::string(field) + ": expected an array of strings");
    for (auto& s : j) {
        if (!s.is_string()) throw bad_request(std::string(field) + ": expected an array of strings");
        out.push_back(s.get<std::string>());
    }
    return out;
}

std::string str(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return "";
    if (!it->is_string()) throw bad_request(std::string(key) + ": expected a string");
    return it->get<std::string>();
}

bool boolean(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw bad_request(std::string(key) + ": expected true or false");
    return it->get<bool>();
}

std::optional<std::int64_t> integer(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) throw bad_request(std::string(key) + ": expected an integer");
    return it->get<std::int64_t>();
}

}  // namespace

docker::RunOptions options_from_create(const json& body, const std::string& name) {
    if (!body.is_object()) throw bad_request("the create body must be a JSON object");
    docker::RunOptions o;
    // The API's top level is Config itself, with HostConfig and NetworkingConfig beside it.
    const json& cfg = body;
    const json host = body.contains("HostConfig") && body["HostConfig"].is_object() ? body["HostConfig"] : json::object();

    o.name = name;
    o.image = str(cfg, "Image");
    if (o.image.empty()) throw bad_request("No command specified");  // dockerd's words for a config without image
    o.cmd = strings(cfg.value("Cmd", json()), "Cmd");
    if (cfg.contains("Entrypoint") && !cfg["Entrypoint"].is_null()) o.entrypoint = strings(cfg["Entrypoint"], "Entrypoint");
    o.env = strings(cfg.value("Env", json()), "Env");
    o.workdir = str(cfg, "WorkingDir");
    o.user = str(cfg, "User");
    o.hostname = str(cfg, "Hostname");
    if (cfg.contains("Labels") && cfg["Labels"].is_object())
        for (auto& [k, v] : cfg["Labels"].items())
            if (v.is_string()) o.labels[k] = v.get<std::string>();
    o.stop_signal = str(cfg, "StopSignal");
    if (auto t = integer(cfg, "StopTimeout")) o.stop_timeout = static_cast<int>(*t);
    o.tty = boolean(cfg, "Tty");
    o.interactive = boolean(cfg, "OpenStdin");
    // Not attached to anything: what `docker run -d` / `docker create` without -a sends.
    o.detach = !boolean(cfg, "AttachStdout") && !boolean(cfg, "AttachStderr") && !boolean(cfg, "AttachStdin");

    o.auto_remove = boolean(host, "AutoRemove");
    if (host.contains("Init") && host["Init"].is_boolean()) o.init = host["Init"].get<bool>();
    o.read_only = boolean(host, "ReadonlyRootfs");
    o.privileged = boolean(host, "Privileged");
    o.cap_add = strings(host.value("CapAdd", json()), "CapAdd");
    o.cap_drop = strings(host.value("CapDrop", json()), "CapDrop");
    o.security_opt = strings(host.value("SecurityOpt", json()), "SecurityOpt");
    std::string userns = str(host, "UsernsMode");
    if (!userns.empty()) o.userns = userns;

    for (auto& b : strings(host.value("Binds", json()), "Binds")) {
        docker::VolumeBinding v;
        if (auto why = docker::parse_volume(b, v); !why.empty()) throw bad_request(why);
        o.volumes.push_back(v);
    }
    // --mount type=bind|volume (the CLI's other form of -v).
    if (host.contains("Mounts") && host["Mounts"].is_array()) {
        for (auto& m : host["Mounts"]) {
            std::string type = m.value("Type", "");
            if (type != "bind" && type != "volume")
                throw bad_request("mount type \"" + type + "\" is not supported (bind or volume)");
            docker::VolumeBinding v;
            (type == "bind" ? v.host : v.volume) = m.value("Source", "");
            v.container = m.value("Target", "");
            v.read_only = m.value("ReadOnly", false);
            o.volumes.push_back(v);
        }
    }
    // -v /path (no source): the CLI sends it as Config.Volumes {"/path": {}}, an anonymous volume.
    if (cfg.contains("Volumes") && cfg["Volumes"].is_object())
        for (auto& [path, unused] : cfg["Volumes"].items()) {
            bool bound = false;
            for (auto& v : o.volumes) bound = bound || v.container == path;
            if (bound) continue;
            docker::VolumeBinding v;
            if (auto why = docker::parse_volume(path, v); !why.empty()) throw bad_request(why);
            o.volumes.push_back(v);
        }
    for (auto& d : host.value("Devices", json::array())) {
        docker::DeviceBinding dev;
        dev.host = d.value("PathOnHost", "");
        dev.container = d.value("PathInContainer", "");
        if (dev.container.empty()) dev.container = dev.host;
        dev.perms = d.value("CgroupPermissions", "rwm");
        o.devices.push_back(dev);
    }

    std::string mode = str(host, "NetworkMode");
    // The CLI sends "default" when --network is not given: dockerd's default is the bridge.
    o.network = mode.empty() || mode == "default" ? "bridge" : mode;
    if (host.contains("PortBindings") && host["PortBindings"].is_object()) {
        for (auto& [port, bindings] : host["PortBindings"].items()) {
            std::string spec = port;  // "80/tcp"
            std::string cport = spec.substr(0, spec.find('/'));
            std::string proto = spec.find('/') == std::string::npos ? "tcp" : spec.substr(spec.find('/') + 1);
            if (!bindings.is_array()) continue;
            for (auto& b : bindings) {
                std::string hip = b.value("HostIp", "");
                std::string hport = b.value("HostPort", "");
                std::string text = (hip.empty() ? "" : hip + ":") + hport + ":" + cport + "/" + proto;
                docker::PortBinding pb;
                if (auto why = docker::parse_port(text, pb); !why.empty()) throw bad_request(why);
                o.ports.push_back(pb);
            }
        }
    }

    if (auto m = integer(host, "Memory"); m && *m > 0) o.memory = static_cast<std::uint64_t>(*m);
    if (auto m = integer(host, "MemorySwap"); m && *m != 0) o.memory_swap = *m;
    if (auto n = integer(host, "NanoCpus"); n && *n > 0) o.cpus = static_cast<double>(*n) / 1e9;
    if (auto q = integer(host, "CpuQuota"); q && *q > 0) {
        auto period = integer(host, "CpuPeriod").value_or(100000);
        o.cpus = static_cast<double>(*q) / static_cast<double>(period > 0 ? period : 100000);
    }
    if (auto s = integer(host, "CpuShares"); s && *s > 0) o.cpu_shares = static_cast<std::uint64_t>(*s);
    o.cpuset_cpus = str(host, "CpusetCpus");
    if (auto p = integer(host, "PidsLimit"); p && *p != 0) o.pids_limit = *p;

    if (host.contains("RestartPolicy") && host["RestartPolicy"].is_object()) {
        std::string n = str(host["RestartPolicy"], "Name");
        if (!n.empty()) {
            auto retries = integer(host["RestartPolicy"], "MaximumRetryCount").value_or(0);
            std::string text = n + (n == "on-failure" && retries > 0 ? ":" + std::to_string(retries) : "");
            if (auto why = docker::parse_restart(text, o.restart); !why.empty()) throw bad_request(why);
        }
    }
    // -P: PublishAllPorts, the ports from Config.ExposedPorts (--expose, -p, the CLI sends them).
    o.publish_all = boolean(host, "PublishAllPorts");
    if (cfg.contains("ExposedPorts") && cfg["ExposedPorts"].is_object())
        for (auto& [port, unused] : cfg["ExposedPorts"].items()) o.expose.push_back(port);
    // NetworkingConfig.EndpointsConfig names the network too (docker run --network NAME).
    if (body.contains("NetworkingConfig") && body["NetworkingConfig"].is_object()) {
        const auto& eps = body["NetworkingConfig"].value("EndpointsConfig", json::object());
        if (eps.is_object() && eps.size() == 1 && (mode.empty() || mode == "default")) o.network = eps.begin().key();
    }
    try {
        docker::validate(o);
    } catch (const docker::BadRequest& e) {
        throw bad_request(e.what());
    } catch (const Error& e) {
        throw bad_request(e.what());
    }
    return o;
}

}  // namespace engine
