#include "net_doctor.hpp"

#include <dirent.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "error.hpp"
#include "ipam.hpp"
#include "net.hpp"
#include "netlink.hpp"
#include "nft.hpp"
#include "state.hpp"

namespace net {
namespace {

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
}

std::string describe(const Lease& l) {
    std::string s = "owner " + l.owner.str() + " is gone";
    if (!l.veth.empty()) s += "; veth " + l.veth;
    for (auto& p : l.ports) s += "; port " + p.str();
    return s;
}

// The IPv4 routes of this network namespace: {interface, destination, prefix length}.
struct Route {
    std::string iface;
    in_addr dst{};
    int prefix = 0;
};
std::vector<Route> routes() {
    std::vector<Route> out;
    std::ifstream f("/proc/net/route");
    std::string line;
    std::getline(f, line);  // the header
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string iface, dst, gw, flags, refcnt, use, metric, mask;
        if (!(in >> iface >> dst >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
        // The kernel prints the raw network-order words in hex: read back, they are in_addr.
        Route r;
        r.iface = iface;
        r.dst.s_addr = static_cast<uint32_t>(std::stoul(dst, nullptr, 16));
        uint32_t m = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
        while (m & 0x80000000u) ++r.prefix, m <<= 1;
        out.push_back(r);
    }
    return out;
}

bool overlap(in_addr a, int pa, in_addr b, int pb) {
    int p = std::min(pa, pb);
    uint32_t mask = p == 0 ? 0 : 0xffffffffu << (32 - p);
    return (ntohl(a.s_addr) & mask) == (ntohl(b.s_addr) & mask);
}

doctor::CheckResult nat_check() {
    int rc = doctor::in_child([] {
        if (::unshare(CLONE_NEWNET) != 0) return errno;
        try {
            nft::create_table("minibox_probe", "probe0", *Subnet::parse("10.61.0.0/16"));
        } catch (const Error& e) {
            std::fprintf(stderr, "%s\n", e.line().c_str());
            return EPROTONOSUPPORT;
        }
        return 0;
    });
    if (rc == 0) return doctor::CheckResult::ok("nft table with masquerade and a DNAT map (throwaway namespace)");
    return doctor::CheckResult::fail(std::string("the bridge's nft rules: ") + std::strerror(rc),
                                     "a kernel with CONFIG_NF_TABLES, NFT_NAT, NFT_MASQ, NFT_FIB; apt-get install libnftables1");
}

doctor::CheckResult subnet_check() {
    std::string text = env_or("MINIBOX_SUBNET", "10.61.0.0/16");
    std::string bridge = env_or("MINIBOX_BRIDGE", "minibox0");
    std::string why;
    auto subnet = Subnet::parse(text, &why);
    if (!subnet) return doctor::CheckResult::fail(why, "export MINIBOX_SUBNET=10.61.0.0/16 (or another free range)");
    for (auto& r : routes()) {
        if (r.prefix == 0 || r.iface == bridge) continue;  // the default route; our own bridge
        if (overlap(r.dst, r.prefix, subnet->network, subnet->prefix))
            return doctor::CheckResult::warn("subnet " + subnet->str() + " overlaps the route " + to_string(r.dst) + "/" +
                                                 std::to_string(r.prefix) + " on " + r.iface,
                                             "pick a free range: --subnet CIDR or export MINIBOX_SUBNET=CIDR");
    }
    return doctor::CheckResult::ok("subnet " + subnet->str() + " clashes with no route of this host");
}

doctor::CheckResult forward_check() {
    // Any table's forward chain may drop: a packet must pass every base chain of a hook, so an
    // "accept" in our table cannot overrule another table's "drop" (Docker installs one).
    std::istringstream in(nft::list_ruleset());
    std::string line, table;
    for (; std::getline(in, line);) {
        if (line.rfind("table ", 0) == 0) table = line.substr(6, line.find(" {") - 6);
        if (line.find("hook forward") != std::string::npos && line.find("policy drop") != std::string::npos)
            return doctor::CheckResult::warn("table " + table + " drops forwarded packets by default",
                                             "containers reach each other and the host, not beyond; allow "
                                             "iifname minibox0 in that forward chain");
    }
    return doctor::CheckResult::ok("no nft forward chain drops by default (iptables-legacy rules are not seen)");
}

}  // namespace

std::vector<doctor::Check> checks() {
    return {{"nat", nat_check}, {"subnet", subnet_check}, {"forward", forward_check}};
}

std::vector<doctor::Finder> finders() {
    return {[] {
        std::vector<doctor::Leftover> out;
        std::string ours = "ns" + netns_id();
        std::string root = state::run_dir() + "/net";
        std::set<std::string> leased_veths;
        for (auto& ns : entries(root)) {
            if (ns.rfind("ns", 0) != 0) continue;
            for (auto& bridge : entries(root + "/" + ns)) {
                std::string dir = root + "/" + ns + "/" + bridge + "/leases";
                std::set<uint16_t> live_ports;
                for (auto& l : Ipam(dir, *Subnet::parse("10.61.0.0/16")).leases()) {
                    bool alive = l.owner.pid > 0 && l.owner.alive();
                    if (ns == ours && !l.veth.empty()) leased_veths.insert(l.veth);
                    // A dead lease's ports are listed with it: its removal removes them.
                    for (auto& p : l.ports) live_ports.insert(p.host);
                    if (alive) continue;
                    std::string path = dir + "/" + to_string(l.ip);
                    if (ns == ours) {
                        // Here: the full undo, as the next start would do it.
                        out.push_back({"lease", path + " (" + describe(l) + ")", [bridge] { reap(bridge); }});
                    } else {
                        // Another network namespace's: its veth and rules are out of reach (and
                        // gone with it, if it is gone); only the record is ours to remove.
                        out.push_back({"lease", path + " (" + describe(l) + "; another network namespace)",
                                       [path] { ::unlink(path.c_str()); }});
                    }
                }
                if (ns != ours) continue;
                // Published ports no lease accounts for.
                for (uint16_t port : nft::published(bridge)) {
                    if (live_ports.count(port)) continue;
                    out.push_back({"port", "tcp " + std::to_string(port) + " in nft map inet " + bridge +
                                               " tcp_ports (no lease names it)",
                                   [bridge, port] { nft::unpublish(bridge, PortSpec{port, 1, "tcp"}); }});
                }
            }
        }
        // Veths of ours in this namespace that no lease names.
        if (struct if_nameindex* names = ::if_nameindex()) {
            for (auto* n = names; n->if_index != 0; ++n) {
                std::string name = n->if_name;
                if (name.rfind("mbv", 0) != 0 && name.rfind("mbp", 0) != 0) continue;
                if (leased_veths.count("mbv" + name.substr(3))) continue;
                out.push_back({"veth", name + " (no lease names it)", [name] {
                                   netlink::Socket sock;
                                   int index = sock.link_index(name);
                                   if (index == 0) return;
                                   auto m = netlink::delete_link(index);
                                   check(sock.request(m), "RTM_DELLINK(\"" + name + "\")");
                               }});
            }
            ::if_freenameindex(names);
        }
        for (auto& f : dead_files()) out.push_back({"file", f + " (its tool is gone)", [f] { ::unlink(f.c_str()); }});
        return out;
    }};
}

}  // namespace net
