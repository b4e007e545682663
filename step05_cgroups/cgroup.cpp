#include "cgroup.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "error.hpp"
#include "fault.hpp"
#include "narrate.hpp"
#include "state.hpp"

namespace cgroup {
namespace {

// A CLI11 check from a parser that throws Error: the message becomes the one line of exit 125.
template <class F>
CLI::Validator checked(F parse, const std::string& what) {
    return CLI::Validator(
        [parse](std::string& text) -> std::string {
            try {
                parse(text);
            } catch (const Error& e) {
                return e.message();
            }
            return "";
        },
        // The description is what --help prints after the type ("SIZE:SIZE"): none here.
        "", what);
}

uint64_t parse_memory(const std::string& text) {
    uint64_t bytes = parse_size(text);
    if (bytes < kMinMemory) {
        throw Error(fmt::format("{} is below the minimum of {}: the container's first process could not start",
                                text, format_size(kMinMemory)));
    }
    return bytes;
}

int64_t parse_swap(const std::string& text) {
    if (text == "-1") return -1;
    return static_cast<int64_t>(parse_size(text));
}

int64_t parse_integer(const std::string& text, const std::string& option, int64_t lo, int64_t hi) {
    size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (...) {
        used = 0;
    }
    if (used == 0 || used != text.size()) throw Error(fmt::format("invalid {} \"{}\": expected a whole number", option, text));
    if (v < lo || v > hi) throw Error(fmt::format("invalid {} {}: must be between {} and {}", option, text, lo, hi));
    return v;
}

unsigned online_count() { return static_cast<unsigned>(online_cpus().size()); }

// The controllers a container's cgroup always joins when the host has them: memory for the OOM
// report and the peak, pids for the peak and for killing what is left, cpuacct (v1) for CPU time.
std::set<std::string> wanted(const Limits& l) {
    auto c = required_controllers(l);
    c.insert("memory");
    c.insert("pids");
    c.insert("cpuacct");  // v1 only; v2's cpu.stat needs no controller
    return c;
}

const char* option_of(const std::string& controller) {
    static const std::map<std::string, const char*> m = {
        {"memory", "--memory"}, {"cpu", "--cpus/--cpu-shares"}, {"cpuset", "--cpuset-cpus"}, {"pids", "--pids-limit"}};
    auto it = m.find(controller);
    return it == m.end() ? "" : it->second;
}

}  // namespace

void add_options(CLI::App& app, Config& cfg) {
    auto& l = cfg.limits;
    app.add_option_function<std::string>("-m,--memory", [&l](const std::string& s) { l.memory = parse_memory(s); },
                                         "memory limit, e.g. 64m, 1g, or bytes (at least 6m)")
        ->type_name("SIZE")
        ->check(checked(parse_memory, "SIZE"));
    app.add_option_function<std::string>("--memory-swap", [&l](const std::string& s) { l.memory_swap = parse_swap(s); },
                                         "memory plus swap (docker's meaning; -1: unlimited swap; default: twice --memory)")
        ->type_name("SIZE")
        ->check(checked(parse_swap, "SIZE"));
    app.add_option_function<std::string>(
           "--cpus", [&l](const std::string& s) { l.cpus = parse_cpus(s, online_count()); },
           "CPU time, in CPUs: 0.5 = half of one CPU per 100 ms period")
        ->type_name("N")
        ->check(checked([](const std::string& s) { parse_cpus(s, online_count()); }, "N"));
    auto shares = [](const std::string& s) {
        return static_cast<uint64_t>(parse_integer(s, "--cpu-shares", kMinShares, kMaxShares));
    };
    app.add_option_function<std::string>("--cpu-shares", [&l, shares](const std::string& s) { l.cpu_shares = shares(s); },
                                         "relative CPU weight under contention (default 1024)")
        ->type_name("N")
        ->check(checked(shares, "N"));
    app.add_option_function<std::string>(
           "--cpuset-cpus", [&l](const std::string& s) { l.cpuset_cpus = check_cpuset(s, online_cpus()); },
           "the CPUs the container may run on, e.g. 0 or 0-1,3")
        ->type_name("LIST")
        ->check(checked([](const std::string& s) { check_cpuset(s, online_cpus()); }, "LIST"));
    auto pids = [](const std::string& s) { return parse_integer(s, "--pids-limit", 1, 4194304); };
    app.add_option_function<std::string>("--pids-limit", [&l, pids](const std::string& s) { l.pids = pids(s); },
                                         "at most N processes and threads in the container")
        ->type_name("N")
        ->check(checked(pids, "N"));
    app.add_flag("--stats", cfg.stats, "print the peak memory, CPU time and peak pids of the cgroup at exit");
    app.add_flag("--join-late", cfg.join_late,
                 "teaching toggle: join the cgroup only after exec, so the command starts unlimited (a race)");
}

void validate(const Limits& l, const Host& host) {
    if (host.layout == Layout::none) {
        throw Error("no cgroup filesystem at /sys/fs/cgroup")
            .with_hint("mount -t cgroup2 none /sys/fs/cgroup (or run minibox doctor)");
    }
    for (auto& c : required_controllers(l)) {
        if (!host.controllers.count(c)) {
            std::string where = host.uses_v2() ? host.v2 + "/cgroup.subtree_control" : "/proc/self/mountinfo";
            throw Error(fmt::format("{} needs the {} controller, which this host does not offer ({}; see {})",
                                    option_of(c), c, layout_name(host.layout), where));
        }
    }
    if (l.memory_swap) {
        if (!l.memory) throw Error("--memory-swap needs --memory (it counts memory plus swap)");
        if (*l.memory_swap >= 0 && static_cast<uint64_t>(*l.memory_swap) < *l.memory) {
            throw Error(fmt::format("--memory-swap {} is less than --memory {}: it counts memory plus swap",
                                    format_size(*l.memory_swap), format_size(*l.memory)));
        }
        if (!host.uses_v2()) {
            auto it = host.v1.find("memory");
            if (it != host.v1.end() && ::access((it->second + "/memory.memsw.limit_in_bytes").c_str(), F_OK) != 0) {
                throw Error("--memory-swap: this kernel does not account swap (no memory.memsw.limit_in_bytes)")
                    .with_hint("boot with swapaccount=1");
            }
        }
    }
}

Layer::Layer(Config cfg, const std::string& cgroup_base) : cfg_(std::move(cfg)), host_(detect(cgroup_base)) {
    validate(cfg_.limits, host_);
}

Layer::~Layer() { stop_threads(); }

void Layer::prepare_host(launch::Context& ctx) {
    narrate::note("cgroup", std::string("layout: ") + layout_name(host_.layout));
    {
        // One start at a time here: reaping, the shared parent and its subtree_control.
        state::Lock lock("cgroup");
        reap_dead();
        cg_ = open(host_, ctx.id, wanted(cfg_.limits));
        // The record first: if the tool dies after the mkdir, the next start knows the owner.
        record_ = write_record(ctx.id, cg_->dirs());
        cg_->create();
    }
    cg_->apply(cfg_.limits);
    if (cfg_.join_late) {
        narrate::warn(fmt::format("--join-late: the command runs outside its cgroup, unlimited, for its first {} ms "
                                  "(a teaching toggle: never use it for real)", kJoinLateMs));
    }
}

void Layer::join_child(launch::Context& ctx) {
    // Threads start only now, after clone(): a clone of a process whose other thread holds a
    // lock (malloc's) would leave the child with that lock held forever.
    if (cfg_.stats) {
        sampler_ = std::thread([this] {
            while (!stop_) {
                cg_->sample();
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        });
    }
    if (!cfg_.join_late) {
        // The child waits for "go": it is in the cgroup before it runs the command.
        cg_->add_pid(ctx.pid);
        return;
    }
    pid_t pid = ctx.pid;
    late_ = std::thread([this, pid] {
        for (int waited = 0; waited < kJoinLateMs && !stop_; waited += 10)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (stop_) return;
        try {
            cg_->add_pid(pid);
        } catch (const Error& e) {
            narrate::warn("--join-late: " + e.line());
        }
    });
}

void Layer::stop_threads() noexcept {
    stop_ = true;
    if (late_.joinable()) late_.join();
    if (sampler_.joinable()) sampler_.join();
}

void Layer::cleanup(launch::Context&) noexcept {
    fault::Suspend undo;  // tests: fault injection fails the doing, never the undoing
    stop_threads();
    if (!cg_) return;
    try {
        // What the kernel recorded, read before the directory goes.
        if (uint64_t kills = cg_->oom_kills()) {
            auto limit = cg_->memory_limit();
            narrate::error(fmt::format("killed: out of memory, limit {}{}", limit ? format_size(*limit) : "none",
                                       kills > 1 ? fmt::format(" ({} processes killed)", kills) : ""));
        }
        if (cfg_.stats) {
            Stats s = cg_->stats();
            auto line = [](const std::string& what, const std::string& value, const std::string& from) {
                std::fprintf(stderr, "stats: %-12s %s (%s)\n", what.c_str(), value.c_str(), from.c_str());
            };
            if (s.memory_peak) line("memory peak", format_size(*s.memory_peak), s.memory_peak_from);
            if (s.cpu_usec) line("cpu time", fmt::format("{:.3f} s", *s.cpu_usec / 1e6), s.cpu_from);
            if (s.pids_peak) line("pids peak", std::to_string(*s.pids_peak), s.pids_peak_from);
        }
    } catch (const std::exception& e) {
        narrate::warn(std::string("reading the cgroup's counters: ") + e.what());
    }
    try {
        cg_->destroy();
        if (!record_.empty()) ::unlink(record_.c_str());
        record_.clear();
        // Under the lock that creation holds: no start can be between its two mkdirs.
        state::Lock lock("cgroup");
        for (auto& dir : cg_->dirs()) remove_parent_if_empty(dir);
    } catch (const Error& e) {
        // The record stays: the next start (or minibox cleanup) retries.
        narrate::warn("removing the cgroup: " + e.line());
    } catch (const std::exception& e) {
        narrate::warn(std::string("removing the cgroup: ") + e.what());
    }
    cg_.reset();
}

}  // namespace cgroup
