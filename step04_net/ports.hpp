// Published ports: -p HOSTPORT:CONTAINERPORT[/tcp].
//
// A spec is checked when the command line is parsed, before anything exists on the host. While
// the container runs, the tool holds the host port with a bound socket (bind(2)), so no other
// program, nor another container, can take it; the kernel frees it when the tool ends, even by
// SIGKILL. The traffic itself is redirected by nftables (see nft.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "unique_fd.hpp"

namespace net {

struct PortSpec {
    uint16_t host = 0;
    uint16_t container = 0;
    std::string proto = "tcp";

    std::string str() const;  // "8080:80/tcp"
    bool operator==(const PortSpec&) const = default;
};

// Empty when `text` is a valid spec (stored in `out`), else the reason it is not.
std::string parse_port(std::string_view text, PortSpec& out);

// Binds 0.0.0.0:port (TCP) and keeps it bound. Throws Error (exit 125) naming the port when
// some other socket has it already.
unique_fd reserve_host_port(uint16_t port);

}  // namespace net
