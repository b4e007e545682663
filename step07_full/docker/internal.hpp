// The manager's shared plumbing (not an interface): where a container's pieces are, its live
// state read from the shim, and running the runtime binary. Only docker/*.cpp include it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "manager.hpp"
#include "record.hpp"

namespace docker::detail {

struct Paths {
    std::string record;        // <data>/containers/<id>
    std::string shim;          // <exec>/<id[:12]>
    std::string bundle;        // <shim>/bundle
    std::string log;           // <record>/<id>-json.log
    std::string runtime_root;  // <exec>/runtime
    std::string lock;          // <data>/locks/<id>.lock
};
Paths paths(const Roots& roots, const std::string& id);
Roots defaults(Roots r);

// What the container is doing now, from the shim's state (or the record, when the shim's
// directory is gone), and the runtime's freezer for "paused".
struct Live {
    std::string status = "created";  // created running paused restarting exited dead
    pid_t pid = 0;
    int exit_code = 0;
    bool oom_killed = false;
    std::string started_at = "0001-01-01T00:00:00Z", finished_at = "0001-01-01T00:00:00Z";
    std::string error;
    int restart_count = 0;
    std::string ip;
    bool shim_alive = false;
    bool running() const { return status == "running" || status == "paused" || status == "restarting"; }
};
Live live(const Roots& roots, const Record& r);

// The names in a directory, sorted, without "." and ".." and other dot files (none when it
// cannot be read): the one directory scan of the module (containers, volumes, /dev).
std::vector<std::string> dir_names(const std::string& dir);

// The record of the container `ref` names (a name or an id prefix); its id in `id`.
// NotFound "No such container: REF".
Record load_record(const Roots& roots, const std::string& ref, std::string& id);

// The runtime binary: $MINIBOX_RUNTIME, else step07_full next to this executable, else PATH.
std::string runtime_binary();
// Runs the runtime with `args` (after --root R); returns its status, its stderr in `err`.
int run_runtime(const Paths& p, const std::vector<std::string>& args, std::string* err = nullptr);

// RFC 3339 -> unix seconds (0 for Docker's zero time or garbage).
std::int64_t parse_time(const std::string& rfc3339);
// Docker's HumanDuration: "Less than a second", "3 seconds", "About a minute", "2 hours".
std::string human_duration(std::int64_t seconds);
// "sh -c 'echo hi'"
std::string quote_command(const std::vector<std::string>& args);

// Docker's inspect JSON for a record and its live state.
nlohmann::json inspect_json(const Roots& roots, const Record& r, const Live& l);

}  // namespace docker::detail
