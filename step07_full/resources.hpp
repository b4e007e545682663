// The container's cgroup, as config.json asks for it: linux.cgroupsPath and linux.resources,
// on cgroup v2 and on v1 (pure and hybrid hosts), reusing step05's backends.
//
// cgroupsPath is a path below the root of every hierarchy ("/machine/ctr1"; a relative one is
// put under the project's parent "minibox/"); with --systemd-cgroup it is "slice:prefix:name"
// and becomes <slice>/<prefix>-<name>.scope, as runc names it (without asking systemd: this
// runtime writes the cgroup files itself, and says so). The device rules are a
// devices.allow/devices.deny list on v1 and a BPF_PROG_TYPE_CGROUP_DEVICE program on v2
// (devices_bpf.hpp). Freezing uses the v1 freezer or v2's cgroup.freeze.
// See cgroups(7), Documentation/admin-guide/cgroup-v2.rst, config-linux.md.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spec.hpp"

namespace resources {

class Container {
public:
    // Plans where the cgroup goes; validates cgroups_path and the resources against the host
    // (a controller missing, a value out of range: Error exit 125). Touches nothing.
    static Container plan(const std::string& cgroups_path, const std::string& id, bool systemd,
                          const std::optional<spec::Resources>& res);
    // Reopens the directories a previous `create` recorded (state.json).
    static Container from_dirs(std::vector<std::string> dirs);

    std::vector<std::string> dirs() const;
    // mkdir, limits, device rules. Cleans up what it made if it fails half-way.
    void create();
    void add_pid(pid_t pid);                  // cgroup.procs in every directory
    void update(const spec::Resources& res);  // `update --resources`
    void freeze();                            // returns once the kernel says frozen
    void thaw();
    bool frozen() const;
    std::vector<pid_t> pids() const;          // every process in it (cgroup.procs)
    void signal_all(int sig) const;           // kill --all
    // Kills what is left, removes the directories (and project parents left empty). Idempotent.
    void destroy();
    // Counters for `events --stats`/engines: memory usage and peak, cpu time, pids.
    nlohmann::json stats() const;
    bool oom_killed() const;

    Container(Container&&) noexcept;
    Container& operator=(Container&&) noexcept;
    ~Container();

private:
    Container();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace resources
