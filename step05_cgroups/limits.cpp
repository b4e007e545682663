#include "limits.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <fstream>

#include "error.hpp"

namespace cgroup {
namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

uint64_t parse_size(const std::string& text) {
    // A number (maybe with a fraction), then an optional unit: b k m g t, optionally followed
    // by "b" or "ib" (docker accepts "64m", "64mb", "64MiB").
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    std::string number = text.substr(0, i), unit = lower(text.substr(i));
    auto invalid = [&] {
        return Error(fmt::format("invalid size \"{}\": expected a number with an optional unit (b, k, m, g), e.g. 64m", text));
    };
    if (number.empty() || number == "." || number.find('.') != number.rfind('.')) throw invalid();
    static const std::pair<const char*, int> units[] = {
        {"", 0}, {"b", 0}, {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20}, {"mb", 20}, {"mib", 20},
        {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40}, {"tb", 40}, {"tib", 40}};
    int shift = -1;
    for (auto& [name, s] : units)
        if (unit == name) shift = s;
    if (shift < 0) throw invalid();
    long double value = std::stold(number) * std::pow(2.0L, shift);
    if (value >= 18446744073709551615.0L) throw Error(fmt::format("size \"{}\" is too large", text));
    auto bytes = static_cast<uint64_t>(value);
    if (bytes == 0) throw Error(fmt::format("invalid size \"{}\": must be more than 0 bytes", text));
    return bytes;
}

std::string format_size(uint64_t bytes) {
    static const std::pair<uint64_t, const char*> units[] = {
        {1ULL << 40, "TiB"}, {1ULL << 30, "GiB"}, {1ULL << 20, "MiB"}, {1ULL << 10, "KiB"}};
    for (auto& [size, name] : units)
        if (bytes >= size && bytes % size == 0) return fmt::format("{} {}", bytes / size, name);
    if (bytes >= (1ULL << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1ULL << 20));
    return fmt::format("{} bytes", bytes);
}

double parse_cpus(const std::string& text, unsigned online) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (...) {
        used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(v)) {
        throw Error(fmt::format("invalid --cpus \"{}\": expected a number of CPUs, e.g. 0.5", text));
    }
    if (v <= 0) throw Error(fmt::format("invalid --cpus {}: must be more than 0", text));
    if (v > online) {
        throw Error(fmt::format("invalid --cpus {}: this machine has {} CPU{}", text, online, online == 1 ? "" : "s"));
    }
    (void)cpu_quota_us(v);  // below the kernel's floor?
    return v;
}

uint64_t cpu_quota_us(double cpus) {
    auto quota = static_cast<uint64_t>(std::llround(cpus * kCpuPeriodUs));
    if (quota < kMinCpuQuotaUs) {
        throw Error(fmt::format("invalid --cpus {}: the kernel's smallest quota is {} us per {} us period, i.e. --cpus {}",
                                cpus, kMinCpuQuotaUs, kCpuPeriodUs, double(kMinCpuQuotaUs) / kCpuPeriodUs));
    }
    return quota;
}

uint64_t shares_to_weight(uint64_t shares) {
    if (shares < kMinShares) shares = kMinShares;
    if (shares > kMaxShares) shares = kMaxShares;
    return 1 + ((shares - 2) * 9999) / 262142;
}

std::set<unsigned> parse_cpu_list(const std::string& text) {
    auto bad = [&] { return Error(fmt::format("invalid CPU list \"{}\": expected e.g. 0-1,3", text)); };
    std::set<unsigned> cpus;
    if (text.empty()) throw bad();
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        std::string part = text.substr(start, end - start);
        size_t dash = part.find('-');
        auto num = [&](const std::string& s) -> unsigned {
            if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) throw bad();
            return static_cast<unsigned>(std::stoul(s));
        };
        unsigned lo = num(part.substr(0, dash));
        unsigned hi = dash == std::string::npos ? lo : num(part.substr(dash + 1));
        if (hi < lo) throw bad();
        for (unsigned c = lo; c <= hi; ++c) cpus.insert(c);
        start = end + 1;
    }
    return cpus;
}

std::string format_cpu_list(const std::set<unsigned>& cpus) {
    std::string out;
    for (auto it = cpus.begin(); it != cpus.end();) {
        unsigned lo = *it, hi = lo;
        while (++it != cpus.end() && *it == hi + 1) hi = *it;
        if (!out.empty()) out += ",";
        out += lo == hi ? std::to_string(lo) : fmt::format("{}-{}", lo, hi);
    }
    return out;
}

std::string check_cpuset(const std::string& text, const std::set<unsigned>& online) {
    auto cpus = parse_cpu_list(text);
    for (unsigned c : cpus) {
        if (!online.count(c)) {
            throw Error(fmt::format("invalid --cpuset-cpus {}: CPU {} does not exist or is offline (online: {})", text, c,
                                    format_cpu_list(online)));
        }
    }
    return format_cpu_list(cpus);
}

std::set<unsigned> online_cpus() {
    std::ifstream f("/sys/devices/system/cpu/online");
    std::string line;
    std::getline(f, line);
    try {
        return parse_cpu_list(line);
    } catch (const Error&) {
        return {0};
    }
}

std::set<std::string> required_controllers(const Limits& l) {
    std::set<std::string> c;
    if (l.memory || l.memory_swap) c.insert("memory");
    if (l.cpus || l.cpu_shares) c.insert("cpu");
    if (!l.cpuset_cpus.empty()) c.insert("cpuset");
    if (l.pids) c.insert("pids");
    return c;
}

}  // namespace cgroup
