// The shim's long-lived part: one container's parent for the container's whole life.
//
// The shim is the container init's parent: the runtime's create forks the init and exits, and
// the kernel re-parents the init to the nearest ancestor marked with prctl(PR_SET_CHILD_SUBREAPER)
// (the shim), so its exit status comes to the shim by waitpid(2). One poll(2) loop serves the
// container's stdout/stderr (pipes, or a pty master), its stdin, the json-file log, SIGCHLD
// (through a signalfd(2)) and the clients on DIR/shim.sock. See prctl(2), signalfd(2), poll(2),
// and shim/protocol.md for what the clients may ask.
#pragma once

#include <string>

namespace shim {

// Runs the shim for DIR (already detached by main): prepares, creates (and maybe starts) the
// container, writes the ready line to `ready_fd`, serves until the container's life ends, cleans
// up. Returns the shim's exit status (0, or the failure's code when it never became ready).
int serve(const std::string& dir, int ready_fd);

}  // namespace shim
