// IPAM: which container has which address of the bridge's subnet.
//
// One lease file per address in a directory (run_dir()/net/BRIDGE/leases/10.61.0.2). The file
// also names its owner (the tool process, "pid:starttime") and what the container made on the
// host (its veth, its published ports), so a later start can undo what a killed tool left.
// Callers serialize allocate/reap with state::Lock; the files themselves are written whole
// (write aside, then rename(2)), so a reader never sees half a lease.
#pragma once

#include <netinet/in.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ports.hpp"
#include "state.hpp"

namespace net {

std::string to_string(in_addr a);

struct Subnet {
    in_addr network{};  // host bits zero
    int prefix = 0;     // 1..30: room for a gateway and at least one container

    // "10.61.0.0/16"; nullopt with `why` set when malformed, or in a range that cannot hold a
    // bridge's unicast subnet (0/8, loopback, link-local, multicast, 240/4 and broadcast).
    static std::optional<Subnet> parse(const std::string& cidr, std::string* why = nullptr);
    std::string str() const;
    in_addr gateway() const;                 // the first address: the bridge's
    in_addr host(uint32_t n) const;          // network + n
    uint32_t size() const;                   // addresses in the subnet, 2^(32-prefix)
    bool contains(in_addr a) const;
};

// True when the two ranges share an address (one contains the other).
bool overlaps(const Subnet& a, const Subnet& b);

struct Lease {
    in_addr ip{};
    state::Owner owner;
    std::string id;    // the container's id
    std::string veth;  // the host end of its veth pair
    std::vector<PortSpec> ports;

    std::string serialize() const;
    static std::optional<Lease> parse(const std::string& text);
};

class Ipam {
public:
    Ipam(std::string dir, Subnet subnet);

    // Leases the lowest free address for `lease` (its ip is filled in and returned). Throws
    // Error (exit 125) when every address is taken.
    Lease allocate(Lease lease);
    // Removes the lease of `ip` (nothing happens when there is none).
    void release(in_addr ip);
    // Every lease on file; a file that cannot be parsed is returned as a lease with no owner.
    std::vector<Lease> leases() const;
    // For each lease whose owner is dead: calls `undo` (delete its veth, its rules), then removes
    // the lease. Returns the leases reaped.
    std::vector<Lease> reap(const std::function<void(const Lease&)>& undo);

    const std::string& dir() const { return dir_; }

private:
    std::string path_of(in_addr ip) const;
    std::string dir_;
    Subnet subnet_;
};

}  // namespace net
