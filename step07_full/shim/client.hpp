// The shim's client side: start a shim for a container directory, talk to it over its socket.
//
// A shim (minibox-shim) is one small process per container: the subreaper that is the container
// init's parent (prctl(2) PR_SET_CHILD_SUBREAPER), detached by a double fork and setsid(2). It is
// spoken to over a unix socket (unix(7)), one JSON line per request; the whole protocol is in
// step07_full/shim/protocol.md. The front end (`step07_full run`) and minibox-engine link this.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "unique_fd.hpp"

namespace shim {

// Docker's zero time, the FinishedAt of a container that has not finished.
inline constexpr const char* zero_time = "0001-01-01T00:00:00Z";

// shim.json's "network".
struct Network {
    std::string mode = "none";        // none | bridge | host
    std::vector<std::string> ports;   // "8080:80/tcp", bridge only
    std::string hostname;             // DIR/hosts, DIR/hostname
    std::string bridge;               // "" = step04's default (minibox0, $MINIBOX_BRIDGE)
    std::string subnet;               // "" = step04's default (10.61.0.0/16, $MINIBOX_SUBNET)
};

// shim.json, the shim's options (see protocol.md for each field).
struct Options {
    std::string id;                   // runtime container id
    std::string runtime;              // the runtime binary (step07_full)
    std::string runtime_root;         // its --root
    bool tty = false;
    bool open_stdin = false;
    bool stdin_once = false;
    std::string log_path;             // "" = DIR/json.log
    std::string restart = "no";       // no | on-failure[:N] | always | unless-stopped
    bool start = false;               // start right after create
    unsigned height = 0, width = 0;   // tty: initial size
    Network network;
    // Run once (fork + exec, stdio /dev/null, not waited for) when the container's life is over
    // for good: no restart, runtime container deleted, state.json "exited". Not after a
    // "shutdown" request (its caller cleans up), but also by the reaper of a killed shim.
    std::vector<std::string> exit_command;

    nlohmann::json to_json() const;
    // Throws Error (125) naming a bad or unknown field.
    static Options from_json(const nlohmann::json& j);
};

// Where the shim writes things in a container directory.
std::string socket_path(const std::string& dir);  // DIR/shim.sock
std::string state_path(const std::string& dir);   // DIR/state.json
std::string netns_path(const std::string& dir);   // DIR/netns: config.json joins it by path
std::string log_path(const std::string& dir);     // DIR/json.log (the default)

// The shim binary: $MINIBOX_SHIM, else minibox-shim next to the running executable, else
// "minibox-shim" looked up in PATH.
std::string default_executable();

// What the ready line said.
struct Ready {
    pid_t shim_pid = 0;
    pid_t pid = 0;          // the container's init (host pid)
    std::string status;     // "created" or "running"
    std::string ip;         // bridge mode: the container's address
};

// Writes DIR/shim.json from `opts`, runs the shim on DIR (it detaches itself), waits for its
// ready line. Throws Error with the shim's reason and exit code (125/126/127) when it failed;
// the shim has then removed everything it made. `explain`: the shim narrates into DIR/shim.log.
Ready spawn(const std::string& dir, const Options& opts, bool explain = false,
            const std::string& executable = default_executable());

// The state object of protocol.md.
struct State {
    std::string status;     // created | running | restarting | exited ("" = no state yet)
    pid_t pid = 0;
    pid_t shim_pid = 0;
    int exit_code = 0;
    bool oom_killed = false;
    std::string started_at, finished_at;  // RFC 3339 nano; finished_at "0001-01-01T00:00:00Z"
    int restart_count = 0;
    std::string ip;
    std::vector<std::string> ports;
    std::string error;
    bool shim_alive = false;  // read_state: DIR/owner names a live process

    static State from_json(const nlohmann::json& j);
    nlohmann::json to_json() const;
};

// DIR/state.json, without talking to the shim (works after it ended). A container whose shim
// is dead but whose state says it was not finished is reported "exited", exit code 255, shim_alive
// false. nullopt when DIR has no state.json.
std::optional<State> read_state(const std::string& dir);

// True while DIR/owner names a live shim.
bool alive(const std::string& dir);

struct Exit {
    int exit_code = 0;
    std::string finished_at;
    bool oom_killed = false;
    bool restarting = false;  // the shim's restart policy will run it again
};

// While one lives on a thread, that thread's Client::wait() says "cleanup": true: the caller
// settles the container after the exit (and removes it with --rm) itself, so the shim runs no
// exit command while this waiter is connected. The engine's watcher thread holds one.
struct CleaningWaiter {
    CleaningWaiter();
    ~CleaningWaiter();
    CleaningWaiter(const CleaningWaiter&) = delete;
    CleaningWaiter& operator=(const CleaningWaiter&) = delete;
};

class Client {
public:
    explicit Client(std::string dir);

    // One request on a fresh connection; returns the reply. Throws Error when the shim cannot be
    // reached, or when the reply has "ok": false (the message is the shim's "error"; exit 125).
    nlohmann::json request(const nlohmann::json& req) const;

    State state() const;
    pid_t start() const;
    void kill(int signal, bool restart = false) const;
    // Blocks until the init exits. When the shim is already gone, from DIR/state.json.
    Exit wait() const;
    void resize(unsigned height, unsigned width) const;
    // The connected socket after the attach reply: the stream of protocol.md ("The attach
    // stream"). `tty` (optional) is set from the reply.
    unique_fd attach(bool in, bool out, bool err, bool* tty = nullptr) const;
    void shutdown() const;

    const std::string& dir() const { return dir_; }

private:
    unique_fd connect() const;
    std::string dir_;
};

// Docker's stdcopy framing (no tty): [stream, 0, 0, 0, BE32 length] then the bytes.
enum Stream : std::uint8_t { stdin_stream = 0, stdout_stream = 1, stderr_stream = 2 };
// Writes one frame whole (retries short writes). false when the peer is gone (EPIPE etc.).
bool write_frame(int fd, Stream stream, const char* data, std::size_t size);
// Reads one frame. false at a clean EOF before a header; throws Error on a torn frame.
bool read_frame(int fd, Stream& stream, std::string& data);

// Every run_dir()/shims/ID record whose shim is dead: its runtime container deleted (the init
// killed), its netns unmounted, step04's leases of dead owners reaped, state.json finished
// (exit 255 unless it had exited), the record removed. Returns the ids reaped. Safe to call
// while other shims run (live ones are left alone).
std::vector<std::string> reap_dead();

}  // namespace shim
