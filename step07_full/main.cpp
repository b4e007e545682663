// step07_full: the OCI runtime (runc's command line, runtime_main.cpp), and the door to
// docker's command line (run IMAGE, ps, logs, pull, build, ...), which lives in a second
// executable next to this one, step07_full-frontend (frontend_main.cpp).
//
// Why two executables: engines start the runtime for every create, start, kill and delete, so
// its start-up is on every container's path (minibox-bench step07 times it against crun and
// runc). The front ends link libcurl, OpenSSL and their ~40 shared libraries; the dynamic
// loader mapping and relocating them cost ~50 ms per run, which the runtime must not pay. So
// this file decides from argv alone, without reading anything: a line that is certainly
// runc's runs here; any other is handed over with execv(2), argv unchanged, and the front end
// decides (falling back to runc's command line when no front end claims it).
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "runtime_main.hpp"

namespace {

// runc's words that docker's command line does not have: always the runtime's.
bool runtime_only(const char* w) {
    for (const char* r : {"create", "state", "delete", "spec", "update", "features", "list", "resume"})
        if (std::strcmp(w, r) == 0) return true;
    return false;
}

// Certainly runc's: a global option of the runtime before the command (engines always pass
// --root or --log; the front ends take only --explain and --step there), a runtime-only word,
// `run --bundle`, or no command at all (--version, --help).
bool certainly_runtime(int argc, char** argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (std::strcmp(argv[i], "--explain") != 0 && std::strcmp(argv[i], "--step") != 0) return true;
    }
    if (i >= argc) return true;
    if (runtime_only(argv[i])) return true;
    if (std::strcmp(argv[i], "run") == 0) {
        for (int j = i + 1; j < argc && argv[j][0] == '-'; ++j)
            if (std::strcmp(argv[j], "-b") == 0 || std::strncmp(argv[j], "--bundle", 8) == 0) return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (certainly_runtime(argc, argv)) return runtime_main(argc, argv);
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        std::string frontend = std::string(self) + "-frontend";  // .../bin/step07_full-frontend
        if (::access(frontend.c_str(), X_OK) == 0) {
            ::execv(frontend.c_str(), argv);
            std::perror(("step07_full: execv " + frontend).c_str());
            return 126;
        }
    }
    // Built without the front ends (or the file is gone): runc's command line, which refuses
    // what it does not know in one line.
    return runtime_main(argc, argv);
}
