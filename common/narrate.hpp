// Narration: the toolkit explains itself.
//
// Every kernel operation a layer performs goes through narrate::sys() (or narrate::note()), so
// that one switch decides how much the audience sees:
//   quiet    only the container's own output (the default)
//   explain  one line per operation: the call, its result, and why it is made
//   step     before each operation: what is about to happen and a command to run on the host
//            to observe it ("host, before:"); then wait for Enter; after it, the result and the
//            same command again ("host, after:"). --step=net,cgroup pauses in those layers only
//            and explains the others. Lines are wrapped to the terminal's width.
// Narration goes to stderr through one spdlog logger per layer ("[uts]", "[pid]", ...).
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "error.hpp"
#include "fault.hpp"

namespace narrate {

enum class Mode { quiet, explain, step };

void set_mode(Mode m);
// --step=LAYER[,LAYER]: pause only in these layers ("" or "all": every layer). Throws Error
// naming the known layers for an unknown one.
void set_step_layers(std::string_view csv);
Mode mode();

// The container's pid as the host sees it; "{pid}" in an observe command is replaced by it.
void set_container_pid(pid_t pid);

struct Op {
    std::string_view layer;  // "uts", "pid", "mnt", ...
    std::string call;        // as a learner would write it: sethostname("box")
    std::string why;         // one short reason
    std::string observe;     // a host command that shows the effect (may be empty)
};

// Step mode: describe `op` and wait for Enter. Throws Error if the pause was interrupted.
void before(const Op& op);
// Explain and step modes: print the call, its result and the reason.
void after(const Op& op, std::string_view result);

// Narrate and perform a system call. `f` returns the raw result (-1 and errno on failure);
// a failure throws SysError naming op.call.
template <class F>
long sys(const Op& op, F&& f) {
    before(op);
    long rc;
    if (int injected = fault::inject(op.call)) {  // tests only: see fault.hpp
        errno = injected;
        rc = -1;
    } else {
        rc = static_cast<long>(f());
    }
    if (rc == -1) {
        int err = errno;
        after(op, "-1");
        throw SysError(op.call, err);
    }
    after(op, std::to_string(rc));
    return rc;
}

// Narrate something the tool does that is not one system call (a decision, a summary).
void note(std::string_view layer, std::string_view text);

// The tool's own messages (errors, warnings): "<program>: <text>" on stderr, never timestamped.
void set_program(std::string_view name);
void error(std::string_view text);
void warn(std::string_view text);

}  // namespace narrate
