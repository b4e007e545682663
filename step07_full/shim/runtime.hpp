// The OCI runtime as the shim drives it: `step07_full --root R --log L --log-format json CMD
// ARGS...`, one process per command, exactly as containerd's shim drives runc. The runtime's
// reason for a failure is read back from --log (its last "level":"error" line).
#pragma once

#include <string>
#include <vector>

namespace shim {

struct Runtime {
    std::string exe;   // step07_full
    std::string root;  // its --root
    std::string log;   // its --log (DIR/runtime.log)

    struct Result {
        int status = 0;      // its exit status (Docker's convention: 125, 126, 127, 1)
        std::string error;   // the runtime's last error line ("" when it succeeded)
        bool ok() const { return status == 0; }
    };
    // Runs the runtime with `args`; fds 0, 1, 2 as given (-1: /dev/null); cwd `cwd` if set.
    Result run(const std::vector<std::string>& args, int in = -1, int out = -1, int err = -1,
               const std::string& cwd = "") const;
};

}  // namespace shim
