#include "console.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "error.hpp"
#include "narrate.hpp"

namespace console {
namespace {

sockaddr_un address_of(const std::string& path, socklen_t& len) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty()) throw Error("console socket: no path given");
    if (path.size() >= sizeof(addr.sun_path))
        throw Error("console socket " + path + ": longer than " + std::to_string(sizeof(addr.sun_path) - 1) +
                    " bytes, the limit of a unix socket address");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return addr;
}

unique_fd stream_socket() {
    return unique_fd(static_cast<int>(narrate::sys(
        {"console", "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)", "a unix socket to carry the terminal's master fd", ""},
        [] { return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); })));
}

}  // namespace

unique_fd connect(const std::string& socket_path) {
    socklen_t len = 0;
    sockaddr_un addr = address_of(socket_path, len);
    unique_fd fd = stream_socket();
    try {
        narrate::sys({"console", "connect(\"" + socket_path + "\")",
                      "the engine listens there for the master end of the container's terminal",
                      "ss -xlp | grep " + socket_path},
                     [&] { return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len); });
    } catch (Error& e) {
        e.context("--console-socket");
        if (e.err() == ENOENT || e.err() == ECONNREFUSED) e.with_hint("is the engine listening on that socket?");
        throw;
    }
    return fd;
}

void setup(int socket, unsigned height, unsigned width) {
    // /dev/ptmx inside the container is a symlink to pts/ptmx of the container's own devpts
    // mount (newinstance): the pty is numbered and visible there only, not in the host's /dev/pts.
    unique_fd master;
    try {
        master.reset(static_cast<int>(narrate::sys(
            {"console", "open(\"/dev/ptmx\", O_RDWR|O_NOCTTY|O_CLOEXEC)",
             "a new pseudo-terminal pair in the container's devpts; this is its master end",
             "nsenter -t {pid} -m ls -l /dev/pts"},
            [] { return ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC); })));
    } catch (Error& e) {
        e.context("process.terminal");
        if (e.err() == ENOENT || e.err() == ENXIO)
            e.with_hint("the container needs a devpts mount at /dev/pts (newinstance,ptmxmode=0666)");
        throw;
    }

    // grantpt(3) is a no-op on devpts; unlockpt(3) is this ioctl.
    int unlock = 0;
    narrate::sys({"console", "ioctl(master, TIOCSPTLCK, 0)", "unlock the slave end (what unlockpt(3) does)", ""},
                 [&] { return ::ioctl(master.get(), TIOCSPTLCK, &unlock); });
    int number = -1;
    narrate::sys({"console", "ioctl(master, TIOCGPTN)", "the pty's number: the slave is /dev/pts/N", ""},
                 [&] { return ::ioctl(master.get(), TIOCGPTN, &number); });
    const std::string name = "/dev/pts/" + std::to_string(number);

    // The slave is opened from the master itself (Linux 4.13), not by the path /dev/pts/N: a
    // path can be replaced by a symlink in a root filesystem the container's owner controls.
    unique_fd slave(static_cast<int>(narrate::sys(
        {"console", "ioctl(master, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC)",
         "the slave end of the same pty, without a path lookup", ""},
        [&] { return ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC); })));

    if (height != 0 && width != 0) {
        winsize ws{};
        ws.ws_row = static_cast<unsigned short>(height);
        ws.ws_col = static_cast<unsigned short>(width);
        narrate::sys({"console",
                      "ioctl(master, TIOCSWINSZ, {rows=" + std::to_string(height) + ", cols=" + std::to_string(width) + "})",
                      "process.consoleSize: the size programs read with TIOCGWINSZ (stty size)", ""},
                     [&] { return ::ioctl(master.get(), TIOCSWINSZ, &ws); });
    }

    send_fd(socket, master.get(), name);
    master.reset();  // the engine holds it now; a copy here would keep the terminal open after it closes

    narrate::sys({"console", "setsid()", "a new session: the process may now take a controlling terminal",
                  "ps -o pid,sid,tty -p {pid}"},
                 [] { return ::setsid(); });
    narrate::sys({"console", "ioctl(slave, TIOCSCTTY, 0)",
                  "the pty becomes the session's controlling terminal: Ctrl-C and hangups reach the command", ""},
                 [&] { return ::ioctl(slave.get(), TIOCSCTTY, 0); });
    for (int target : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        narrate::sys({"console", "dup2(slave, " + std::to_string(target) + ")", "the command's stdio is the terminal", ""},
                     [&] { return ::dup2(slave.get(), target); });
    }
    // dup2 leaves the copies without O_CLOEXEC; the original goes (unique_fd) unless it is one of 0-2.
    if (slave.get() <= STDERR_FILENO) slave.release();
}

unique_fd listen_at(const std::string& path) {
    socklen_t len = 0;
    sockaddr_un addr = address_of(path, len);
    unique_fd fd = stream_socket();
    narrate::sys({"console", "bind(\"" + path + "\")", "the address the runtime connects to", ""},
                 [&] { return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len); });
    narrate::sys({"console", "listen(" + path + ")", "wait for the runtime's connection", ""},
                 [&] { return ::listen(fd.get(), 1); });
    return fd;
}

unique_fd receive_master(int listening_socket) {
    unique_fd conn;
    for (;;) {
        int fd = ::accept4(listening_socket, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
            conn.reset(fd);
            break;
        }
        if (errno != EINTR) throw SysError("accept4(console socket)", errno);
    }
    return recv_fd(conn.get());
}

void send_fd(int socket, int fd, const std::string& name) {
    // SOCK_STREAM carries ancillary data only along with at least one byte of data: the name
    // of the pty is that data (runc sends it; conmon and containerd ignore it).
    std::string data = name.empty() ? std::string(1, '\0') : name;
    iovec iov{const_cast<char*>(data.data()), data.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    narrate::sys({"console", "sendmsg(socket, \"" + name + "\", SCM_RIGHTS[master])",
                  "the master goes to the engine: the kernel installs a copy of the fd in its process", ""},
                 [&] {
                     ssize_t n;
                     do n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
                     while (n < 0 && errno == EINTR);
                     return n;
                 });
}

unique_fd recv_fd(int socket) {
    char data[4096];
    iovec iov{data, sizeof(data)};
    // Room for a few fds: a peer that sends more than one must not leave the extra ones open here.
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw SysError("recvmsg(console socket)", errno);

    unique_fd received;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (!received) received.reset(fd);
            else ::close(fd);
        }
    }
    if (!received) {
        if (n == 0) throw Error("console socket: closed by the other side without sending a terminal");
        throw Error("console socket: a message without a file descriptor");
    }
    if (msg.msg_flags & MSG_CTRUNC) throw Error("console socket: the file descriptors were truncated");
    return received;
}

}  // namespace console
