// Container identity and ownership on the host.
//
// Every resource a container makes on the host (a lease, a veth, a cgroup, an overlay
// directory) is recorded with its owner: the tool process that made it, as "pid:starttime".
// The start time (field 22 of /proc/PID/stat) tells a live owner from a dead one whose pid was
// reused. A tool killed by SIGKILL cannot clean up; the next start calls each layer's
// "reap the dead" and removes what dead owners left.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace state {

// Where per-container state lives: $MINIBOX_RUN, else /run/minibox. Created on demand (0700).
std::string run_dir();
// Where images live: $MINIBOX_ROOT, else /var/lib/minibox.
std::string root_dir();
// The default image's root filesystem: root_dir()/images/busybox/rootfs.
std::string default_rootfs();

// A fresh container id: 12 lowercase hex digits from getrandom(2).
std::string new_container_id();

struct Owner {
    pid_t pid = 0;
    unsigned long long start = 0;  // clock ticks after boot, from /proc/PID/stat

    static Owner self();
    // From "pid:start"; nullopt when malformed.
    static std::optional<Owner> parse(const std::string& text);
    std::string str() const;
    // True while that very process (same pid, same start time) exists and has not exited (a
    // zombie, state Z in /proc/PID/stat, is a dead owner).
    bool alive() const;
};

// Field 22 of /proc/PID/stat, or nullopt when there is no such process.
std::optional<unsigned long long> start_time(pid_t pid);

// Records. An entry run_dir()/NAME records host-side state of a container when it names its
// owner: a file whose first line is "pid:start", or a directory holding such a file named
// "owner". `minibox cleanup` lists (and removes) the records of dead owners; write a record
// whole (to a temporary name, then rename) so it is never seen without its owner line.
// Returns the owner of the record at `path`; nullopt when it names none (it is then not a
// record: flock files "*.lock", foreign files).
std::optional<Owner> record_owner(const std::string& path);

// An exclusive flock(2) on run_dir()/NAME.lock, held until destruction. Serializes concurrent
// starts where they share something (the IP address pool, the bridge).
class Lock {
public:
    explicit Lock(const std::string& name);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace state
