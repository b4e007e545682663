// The README's and 00-setup's first commands are the ones a fresh Debian 12 cloud image can run:
// it logs in as root and has no sudo, so the root form comes first.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support.hpp"

namespace {

// The first line of the first ```sh block of `file`.
std::string first_sh_line(const std::string& file) {
    std::ifstream f(support::source_dir() + "/" + file);
    bool in_block = false;
    for (std::string line; std::getline(f, line);) {
        if (in_block) return line;
        if (line == "```sh") in_block = true;
    }
    return "";
}

TEST(Readme, FirstCommandIsTheRootForm) {
    for (const char* file : {"README.md", "workshop/00-setup.md"}) {
        std::string line = first_sh_line(file);
        EXPECT_EQ(line.rfind("scripts/setup.sh", 0), 0u) << file << ": " << line;
    }
}

}  // namespace
