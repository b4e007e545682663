// A program on a pseudo-terminal, driven as a person at a keyboard would: for the tests of
// --step, which must wait for Enter and give the terminal back and forth between the tool and
// the container (a pipe would hide what goes wrong on a real terminal: SIGTTIN, EIO, wrapping).
//
// forkpty(3) makes the program a session leader with the pty as its controlling terminal, in
// the foreground, with the given window size. Its process group has no parent in the session,
// so a read from the background gets EIO instead of a stop (see termios(3)); both fail a run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace docs {

class PtySession {
public:
    // Starts argv (PATH is searched) with `env` ("NAME=value") added to this environment.
    PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               unsigned short columns = 80);
    ~PtySession();  // kills (SIGKILL) and reaps it if still running
    PtySession(const PtySession&) = delete;
    PtySession& operator=(const PtySession&) = delete;

    pid_t pid() const { return pid_; }
    // Reads until `needle` appears after what earlier waits consumed; true when it did, false on
    // EOF or timeout. The consumed position moves past the needle.
    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Like wait_for, for the first of several needles; returns its index or -1.
    int wait_for_any(const std::vector<std::string>& needles,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));
    void send(const std::string& keys);
    // Reads to EOF and reaps; returns the exit status (128+N for signal N), or -2 when the
    // program was stopped (it is then killed), -1 on timeout.
    int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // Everything read so far, "\r" and colour escapes removed.
    std::string output() const;
    // What the consumed position has passed (output() up to it).
    std::string consumed() const;

private:
    bool read_some(std::chrono::milliseconds timeout);  // false on EOF or timeout
    pid_t pid_ = -1;
    int master_ = -1;
    std::string raw_;
    size_t pos_ = 0;  // into clean text
    bool eof_ = false;
    bool reaped_ = false;
};

// The lines of `text` (no trailing "\n").
std::vector<std::string> split_lines(const std::string& text);

}  // namespace docs
