// libFuzzer target: -v HOST:CONTAINER[:ro] specs and path normalization (step03).
#include <cstddef>
#include <cstdint>
#include <string>

#include "mnt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    std::string why;
    auto v = mnt::parse_volume(text, why);
    if (v) {
        // What is accepted is absolute, normalized, and not a kernel file system's place.
        if (v->container.empty() || v->container[0] != '/' || mnt::is_kernel_path(v->container)) __builtin_trap();
        if (mnt::normalize(v->container) != v->container) __builtin_trap();
    } else if (why.empty()) {
        __builtin_trap();  // a refusal always says why
    }
    if (auto n = mnt::normalize(text)) {
        if (mnt::normalize(*n) != *n) __builtin_trap();  // idempotent
        if (n->find("/../") != std::string::npos || n->find("//") != std::string::npos) __builtin_trap();
    }
    return 0;
}
