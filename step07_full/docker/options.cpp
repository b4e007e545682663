#include "options.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <fstream>

#include "files.hpp"
#include "limits.hpp"
#include "mnt.hpp"
#include "narrate.hpp"
#include "ports.hpp"
#include "spec.hpp"

namespace docker {
namespace {

std::string dq(const std::string& s) { return "\"" + s + "\""; }

bool all_digits(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// Docker's capability names come with or without CAP_, in any case; ALL stands for every one.
std::string capability(const std::string& given, const char* flag) {
    std::string up;
    for (char c : given) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up.starts_with("CAP_")) up = up.substr(4);
    if (up == "ALL") return up;
    if (!spec::capability_number("CAP_" + up))
        throw BadRequest(std::string("invalid argument ") + dq(given) + " for " + flag + ": unknown capability");
    return up;
}

}  // namespace

bool valid_name(const std::string& name, std::string& why) {
    // Docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters).
    auto ok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; };
    bool good = name.size() >= 2 && name.size() <= 128 && std::isalnum(static_cast<unsigned char>(name[0]));
    for (char c : name) good = good && ok(c);
    if (!good) why = "Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed";
    return good;
}

std::string parse_port(const std::string& text, PortBinding& out) {
    // [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]; step04 publishes on every address only.
    PortBinding b;
    std::string rest = text;
    size_t colons = 0;
    for (char c : text) colons += c == ':';
    if (colons == 2) {
        size_t first = text.find(':');
        b.host_ip = text.substr(0, first);
        rest = text.substr(first + 1);
        if (!b.host_ip.empty() && b.host_ip != "0.0.0.0")
            return "invalid argument " + dq(text) + " for \"-p, --publish\" flag: only 0.0.0.0 (every address) can be published on";
        b.host_ip.clear();
    }
    if (colons == 0 || rest.starts_with(":")) {
        // CONTAINERPORT alone (or with an empty host port): a free host port, picked at create.
        std::string cport = colons == 0 ? rest : rest.substr(1);
        net::PortSpec spec;
        if (auto why = net::parse_port("1:" + cport, spec); !why.empty())
            return "invalid argument " + dq(text) + " for \"-p, --publish\" flag: " + why;
        b.host_port = 0;
        b.container_port = spec.container;
        b.proto = spec.proto;
        out = b;
        return {};
    }
    net::PortSpec spec;
    if (auto why = net::parse_port(rest, spec); !why.empty())
        return "invalid argument " + dq(text) + " for \"-p, --publish\" flag: " + why;
    b.host_port = spec.host;
    b.container_port = spec.container;
    b.proto = spec.proto;
    out = b;
    return {};
}

std::string parse_volume(const std::string& text, VolumeBinding& out) {
    auto bad = [&](const std::string& why) { return "invalid argument " + dq(text) + " for \"-v, --volume\" flag: " + why; };
    auto colon = text.find(':');
    std::string first = text.substr(0, colon);
    std::string rest = colon == std::string::npos ? "" : text.substr(colon);  // ":/path[:ro]" or ":ro"
    std::string why;
    if (!first.empty() && first[0] != '/') {
        // NAME:/path[:mode]: a named volume (Docker's test: the source is not a path).
        if (rest.empty()) return bad("a volume needs a path in the container: NAME:/PATH");
        if (!valid_volume_name(first))
            return bad("\"" + first + "\" includes invalid characters for a local volume name, only "
                       "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
        auto v = mnt::parse_volume("/" + rest, why);  // the container side, checked as -v's
        if (!v) return bad(why);
        out = VolumeBinding{"", v->container, v->read_only, first};
        return {};
    }
    if (colon == std::string::npos || rest == ":ro" || rest == ":rw") {
        // /path[:mode] alone: an anonymous volume.
        auto v = mnt::parse_volume("/:" + text, why);
        if (!v) return bad(why);
        out = VolumeBinding{"", v->container, v->read_only, ""};
        return {};
    }
    auto v = mnt::parse_volume(text, why);
    if (!v) return bad(why);
    out = VolumeBinding{v->host, v->container, v->read_only, ""};
    return {};
}

bool valid_volume_name(const std::string& name) {
    if (name.size() < 2) return false;
    auto ok = [](char c, bool first) {
        return std::isalnum(static_cast<unsigned char>(c)) || (!first && (c == '_' || c == '.' || c == '-'));
    };
    if (!ok(name[0], true)) return false;
    for (size_t i = 1; i < name.size(); ++i)
        if (!ok(name[i], false)) return false;
    return true;
}

std::string parse_device(const std::string& text, DeviceBinding& out) {
    DeviceBinding d;
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t c = text.find(':', start);
        parts.push_back(text.substr(start, c == std::string::npos ? std::string::npos : c - start));
        if (c == std::string::npos) break;
        start = c + 1;
    }
    auto bad = [&](const std::string& why) { return "invalid argument " + dq(text) + " for \"--device\" flag: " + why; };
    if (parts.size() > 3) return bad("expected HOST[:CONTAINER[:PERMISSIONS]]");
    d.host = parts[0];
    d.container = parts.size() > 1 && !parts[1].empty() ? parts[1] : d.host;
    if (parts.size() == 3) d.perms = parts[2];
    if (parts.size() == 2 && !parts[1].empty() && parts[1][0] != '/') {  // HOST:PERMS
        d.perms = parts[1];
        d.container = d.host;
    }
    if (d.host.empty() || d.host[0] != '/') return bad("the host path must be absolute");
    if (d.container.empty() || d.container[0] != '/') return bad("the container path must be absolute");
    if (!mnt::normalize(d.container)) return bad("the container path climbs out of /");
    if (d.perms.empty() || d.perms.find_first_not_of("rwm") != std::string::npos) return bad("permissions are a subset of rwm");
    struct stat st {};
    if (::stat(d.host.c_str(), &st) < 0) return bad("no such device on the host");
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) return bad(d.host + " is not a device node");
    out = d;
    return {};
}

std::string parse_restart(const std::string& text, RestartPolicy& out) {
    RestartPolicy p;
    std::string name = text, count;
    if (auto c = text.find(':'); c != std::string::npos) {
        name = text.substr(0, c);
        count = text.substr(c + 1);
    }
    if (name != "no" && name != "on-failure" && name != "always" && name != "unless-stopped")
        return "invalid restart policy " + dq(text) + ": no, on-failure[:N], always or unless-stopped";
    if (!count.empty() || text.find(':') != std::string::npos) {
        if (name != "on-failure") return "invalid restart policy " + dq(text) + ": maximum retry count cannot be used with " + name;
        if (!all_digits(count) || count.size() > 6) return "invalid restart policy " + dq(text) + ": the retry count must be a number";
        p.max_retries = std::stoi(count);
    }
    p.name = name;
    out = p;
    return {};
}

std::vector<std::string> read_env_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw BadRequest("open " + path + ": no such file or directory");
    std::vector<std::string> out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        size_t b = line.find_first_not_of(" \t");
        if (b == std::string::npos || line[b] == '#') continue;
        line = line.substr(b);
        auto eq = line.find('=');
        std::string key = line.substr(0, eq);
        if (key.empty() || key.find_first_of(" \t") != std::string::npos)
            throw BadRequest(path + ":" + std::to_string(n) + ": variable " + dq(key) + " contains whitespaces");
        if (eq == std::string::npos) {
            if (const char* v = std::getenv(key.c_str())) out.push_back(key + "=" + v);
            continue;
        }
        out.push_back(line);
    }
    return out;
}

void validate(RunOptions& o) {
    if (o.image.empty()) throw BadRequest("\"docker run\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
    std::string why;
    if (!o.name.empty()) {
        if (o.name.front() == '/') o.name = o.name.substr(1);
        if (!valid_name(o.name, why)) throw BadRequest(why);
    }
    // Environment: "K" alone takes the caller's value (docker run -e K), or is dropped.
    std::vector<std::string> env;
    for (auto& e : o.env) {
        auto eq = e.find('=');
        if (eq == 0) throw BadRequest("invalid argument " + dq(e) + " for \"-e, --env\" flag: the variable name is empty");
        if (eq == std::string::npos) {
            if (const char* v = std::getenv(e.c_str())) env.push_back(e + "=" + v);
            continue;
        }
        env.push_back(e);
    }
    o.env = env;
    if (!o.workdir.empty() && o.workdir.front() != '/')
        throw BadRequest("the working directory '" + o.workdir + "' is invalid, it needs to be an absolute path");
    if (!o.user.empty()) {
        // UID[:GID] or NAME[:GROUP]: names are looked up in the image's /etc/passwd at create.
        auto ok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':'; };
        for (char c : o.user)
            if (!ok(c)) throw BadRequest("invalid argument " + dq(o.user) + " for \"-u, --user\" flag");
    }
    if (!o.hostname.empty()) {
        bool ok = o.hostname.size() <= 63;
        for (char c : o.hostname) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.');
        if (!ok || o.hostname.front() == '-') throw BadRequest("invalid hostname " + dq(o.hostname) + ": 1-63 of [a-zA-Z0-9.-]");
    }
    for (auto& [k, v] : o.labels)
        if (k.empty()) throw BadRequest("invalid label: the key is empty");
    if (!o.stop_signal.empty() && o.stop_signal.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+") != std::string::npos)
        throw BadRequest("invalid signal: " + o.stop_signal);
    if (o.stop_timeout && *o.stop_timeout < -1) throw BadRequest("invalid stop timeout " + std::to_string(*o.stop_timeout));

    for (auto& c : o.network) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (o.network == "default") o.network = "bridge";
    if (o.network != "bridge" && o.network != "none" && o.network != "host")
        throw BadRequest("network " + o.network + " not found (bridge, none or host)");
    if (!o.ports.empty() && o.network != "bridge")
        throw BadRequest("published ports need --network bridge (with --network " + o.network + " there is nothing to forward to)");
    for (size_t i = 0; i < o.ports.size(); ++i) {
        const auto& p = o.ports[i];
        if (p.container_port == 0) throw BadRequest("invalid port: 0 is not a port (1-65535)");
        if (p.proto != "tcp") throw BadRequest("invalid port " + std::to_string(p.host_port) + "/" + p.proto + ": only tcp can be published");
        for (size_t j = 0; j < i; ++j)
            if (p.host_port != 0 && o.ports[j].host_port == p.host_port)
                throw BadRequest("port " + std::to_string(p.host_port) + " is published twice");
    }
    for (auto& e : o.expose) {
        net::PortSpec spec;
        if (auto why = net::parse_port("1:" + e, spec); !why.empty()) throw BadRequest("invalid argument \"" + e + "\" for \"--expose\" flag: " + why);
        e = std::to_string(spec.container) + "/" + spec.proto;
    }
    if (o.publish_all && o.network != "bridge")
        throw BadRequest("-P, --publish-all needs --network bridge (with --network " + o.network + " there is nothing to forward to)");
    for (auto& v : o.volumes) {
        // From the engine the struct comes filled directly: the same checks as -v.
        std::string source = !v.volume.empty() ? v.volume : v.host;  // "" = anonymous
        std::string text = (source.empty() ? "" : source + ":") + v.container + (v.read_only ? ":ro" : "");
        VolumeBinding checked;
        if (auto w = parse_volume(text, checked); !w.empty()) throw BadRequest(w);
        if (checked.is_volume()) checked.host = v.host;  // a volume's _data, once create gave it
        v = checked;
    }
    for (auto& d : o.devices) {
        DeviceBinding checked;
        if (auto w = parse_device(d.host + ":" + d.container + ":" + d.perms, checked); !w.empty()) throw BadRequest(w);
        d = checked;
    }

    // Limits: the rules of step05 (its error lines name what is wrong).
    try {
        if (o.memory && *o.memory < cgroup::kMinMemory)
            throw BadRequest("Minimum memory limit allowed is 6MB");
        if (o.memory_swap) {
            if (*o.memory_swap != -1 && *o.memory_swap != 0) {
                if (!o.memory) throw BadRequest("You should always set the Memory limit when using Memoryswap limit");
                if (*o.memory_swap < static_cast<int64_t>(*o.memory))
                    throw BadRequest("Minimum memoryswap limit should be larger than memory limit, see usage");
            }
            if (*o.memory_swap == 0) o.memory_swap.reset();
        }
        if (o.cpus) {
            unsigned online = static_cast<unsigned>(cgroup::online_cpus().size());
            if (*o.cpus <= 0) throw BadRequest("Range of CPUs is from 0.01 to " + std::to_string(online) + ".00, as there are only " +
                                               std::to_string(online) + " CPUs available");
            if (*o.cpus > online)
                throw BadRequest("Range of CPUs is from 0.01 to " + std::to_string(online) + ".00, as there are only " +
                                 std::to_string(online) + " CPUs available");
            cgroup::cpu_quota_us(*o.cpus);
        }
        if (o.cpu_shares && *o.cpu_shares == 0) o.cpu_shares.reset();  // docker: 0 = the default
        if (o.cpu_shares && (*o.cpu_shares < cgroup::kMinShares || *o.cpu_shares > cgroup::kMaxShares))
            throw BadRequest("invalid --cpu-shares " + std::to_string(*o.cpu_shares) + ": 2 to 262144");
        if (!o.cpuset_cpus.empty()) o.cpuset_cpus = cgroup::check_cpuset(o.cpuset_cpus, cgroup::online_cpus());
        if (o.pids_limit && *o.pids_limit <= 0) o.pids_limit.reset();  // docker: 0 or -1 = unlimited
    } catch (const BadRequest&) {
        throw;
    } catch (const Error& e) {
        throw BadRequest(e.message());
    }

    for (auto& c : o.cap_add) c = capability(c, "\"--cap-add\" flag");
    for (auto& c : o.cap_drop) c = capability(c, "\"--cap-drop\" flag");
    for (auto& s : o.security_opt) {
        if (s == "no-new-privileges" || s == "no-new-privileges:true" || s == "no-new-privileges=true" ||
            s == "no-new-privileges:false" || s == "no-new-privileges=false" || s == "seccomp=unconfined" ||
            s == "seccomp:unconfined" || s == "apparmor=unconfined" || s == "apparmor:unconfined" ||
            s == "label=disable" || s == "label:disable")
            continue;
        if (s.starts_with("seccomp=") || s.starts_with("seccomp:")) {
            std::string file = s.substr(8);
            struct stat st {};
            if (::stat(file.c_str(), &st) < 0) throw BadRequest("opening seccomp profile (" + file + ") failed: no such file");
            continue;
        }
        throw BadRequest("invalid --security-opt " + dq(s) + ": no-new-privileges, seccomp=unconfined|FILE, apparmor=unconfined");
    }
    if (o.userns == "private" || o.userns == "keep-id") o.userns = "private";
    if (!o.userns.empty() && o.userns != "host" && o.userns != "private")
        throw BadRequest("invalid --userns " + dq(o.userns) + ": host or private");
    if (o.userns == "private" && o.privileged) throw BadRequest("privileged mode is incompatible with user namespaces");
    if (o.userns == "private" && !o.volumes.empty())
        narrate::warn("--userns private with -v: root inside is an unprivileged uid on the host; it may not reach the volume's files");
    if (o.auto_remove && o.restart.name != "no")
        throw BadRequest("Conflicting options: --restart and --rm");
    if (o.tty && !o.detach && !o.interactive) {
        // docker allows it (the output is a terminal's); nothing to refuse.
    }
    if (o.entrypoint && o.entrypoint->size() == 1 && o.entrypoint->front().empty()) o.entrypoint->clear();
}

}  // namespace docker
