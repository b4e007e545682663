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

#include <linux/bpf.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend.hpp"
#include "spec.hpp"
#include "unique_fd.hpp"

namespace resources {

// Where cgroupsPath puts the container, below the root of every hierarchy: "/a/b" stays,
// "a/b" -> "/minibox/a/b", "" -> "/minibox/<id>", and with `systemd` "slice:prefix:name" ->
// "/<slice path>/<prefix>-<name>.scope" ("a-b.slice" -> "a.slice/a-b.slice", "-.slice" the
// root). Throws Error for "..", the root itself, or a malformed systemd form. Pure.
std::string relative_path(const std::string& cgroups_path, const std::string& id, bool systemd);

// For the unit tests: a layout given instead of detected (a fake tree in a temporary
// directory), and stand-ins for what only the kernel does.
struct Fake {
    cgroup::Host host;
    std::function<void(const std::string& dir)> on_mkdir;  // make the files the kernel would
    std::function<void(const std::string& dir, const std::vector<bpf_insn>&)> attach;  // v2 devices
};

class Container {
public:
    // Plans where the cgroup goes; validates cgroups_path and the resources against the host
    // (a controller missing, a value out of range: Error exit 125). Touches nothing.
    static Container plan(const std::string& cgroups_path, const std::string& id, bool systemd,
                          const std::optional<spec::Resources>& res);
    // Reopens the directories a previous `create` recorded (state.json).
    static Container from_dirs(std::vector<std::string> dirs);
    // The same over a fake tree (unit tests).
    static Container plan(const Fake& fake, const std::string& cgroups_path, const std::string& id, bool systemd,
                          const std::optional<spec::Resources>& res);
    static Container from_dirs(const Fake& fake, std::vector<std::string> dirs);

    std::vector<std::string> dirs() const;
    // The host's cgroup layout this plan was made for (detected once, shared with rootfs).
    const cgroup::Host& host() const;
    // mkdir, limits, device rules. Cleans up what it made if it fails half-way.
    void create();
    void add_pid(pid_t pid);                  // cgroup.procs in every directory

    // The container's first process, without the kernel's grace period. Moving *another*
    // process (its pid into cgroup.procs) takes the global cgroup_threadgroup_rwsem for writing,
    // and the first such write in a while waits for an RCU grace period (8 ms on the course VM:
    // the largest single wait of a `run`). Two ways in take no global lock: a thread moving
    // itself (0 into a v1 hierarchy's `tasks` file), and a process born in its cgroup (clone3
    // with CLONE_INTO_CGROUP, v2 only). So:
    //   parent, after create():  open_entries(v1_self) opens the v2 directory (O_PATH);
    //                            v1_self: the child enters the v1 hierarchies itself
    //   clone:                   the launcher clones into entry_dir() when it is not -1
    //   parent, join_child:      add_pid_rest(pid, born_in_v2): cgroup.procs where neither applies
    //   child, before its namespaces: enter_self() writes 0 to each v1 directory's `tasks`
    // v1_self is for when nothing looks at the process from outside before "go" (a prestart
    // hook may read /proc/PID/cgroup to find the container's devices cgroup, as NVIDIA's does).
    void open_entries(bool v1_self);
    int entry_dir() const;  // the v2 directory's fd, or -1
    void add_pid_rest(pid_t pid, bool born_in_v2);
    void enter_self();
    void close_entries();   // the parent's copy of the v2 fd, once the child is made
    void update(const spec::Resources& res);  // `update --resources`
    void freeze();                            // returns once the kernel says frozen
    void thaw();
    bool frozen() const;
    std::vector<pid_t> pids() const;          // every process in it (cgroup.procs)
    void signal_all(int sig) const;           // kill --all
    // Kills what is left, removes the directories (and project parents left empty). Idempotent.
    void destroy();
    // Counters for `events --stats`/engines, in the shape of runc's events "data":
    // {"cpu":{"usage":{"total","user","kernel"}} (ns), "memory":{"usage":{"usage","max","limit"}},
    //  "pids":{"current","limit"}}; a counter the host does not have is left out.
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
