// Parse nsinfo's "key: value" lines, for the tools tests.
#pragma once

#include <map>
#include <sstream>
#include <string>

namespace nsinfo_test {

inline std::map<std::string, std::string> facts(const std::string& out) {
    std::map<std::string, std::string> f;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        auto colon = line.find(": ");
        if (colon != std::string::npos) f[line.substr(0, colon)] = line.substr(colon + 2);
    }
    return f;
}

}  // namespace nsinfo_test
