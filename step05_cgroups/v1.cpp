// cgroup v1: a hierarchy per controller (or per group of co-mounted controllers), each its own
// tree. A container gets one directory in every hierarchy it uses, and its pid is written to
// each of them. Quirks: a new cpuset cgroup starts with no CPUs and no memory nodes, so they
// are copied from the parent before any process can join; swap is limited as memory+swap.
#include <fmt/format.h>

#include <algorithm>

#include "files.hpp"
#include "backend_impl.hpp"
#include "error.hpp"

namespace cgroup {
namespace {

using detail::exists;
using detail::write_file;

class V1 : public Cgroup {
public:
    V1(std::map<std::string, std::string> hierarchies, std::string id) {
        for (auto& [controller, mount] : hierarchies) {
            std::string dir = mount + "/" + kParent + "/" + id;
            of_[controller] = dir;
            if (std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end()) dirs_.push_back(dir);
        }
    }

    std::vector<std::string> dirs() const override { return dirs_; }

    void create() override {
        for (auto& dir : dirs_) {
            std::string parent = dir.substr(0, dir.find_last_of('/'));
            std::string mount = parent.substr(0, parent.find_last_of('/'));
            detail::make_dir(parent, true, "the project's own parent in this hierarchy");
            if (dir == of("cpuset")) inherit_cpuset(mount, parent);
            detail::make_dir(dir, false, "the container's own cgroup in this hierarchy");
            made_.push_back(dir);
            if (dir == of("cpuset")) inherit_cpuset(parent, dir);
        }
    }

    void apply(const Limits& l) override {
        if (l.memory) {
            std::string dir = of("memory");
            write_file(dir, "memory.limit_in_bytes", std::to_string(*l.memory),
                       "above this the kernel reclaims, then OOM-kills");
            // memsw counts memory + swap (docker's --memory-swap as is). Unset: twice the memory
            // (docker's default); -1: unlimited. Absent when the kernel has no swap accounting.
            std::string memsw;
            if (!l.memory_swap) memsw = std::to_string(2 * *l.memory);
            else if (*l.memory_swap < 0) memsw = "-1";
            else memsw = std::to_string(*l.memory_swap);
            if (exists(dir + "/memory.memsw.limit_in_bytes")) {
                write_file(dir, "memory.memsw.limit_in_bytes", memsw, "memory + swap together");
            } else if (l.memory_swap) {
                throw Error("--memory-swap: this kernel has no swap accounting (no memory.memsw.limit_in_bytes)");
            }
        }
        if (l.cpus) {
            std::string dir = of("cpu");
            write_file(dir, "cpu.cfs_period_us", std::to_string(kCpuPeriodUs), "the accounting period");
            write_file(dir, "cpu.cfs_quota_us", std::to_string(cpu_quota_us(*l.cpus)),
                       "CPU time allowed per period, then throttled until the next");
        }
        if (l.cpu_shares) {
            write_file(of("cpu"), "cpu.shares", std::to_string(*l.cpu_shares), "a share of the CPU under contention");
        }
        if (!l.cpuset_cpus.empty()) {
            write_file(of("cpuset"), "cpuset.cpus", l.cpuset_cpus, "the container's processes run on these CPUs only");
        }
        if (l.pids) {
            write_file(of("pids"), "pids.max", std::to_string(*l.pids), "fork() and clone() fail with EAGAIN beyond this");
        }
    }

    void add_pid(pid_t pid) override {
        for (auto& dir : dirs_) {
            write_file(dir, "cgroup.procs", std::to_string(pid), "the process joins this hierarchy's cgroup");
        }
    }

    Stats stats() override {
        Stats s;
        std::string mem = of("memory");
        if (auto v = read_number(mem + "/memory.max_usage_in_bytes"); v && !mem.empty()) {
            s.memory_peak = v;
            s.memory_peak_from = "memory.max_usage_in_bytes";
        }
        std::string acct = of("cpuacct");
        if (auto v = read_number(acct + "/cpuacct.usage"); v && !acct.empty()) {
            s.cpu_usec = *v / 1000;  // nanoseconds
            s.cpu_from = "cpuacct.usage";
        }
        std::string pids = of("pids");
        if (!pids.empty()) {
            if (auto v = read_number(pids + "/pids.peak")) {
                s.pids_peak = v;
                s.pids_peak_from = "pids.peak";
            } else {
                s.pids_peak = sampled_pids_;
                s.pids_peak_from = "pids.current sampled every 10 ms (no pids.peak before Linux 6.13)";
            }
        }
        return s;
    }

    uint64_t oom_kills() override {
        std::string mem = of("memory");
        if (mem.empty()) return 0;
        // "oom_kill N" since Linux 4.13; failcnt only counts hits of the limit, not kills.
        return read_key(mem + "/memory.oom_control", "oom_kill").value_or(0);
    }

    std::optional<uint64_t> memory_limit() override {
        std::string mem = of("memory");
        if (mem.empty()) return std::nullopt;
        auto v = read_number(mem + "/memory.limit_in_bytes");
        if (v && *v >= (1ULL << 62)) return std::nullopt;  // "unlimited" is a huge page-rounded number
        return v;
    }

    void sample() override {
        std::string pids = of("pids");
        if (pids.empty()) return;
        if (auto v = read_number(pids + "/pids.current")) sampled_pids_ = std::max(sampled_pids_, *v);
    }

    void destroy() override {
        std::optional<Error> first;
        while (!made_.empty()) {
            try {
                remove_dir(made_.back());
            } catch (const Error& e) {
                if (!first) first = e;
            }
            made_.pop_back();
        }
        if (first) throw *first;
    }

private:
    std::string of(const std::string& controller) const {
        auto it = of_.find(controller);
        return it == of_.end() ? "" : it->second;
    }

    // A fresh cpuset cgroup has empty cpuset.cpus and cpuset.mems: no process may join until
    // both are set. Copy the parent's (unless already set, e.g. the shared parent).
    static void inherit_cpuset(const std::string& from, const std::string& to) {
        for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
            std::string mine = files::read(to + "/" + file);
            if (mine.find_first_not_of(" \n") != std::string::npos) continue;
            std::string theirs = files::read(from + "/" + file);
            while (!theirs.empty() && theirs.back() == '\n') theirs.pop_back();
            write_file(to, file, theirs, "a new v1 cpuset starts empty: copy the parent's");
        }
    }

    std::map<std::string, std::string> of_;  // controller -> the container's directory
    std::vector<std::string> dirs_;           // distinct directories, in creation order
    std::vector<std::string> made_;           // created so far (removed in reverse)
    uint64_t sampled_pids_ = 0;
};

}  // namespace

std::unique_ptr<Cgroup> make_v1(std::map<std::string, std::string> hierarchies, std::string id) {
    return std::make_unique<V1>(std::move(hierarchies), std::move(id));
}

}  // namespace cgroup
