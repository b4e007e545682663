#include "error.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

SysError::SysError(std::string call, int err)
    : Error(call + ": " + std::strerror(err), exit_code::tool_failed, err) {}

long check(long rc, std::string_view call) {
    if (rc == -1) throw SysError(std::string(call), errno);
    return rc;
}

std::string spell_flags(unsigned long value,
                        std::initializer_list<std::pair<unsigned long, const char*>> names) {
    std::string out;
    for (auto [bit, name] : names) {
        if ((value & bit) == bit && bit != 0) {
            if (!out.empty()) out += '|';
            out += name;
            value &= ~bit;
        }
    }
    if (value != 0 || out.empty()) {
        if (!out.empty()) out += '|';
        out += fmt::format("{:#x}", value);
    }
    return out;
}
