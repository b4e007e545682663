#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace support {
namespace {

int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
    std::vector<char*> v;
    for (auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
    v.push_back(nullptr);
    return v;
}

void drain(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            into.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return;
    }
}

}  // namespace

std::string bin(const std::string& name) { return std::string(MINIBOX_BIN_DIR) + "/" + name; }

std::string busybox_rootfs() {
    const char* root = std::getenv("MINIBOX_ROOT");
    return std::string(root ? root : MINIBOX_ROOT_DEFAULT) + "/images/busybox/rootfs";
}

std::string source_dir() { return MINIBOX_SOURCE_DIR; }

Result run(const std::vector<std::string>& argv, const std::string& input) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        auto v = c_argv(argv);
        ::execvp(v[0], v.data());
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    // Feed stdin from a thread so a large input cannot dead-lock against a full stdout pipe.
    std::thread feeder([&] {
        ::signal(SIGPIPE, SIG_IGN);
        (void)!::write(in[1], input.data(), input.size());
        ::close(in[1]);
    });
    Result r;
    std::thread errs([&] { drain(err[0], r.err); });
    drain(out[0], r.out);
    errs.join();
    feeder.join();
    ::close(out[0]);
    ::close(err[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.status = decode(status);
    return r;
}

std::string http_get(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        std::string req = "GET /index.html HTTP/1.0\r\n\r\n";
        (void)!::write(fd, req.data(), req.size());
        char buf[4096];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

Result sh(const std::string& script) { return run({"/bin/sh", "-c", script}); }

Background::Background(const std::vector<std::string>& argv) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC)) return;
    pid_ = ::fork();
    if (pid_ == 0) {
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(out[1], 1);
        auto v = c_argv(argv);
        ::execvp(v[0], v.data());
        ::_exit(127);
    }
    ::close(out[1]);
    out_fd_ = out[0];
}

Background::~Background() {
    if (pid_ > 0 && !reaped_) {
        ::kill(pid_, SIGKILL);
        int status;
        ::waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
}

std::string Background::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // Look for a complete line holding the needle in what has arrived so far.
        for (size_t end; (end = out_.find('\n', scanned_)) != std::string::npos; scanned_ = end + 1) {
            std::string line = out_.substr(scanned_, end - scanned_);
            if (line.find(needle) != std::string::npos) {
                scanned_ = end + 1;
                return line;
            }
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return {};
        pollfd p{out_fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
        char buf[4096];
        ssize_t n = ::read(out_fd_, buf, sizeof buf);
        if (n <= 0) return {};
        out_.append(buf, static_cast<size_t>(n));
    }
}

void Background::signal(int sig) { ::kill(pid_, sig); }

int Background::wait() {
    drain(out_fd_, out_);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return decode(status);
}

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> kids;
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
    for (pid_t k; in >> k;) kids.push_back(k);
    return kids;
}

pid_t wait_for_child(pid_t pid, const std::string& comm, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        for (pid_t k : children_of(pid)) {
            std::string c = read_file("/proc/" + std::to_string(k) + "/comm");
            if (!c.empty() && c.back() == '\n') c.pop_back();
            if (c == comm) return k;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
}

std::string ns_link(pid_t pid, const std::string& ns) {
    std::string path = "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/ns/" + ns;
    char buf[256];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::vector<std::string> host_mounts() {
    std::vector<std::string> lines;
    std::istringstream in(read_file("/proc/self/mountinfo"));
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::sort(lines.begin(), lines.end());
    return lines;
}

bool is_root() { return ::geteuid() == 0; }

bool in_ci() {
    const char* ci = std::getenv("CI");
    return ci && std::string(ci) == "true";
}

}  // namespace support
