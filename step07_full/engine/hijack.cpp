#include "hijack.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace engine::hijack {
namespace {

// Writes all of `data`; false when the peer is gone (EPIPE, ECONNRESET).
bool write_all(int fd, const char* data, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK) w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

void close_write(int fd) {
    if (::shutdown(fd, SHUT_WR) != 0 && errno == ENOTSOCK) {
        // a pipe: nothing half-closes it but close, which the owner does
    }
}

}  // namespace

std::string frame(std::uint8_t stream, std::string_view data) {
    std::string f(8, '\0');
    f[0] = static_cast<char>(stream);
    auto n = static_cast<std::uint32_t>(data.size());
    f[4] = static_cast<char>(n >> 24);
    f[5] = static_cast<char>(n >> 16);
    f[6] = static_cast<char>(n >> 8);
    f[7] = static_cast<char>(n);
    f.append(data);
    return f;
}

void pump(int client, int shim, const std::string& early, bool forward_stdin) {
    if (forward_stdin && !early.empty() && !write_all(shim, early.data(), early.size())) return;
    bool client_open = true;  // we still read from the client
    char buf[32 * 1024];
    for (;;) {
        pollfd fds[2] = {{shim, POLLIN, 0}, {client, static_cast<short>(client_open ? POLLIN | POLLRDHUP : 0), 0}};
        int n = ::poll(fds, client_open ? 2 : 1, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = ::read(shim, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                // The container's output is over: tell the client (it waits for EOF, then asks
                // for the exit code), and stop.
                close_write(client);
                return;
            }
            if (!write_all(client, buf, static_cast<size_t>(r))) return;  // the client left
        }
        if (client_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP))) {
            ssize_t r = ::read(client, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return;  // reset: the client is gone, detach
            if (r == 0) {
                // Half-close: the client's stdin ended. The output may still come.
                client_open = false;
                if (forward_stdin) close_write(shim);
                continue;
            }
            if (forward_stdin && !write_all(shim, buf, static_cast<size_t>(r))) {
                forward_stdin = false;
            }
        }
    }
}

}  // namespace engine::hijack
