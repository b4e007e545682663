#include "ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>

#include "error.hpp"
#include "narrate.hpp"

namespace net {
namespace {

// A port number 1..65535 written in decimal digits only ("+80", " 80", "0x50" are refused).
std::string parse_number(std::string_view text, const char* which, uint16_t& out) {
    if (text.empty()) return std::string(which) + " port is missing";
    unsigned long v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) return std::string(which) + " port " + std::string(text) + " is out of range 1-65535";
    if (ec != std::errc() || end != text.data() + text.size())
        return std::string(which) + " port \"" + std::string(text) + "\" is not a number";
    if (v < 1 || v > 65535) return std::string(which) + " port " + std::string(text) + " is out of range 1-65535";
    out = static_cast<uint16_t>(v);
    return {};
}

}  // namespace

std::string PortSpec::str() const { return std::to_string(host) + ":" + std::to_string(container) + "/" + proto; }

std::string parse_port(std::string_view text, PortSpec& out) {
    const std::string quoted = "\"" + std::string(text) + "\"";
    PortSpec spec;
    std::string_view ports = text;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        std::string_view proto = text.substr(slash + 1);
        if (proto == "udp" || proto == "sctp")
            return "port " + quoted + ": only tcp can be published (" + std::string(proto) + " is an exercise)";
        if (proto != "tcp") return "port " + quoted + ": unknown protocol \"" + std::string(proto) + "\" (only tcp)";
        ports = text.substr(0, slash);
    }
    auto colon = ports.find(':');
    if (colon == std::string_view::npos)
        return "port " + quoted + " must be HOSTPORT:CONTAINERPORT[/tcp], e.g. 8080:80";
    if (ports.find(':', colon + 1) != std::string_view::npos)
        return "port " + quoted + ": a host address (IP:HOSTPORT:CONTAINERPORT) is not supported";
    if (auto why = parse_number(ports.substr(0, colon), "host", spec.host); !why.empty()) return "port " + quoted + ": " + why;
    if (auto why = parse_number(ports.substr(colon + 1), "container", spec.container); !why.empty())
        return "port " + quoted + ": " + why;
    out = spec;
    return {};
}

unique_fd reserve_host_port(uint16_t port) {
    unique_fd fd(static_cast<int>(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_INET, SOCK_STREAM)")));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    std::string call = "bind(0.0.0.0:" + std::to_string(port) + ")";
    try {
        narrate::sys({"net", call, "hold the host port while the container publishes it",
                      "ss -tanp 'sport = :" + std::to_string(port) + "'"},
                     [&] { return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr); });
    } catch (Error& e) {
        if (e.err() == EADDRINUSE)
            throw Error("host port " + std::to_string(port) + " is already in use", exit_code::tool_failed, EADDRINUSE)
                .with_hint("pick another HOSTPORT, or find the owner with: ss -tlnp 'sport = :" + std::to_string(port) + "'");
        throw;
    }
    return fd;
}

}  // namespace net
