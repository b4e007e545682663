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
