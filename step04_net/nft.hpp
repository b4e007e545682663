// nftables: the bridge's NAT rules, in a table of the project's own ("inet minibox0").
//
//   postrouting  masquerade: a packet from the subnet leaving for elsewhere gets the host's
//                address as its source, so replies find their way back (outbound traffic)
//   prerouting,  DNAT: a TCP connection to a local address on a published HOSTPORT is sent to
//   output       CONTAINER_IP:CONTAINERPORT, looked up in the map "tcp_ports"
//   guard        drop packets from the bridge addressed to 127.0.0.0/8 (see route_localnet)
// Rules go through libnftables, the library behind nft(8): a library call, no shell-out.
// See nft(8), libnftables(3).
#pragma once

#include <netinet/in.h>

#include <string>
#include <vector>

#include "ipam.hpp"
#include "ports.hpp"

namespace net::nft {

// The ruleset created with the bridge, as nft(8) text (exposed for tests and the chapter).
std::string ruleset(const std::string& table, const std::string& bridge, const Subnet& subnet);

bool table_exists(const std::string& table);
// The table exists and carries the comment "minibox" that create_table() gives it.
bool table_is_ours(const std::string& table);
// Creates the table with ruleset(); throws Error when nftables refuses.
void create_table(const std::string& table, const std::string& bridge, const Subnet& subnet);
// Deletes the table and everything in it; false when there was none.
bool delete_table(const std::string& table);

// host port -> ip:container port, in the map tcp_ports. Throws Error when refused.
void publish(const std::string& table, const PortSpec& port, in_addr ip);
// Removes the map element of `port`; false when there was none (or no table). Never throws.
bool unpublish(const std::string& table, const PortSpec& port) noexcept;
// The host ports in the map now ({} when there is no table).
std::vector<uint16_t> published(const std::string& table);
// The whole ruleset as nft(8) lists it (read only; "" when it cannot be read).
std::string list_ruleset();

}  // namespace net::nft
