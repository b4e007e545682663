// The cgroup filesystem behind one interface: which layout the host has, and a container's
// cgroup in it, created, joined, limited, read and removed.
//
// Three layouts exist (see workshop/05-cgroups.md): unified (cgroup2 on /sys/fs/cgroup), legacy
// (a cgroup v1 hierarchy per controller under /sys/fs/cgroup/<controller>) and hybrid (legacy
// plus a cgroup2 mount at /sys/fs/cgroup/unified). A controller is bound to one hierarchy at a
// time, so on hybrid the controllers live in the v1 hierarchies and the tool uses those.
// Both backends are rooted at paths given to their constructors: the unit tests run them over a
// temporary directory. See cgroups(7) and Documentation/admin-guide/cgroup-v2.rst.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "limits.hpp"

namespace cgroup {

enum class Layout { none, unified, hybrid, legacy };
const char* layout_name(Layout l);

// The project's own parent in every hierarchy: <hierarchy>/minibox/<container id>.
inline constexpr const char* kParent = "minibox";

struct Host {
    Layout layout = Layout::none;
    std::string v2;                         // the cgroup2 mount ("" when none)
    std::map<std::string, std::string> v1;  // v1 controller -> its hierarchy's mount point
    // The controllers the tool can use: v2 root's cgroup.controllers (unified), v1's keys otherwise.
    std::set<std::string> controllers;
    bool uses_v2() const { return layout == Layout::unified; }
};

// Detects the layout once: statfs(2) magic of `base` and `base`/unified, the v1 mount points
// from /proc/self/mountinfo. `base` is /sys/fs/cgroup except in tests.
Host detect(const std::string& base = "/sys/fs/cgroup");
// Pieces of detect(), for tests: v1 controller -> mount point, from mountinfo text and the
// controller names of /proc/cgroups.
std::map<std::string, std::string> parse_v1_mounts(const std::string& mountinfo, const std::set<std::string>& known);
std::set<std::string> parse_proc_cgroups(const std::string& text);

// What the kernel recorded about the container, read just before its cgroup is removed.
struct Stats {
    std::optional<uint64_t> memory_peak;  // bytes
    std::string memory_peak_from;         // the file, or how it was obtained
    std::optional<uint64_t> cpu_usec;     // user + system CPU time
    std::string cpu_from;
    std::optional<uint64_t> pids_peak;
    std::string pids_peak_from;
};

class Cgroup {
public:
    virtual ~Cgroup() = default;
    // The container's directories (one per v1 hierarchy used; one on v2).
    virtual std::vector<std::string> dirs() const = 0;
    // Creates the project's parent where missing (v2: enables the controllers in its
    // cgroup.subtree_control) and the container's own directory.
    virtual void create() = 0;
    virtual void apply(const Limits& limits) = 0;
    // Moves process `pid` (all its threads) into the cgroup: cgroup.procs.
    virtual void add_pid(pid_t pid) = 0;
    virtual Stats stats() = 0;
    // How many processes the OOM killer killed in this cgroup (memory.events / oom_control).
    virtual uint64_t oom_kills() = 0;
    // The memory limit in force (read back: the kernel rounds to pages); nullopt = none.
    virtual std::optional<uint64_t> memory_limit() = 0;
    // Current values for the peaks the kernel does not keep (no memory.peak / pids.peak file).
    virtual void sample() = 0;
    // Kills what is left inside, removes the directories (retrying while EBUSY). Idempotent.
    virtual void destroy() = 0;
};

// v2: one directory `root`/minibox/`id`, with `controllers` enabled in minibox/cgroup.subtree_control.
std::unique_ptr<Cgroup> make_v2(std::string root, std::string id, std::set<std::string> controllers);
// v1: `hierarchies` maps each controller to use to its mount point; one directory per distinct
// hierarchy: <mount>/minibox/`id`.
std::unique_ptr<Cgroup> make_v1(std::map<std::string, std::string> hierarchies, std::string id);
// The backend for `host`, with the controllers in `wanted` that it has.
std::unique_ptr<Cgroup> open(const Host& host, const std::string& id, const std::set<std::string>& wanted);

// Removes one container directory, whatever the backend: kills the processes still in it
// (cgroup.kill where the kernel has it, else SIGKILL by pid from cgroup.procs), then rmdir,
// retried while EBUSY. Refuses a path whose parent is not named minibox. ENOENT is success.
void remove_dir(const std::string& dir);

// Removes the project's parent (minibox/) of the container directory `dir` when no other
// container is left in it, so a host without running containers keeps nothing of ours.
// EBUSY/ENOTEMPTY (another container lives there) and ENOENT are not errors. Call it under
// the same state::Lock as creation, or a start could lose its parent between mkdir calls.
void remove_parent_if_empty(const std::string& dir);

// Numbers from cgroup files, for the backends and the tests (nullopt when absent; the whole
// file is files::read from common/files.hpp).
// `key value` lines (memory.events, cpu.stat, memory.oom_control): the value of `key`.
std::optional<uint64_t> read_key(const std::string& path, const std::string& key);
std::optional<uint64_t> read_number(const std::string& path);

}  // namespace cgroup
