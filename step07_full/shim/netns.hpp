// The container's network, made by the shim before the runtime's create: a network namespace
// of its own, kept alive by a bind mount of its nsfs file on DIR/netns (the way `ip netns add`
// keeps one), wired with step04's code (bridge, veth pair, address lease, published ports).
// config.json joins it by path, so the runtime only setns(2)'s into it. See
// network_namespaces(7), mount(2) (MS_BIND), and step04_net/net.hpp.
#pragma once

#include <memory>
#include <string>

#include "client.hpp"

namespace net {
class Layer;
}

namespace shim {

class Netns {
public:
    // Checks the options (ports, names) only; nothing is made yet. Throws Error (125).
    Netns(const Network& cfg, std::string dir, std::string id);
    ~Netns();
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;

    // none/bridge: the namespace at DIR/netns, lo up; bridge: eth0 with a leased address, ports
    // published; DIR/hosts and DIR/hostname written. host: nothing but the files.
    void setup();
    // Undoes setup, whatever part of it was done. The veth goes with the namespace.
    void teardown() noexcept;

    const std::string& ip() const { return ip_; }

private:
    Network cfg_;
    std::string dir_, id_, ip_;
    std::unique_ptr<net::Layer> layer_;
    bool mounted_ = false;
    bool prepared_ = false;
};

// umount2(DIR/netns, MNT_DETACH) and unlink it; quiet when it is not there (for the reaper).
void remove_netns_mount(const std::string& path) noexcept;

}  // namespace shim
