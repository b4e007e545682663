// libFuzzer target: sizes, CPU counts and CPU lists as the user writes them (step05), and
// port specs (step04).
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.hpp"
#include "limits.hpp"
#include "ports.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        uint64_t b = cgroup::parse_size(text);
        if (b == 0) __builtin_trap();
        (void)cgroup::format_size(b);
    } catch (const Error&) {
    }
    try {
        double c = cgroup::parse_cpus(text, 4);
        if (!(c > 0) || c > 4) __builtin_trap();
        try {
            (void)cgroup::cpu_quota_us(c);
        } catch (const Error&) {
        }
    } catch (const Error&) {
    }
    try {
        auto set = cgroup::parse_cpu_list(text);
        // Canonical text parses back to the same set.
        if (cgroup::parse_cpu_list(cgroup::format_cpu_list(set)) != set && !set.empty()) __builtin_trap();
    } catch (const Error&) {
    }
    net::PortSpec p;
    if (net::parse_port(text, p).empty()) {
        if (p.host == 0 || p.container == 0) __builtin_trap();
        net::PortSpec q;
        if (!net::parse_port(p.str(), q).empty() || !(q == p)) __builtin_trap();
    }
    return 0;
}
