// Small pieces the shim and its client share: Docker's timestamps, whole-file writes that a
// reader never sees half done (write aside, then rename(2)), and running a helper program with
// chosen stdio (fork(2) + execve(2), the way engines run the OCI runtime).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client.hpp"
#include "unique_fd.hpp"

namespace shim {

// "2026-12-01T12:00:00.123456789Z": RFC 3339 with nanoseconds, UTC (Go's RFC3339Nano, as
// Docker writes times; always 9 digits here).
std::string now_rfc3339();

// Writes `text` to PATH.tmp, then renames it over PATH.
void write_atomic(const std::string& path, const std::string& text, mode_t mode = 0644);
// The JSON object in `path`; nullopt when absent or not JSON.
std::optional<nlohmann::json> read_json(const std::string& path);

// Docker's exit code from a waitpid(2) status: the status, or 128+N for signal N.
int exit_code_of(int wait_status);

// Runs argv with fds 0, 1, 2 given (-1: /dev/null), in `cwd` when not empty, and waits for it.
// Signals blocked in the caller are unblocked in the child. Returns exit_code_of().
int run_program(const std::vector<std::string>& argv, int in = -1, int out = -1, int err = -1,
                const std::string& cwd = "");

// Runs argv detached (double fork: the caller is left no zombie and does not wait), stdio
// /dev/null, signals unblocked. Errors are only warned about: nobody is there to report to.
void spawn_detached(const std::vector<std::string>& argv) noexcept;

// Unix socket addresses are at most 107 bytes (unix(7)); a longer path is reached through
// /proc/self/fd/N of its directory, N an O_PATH descriptor held in `dir_holder` until the
// bind(2)/connect(2) returns. Throws Error when the directory cannot be opened.
struct UnixAddress {
    sockaddr_un addr{};
    socklen_t len = 0;
    unique_fd dir_holder;
};
UnixAddress unix_address(const std::string& path);
// A connected SOCK_STREAM socket (CLOEXEC) to `path`; -1 with errno set when refused.
int unix_connect(const std::string& path);

}  // namespace shim
