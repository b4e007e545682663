// What reap_net.hpp says: a dead shim's netns mount, lease, veth, ports and hosts files.
#include "reap_net.hpp"

#include <cstdlib>

#include "client.hpp"
#include "net.hpp"
#include "netns.hpp"
#include "util.hpp"

namespace shim {

void set_network_reaper(void (*reaper)(const std::string&));  // reap.cpp

void reap_network(const std::string& dir) {
    remove_netns_mount(netns_path(dir));
    if (auto j = read_json(dir + "/shim.json")) {
        Options o = Options::from_json(*j);
        if (o.network.mode == "bridge") {
            std::string bridge = o.network.bridge;
            if (bridge.empty()) bridge = std::getenv("MINIBOX_BRIDGE") && *std::getenv("MINIBOX_BRIDGE") ? std::getenv("MINIBOX_BRIDGE") : "minibox0";
            net::reap(bridge);  // leases of dead owners: veth, published ports
        }
    }
    net::reap_files();
}

void reap_network_in_process() { set_network_reaper(reap_network); }

}  // namespace shim
