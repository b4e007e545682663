// Resource limits as the user writes them (docker's syntax) and as the kernel wants them.
//
// Pure functions, no host access except reading which CPUs are online: the unit tests call them
// directly, and every one of them runs before anything is created on the host.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cgroup {

struct Limits {
    std::optional<uint64_t> memory;       // bytes: v2 memory.max, v1 memory.limit_in_bytes
    std::optional<int64_t> memory_swap;   // memory + swap, bytes; -1 = unlimited (docker's meaning)
    std::optional<double> cpus;           // 0.5 = half a CPU: cpu.max / cfs_quota_us per period
    std::optional<uint64_t> cpu_shares;   // v1 cpu.shares (2..262144); v2 cpu.weight via shares_to_weight
    std::string cpuset_cpus;              // "0-1,3" (normalized); empty = not set
    std::optional<int64_t> pids;          // pids.max
};

// The smallest memory limit accepted: below it the container's first process cannot even start
// (the kernel would take any number of pages; docker refuses below 6 MiB for the same reason).
inline constexpr uint64_t kMinMemory = 6ULL << 20;
// The CFS period the tool uses, and the kernel's floor for a quota (1 ms, kernel/sched/core.c).
inline constexpr uint64_t kCpuPeriodUs = 100000;
inline constexpr uint64_t kMinCpuQuotaUs = 1000;
// cpu.shares bounds (v1, kernel) and cpu.weight bounds (v2).
inline constexpr uint64_t kMinShares = 2, kMaxShares = 262144;

// "64m", "1g", "1.5G", "512k", "100" (bytes), "64MiB", "64mb": binary multiples, as docker.
// Throws Error (exit 125) for anything else, for 0 and for negative sizes.
uint64_t parse_size(const std::string& text);
// "64 MiB", "1 GiB", "512 KiB", "1000 bytes": the largest unit that divides exactly.
std::string format_size(uint64_t bytes);
// "0.5" -> 0.5; rejects negatives, 0, non-numbers, and more than `online_cpus`.
double parse_cpus(const std::string& text, unsigned online_cpus);
// The quota for `cpus` CPUs per kCpuPeriodUs; throws when it falls below the kernel's 1 ms.
uint64_t cpu_quota_us(double cpus);
// runc's conversion: shares 2..262144 map linearly onto weight 1..10000 (1024 -> 39).
uint64_t shares_to_weight(uint64_t shares);
// "0-2,5" -> {0,1,2,5}; throws for syntax errors.
std::set<unsigned> parse_cpu_list(const std::string& text);
// The canonical text of a set: {0,1,2,5} -> "0-2,5".
std::string format_cpu_list(const std::set<unsigned>& cpus);
// Parses `text` and checks every CPU is in `online`; returns the canonical list.
std::string check_cpuset(const std::string& text, const std::set<unsigned>& online);
// The online CPUs (/sys/devices/system/cpu/online).
std::set<unsigned> online_cpus();

// The controllers a set of limits needs: the host must have every one of them.
std::set<std::string> required_controllers(const Limits& limits);

}  // namespace cgroup
