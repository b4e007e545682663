// RunOptions: everything `docker run` (and the Engine API's create body) says about a new
// container, as one plain struct, checked before anything touches the host.
//
// The CLI fills it from flags (parse_run), the engine from the JSON of POST /containers/create;
// both then call validate(), which refuses a bad value with one line (Error, exit 125) naming
// the flag, exactly as docker's CLI and daemon refuse them. No kernel call is made here: the
// checks only read /proc (online CPUs, the last capability) and the host paths of -v/--device.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "errors.hpp"

namespace docker {

// -p [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp]. host_port 0 = a free host port, picked at
// create (ports.hpp: bind(2) to port 0), then `random` says it was picked.
struct PortBinding {
    std::string host_ip;         // "" = every address (0.0.0.0)
    std::uint16_t host_port = 0;
    std::uint16_t container_port = 0;
    std::string proto = "tcp";   // only tcp: step04 publishes TCP
    bool random = false;         // host_port was picked (HostConfig shows HostPort "")
    bool operator==(const PortBinding&) const = default;
};

// -v HOST:CONTAINER[:ro|:rw] (a bind mount), -v NAME:CONTAINER[:ro|:rw] (a named volume,
// volumes.hpp), -v CONTAINER[:ro|:rw] (an anonymous volume: volume and host empty until
// create gives it one).
struct VolumeBinding {
    std::string host;       // absolute on the host (a volume's: its _data, filled at create)
    std::string container;  // absolute, normalized
    bool read_only = false;
    std::string volume;     // the volume's name ("" = a bind mount, or anonymous while host is "")
    bool operator==(const VolumeBinding&) const = default;
    bool is_volume() const { return !volume.empty() || host.empty(); }
};

// --device HOST[:CONTAINER[:PERMS]]
struct DeviceBinding {
    std::string host;       // /dev/fuse
    std::string container;  // default: = host
    std::string perms = "rwm";
    bool operator==(const DeviceBinding&) const = default;
};

// --restart no|on-failure[:N]|always|unless-stopped
struct RestartPolicy {
    std::string name = "no";  // "no", "on-failure", "always", "unless-stopped"
    int max_retries = 0;      // on-failure only; 0 = no limit
    bool operator==(const RestartPolicy&) const = default;
};

struct RunOptions {
    // what runs
    std::string image;                 // IMAGE as given ("busybox", "busybox:latest", an id)
    std::vector<std::string> cmd;      // COMMAND [ARG...]; empty = the image's Cmd
    std::optional<std::vector<std::string>> entrypoint;  // --entrypoint ("" = none at all)
    std::string name;                  // --name; "" = a generated one ("quirky_turing")
    std::vector<std::string> env;      // -e K=V (a bare -e K takes the CLI's own $K), --env-file
    std::string workdir;               // -w
    std::string user;                  // -u UID[:GID] or a name from the image's /etc/passwd
    std::string hostname;              // -h; "" = the first 12 hex digits of the id
    std::map<std::string, std::string> labels;  // -l (engine: Labels)
    std::string stop_signal;           // "" = the image's StopSignal, else SIGTERM
    std::optional<int> stop_timeout;   // seconds; "" = 10

    // stdio
    bool detach = false;       // -d
    bool interactive = false;  // -i: keep stdin open (OpenStdin)
    bool tty = false;          // -t: a pty for the container
    bool auto_remove = false;  // --rm
    bool dry_run = false;      // --dry-run: print config.json, touch nothing

    // steps 02-06
    bool init = false;       // --init: tini (docker-init) as PID 1
    bool read_only = false;  // --read-only
    std::vector<VolumeBinding> volumes;
    std::string network = "bridge";  // none | bridge | host
    std::vector<PortBinding> ports;
    bool publish_all = false;          // -P: every EXPOSEd port (the image's, --expose) on a free port
    std::vector<std::string> expose;   // --expose 80[/tcp]
    std::optional<std::uint64_t> memory;       // -m bytes
    std::optional<std::int64_t> memory_swap;   // bytes; -1 = unlimited
    std::optional<double> cpus;                // --cpus
    std::optional<std::uint64_t> cpu_shares;   // --cpu-shares
    std::string cpuset_cpus;                   // --cpuset-cpus (normalized)
    std::optional<std::int64_t> pids_limit;    // --pids-limit (-1 or 0 = unlimited)

    // step07's security
    std::vector<std::string> cap_add, cap_drop;  // "NET_ADMIN" or "CAP_NET_ADMIN", or "ALL"
    bool privileged = false;
    std::vector<std::string> security_opt;       // no-new-privileges[:true|false], seccomp=unconfined|FILE
    std::string userns;                          // "" | "host" | "private" (root maps to 100000:65536)
    std::vector<DeviceBinding> devices;

    RestartPolicy restart;
};

// One flag's value -> its field; each returns "" when fine, else the reason (one line, the flag
// named first, as docker says it: "invalid argument \"x\" for \"-p, --publish\" flag: ...").
std::string parse_port(const std::string& text, PortBinding& out);
std::string parse_volume(const std::string& text, VolumeBinding& out);
std::string parse_device(const std::string& text, DeviceBinding& out);
std::string parse_restart(const std::string& text, RestartPolicy& out);
// "KEY=VALUE" lines of an --env-file (comments and blank lines skipped; a bare KEY takes the
// caller's $KEY, dropped when unset, as docker). Throws Error naming the file and line.
std::vector<std::string> read_env_file(const std::string& path);

// The whole struct, as docker's daemon checks a create request: throws BadRequest (an Error,
// exit 125; errors.hpp) with one
// line for the first bad field. Normalizes in place (cpuset, capability names upper case
// without CAP_, env entries "K" resolved, the network name lower case).
void validate(RunOptions& opts);

// Names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (docker's rule), as given (no leading "/").
bool valid_name(const std::string& name, std::string& why);
// Volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (docker's rule for the local driver).
bool valid_volume_name(const std::string& name);

}  // namespace docker
