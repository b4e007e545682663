// The network part of undoing a dead shim (reap.cpp): its netns bind mount, step04's lease with
// its veth and published ports, the per-owner hosts files. It needs step04's code and with it
// libnftables (and libnftnl, libgmp, ...); the engine and the front end reap only after a shim
// was SIGKILLed, so by default they have it done by a child, `minibox-shim --reap-network DIR`,
// and never map those libraries. minibox-shim itself does it in-process.
//   step04_net/net.hpp (net::reap, net::reap_files); shim/netns.hpp
#pragma once

#include <string>

namespace shim {

// In this process: what reap_one needs for the shim directory `dir` (its shim.json says the
// network mode and the bridge). Defined in reap_net.cpp; links step04's network code.
void reap_network(const std::string& dir);
// From now on reap_dead() calls reap_network() itself instead of starting a child (minibox-shim).
void reap_network_in_process();

}  // namespace shim
