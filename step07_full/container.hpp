// Lifecycle state: one directory per container under the runtime's --root, as runc keeps it.
//
//   <root>/<id>/state.json   what `state` reports, plus what later commands need (the init's pid
//                            and start time, the cgroup directories, the bundle)
//   <root>/<id>/exec.fifo    exists between `create` and `start`: the init is blocked opening it
//   <root>/<id>/lock         flock(2)ed by every command on this id, so two commands on the same
//                            container never interleave
//
// state.json is written whole to a temporary name and renamed: a reader never sees half of it.
// The status is not stored: it is derived from the kernel each time (is the init alive, with the
// same start time? is the fifo still there? is the cgroup frozen?), so it can never go stale.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace container {

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status s);

struct State {
    std::string id;
    std::string bundle;   // absolute
    std::string rootfs;   // absolute
    pid_t pid = 0;        // the init, as the host sees it
    unsigned long long start_time = 0;  // field 22 of /proc/PID/stat when it was created
    std::string created;  // RFC 3339, UTC, nanoseconds
    std::string owner;    // user name of the creator ("root")
    std::map<std::string, std::string> annotations;
    std::vector<std::string> cgroup_dirs;  // the container's cgroup directories on the host
    bool systemd_cgroup = false;
    bool own_pid_namespace = true;  // false: the init shares a pid namespace (kill --all needed)
    bool started = false;           // set by `start` (before exec.fifo is gone)
    // While pid is 0 (being created): the `create` process, "pid:start". Dead = stopped, so a
    // killed create leaves a record that `delete` (and `list`) can see and clean.
    std::string creator;
};

// Valid container ids: 1-1024 characters of [A-Za-z0-9_.+-], not starting with '.' (a path
// component that cannot escape the root).
bool valid_id(const std::string& id, std::string& why);

class Store {
public:
    explicit Store(std::string root);  // "" = /run/minibox/runtime
    const std::string& root() const { return root_; }
    std::string dir(const std::string& id) const;
    std::string fifo(const std::string& id) const { return dir(id) + "/exec.fifo"; }

    bool exists(const std::string& id) const;
    // Throws Error exit 1 "container ID does not exist" when missing.
    State load(const std::string& id) const;
    void save(const State& s) const;  // atomic; creates the directory (0700)
    // Makes the directory; throws Error exit 1 when the id is taken. Call it holding the id's
    // lock: a directory left without state.json by a dead maker is taken over.
    void create_dir(const std::string& id) const;
    void remove(const std::string& id) const;  // the directory and the lock; missing is fine
    // The lock file, once the container is gone (call it holding the lock: a command waiting
    // on it then finds no container).
    void remove_lock(const std::string& id) const;
    std::vector<std::string> ids() const;

    // An exclusive lock on <root>/<id>/lock (or on <root>/<id>.create.lock while it is made).
    class Lock {
    public:
        Lock(const Store& store, const std::string& id);
        ~Lock();
        Lock(const Lock&) = delete;
        Lock& operator=(const Lock&) = delete;

    private:
        int fd_ = -1;
    };

private:
    std::string root_;
};

// The status, from the kernel.
Status status(const State& s, const Store& store);
// The OCI state object (runtime-spec runtime.md): ociVersion, id, status, pid, bundle,
// annotations; plus rootfs, created, owner as runc prints them.
nlohmann::json to_json(const State& s, Status st);

// Now, RFC 3339 with nanoseconds: "2026-12-01T09:41:02.123456789Z".
std::string now_rfc3339();

}  // namespace container
