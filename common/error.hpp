// Errors: one type that carries what failed, errno, the exit code the tool should end with,
// and, where the cause is common, a hint for the learner.
//
// Exit codes follow `docker run`:
//   125  the tool itself failed (bad input, a kernel call refused)
//   126  the command was found but could not be executed
//   127  the command was not found
//   else the container's own status (128+N when a signal N ended it)
#pragma once

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace exit_code {
inline constexpr int tool_failed = 125;
inline constexpr int cannot_execute = 126;
inline constexpr int not_found = 127;
}  // namespace exit_code

class Error : public std::exception {
public:
    explicit Error(std::string message, int exit = exit_code::tool_failed, int err = 0)
        : message_(std::move(message)), exit_(exit), errno_(err) {}

    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& message() const { return message_; }
    int exit_status() const { return exit_; }
    int err() const { return errno_; }  // 0 when no system call failed
    const std::string& hint() const { return hint_; }

    // Context is added as the error travels up: "write 100 to pids.max: Device busy".
    Error& context(std::string_view what) {
        message_ = std::string(what) + ": " + message_;
        return *this;
    }
    Error& with_hint(std::string h) {
        hint_ = std::move(h);
        return *this;
    }

    // One line for the user, with the hint after a dash.
    std::string line() const { return hint_.empty() ? message_ : message_ + " - " + hint_; }

private:
    std::string message_;
    int exit_;
    int errno_;
    std::string hint_;
};

// A failed system call: `call` is written as the learner would read it, with symbolic flags,
// e.g. mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV).
class SysError : public Error {
public:
    SysError(std::string call, int err);
};

// Throw SysError(call, errno) when rc == -1; return rc otherwise.
long check(long rc, std::string_view call);

// "CLONE_NEWUTS|CLONE_NEWPID" from a bit mask and a table of names; unknown bits in hex.
std::string spell_flags(unsigned long value,
                        std::initializer_list<std::pair<unsigned long, const char*>> names);
