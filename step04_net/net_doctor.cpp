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

// The network namespaces that exist: those some process (or thread) is in, and those held by a
// bind mount (ip netns add) seen in this mount namespace. An inode in neither is gone for good:
// the kernel frees a namespace with its last reference and numbers are not reused while it lives.
std::set<std::string> live_netns() {
    std::set<std::string> out;
    auto add_link = [&](const std::string& path) {
        char buf[64];
        ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
        if (n <= 0) return;
        std::string text(buf, static_cast<size_t>(n));  // "net:[4026531840]"
        if (text.rfind("net:[", 0) == 0) out.insert(text.substr(5, text.size() - 6));
    };
    for (auto& pid : entries("/proc")) {
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        for (auto& tid : entries("/proc/" + pid + "/task")) add_link("/proc/" + pid + "/task/" + tid + "/ns/net");
    }
    std::ifstream mi("/proc/self/mountinfo");
    for (std::string line; std::getline(mi, line);) {
        auto at = line.find(" net:[");
        if (at == std::string::npos || line.find(" - nsfs ") == std::string::npos) continue;
        auto end = line.find(']', at);
        if (end != std::string::npos) out.insert(line.substr(at + 6, end - at - 6));
    }
    return out;
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
    if (auto clash = route_clash(*subnet, bridge); !clash.empty())
        return doctor::CheckResult::warn("subnet " + subnet->str() + " overlaps the route " + clash + " (starts refuse it)",
                                         "pick a free range: --subnet CIDR or export MINIBOX_SUBNET=CIDR");
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
        auto live = live_netns();
        // The state and lock files of network namespaces that are gone: their bridges, veths
        // and rules went with them; only the files are left.
        for (auto& ns : entries(root)) {
            if (ns.rfind("ns", 0) != 0 || live.count(ns.substr(2))) continue;
            std::string path = root + "/" + ns;
            out.push_back({"net-state", path + " (network namespace " + ns.substr(2) + " is gone)",
                           [path] { doctor::remove_tree(path); }});
        }
        for (auto& name : entries(state::run_dir())) {
            // net-nsINODE-BRIDGE.lock
            if (name.rfind("net-ns", 0) != 0 || name.size() < 5 || name.substr(name.size() - 5) != ".lock") continue;
            std::string inode = name.substr(6, name.find('-', 6) - 6);
            if (live.count(inode)) continue;
            std::string path = state::run_dir() + "/" + name;
            out.push_back({"lock", path + " (network namespace " + inode + " is gone)", [path] { ::unlink(path.c_str()); }});
        }
        for (auto& ns : entries(root)) {
            if (ns.rfind("ns", 0) != 0 || !live.count(ns.substr(2))) continue;
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
