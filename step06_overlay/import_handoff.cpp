// step06_overlay's half of import_cli.hpp: hand `image import` to step06_overlay-import, the
// same program with the importer linked in, found next to this executable.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "error.hpp"
#include "import_cli.hpp"

namespace image {

int run_import(const std::string&, const std::string&, std::uint64_t, char** argv) {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) throw SysError("readlink(/proc/self/exe)", errno);
    self[n] = '\0';
    std::string companion = std::string(self) + "-import";  // .../bin/step06_overlay-import
    ::execv(companion.c_str(), argv);                        // argv unchanged: it parses it again
    throw Error("execv " + companion + ": " + std::strerror(errno), exit_code::cannot_execute, errno)
        .with_hint("step06_overlay-import is built with step06_overlay (cmake --build build)");
}

}  // namespace image
