#include "host_ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "errors.hpp"
#include "narrate.hpp"
#include "unique_fd.hpp"

namespace docker {
namespace {

std::uint16_t free_port() {
    unique_fd s(static_cast<int>(narrate::sys({"docker", "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)", "to ask the kernel for a free port", ""},
                                              [] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); })));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = 0;
    narrate::sys({"docker", "bind(fd, 0.0.0.0:0)", "port 0: the kernel picks a free one from ip_local_port_range",
                  "sysctl net.ipv4.ip_local_port_range"},
                 [&] { return ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a); });
    socklen_t len = sizeof a;
    narrate::sys({"docker", "getsockname(fd)", "which port it picked", ""},
                 [&] { return ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len); });
    return ntohs(a.sin_port);
}

}  // namespace

void assign_host_ports(RunOptions& o, const std::vector<std::string>& image_exposed, const std::vector<std::uint16_t>& taken) {
    if (o.publish_all) {
        std::vector<std::string> all = image_exposed;
        all.insert(all.end(), o.expose.begin(), o.expose.end());
        for (auto& e : all) {
            auto slash = e.find('/');
            std::string proto = slash == std::string::npos ? "tcp" : e.substr(slash + 1);
            if (proto != "tcp") continue;
            int port = std::atoi(e.substr(0, slash).c_str());
            if (port <= 0 || port > 65535) continue;
            bool bound = std::any_of(o.ports.begin(), o.ports.end(), [&](const PortBinding& b) { return b.container_port == port; });
            if (!bound) o.ports.push_back(PortBinding{"", 0, static_cast<std::uint16_t>(port), "tcp", false});
        }
    }
    std::vector<std::uint16_t> used = taken;
    for (auto& b : o.ports)
        if (b.host_port != 0) used.push_back(b.host_port);
    for (auto& b : o.ports) {
        if (b.host_port != 0) continue;
        std::uint16_t p = 0;
        for (int i = 0; i < 50 && (p == 0 || std::find(used.begin(), used.end(), p) != used.end()); ++i) p = free_port();
        if (p == 0 || std::find(used.begin(), used.end(), p) != used.end()) throw Error("no free host port for " + std::to_string(b.container_port) + "/tcp");
        narrate::note("docker", "container port " + std::to_string(b.container_port) + "/tcp published on the free host port " + std::to_string(p));
        b.host_port = p;
        b.random = true;
        used.push_back(p);
    }
}

}  // namespace docker
