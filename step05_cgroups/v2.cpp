// cgroup v2: one tree; a controller works in a cgroup only when its parent lists it in
// cgroup.subtree_control. The tool enables its controllers in the parent it owns (minibox/),
// never above: on a systemd host the root already delegates memory, cpu and pids.
#include <fmt/format.h>

#include <algorithm>

#include "files.hpp"
#include "backend_impl.hpp"
#include "error.hpp"

namespace cgroup {
namespace {

using detail::exists;
using detail::write_file;

class V2 : public Cgroup {
public:
    V2(std::string root, std::string id, std::set<std::string> controllers)
        : parent_(root + "/" + kParent), dir_(parent_ + "/" + id), controllers_(std::move(controllers)) {}

    std::vector<std::string> dirs() const override { return {dir_}; }

    void create() override {
        detail::make_dir(parent_, true, "the project's own parent: every container's cgroup lives under it");
        if (!controllers_.empty()) {
            // The parent offers what ITS parent delegated (cgroup.controllers); enabling the rest
            // would take a write above minibox/, which the tool never does.
            std::string offered = " " + files::read(parent_ + "/cgroup.controllers") + " ";
            std::replace(offered.begin(), offered.end(), '\n', ' ');
            std::string enable;
            for (auto& c : controllers_) {
                if (offered.find(" " + c + " ") == std::string::npos) {
                    throw Error(fmt::format("the {} controller is not delegated to {}", c, parent_))
                        .with_hint(fmt::format("the root must enable it: echo +{} > {}/../cgroup.subtree_control "
                                               "(systemd does at boot)", c, parent_));
                }
                enable += (enable.empty() ? "+" : " +") + c;
            }
            write_file(parent_, "cgroup.subtree_control", enable,
                       "the children of minibox/ get these controllers' files");
        }
        detail::make_dir(dir_, false, "the container's own cgroup");
        created_ = true;
    }

    void apply(const Limits& l) override {
        if (l.memory) {
            write_file(dir_, "memory.max", std::to_string(*l.memory), "above this the kernel reclaims, then OOM-kills");
            // Swap: docker's --memory-swap counts memory + swap; v2 limits swap alone.
            // Unset: as much swap again as memory (docker's default); -1: unlimited.
            std::string swap;
            if (!l.memory_swap) swap = std::to_string(*l.memory);
            else if (*l.memory_swap < 0) swap = "max";
            else swap = std::to_string(static_cast<uint64_t>(*l.memory_swap) - *l.memory);
            if (exists(dir_ + "/memory.swap.max")) {
                write_file(dir_, "memory.swap.max", swap, "swap is limited apart from memory in v2");
            } else if (l.memory_swap) {
                throw Error("--memory-swap: this kernel has no swap accounting (no memory.swap.max)");
            }
        }
        if (l.cpus) {
            write_file(dir_, "cpu.max", fmt::format("{} {}", cpu_quota_us(*l.cpus), kCpuPeriodUs),
                       "at most QUOTA us of CPU time per PERIOD us, then throttled");
        }
        if (l.cpu_shares) {
            write_file(dir_, "cpu.weight", std::to_string(shares_to_weight(*l.cpu_shares)),
                       "a share of the CPU under contention (shares 1024 = weight 39, runc's mapping)");
        }
        if (!l.cpuset_cpus.empty()) {
            write_file(dir_, "cpuset.cpus", l.cpuset_cpus, "the container's processes run on these CPUs only");
        }
        if (l.pids) {
            write_file(dir_, "pids.max", std::to_string(*l.pids), "fork() and clone() fail with EAGAIN beyond this");
        }
    }

    void add_pid(pid_t pid) override {
        write_file(dir_, "cgroup.procs", std::to_string(pid), "the process (and what it forks from now on) joins");
    }

    Stats stats() override {
        Stats s;
        if (auto v = read_number(dir_ + "/memory.peak")) {
            s.memory_peak = v;
            s.memory_peak_from = "memory.peak";
        } else if (sampled_memory_) {
            s.memory_peak = sampled_memory_;
            s.memory_peak_from = "memory.current sampled every 10 ms (no memory.peak before Linux 5.19)";
        }
        if (auto v = read_key(dir_ + "/cpu.stat", "usage_usec")) {
            s.cpu_usec = v;
            s.cpu_from = "cpu.stat usage_usec";
        }
        if (auto v = read_number(dir_ + "/pids.peak")) {
            s.pids_peak = v;
            s.pids_peak_from = "pids.peak";
        } else if (exists(dir_ + "/pids.current")) {
            s.pids_peak = sampled_pids_;
            s.pids_peak_from = "pids.current sampled every 10 ms (no pids.peak before Linux 6.13)";
        }
        return s;
    }

    uint64_t oom_kills() override { return read_key(dir_ + "/memory.events", "oom_kill").value_or(0); }

    std::optional<uint64_t> memory_limit() override { return read_number(dir_ + "/memory.max"); }  // "max" -> none

    void sample() override {
        if (auto v = read_number(dir_ + "/memory.current")) sampled_memory_ = std::max(sampled_memory_, *v);
        if (auto v = read_number(dir_ + "/pids.current")) sampled_pids_ = std::max(sampled_pids_, *v);
    }

    void destroy() override {
        if (!created_) return;
        remove_dir(dir_);
        created_ = false;
    }

private:
    std::string parent_, dir_;
    std::set<std::string> controllers_;
    bool created_ = false;
    uint64_t sampled_memory_ = 0, sampled_pids_ = 0;
};

}  // namespace

std::unique_ptr<Cgroup> make_v2(std::string root, std::string id, std::set<std::string> controllers) {
    return std::make_unique<V2>(std::move(root), std::move(id), std::move(controllers));
}

}  // namespace cgroup
