#include "util.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "error.hpp"
#include "files.hpp"

namespace shim {

std::string now_rfc3339() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    ::gmtime_r(&ts.tv_sec, &t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec);
    return buf;
}

void write_atomic(const std::string& path, const std::string& text, mode_t mode) {
    std::string tmp = path + ".tmp";
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) throw SysError("open(\"" + tmp + "\", O_CREAT)", errno);
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("write(\"" + tmp + "\")", errno);
        done += static_cast<size_t>(n);
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw SysError("rename(\"" + tmp + "\", \"" + path + "\")", errno);
}

std::optional<nlohmann::json> read_json(const std::string& path) {
    std::string text = files::read(path);
    if (text.empty()) return std::nullopt;
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

int run_program(const std::vector<std::string>& argv, int in, int out, int err, const std::string& cwd) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork()", errno);
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDWR);
        int fds[3] = {in, out, err};
        for (int i = 0; i < 3; ++i) ::dup2(fds[i] >= 0 ? fds[i] : null, i);
        if (null > 2) ::close(null);
        // The shim blocks these for its signalfd and ignores SIGPIPE: both are inherited
        // through execve, and the container's init would inherit them from the runtime.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::signal(SIGHUP, SIG_DFL);
        if (!cwd.empty() && ::chdir(cwd.c_str()) < 0) ::_exit(125);
        ::execv(args[0], args.data());
        ::_exit(errno == ENOENT ? 127 : 126);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw SysError("waitpid(" + std::to_string(pid) + ")", errno);
    }
    return exit_code_of(status);
}

void spawn_detached(const std::vector<std::string>& argv) noexcept {
    if (argv.empty()) return;
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid == 0) {
        if (::fork() != 0) ::_exit(0);
        int null = ::open("/dev/null", O_RDWR);
        for (int i = 0; i < 3; ++i) ::dup2(null, i);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::signal(SIGHUP, SIG_DFL);
        ::setsid();
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

UnixAddress unix_address(const std::string& path) {
    UnixAddress a;
    a.addr.sun_family = AF_UNIX;
    std::string p = path;
    if (p.size() >= sizeof(a.addr.sun_path)) {
        auto slash = path.rfind('/');
        std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
        a.dir_holder.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!a.dir_holder) throw SysError("open(\"" + dir + "\", O_PATH)", errno);
        p = "/proc/self/fd/" + std::to_string(a.dir_holder.get()) + "/" + path.substr(slash + 1);
        if (p.size() >= sizeof(a.addr.sun_path)) throw Error("socket name too long: " + path);
    }
    std::memcpy(a.addr.sun_path, p.c_str(), p.size() + 1);
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size() + 1);
    return a;
}

int unix_connect(const std::string& path) {
    UnixAddress a = unix_address(path);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    while (::connect(fd, reinterpret_cast<sockaddr*>(&a.addr), a.len) < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

}  // namespace shim
