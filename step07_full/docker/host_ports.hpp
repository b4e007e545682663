// Random host ports: `-p 80` (no host port) and `-P` (every EXPOSEd port) publish on a free
// port of the host, which the kernel picks: bind(2) a TCP socket to port 0, getsockname(2)
// says which port it chose from net.ipv4.ip_local_port_range (Docker's pick comes from the same
// range). The socket is closed again: the port is then recorded in the container's options
// and published by the shim as any -p HOST:CONTAINER (step04's DNAT).
//   man 7 ip (port 0, ip_local_port_range), man 2 getsockname
#pragma once

#include <string>
#include <vector>

#include "options.hpp"

namespace docker {

// -P: a binding with host port 0 for each exposed port (`image_exposed` "80/tcp", then
// --expose) not bound already; then every host port 0 gets a free one (none of `taken`, the
// ports of the other containers' records, and none twice). Only tcp (step04 publishes TCP).
void assign_host_ports(RunOptions& o, const std::vector<std::string>& image_exposed, const std::vector<std::uint16_t>& taken);

}  // namespace docker
