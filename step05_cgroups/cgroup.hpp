// cgroups: limits on what a group of processes may use (memory, CPU, pids, CPUs).
//
// The kernel accounts every process to one cgroup per hierarchy; a cgroup is a directory in
// the cgroup filesystem, its limits are files, and writing a pid to cgroup.procs moves a
// process in (its future children follow). No clone flag: the child joins from outside, before
// it runs one instruction of the command. See cgroups(7), Documentation/admin-guide/cgroup-v2.rst.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend.hpp"
#include "cli.hpp"
#include "launcher.hpp"
#include "limits.hpp"

namespace cgroup {

struct Config {
    Limits limits;
    bool stats = false;      // print peak memory, CPU time and peak pids at exit
    bool join_late = false;  // teaching toggle: join only after execve (a race, on purpose)
};

// Adds -m/--memory, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit, --stats,
// --join-late; each value is checked while the command line is parsed.
void add_options(CLI::App& app, Config& cfg);

// The checks that need the host: every controller the limits need exists, --memory-swap has
// --memory and swap accounting. Throws Error (exit 125).
void validate(const Limits& limits, const Host& host);

// How long --join-late lets the command run before its pid is written.
inline constexpr int kJoinLateMs = 200;

class Layer : public launch::Layer {
public:
    // Detects the layout and validates the limits: a bad input throws here, before launch::run.
    explicit Layer(Config cfg, const std::string& cgroup_base = "/sys/fs/cgroup");
    ~Layer() override;
    const char* name() const override { return "cgroup"; }
    void prepare_host(launch::Context& ctx) override;
    void join_child(launch::Context& ctx) override;
    void cleanup(launch::Context& ctx) noexcept override;

    const Host& host() const { return host_; }

private:
    void stop_threads() noexcept;

    Config cfg_;
    Host host_;
    std::unique_ptr<Cgroup> cg_;
    std::string record_;
    std::thread late_, sampler_;
    std::atomic<bool> stop_{false};
};

// Records: run_dir()/cgroup-<id> holds the owner ("pid:start") and the container's directories.
// Written before the first mkdir, removed after the last rmdir.
std::string write_record(const std::string& id, const std::vector<std::string>& dirs);
struct DeadRecord {
    std::string record;
    std::string owner;
    std::vector<std::string> dirs;
};
// Records whose owner is dead (the tool was killed): what the next start removes.
std::vector<DeadRecord> dead_records();
// Removes the cgroups of dead containers and their records; returns the directories removed.
std::vector<std::string> reap_dead();

}  // namespace cgroup
