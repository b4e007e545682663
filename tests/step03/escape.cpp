// step03_escape: run inside a container, try the classic ways out of it.
//
//   step03_escape HOST_FILE
//
// HOST_FILE is the absolute path of a file on the host, outside the container's image. Each
// attempt tries to read it; reading it means the attempt reached the host's tree. Linked
// statically: the busybox image has no shared libraries. Exit 0 when every attempt stayed in
// the container, 1 when one escaped, 2 on a usage error.
//
// The attempts, in this order (the last one changes our root):
//   1. ".." past "/": chdir("..") many times, then open HOST_FILE relative to where we ended.
//   2. /proc/1/root: the root directory of PID 1, as procfs shows it.
//   3. the chroot escape: mkdir("x"); chroot("x") (our cwd is now outside our root); chdir("..")
//      many times; chroot("."). Works when the old root is still mounted somewhere above us:
//      it is after chroot(2), it is not after pivot_root(2) and the unmount of the old root.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

std::string host_file;
bool escaped = false;

// Reads `path` (relative to `dir`); reports what it found.
void attempt(const char* what, int dir, const std::string& path) {
    int fd = ::openat(dir, path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::printf("%-16s contained (%s: %s)\n", what, path.c_str(), std::strerror(errno));
        return;
    }
    char buf[256] = {};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::printf("%-16s ESCAPED: read \"%s\" from the host's %s\n", what, text.c_str(), host_file.c_str());
    escaped = true;
}

void climb() {
    for (int i = 0; i < 64; ++i) (void)!::chdir("..");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || argv[1][0] != '/') {
        std::fprintf(stderr, "usage: step03_escape /ABSOLUTE/HOST/FILE\n");
        return 2;
    }
    host_file = argv[1];
    std::string relative = host_file.substr(1);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    // 1. ".." past "/": the kernel stops ".." at the process's root.
    (void)!::chdir("/");
    climb();
    attempt(".. past /:", AT_FDCWD, relative);

    // 2. /proc/1/root: a magic link to PID 1's root. Our /proc is the container's, and PID 1 is
    //    the container's first process, whose root is the container's.
    attempt("/proc/1/root:", AT_FDCWD, "/proc/1/root" + host_file);

    // 3. The chroot escape. Needs CAP_SYS_CHROOT and a writable directory (/tmp).
    (void)!::chdir("/tmp");
    ::mkdir("escape-x", 0700);
    if (::chroot("escape-x") < 0) {
        std::printf("%-16s not tried (chroot: %s)\n", "chroot escape:", std::strerror(errno));
    } else {
        climb();  // the cwd was left outside the new root: ".." is not stopped by it
        if (::chroot(".") < 0) std::printf("chroot(\".\"): %s\n", std::strerror(errno));
        attempt("chroot escape:", AT_FDCWD, host_file);
    }
    return escaped ? 1 : 0;
}
