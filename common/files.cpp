#include "files.hpp"

#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "error.hpp"

namespace files {

std::string read(const std::string& path) {
    std::ifstream f(path);
    if (!f) return "";
    std::ostringstream text;
    text << f.rdbuf();
    return text.str();
}

std::string read_line(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    return line;
}

long write_once(const std::string& path, std::string_view text, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = ::write(fd, text.data(), text.size());
    int err = errno;
    ::close(fd);
    if (n < 0) {
        errno = err;
        return -1;
    }
    if (static_cast<size_t>(n) != text.size()) {
        errno = EIO;  // a short write to a kernel file: the value did not go in whole
        return -1;
    }
    return 0;
}

void write(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    f.flush();
    if (!f) throw SysError("write(\"" + path + "\")", errno ? errno : EIO);
}

}  // namespace files
