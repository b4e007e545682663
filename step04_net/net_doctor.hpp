// step04's entries in `minibox doctor` and `minibox cleanup`: can this machine make the NAT
// rules the bridge needs, does the bridge's subnet clash with a route of the host; what did a
// killed tool leave (leases, veths, published ports, generated /etc files)?
// (Kept apart from net.hpp, the module's header a learner re-implements.)
#pragma once

#include <vector>

#include "doctor.hpp"

namespace net {

// "nat": the bridge's nft table (masquerade, DNAT through a map) in a throwaway network
//        namespace, through libnftables;
// "subnet": $MINIBOX_SUBNET (default 10.61.0.0/16) overlaps no route of the host other than
//        the bridge's own;
// "forward": no other table's forward chain drops by default (then containers reach each other
//        and the host, but not beyond).
std::vector<doctor::Check> checks();
// Dead owners' leases (with their veths and published ports), veths and published ports no
// lease accounts for, generated /etc/hosts files of tools that are gone.
std::vector<doctor::Finder> finders();

}  // namespace net
