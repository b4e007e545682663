#include "pty_session.hpp"

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace docs {
namespace {

// Drops "\r" and ANSI escape sequences (spdlog colours the "[layer]" prefix on a terminal).
std::string clean(const std::string& raw) {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\r') continue;
        if (raw[i] == '\x1b' && i + 1 < raw.size() && raw[i + 1] == '[') {
            i += 2;
            while (i < raw.size() && !(raw[i] >= '@' && raw[i] <= '~')) ++i;
            continue;
        }
        out += raw[i];
    }
    return out;
}

}  // namespace

PtySession::PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       unsigned short columns) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = columns;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ < 0) throw std::runtime_error("forkpty failed");
    if (pid_ == 0) {
        for (auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
}

PtySession::~PtySession() {
    if (!reaped_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
}

bool PtySession::read_some(std::chrono::milliseconds timeout) {
    if (eof_) return false;
    pollfd p{master_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) {  // EIO: every slave descriptor is closed
        eof_ = true;
        return false;
    }
    raw_.append(buf, static_cast<size_t>(n));
    return true;
}

int PtySession::wait_for_any(const std::vector<std::string>& needles, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::string text = clean(raw_);
        size_t best = std::string::npos;
        int which = -1;
        for (size_t i = 0; i < needles.size(); ++i) {
            size_t at = text.find(needles[i], pos_);
            if (at != std::string::npos && at < best) best = at, which = static_cast<int>(i);
        }
        if (which >= 0) {
            pos_ = best + needles[static_cast<size_t>(which)].size();
            return which;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || eof_) return -1;
        read_some(std::min(left, std::chrono::milliseconds(200)));
    }
}

bool PtySession::wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    return wait_for_any({needle}, timeout) == 0;
}

void PtySession::send(const std::string& keys) { (void)!::write(master_, keys.data(), keys.size()); }

int PtySession::wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
        while (read_some(std::chrono::milliseconds(50))) {
        }
        pid_t r = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
        if (r == pid_ && WIFSTOPPED(status)) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            reaped_ = true;
            return -2;
        }
        if (r == pid_) break;
        if (std::chrono::steady_clock::now() > deadline) return -1;
    }
    reaped_ = true;
    while (read_some(std::chrono::milliseconds(50))) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

std::string PtySession::output() const { return clean(raw_); }
std::string PtySession::consumed() const { return clean(raw_).substr(0, pos_); }

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

}  // namespace docs
