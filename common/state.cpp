#include "state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "error.hpp"

namespace state {

std::string run_dir() {
    const char* env = std::getenv("MINIBOX_RUN");
    std::string dir = env && *env ? env : "/run/minibox";
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + dir + "\")", errno);
    return dir;
}

std::string root_dir() {
    const char* env = std::getenv("MINIBOX_ROOT");
    return env && *env ? env : MINIBOX_ROOT_DEFAULT;
}

std::string default_rootfs() { return root_dir() + "/images/busybox/rootfs"; }

std::string new_container_id() {
    unsigned char bytes[6];
    if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) throw SysError("getrandom(6)", errno);
    static const char* hex = "0123456789abcdef";
    std::string id;
    for (unsigned char b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 15];
    }
    return id;
}

std::optional<unsigned long long> start_time(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return std::nullopt;
    // The command name (field 2) may hold spaces and ')': fields are counted after the last ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i < 22; ++i) rest >> field;  // fields 3..21
    unsigned long long start = 0;
    if (!(rest >> start)) return std::nullopt;
    return start;
}

Owner Owner::self() { return {::getpid(), start_time(::getpid()).value_or(0)}; }

std::optional<Owner> Owner::parse(const std::string& text) {
    auto colon = text.find(':');
    if (colon == std::string::npos) return std::nullopt;
    try {
        Owner o;
        o.pid = static_cast<pid_t>(std::stol(text.substr(0, colon)));
        o.start = std::stoull(text.substr(colon + 1));
        if (o.pid <= 0) return std::nullopt;
        return o;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string Owner::str() const { return std::to_string(pid) + ":" + std::to_string(start); }

bool Owner::alive() const {
    auto now = start_time(pid);
    if (!now || *now != start) return false;
    // A zombie (state Z, or X while it is reaped) has exited: it holds nothing and undoes
    // nothing any more, whether or not its parent ever waits for it.
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(f, stat);
    auto close = stat.rfind(')');
    char st = close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
    return st != 'Z' && st != 'X';
}

std::optional<Owner> record_owner(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
    std::string file;
    if (S_ISREG(st.st_mode)) {
        file = path;
    } else if (S_ISDIR(st.st_mode)) {
        file = path + "/owner";
    } else {
        return std::nullopt;  // symlinks, sockets, fifos are nobody's record
    }
    std::ifstream f(file);
    std::string line;
    if (!std::getline(f, line)) return std::nullopt;
    return Owner::parse(line);
}

Lock::Lock(const std::string& name) {
    std::string path = run_dir() + "/" + name + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw SysError("open(\"" + path + "\")", errno);
    while (::flock(fd_, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int err = errno;
            ::close(fd_);
            throw SysError("flock(\"" + path + "\", LOCK_EX)", err);
        }
    }
}

Lock::~Lock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace state
