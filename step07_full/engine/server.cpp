#include "server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "narrate.hpp"
#include "trace.hpp"

namespace engine {
namespace {

struct Parsed {
    bool unix_socket = true;
    std::string path;
    std::string host;
    int port = 0;
};

Parsed parse_host(const std::string& h) {
    Parsed p;
    if (h.rfind("unix://", 0) == 0) {
        p.path = h.substr(7);
        if (p.path.empty() || p.path[0] != '/') throw Error("-H " + h + ": a unix socket needs an absolute path");
        if (p.path.size() >= sizeof(sockaddr_un{}.sun_path))
            throw Error("-H " + h + ": the path is longer than a unix socket address holds (107 bytes)");
        return p;
    }
    if (h.rfind("tcp://", 0) == 0) {
        p.unix_socket = false;
        std::string rest = h.substr(6);
        auto colon = rest.rfind(':');
        if (colon == std::string::npos) throw Error("-H " + h + ": expected tcp://ADDRESS:PORT");
        p.host = rest.substr(0, colon);
        try {
            size_t used = 0;
            p.port = std::stoi(rest.substr(colon + 1), &used);
            if (used != rest.size() - colon - 1) throw std::invalid_argument("port");
        } catch (const std::exception&) {
            throw Error("-H " + h + ": the port is not a number");
        }
        if (p.port <= 0 || p.port > 65535) throw Error("-H " + h + ": the port must be 1-65535");
        in_addr a{};
        if (::inet_pton(AF_INET, p.host.c_str(), &a) != 1)
            throw Error("-H " + h + ": expected an IPv4 address such as 127.0.0.1");
        return p;
    }
    throw Error("-H " + h + ": expected unix://PATH or tcp://127.0.0.1:PORT");
}

}  // namespace

void check_hosts(const std::vector<std::string>& hosts) {
    for (auto& h : hosts) parse_host(h);
}

// The group from /etc/group itself (fgetgrent(3)), not through NSS: getgrnam(3) would load
// libnss_systemd and keep it mapped for the daemon's whole life (0.3 MiB resident) to answer
// one question at start-up; `groupadd minibox` writes /etc/group.
static std::optional<gid_t> local_group(const char* name) {
    FILE* f = std::fopen("/etc/group", "re");
    if (!f) return std::nullopt;
    std::optional<gid_t> gid;
    while (group* g = ::fgetgrent(f))
        if (std::strcmp(g->gr_name, name) == 0) {
            gid = g->gr_gid;
            break;
        }
    std::fclose(f);
    return gid;
}

Listener listen_on(const std::string& host) {
    Parsed p = parse_host(host);
    Listener l;
    l.address = host;
    if (!p.unix_socket) {
        l.fd.reset(static_cast<int>(narrate::sys({"engine", "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)",
                                                  "a TCP listener, only because -H asked for one", ""},
                                                 [] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); })));
        int one = 1;
        ::setsockopt(l.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(p.port));
        ::inet_pton(AF_INET, p.host.c_str(), &a.sin_addr);
        narrate::sys({"engine", "bind(fd, " + p.host + ":" + std::to_string(p.port) + ")",
                      "anyone who reaches this port controls the host: keep it on loopback", "ss -ltn"},
                     [&] { return ::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a); });
    } else {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::path dir = fs::path(p.path).parent_path();
        if (!fs::exists(dir, ec)) {
            fs::create_directories(dir, ec);
            if (ec) throw Error("mkdir " + dir.string() + ": " + ec.message());
        }
        l.fd.reset(static_cast<int>(narrate::sys({"engine", "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0)",
                                                  "the engine's API socket, as /run/docker.sock is dockerd's", ""},
                                                 [] { return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); })));
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        p.path.copy(a.sun_path, sizeof a.sun_path - 1);
        struct stat st {};
        if (::lstat(p.path.c_str(), &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) throw Error(p.path + " exists and is not a socket");
            // Someone listening? Then that is another engine, and we do not steal its socket.
            unique_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
                throw Error(p.path + ": another engine is listening there").with_hint("stop it, or pass -H unix://OTHER_PATH");
            ::unlink(p.path.c_str());
        }
        // Mode 0660 from the start: umask for the bind, so the socket is never world-writable.
        mode_t old = ::umask(0117);
        long rc = ::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
        int err = errno;
        ::umask(old);
        narrate::note("engine", "bind(fd, \"" + p.path + "\") with umask 0117: the socket is made srw-rw----");
        if (rc != 0) throw SysError("bind(AF_UNIX, \"" + p.path + "\")", err);
        l.path = p.path;
        if (auto gid = local_group("minibox")) {
            narrate::sys({"engine", "chown(\"" + p.path + "\", 0, minibox)",
                          "members of group minibox may use the engine: that is root on this host", "ls -l " + p.path},
                         [&] { return ::chown(p.path.c_str(), 0, *gid); });
        }
    }
    narrate::sys({"engine", "listen(fd, 128)", "connections now queue until accept4", ""},
                 [&] { return ::listen(l.fd.get(), 128); });
    return l;
}

Server::Server(std::vector<Listener> listeners, const Router& router)
    : listeners_(std::move(listeners)), router_(router) {
    int p[2];
    check(::pipe2(p, O_CLOEXEC | O_NONBLOCK), "pipe2(O_CLOEXEC|O_NONBLOCK)");
    wake_[0].reset(p[0]);
    wake_[1].reset(p[1]);
}

Server::~Server() {
    for (auto& l : listeners_)
        if (!l.path.empty()) ::unlink(l.path.c_str());
}

void Server::stop() {
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1].get(), &c, 1);
}

void Server::run() {
    std::vector<pollfd> fds;
    for (auto& l : listeners_) fds.push_back({l.fd.get(), POLLIN, 0});
    fds.push_back({wake_[0].get(), POLLIN, 0});
    for (;;) {
        int n = ::poll(fds.data(), fds.size(), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SysError("poll(listeners)", errno);
        }
        if (fds.back().revents) return;
        for (size_t i = 0; i + 1 < fds.size(); ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            int c = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;  // EAGAIN, ECONNABORTED: the next poll tells
            // One thread per connection; detached: it ends with its connection, and an engine
            // that stops does not wait for a client's long follow.
            std::thread([this, c] { serve(unique_fd(c)); }).detach();
        }
    }
}

void Server::serve(unique_fd fd) {
    ++active_;
    try {
        boost::asio::io_context io;
        Conn conn(io, std::move(fd));
        for (;;) {
            Request req;
            if (!conn.read(req)) break;
            conn.start_request(req);
            router_.dispatch(req, conn);
            if (conn.hijacked() || !conn.keep_alive()) break;
        }
    } catch (const std::exception& e) {
        trace::note(std::string("connection ended: ") + e.what());
    }
    // The last connection gone, the engine is idle: the free pages of malloc's heaps go back to
    // the kernel (a large inspect or a load's body would otherwise stay resident). malloc_trim(3)
    if (--active_ == 0) ::malloc_trim(0);
}

}  // namespace engine
