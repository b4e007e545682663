// What every test needs: run a built tool and capture what it prints, find built binaries and
// the default image, look at a process from the host, and skip (or, under CI=true, fail) when
// a privileged test is not run as root.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace support {

struct Result {
    int status = -1;  // exit status, or 128+N when killed by signal N
    std::string out;
    std::string err;
};

// build/bin/<name>
std::string bin(const std::string& name);
// The default image's root filesystem ($MINIBOX_ROOT/images/busybox/rootfs).
std::string busybox_rootfs();
// The source tree (for the workshop chapters).
std::string source_dir();

// Run argv to completion; stdin is `input` (or /dev/null), stdout and stderr are captured.
Result run(const std::vector<std::string>& argv, const std::string& input = "");
// Run `script` with /bin/sh -c.
Result sh(const std::string& script);

// A process started in the background, for observing a container from the host while it runs.
class Background {
public:
    explicit Background(const std::vector<std::string>& argv);
    ~Background();  // kills (SIGKILL) and reaps it if still running
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

    pid_t pid() const { return pid_; }
    // Reads stdout until a line containing `needle` appears (or the timeout); returns the line.
    std::string wait_for_line(const std::string& needle,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Sends `sig` to the tool (not the container).
    void signal(int sig);
    // Waits for the exit; returns the status as Result::status; collects the rest of stdout.
    int wait();
    const std::string& out() const { return out_; }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string out_;
    size_t scanned_ = 0;
    bool reaped_ = false;
};

// The direct children of `pid` (from /proc/<pid>/task/<pid>/children).
std::vector<pid_t> children_of(pid_t pid);
// Waits until `pid` has a child whose /proc/<child>/comm is `comm`; returns it, or -1.
pid_t wait_for_child(pid_t pid, const std::string& comm,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
// "uts:[4026531838]" for /proc/<pid>/ns/<ns> ("self" when pid is 0).
std::string ns_link(pid_t pid, const std::string& ns);
// Whole file, or "" when it cannot be read.
std::string read_file(const std::string& path);
// GET /index.html over HTTP/1.0 from 127.0.0.1:port (of the caller's network namespace): the
// whole answer, or "" when nothing answers (2 s read timeout). For published-port tests.
std::string http_get(int port);
// The lines of the host's /proc/self/mountinfo, sorted (to compare before/after a run).
std::vector<std::string> host_mounts();

bool is_root();
bool in_ci();

}  // namespace support

// Privileged tests start with this: without root they skip with a message, and under CI=true,
// where everything must run, that skip is a failure.
#define REQUIRE_ROOT()                                                                     \
    do {                                                                                   \
        if (!::support::is_root()) {                                                       \
            if (::support::in_ci()) FAIL() << "needs root, and CI=true forbids skipping";  \
            GTEST_SKIP() << "needs root: run the tests with sudo";                         \
        }                                                                                  \
    } while (0)
