#include "flags.hpp"

#include <cstdlib>
#include <functional>
#include <map>

#include "errors.hpp"
#include "limits.hpp"

namespace docker {
namespace {

struct Flag {
    std::string long_name;  // "name"
    char short_name = 0;    // 'd'
    bool takes_value = false;
    std::function<void(const std::string&)> set;
    std::string help;
};

std::int64_t parse_int(const std::string& v, const std::string& flag) {
    try {
        size_t used = 0;
        long long n = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return n;
    } catch (const std::exception&) {
        throw BadRequest("invalid argument \"" + v + "\" for \"" + flag + "\" flag: strconv.ParseInt: parsing \"" + v +
                         "\": invalid syntax");
    }
}

std::uint64_t size_arg(const std::string& v, const std::string& flag) {
    try {
        return cgroup::parse_size(v);
    } catch (const Error& e) {
        throw BadRequest("invalid argument \"" + v + "\" for \"" + flag + "\" flag: " + e.message());
    }
}

std::vector<Flag> table(RunOptions& o, bool* help) {
    auto add_str = [](std::string& field) { return [&field](const std::string& v) { field = v; }; };
    auto push = [](std::vector<std::string>& field) { return [&field](const std::string& v) { field.push_back(v); }; };
    auto yes = [](bool& field) { return [&field](const std::string& v) { field = v != "false"; }; };
    return {
        {"detach", 'd', false, yes(o.detach), "run in the background, print the id"},
        {"name", 0, true, add_str(o.name), "a name for the container"},
        {"interactive", 'i', false, yes(o.interactive), "keep stdin open"},
        {"tty", 't', false, yes(o.tty), "a pseudo-terminal for the container"},
        {"rm", 0, false, yes(o.auto_remove), "remove the container when it exits"},
        {"env", 'e', true, push(o.env), "K=V (or K: the value from here)"},
        {"env-file", 0, true, [&o](const std::string& v) { for (auto& e : read_env_file(v)) o.env.push_back(e); },
         "a file of K=V lines"},
        {"workdir", 'w', true, add_str(o.workdir), "the working directory inside"},
        {"user", 'u', true, add_str(o.user), "UID[:GID] or NAME[:GROUP]"},
        {"entrypoint", 0, true, [&o](const std::string& v) { o.entrypoint = v.empty() ? std::vector<std::string>{} : std::vector<std::string>{v}; },
         "override the image's Entrypoint"},
        {"hostname", 'h', true, add_str(o.hostname), "the container's host name"},
        {"label", 'l', true,
         [&o](const std::string& v) {
             auto eq = v.find('=');
             o.labels[v.substr(0, eq)] = eq == std::string::npos ? "" : v.substr(eq + 1);
         },
         "K=V metadata"},
        {"stop-signal", 0, true, add_str(o.stop_signal), "the signal stop sends (default SIGTERM)"},
        {"stop-timeout", 0, true, [&o](const std::string& v) { o.stop_timeout = static_cast<int>(parse_int(v, "--stop-timeout")); },
         "seconds stop waits before SIGKILL"},
        {"init", 0, false, yes(o.init), "tini as PID 1 (reaps zombies, forwards signals)"},
        {"read-only", 0, false, yes(o.read_only), "mount the root file system read-only"},
        {"volume", 'v', true,
         [&o](const std::string& v) {
             VolumeBinding b;
             if (auto why = parse_volume(v, b); !why.empty()) throw BadRequest(why);
             o.volumes.push_back(b);
         },
         "HOST:CONTAINER[:ro]"},
        {"network", 0, true, add_str(o.network), "none, bridge (default) or host"},
        {"net", 0, true, add_str(o.network), ""},
        {"publish", 'p', true,
         [&o](const std::string& v) {
             PortBinding b;
             if (auto why = parse_port(v, b); !why.empty()) throw BadRequest(why);
             o.ports.push_back(b);
         },
         "[HOSTPORT:]CONTAINERPORT[/tcp] (no HOSTPORT: a free one is picked)"},
        {"publish-all", 'P', false, yes(o.publish_all), "publish every EXPOSEd port on a free host port"},
        {"expose", 0, true, push(o.expose), "a port to expose (80 or 80/tcp)"},
        {"memory", 'm', true, [&o](const std::string& v) { o.memory = size_arg(v, "-m, --memory"); }, "memory limit (64m, 1g)"},
        {"memory-swap", 0, true,
         [&o](const std::string& v) {
             o.memory_swap = v == "-1" ? -1 : static_cast<std::int64_t>(size_arg(v, "--memory-swap"));
         },
         "memory + swap limit (-1: unlimited)"},
        {"cpus", 0, true,
         [&o](const std::string& v) {
             try {
                 size_t used = 0;
                 double d = std::stod(v, &used);
                 if (used != v.size()) throw std::invalid_argument(v);
                 o.cpus = d;
             } catch (const std::invalid_argument&) {
                 throw BadRequest("invalid argument \"" + v + "\" for \"--cpus\" flag: failed to parse " + v + " as a rational number");
             } catch (const std::out_of_range&) {
                 throw BadRequest("invalid argument \"" + v + "\" for \"--cpus\" flag: out of range");
             }
         },
         "CPUs (0.5: half of one)"},
        {"cpu-shares", 'c', true,
         [&o](const std::string& v) {
             auto n = parse_int(v, "-c, --cpu-shares");
             if (n < 0) throw BadRequest("invalid argument \"" + v + "\" for \"-c, --cpu-shares\" flag: must be positive");
             o.cpu_shares = static_cast<std::uint64_t>(n);
         },
         "relative CPU weight (1024)"},
        {"cpuset-cpus", 0, true, add_str(o.cpuset_cpus), "CPUs allowed (0-1,3)"},
        {"pids-limit", 0, true, [&o](const std::string& v) { o.pids_limit = parse_int(v, "--pids-limit"); }, "at most N processes"},
        {"cap-add", 0, true, push(o.cap_add), "add a capability"},
        {"cap-drop", 0, true, push(o.cap_drop), "drop a capability"},
        {"privileged", 0, false, yes(o.privileged), "every capability, no seccomp, every device"},
        {"security-opt", 0, true, push(o.security_opt), "no-new-privileges, seccomp=unconfined|FILE"},
        {"userns", 0, true, add_str(o.userns), "host or private (root inside is unprivileged outside)"},
        {"device", 0, true,
         [&o](const std::string& v) {
             DeviceBinding d;
             if (auto why = parse_device(v, d); !why.empty()) throw BadRequest(why);
             o.devices.push_back(d);
         },
         "HOST[:CONTAINER[:rwm]]"},
        {"restart", 0, true,
         [&o](const std::string& v) {
             if (auto why = parse_restart(v, o.restart); !why.empty()) throw BadRequest(why);
         },
         "no, on-failure[:N], always, unless-stopped"},
        {"dry-run", 0, false, yes(o.dry_run), "print the config.json it would hand the runtime, and stop"},
        {"help", 0, false, [help](const std::string&) { if (help) *help = true; }, "this text"},
    };
}

}  // namespace

std::string run_usage() {
    RunOptions o;
    std::string out = "Usage:  step07_full run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image\n\nOptions:\n";
    for (auto& f : table(o, nullptr)) {
        if (f.help.empty()) continue;
        std::string names = f.short_name ? std::string("-") + f.short_name + ", --" + f.long_name : "    --" + f.long_name;
        if (f.takes_value) names += " VALUE";
        out += "  " + names + std::string(names.size() < 30 ? 30 - names.size() : 1, ' ') + f.help + "\n";
    }
    return out;
}

RunOptions parse_run_flags(const std::vector<std::string>& args, bool* help) {
    RunOptions o;
    auto flags = table(o, help);
    auto by_long = [&](const std::string& n) -> Flag* {
        for (auto& f : flags)
            if (f.long_name == n) return &f;
        return nullptr;
    };
    auto by_short = [&](char c) -> Flag* {
        for (auto& f : flags)
            if (f.short_name == c) return &f;
        return nullptr;
    };
    size_t i = 0;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-') break;  // IMAGE: the options end here
        if (a.starts_with("--")) {
            std::string name = a.substr(2), value;
            bool has_value = false;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_value = true;
            }
            Flag* f = by_long(name);
            if (!f) throw BadRequest("unknown flag: --" + name + "\nSee 'step07_full run --help'.");
            if (f->takes_value && !has_value) {
                if (i + 1 >= args.size()) throw BadRequest("flag needs an argument: --" + name);
                value = args[++i];
            }
            f->set(f->takes_value ? value : (has_value ? value : "true"));
            continue;
        }
        // -abc: bool shorthands together; one taking a value takes the rest (-m64m) or the next.
        for (size_t k = 1; k < a.size(); ++k) {
            Flag* f = by_short(a[k]);
            if (!f) throw BadRequest(std::string("unknown shorthand flag: '") + a[k] + "' in " + a + "\nSee 'step07_full run --help'.");
            if (!f->takes_value) {
                f->set("true");
                continue;
            }
            std::string value = a.substr(k + 1);
            if (value.starts_with("=")) value = value.substr(1);
            if (value.empty()) {
                if (i + 1 >= args.size()) throw BadRequest(std::string("flag needs an argument: '") + a[k] + "' in -" + a[k]);
                value = args[++i];
            }
            f->set(value);
            break;
        }
    }
    if (help && *help) return o;
    if (i < args.size()) {
        o.image = args[i++];
        o.cmd.assign(args.begin() + static_cast<long>(i), args.end());
    }
    validate(o);
    return o;
}

}  // namespace docker
