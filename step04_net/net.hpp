// Network namespace: interfaces, addresses, routes and firewall rules of the container's own.
//
// A child cloned with CLONE_NEWNET starts with nothing but a loopback device, down. The host
// wires it up: a veth pair (two interfaces joined like a cable), one end on a bridge of the
// host, the other moved into the namespace as eth0, with an address and a default route; NAT
// rules take its traffic out and published ports in. See network_namespaces(7), veth(4),
// rtnetlink(7), nft(8), and workshop/04-net.md.
#pragma once

#include <string>
#include <vector>

#include "cli.hpp"
#include "ipam.hpp"
#include "launcher.hpp"
#include "netlink.hpp"
#include "ports.hpp"
#include "unique_fd.hpp"

namespace net {

enum class Mode { bridge, none, host };

struct Config {
    Mode mode = Mode::bridge;
    std::vector<PortSpec> ports;          // -p, bridge mode only
    std::string bridge = "minibox0";      // --bridge, $MINIBOX_BRIDGE
    std::string subnet = "10.61.0.0/16";  // --subnet, $MINIBOX_SUBNET; the bridge is its .1
};

// Adds --network bridge|none|host ($MINIBOX_NETWORK), -p/--publish HOSTPORT:CONTAINERPORT[/tcp], --bridge NAME,
// --subnet CIDR, and --remove-bridge (an action: removes the bridge and its rules, then exits).
// Every value is checked as it is parsed: bad input is one line and exit 125.
void add_options(CLI::App& app, Config& cfg);

// Empty when `name` can name a network interface (1-15 of [A-Za-z0-9_.-]), else why not.
std::string validate_ifname(const std::string& name);

// Where the tool keeps what it knows about a bridge: run_dir()/net/nsINODE/BRIDGE/, INODE being
// that of the caller's network namespace (/proc/self/ns/net): a bridge, and so its address
// pool, belongs to one network namespace.
//   subnet             the subnet the bridge was made with
//   ip_forward.before  "0" when the tool turned net.ipv4.ip_forward on (restored on removal)
//   leases/10.61.0.2   one lease per container (see ipam.hpp)
std::string netns_id();
std::string bridge_dir(const std::string& bridge);

// Ownership: the toolkit uses and removes only a bridge it made, marked with the alias
// "minibox" (ip link show NAME: "alias minibox"), and only an nft table with comment "minibox".
bool is_ours(const netlink::Socket::Link& link, const std::string& bridge);
// Throws Error (125, one line) unless --bridge/--subnet can be used as they are: BRIDGE absent
// or a bridge of ours, no foreign nft table inet BRIDGE, the subnet on no route of the host
// (but the bridge's own). Read only: called before anything is made.
void check_usable(const std::string& bridge, const Subnet& subnet);
// "192.168.1.0/24 on eth0": a route of this network namespace that overlaps `subnet`, other
// than the default route and routes on `own_bridge`; "" when none does.
std::string route_clash(const Subnet& subnet, const std::string& own_bridge);

// What the host side of one bridge looks like to the tool, for `--remove-bridge`, `minibox
// doctor` and `minibox cleanup`.
struct BridgeState {
    std::string bridge;
    std::string subnet;            // as recorded when the bridge was made ("" if unknown)
    bool link = false;             // the bridge interface exists (in this network namespace)
    bool table = false;            // nft table inet BRIDGE exists
    std::vector<Lease> leases;     // every lease on file
    std::vector<Lease> dead;       // ... of which the owner is gone
};
BridgeState inspect(const std::string& bridge);
// Generated /etc/hosts and /etc/hostname files whose tool is gone (killed before cleanup).
std::vector<std::string> dead_files();
void reap_files();
// Removes dead owners' leases with their veths and published ports. Returns them.
std::vector<Lease> reap(const std::string& bridge);
// Removes the bridge, its nft table and its run-dir state; restores net.ipv4.ip_forward if
// the tool turned it on. Refuses (Error, 125) while a live container uses it. Returns a line
// saying what was removed.
std::string remove_bridge(const std::string& bridge);

class Layer : public launch::Layer {
public:
    // `hostname` is the container's name, for /etc/hosts and /etc/hostname.
    Layer(Config cfg, std::string hostname);
    const char* name() const override { return "net"; }
    int clone_flags() const override;
    // Bridge: host ports held, lease taken, bridge and rules made on first use, ports
    // published. All: /etc/hosts and /etc/hostname prepared.
    void prepare_host(launch::Context& ctx) override;
    // The veth pair made with its peer straight in the child's namespace as eth0; address,
    // route, lo up, configured from here through a netlink socket opened inside that namespace.
    void join_child(launch::Context& ctx) override;
    // Child: /etc/hosts and /etc/hostname attached in the container's root.
    void setup_inside(launch::Context& ctx) override;
    // Ports and lease, each undone if it was done; the veth goes with the container's namespace.
    void cleanup(launch::Context& ctx) noexcept override;

private:
    void prepare_bridge(launch::Context& ctx);
    void prepare_files(launch::Context& ctx);

    Config cfg_;
    std::string hostname_;
    Subnet subnet_;
    std::vector<unique_fd> held_ports_;  // bound host ports
    bool leased_ = false;
    Lease lease_;
    std::vector<PortSpec> published_;
    std::string files_base_;             // run_dir()/net/files/OWNER: .hosts, .hostname
    unique_fd hosts_, hostname_file_;    // detached mounts of the generated files
};

}  // namespace net
