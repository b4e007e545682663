#include "ipam.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "error.hpp"

namespace net {

std::string to_string(in_addr a) {
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

// ---------------------------------------------------------------------------------------------
// Subnet

std::optional<Subnet> Subnet::parse(const std::string& cidr, std::string* why) {
    auto fail = [&](std::string reason) -> std::optional<Subnet> {
        if (why) *why = "subnet \"" + cidr + "\" " + reason;
        return std::nullopt;
    };
    auto slash = cidr.find('/');
    if (slash == std::string::npos) return fail("must be ADDRESS/PREFIX, e.g. 10.61.0.0/16");
    Subnet s;
    if (::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &s.network) != 1) return fail("has no valid IPv4 address");
    std::string len = cidr.substr(slash + 1);
    if (len.empty() || len.size() > 2 || len.find_first_not_of("0123456789") != std::string::npos)
        return fail("has no valid prefix length");
    s.prefix = std::stoi(len);
    if (s.prefix < 8 || s.prefix > 30) return fail("needs a prefix length from 8 to 30");
    uint32_t mask = 0xffffffffu << (32 - s.prefix);
    if ((ntohl(s.network.s_addr) & ~mask) != 0) return fail("has host bits set (write the network address)");
    // Ranges the kernel routes specially: a bridge there would never carry unicast traffic.
    static const struct {
        uint32_t net;
        int prefix;
        const char* what;
    } reserved[] = {
        {0x00000000u, 8, "is in 0.0.0.0/8 (\"this network\", not routable)"},
        {0x7f000000u, 8, "is loopback (127.0.0.0/8): it never leaves the host's lo"},
        {0xa9fe0000u, 16, "is link-local (169.254.0.0/16)"},
        {0xe0000000u, 4, "is multicast (224.0.0.0/4)"},
        {0xf0000000u, 4, "is reserved or broadcast (240.0.0.0/4)"},
    };
    for (auto& r : reserved)
        if (overlaps(s, Subnet{in_addr{htonl(r.net)}, r.prefix})) return fail(r.what);
    return s;
}

std::string Subnet::str() const { return to_string(network) + "/" + std::to_string(prefix); }
in_addr Subnet::host(uint32_t n) const { return in_addr{htonl(ntohl(network.s_addr) + n)}; }
in_addr Subnet::gateway() const { return host(1); }
uint32_t Subnet::size() const { return 1u << (32 - prefix); }
bool overlaps(const Subnet& a, const Subnet& b) {
    int p = std::min(a.prefix, b.prefix);
    uint32_t mask = p == 0 ? 0 : 0xffffffffu << (32 - p);
    return (ntohl(a.network.s_addr) & mask) == (ntohl(b.network.s_addr) & mask);
}

bool Subnet::contains(in_addr a) const {
    uint32_t mask = 0xffffffffu << (32 - prefix);
    return (ntohl(a.s_addr) & mask) == ntohl(network.s_addr);
}

// ---------------------------------------------------------------------------------------------
// Lease

std::string Lease::serialize() const {
    std::string ports_text;
    for (auto& p : ports) ports_text += (ports_text.empty() ? "" : ",") + p.str();
    return "ip=" + to_string(ip) + "\nowner=" + owner.str() + "\nid=" + id + "\nveth=" + veth +
           "\nports=" + ports_text + "\n";
}

std::optional<Lease> Lease::parse(const std::string& text) {
    Lease l;
    bool have_ip = false, have_owner = false;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq == std::string::npos) return std::nullopt;
        std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "ip") {
            have_ip = ::inet_pton(AF_INET, value.c_str(), &l.ip) == 1;
        } else if (key == "owner") {
            auto o = state::Owner::parse(value);
            if (!o) return std::nullopt;
            l.owner = *o;
            have_owner = true;
        } else if (key == "id") {
            l.id = value;
        } else if (key == "veth") {
            l.veth = value;
        } else if (key == "ports") {
            std::istringstream list(value);
            for (std::string one; std::getline(list, one, ',');) {
                PortSpec p;
                if (!parse_port(one, p).empty()) return std::nullopt;
                l.ports.push_back(p);
            }
        }
    }
    if (!have_ip || !have_owner) return std::nullopt;
    return l;
}

// ---------------------------------------------------------------------------------------------
// Ipam

Ipam::Ipam(std::string dir, Subnet subnet) : dir_(std::move(dir)), subnet_(subnet) {
    // mkdir -p, for the few levels under the run directory.
    for (size_t pos = 1; pos != std::string::npos;) {
        pos = dir_.find('/', pos + 1);
        std::string part = dir_.substr(0, pos);
        if (::mkdir(part.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + part + "\")", errno);
    }
}

std::string Ipam::path_of(in_addr ip) const { return dir_ + "/" + to_string(ip); }

std::vector<Lease> Ipam::leases() const {
    std::vector<Lease> out;
    DIR* d = ::opendir(dir_.c_str());
    if (!d) throw SysError("opendir(\"" + dir_ + "\")", errno);
    while (dirent* e = ::readdir(d)) {
        in_addr ip{};
        if (::inet_pton(AF_INET, e->d_name, &ip) != 1) continue;  // ".", "..", files being written
        std::ifstream f(dir_ + "/" + e->d_name);
        std::stringstream text;
        text << f.rdbuf();
        auto lease = Lease::parse(text.str());
        if (!lease) {
            lease = Lease{};  // unreadable: no owner, so reap() removes it
            lease->ip = ip;
        }
        out.push_back(*lease);
    }
    ::closedir(d);
    return out;
}

Lease Ipam::allocate(Lease lease) {
    std::set<uint32_t> taken;
    for (auto& l : leases()) taken.insert(ntohl(l.ip.s_addr));
    // .0 is the network, .1 the gateway, the last address the broadcast.
    for (uint32_t n = 2; n + 1 < subnet_.size(); ++n) {
        in_addr ip = subnet_.host(n);
        if (taken.count(ntohl(ip.s_addr))) continue;
        lease.ip = ip;
        std::string path = path_of(ip), tmp = dir_ + "/.new-" + std::to_string(::getpid());
        {
            std::ofstream f(tmp, std::ios::trunc);
            f << lease.serialize();
            if (!f.flush()) throw Error("cannot write lease " + tmp);
        }
        if (::rename(tmp.c_str(), path.c_str()) < 0) {
            int err = errno;
            ::unlink(tmp.c_str());
            throw SysError("rename(\"" + tmp + "\", \"" + path + "\")", err);
        }
        return lease;
    }
    throw Error("subnet " + subnet_.str() + " is full: all " + std::to_string(subnet_.size() - 3) +
                " container addresses are leased")
        .with_hint("stop a container, or use a larger --subnet with another --bridge");
}

void Ipam::release(in_addr ip) {
    std::string path = path_of(ip);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw SysError("unlink(\"" + path + "\")", errno);
}

std::vector<Lease> Ipam::reap(const std::function<void(const Lease&)>& undo) {
    std::vector<Lease> reaped;
    for (auto& l : leases()) {
        if (l.owner.pid > 0 && l.owner.alive()) continue;
        undo(l);
        release(l.ip);
        reaped.push_back(l);
    }
    return reaped;
}

}  // namespace net
