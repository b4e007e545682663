#include "cli.hpp"

#include <cstring>

namespace builder_cli {

bool claims(int argc, char** argv) {
    // the first word that is not a global option of the runtime's
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (a[0] == '-') {
            // the runtime's global options that take a value: skip it too (--root build create)
            for (const char* v : {"--root", "--log", "--log-format", "--log-level"}) {
                if (std::strcmp(a, v) == 0) ++i;
            }
            continue;
        }
        return std::strcmp(a, "build") == 0 || std::strcmp(a, "commit") == 0;
    }
    return false;
}

int main(int, char**) { return 125; }

}  // namespace builder_cli
