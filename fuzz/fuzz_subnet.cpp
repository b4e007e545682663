// libFuzzer target: --subnet CIDRs and lease files (step04).
#include <cstddef>
#include <cstdint>
#include <string>

#include "ipam.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    std::string why;
    if (auto s = net::Subnet::parse(text, &why)) {
        if (s->prefix < 8 || s->prefix > 30) __builtin_trap();
        auto again = net::Subnet::parse(s->str());
        if (!again || again->str() != s->str()) __builtin_trap();
        if (!s->contains(s->gateway())) __builtin_trap();
    } else if (why.empty()) {
        __builtin_trap();
    }
    if (auto l = net::Lease::parse(text)) {
        auto again = net::Lease::parse(l->serialize());
        if (!again || again->serialize() != l->serialize()) __builtin_trap();
    }
    return 0;
}
