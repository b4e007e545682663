// docker::Manager: the container operations of Docker, without a daemon. The CLI
// (`step07_full run/ps/logs/...`, docker/cli.cpp) and the engine (minibox-engine's API routes)
// both call these, so there is one implementation of run, stop, logs, exec.
//
// A container is a directory (its record) plus, while it runs, a shim (minibox-shim) that holds
// its stdio, its log, its network and the runtime's container:
//
//   <data>/containers/<64 hex>/config.v2.json   the record: Docker's inspect JSON (Config,
//                                                HostConfig, Name, Created, Image, RestartCount)
//   <data>/containers/<64 hex>/<id>-json.log    the json-file log (written by the shim)
//   <data>/containers/<64 hex>/bundle/          the OCI bundle: config.json, rootfs (the overlay)
//   <data>/containers/<64 hex>/{upper,work}     the overlay's writable side (step06's layout)
//   <exec>/<12 hex>/shim.sock, shim.pid, state   the shim's socket and its exit record
//
// <data> = Roots::data (state::root_dir()/docker by default), <exec> = Roots::exec
// (state::run_dir()/docker). The runtime (`step07_full --root <exec>/runtime`) knows the
// container by its 64-hex id. State is never cached: every call reads the record and asks the
// shim (or finds it dead: a dead shim's container is "exited", its resources reaped).
//
// Errors: NotFound (exit 1) with Docker's text "No such container: X"; Conflict (a name in
// use, a running container removed without force, already paused); BadRequest (validate()'s
// refusals, also thrown by validate() itself); all with Docker's messages.
//
// Threads: every method may be called from several threads at once (the engine serves each
// connection on its own thread); operations on one container are serialized by a flock on its
// record, and wait() / logs(follow) hold no lock while they block. The shim exists from
// create() on (it holds the container's stdio before the process runs), so attach() works on
// a created container and output starts flowing at start(); a stopped container's shim has
// exited, and start() spawns a new one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "options.hpp"
#include "unique_fd.hpp"

namespace docker {

struct Roots {
    std::string data;  // records, bundles, logs      ("" = state::root_dir() + "/docker")
    std::string exec;  // shims' sockets, runtime root ("" = state::run_dir() + "/docker")
};

// One row of `ps` / GET /containers/json.
struct Summary {
    std::string id;       // 64 hex
    std::string name;     // without the leading "/"
    std::string image;    // as given to run
    std::string image_id; // "sha256:..." ("" for step06's bare images)
    std::string command;  // "sh -c 'echo hi'", as docker quotes it
    std::int64_t created = 0;  // unix seconds
    std::string created_at;    // RFC 3339 with nanoseconds (fixed width: compares as text)
    std::string state;    // created | running | paused | restarting | exited | dead
    std::string status;   // "Up 3 seconds", "Exited (0) 2 minutes ago", "Created"
    std::vector<PortBinding> ports;
    std::map<std::string, std::string> labels;  // the image's Labels, then -l / the create body's
    int exit_code = 0;    // the last exit (exited containers)
    bool foreign = false; // step06's --keep container or a leftover: shown by ps -a, removable by rm
    // Docker's /containers/json element: Id, Names ["/n"], Image, ImageID, Command, Created,
    // State, Status, Ports [{IP, PrivatePort, PublicPort, Type}], Labels, Mounts, HostConfig.
    nlohmann::json to_json() const;
};

struct LogOptions {
    bool follow = false;
    std::optional<std::size_t> tail;  // the last N lines; nullopt = all
    bool timestamps = false;          // the sink gets the time either way; the CLI prints it
    bool show_stdout = true, show_stderr = true;
    std::int64_t since = 0, until = 0;  // unix seconds; 0 = unbounded
};
enum class Stream { in = 0, out = 1, err = 2 };  // stdcopy's stream numbers
// One log line (with its "\n" when it had one) and its RFC 3339 time; return false to stop
// (e.g. the client went away during -f).
using LogSink = std::function<bool(Stream, std::string_view line, std::string_view time)>;

struct ExecOptions {
    std::vector<std::string> cmd;
    std::vector<std::string> env;  // K=V, added to the container's
    std::string workdir;           // "" = the container's
    std::string user;              // "" = the container's
    bool tty = false;
    bool open_stdin = false;       // -i: the process's stdin is open
    bool detach = false;           // -d: return once it runs
    bool privileged = false;       // every capability (docker exec --privileged)
};
// The exec's stdio: fds the process gets (-1 = /dev/null). With ExecOptions::tty, `in` and `out`
// are copied to and from a pty whose master the runtime hands over (console socket); `err` is
// unused. resize: called with the pty master once it exists (the CLI keeps it for SIGWINCH).
struct ExecStdio {
    int in = -1, out = -1, err = -1;
    std::function<void(int pty_master)> on_pty;
};

struct AttachOptions {
    bool in = false, out = true, err = true;  // which streams
};

struct TopResult {
    std::vector<std::string> titles;                  // "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"
    std::vector<std::vector<std::string>> processes;  // one row per process, host pids
    nlohmann::json to_json() const;                   // {"Titles": [...], "Processes": [[...]]}
};

struct PruneResult {
    std::vector<std::string> deleted;  // ids
    std::uint64_t space_reclaimed = 0; // bytes of the upper directories
};

// What happened to a container: create, start, die, stop, kill, pause, unpause, rename,
// destroy, restart (Docker's event actions). attributes: name, image, exitCode (die), signal.
struct Event {
    std::string id;
    std::string action;
    std::map<std::string, std::string> attributes;
};

enum class WaitCondition { not_running, next_exit, removed };

// A path in a container, as docker cp's stat header has it (Go's os.FileMode bits in mode).
struct PathStat {
    std::string name;
    std::int64_t size = 0;
    std::uint32_t mode = 0;
    std::string mtime;        // RFC 3339
    std::string link_target;  // a symlink's target, else ""
    nlohmann::json to_json() const;  // {"name", "size", "mode", "mtime", "linkTarget"}
};

class Manager {
public:
    explicit Manager(Roots roots = {});
    const Roots& roots() const { return roots_; }

    // Called (from the calling thread) for every event this Manager causes; the engine sets it.
    std::function<void(const Event&)> on_event;

    // A name or a unique prefix of an id -> the 64-hex id. Exact names win over prefixes, an
    // exact id over both (Docker's order). Error exit 1 "No such container: X" when none,
    // Error 125 when the prefix is ambiguous.
    std::string resolve(const std::string& ref) const;
    bool exists(const std::string& ref) const;

    // The record and the bundle (overlay root not mounted yet); nothing runs. validate()s the
    // options first; the image must exist. Error 125 "Conflict. The container name \"/x\" is
    // already in use by container \"<id>\". ..." for a taken name. Returns the id.
    std::string create(RunOptions opts);
    // The config.json create() would write, for --dry-run (the image must exist; nothing is made).
    nlohmann::json dry_run(RunOptions opts) const;

    // Starts the shim, which creates and starts the runtime's container. Starting a running
    // container does nothing (as docker). Returns once the container's process runs.
    void start(const std::string& ref);
    // SIGTERM (or the image's StopSignal / --stop-signal), `timeout` seconds (default the
    // container's StopTimeout, else 10), then SIGKILL. A stopped container: nothing to do.
    void stop(const std::string& ref, std::optional<int> timeout = std::nullopt);
    // A signal by name or number ("KILL", "SIGHUP", "9"). Error 125 when it is not running.
    void kill(const std::string& ref, const std::string& signal = "KILL");
    void restart(const std::string& ref, std::optional<int> timeout = std::nullopt);
    // Refused (125) for a running container without `force` (then: kill, wait, remove).
    // Everything goes: the shim, the runtime's container, the overlay, the record; with
    // `volumes` (rm -v) or AutoRemove (--rm) its anonymous volumes too (volumes.hpp).
    void remove(const std::string& ref, bool force = false, bool volumes = false);
    // Blocks until the condition; returns the exit code (Docker's StatusCode).
    int wait(const std::string& ref, WaitCondition cond = WaitCondition::not_running);
    // Streams the json-file log to `sink`; with follow, until the container stops (or the sink
    // says stop).
    void logs(const std::string& ref, const LogOptions& opts, const LogSink& sink) const;
    std::vector<Summary> list(bool all) const;
    // Docker's inspect JSON: Id, Created, Path, Args, State{Status, Running, Paused, Restarting,
    // OOMKilled, Dead, Pid, ExitCode, Error, StartedAt, FinishedAt}, Image, Name ("/n"),
    // RestartCount, HostConfig, Mounts, Config, NetworkSettings{IPAddress, Ports, ...}.
    nlohmann::json inspect(const std::string& ref) const;
    // `ps_args` as docker top passes them to ps ("" = -ef).
    TopResult top(const std::string& ref, const std::string& ps_args = "") const;
    // One sample of Docker's stats JSON (read, pids_stats, cpu_stats, precpu_stats, memory_stats,
    // blkio_stats, networks, name, id) from the container's cgroup and netns counters.
    nlohmann::json stats(const std::string& ref) const;
    void pause(const std::string& ref);
    void unpause(const std::string& ref);
    void rename(const std::string& ref, const std::string& new_name);
    PruneResult prune();
    // After the container's shim has ended (its exit command, or anyone later): unmounts the root
    // and, with AutoRemove (--rm), removes the container. A running container: nothing.
    void cleanup(const std::string& ref);
    // A terminal's size for a -t container (the shim resizes its pty master).
    void resize(const std::string& ref, unsigned height, unsigned width);

    // A new process in a running container (`step07_full exec` on its runtime container: setns
    // into its namespaces and cgroup, its capabilities, seccomp, no_new_privs). Returns its exit
    // status (0 at once with detach). 126/127 as docker exec: cannot execute / not found.
    int exec(const std::string& ref, const ExecOptions& opts, const ExecStdio& stdio);
    // The container's stdio through its shim: a connected socket, after the shim's reply. With
    // a tty it carries raw bytes, else Docker's stdcopy frames (8-byte header [stream, 0, 0, 0,
    // length big-endian]); writes to it go to the container's stdin, shutdown(SHUT_WR) closes it.
    unique_fd attach(const std::string& ref, const AttachOptions& opts);

    // docker cp (archive.cpp): paths resolved inside the container's root (openat2
    // RESOLVE_IN_ROOT; under a volume, in its directory), running or stopped. NotFound "Could
    // not find the file P in container ID"; BadRequest for a relative path or a PUT target
    // that is not a directory, or an archive entry escaping it.
    PathStat stat_path(const std::string& ref, const std::string& path) const;
    // A tar (pax) of `path` named by its base name (a directory with its whole tree).
    std::string archive_path(const std::string& ref, const std::string& path, PathStat* stat = nullptr) const;
    // Extracts the tar file `tar_file` into the directory `dir` of the container.
    void extract_to(const std::string& ref, const std::string& dir, const std::string& tar_file);

    // What step06 left: --keep containers and leftovers of dead runs (root_dir()/containers):
    // listed by list(true) with Summary::foreign, removed by remove(id).
private:
    void reap_half_made();                      // records of creates killed half-way
    void settle(const std::string& id);         // after the shim's life: unmount the root
    int wait_exit(const std::string& id, bool next_exit);
    bool remove_foreign(const std::string& ref);  // step06's kept containers and leftovers
    Roots roots_;
};

}  // namespace docker
