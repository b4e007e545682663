// step04 without root: port specs, subnets, IPAM over a temporary run directory, the bytes of
// rtnetlink requests, the nft ruleset text, and the command-line checks.
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "error.hpp"
#include "ipam.hpp"
#include "net.hpp"
#include "netlink.hpp"
#include "nft.hpp"
#include "ports.hpp"
#include "state.hpp"
#include "support.hpp"

namespace {

using net::PortSpec;

// ---------------------------------------------------------------------------------------------
// Port specs

TEST(Step04Ports, ValidSpecs) {
    PortSpec p;
    EXPECT_EQ(net::parse_port("8080:80", p), "");
    EXPECT_EQ(p, (PortSpec{8080, 80, "tcp"}));
    EXPECT_EQ(net::parse_port("1:65535/tcp", p), "");
    EXPECT_EQ(p, (PortSpec{1, 65535, "tcp"}));
    EXPECT_EQ(p.str(), "1:65535/tcp");
}

TEST(Step04Ports, BadSpecsSayWhy) {
    const std::map<std::string, std::string> bad = {
        {"80", "must be HOSTPORT:CONTAINERPORT"},
        {"0:80", "out of range"},
        {"8080:0", "out of range"},
        {"65536:80", "out of range"},
        {"99999999999999999999:80", "out of range"},
        {"abc:80", "not a number"},
        {"80:8o", "not a number"},
        {"+80:80", "not a number"},
        {":80", "host port is missing"},
        {"80:", "container port is missing"},
        {"8080:80/udp", "only tcp"},
        {"8080:80/", "only tcp"},
        {"127.0.0.1:8080:80", "host address"},
    };
    for (auto& [spec, why] : bad) {
        PortSpec p{1, 2, "tcp"};
        std::string got = net::parse_port(spec, p);
        EXPECT_NE(got.find(why), std::string::npos) << spec << " -> " << got;
        EXPECT_EQ(p, (PortSpec{1, 2, "tcp"})) << "a refused spec must not change the output";
    }
}

// ---------------------------------------------------------------------------------------------
// Subnets

TEST(Step04Subnet, ParseAndArithmetic) {
    auto s = net::Subnet::parse("10.61.0.0/16");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->str(), "10.61.0.0/16");
    EXPECT_EQ(net::to_string(s->gateway()), "10.61.0.1");
    EXPECT_EQ(s->size(), 65536u);
    in_addr a{};
    ::inet_pton(AF_INET, "10.61.255.254", &a);
    EXPECT_TRUE(s->contains(a));
    ::inet_pton(AF_INET, "10.62.0.1", &a);
    EXPECT_FALSE(s->contains(a));
}

TEST(Step04Subnet, BadSubnetsAreRefused) {
    for (const char* bad : {"10.61.0.0", "10.61.0.1/16", "10.61.0.0/31", "10.61.0.0/4", "300.1.1.0/24",
                            "10.61.0.0/x", "10.61.0.0/", "/16"}) {
        std::string why;
        EXPECT_FALSE(net::Subnet::parse(bad, &why)) << bad;
        EXPECT_NE(why.find(bad), std::string::npos) << why;
    }
}

// ---------------------------------------------------------------------------------------------
// IPAM over a temporary run directory

class Step04Ipam : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/minibox-step04-ipam-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        ::setenv("MINIBOX_RUN", dir_.c_str(), 1);
    }
    void TearDown() override {
        ::unsetenv("MINIBOX_RUN");
        std::filesystem::remove_all(dir_);
    }
    net::Lease mine(const std::string& id) {
        net::Lease l;
        l.owner = state::Owner::self();
        l.id = id;
        l.veth = "mbv" + id;
        return l;
    }
    std::string dir_;
};

TEST_F(Step04Ipam, AllocatesLowestFreeAndReusesReleased) {
    net::Ipam ipam(dir_ + "/leases", *net::Subnet::parse("10.61.0.0/24"));
    EXPECT_EQ(net::to_string(ipam.allocate(mine("a")).ip), "10.61.0.2");
    auto b = ipam.allocate(mine("b"));
    EXPECT_EQ(net::to_string(b.ip), "10.61.0.3");
    EXPECT_EQ(net::to_string(ipam.allocate(mine("c")).ip), "10.61.0.4");
    ipam.release(b.ip);
    EXPECT_EQ(ipam.leases().size(), 2u);
    EXPECT_EQ(net::to_string(ipam.allocate(mine("d")).ip), "10.61.0.3");
    ipam.release(b.ip);
    ipam.release(b.ip);  // releasing twice is harmless
}

TEST_F(Step04Ipam, FullSubnetIsOneClearError) {
    // A /30 has 4 addresses: network, gateway, one container, broadcast.
    net::Ipam ipam(dir_ + "/leases", *net::Subnet::parse("10.61.7.0/30"));
    EXPECT_EQ(net::to_string(ipam.allocate(mine("a")).ip), "10.61.7.2");
    try {
        ipam.allocate(mine("b"));
        FAIL() << "a full subnet must be refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_status(), 125);
        EXPECT_NE(e.message().find("subnet 10.61.7.0/30 is full"), std::string::npos) << e.message();
    }
    EXPECT_EQ(ipam.leases().size(), 1u) << "a refused allocation leaves no lease";
}

TEST_F(Step04Ipam, LeaseRoundTrip) {
    net::Lease l = mine("abc");
    ::inet_pton(AF_INET, "10.61.0.9", &l.ip);
    l.ports = {PortSpec{8080, 80, "tcp"}, PortSpec{9000, 9001, "tcp"}};
    auto back = net::Lease::parse(l.serialize());
    ASSERT_TRUE(back);
    EXPECT_EQ(net::to_string(back->ip), "10.61.0.9");
    EXPECT_EQ(back->owner.str(), l.owner.str());
    EXPECT_EQ(back->id, "abc");
    EXPECT_EQ(back->veth, "mbvabc");
    EXPECT_EQ(back->ports, l.ports);
    EXPECT_FALSE(net::Lease::parse("ip=10.61.0.9\n"));  // no owner
}

TEST_F(Step04Ipam, ReapUndoesAndFreesDeadOwnersOnly) {
    net::Ipam ipam(dir_ + "/leases", *net::Subnet::parse("10.61.0.0/24"));
    // A dead owner: a child that has exited and been reaped.
    pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    auto dead_owner = state::Owner{child, state::start_time(child).value_or(1)};
    ::waitpid(child, nullptr, 0);
    net::Lease dead = mine("dead");
    dead.owner = dead_owner;
    dead.ports = {PortSpec{8080, 80, "tcp"}};
    auto d = ipam.allocate(dead);
    auto live = ipam.allocate(mine("live"));
    // A corrupt file counts as dead too.
    { std::FILE* f = std::fopen((dir_ + "/leases/10.61.0.200").c_str(), "w"); std::fputs("garbage", f); std::fclose(f); }

    std::vector<std::string> undone;
    auto reaped = ipam.reap([&](const net::Lease& l) { undone.push_back(l.id + ":" + l.veth); });
    EXPECT_EQ(reaped.size(), 2u);
    EXPECT_EQ(std::set<std::string>(undone.begin(), undone.end()), (std::set<std::string>{"dead:mbvdead", ":"}));
    auto left = ipam.leases();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(net::to_string(left[0].ip), net::to_string(live.ip));
    // The dead one's address is free again.
    EXPECT_EQ(net::to_string(ipam.allocate(mine("next")).ip), net::to_string(d.ip));
}

TEST_F(Step04Ipam, ConcurrentAllocationsUnderTheLockAreDistinct) {
    const int n = 10;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    for (int i = 0; i < n; ++i) {
        if (::fork() == 0) {
            ::close(fds[0]);
            try {
                state::Lock lock("net-test");
                net::Ipam ipam(dir_ + "/leases", *net::Subnet::parse("10.61.0.0/24"));
                auto l = ipam.allocate(mine("c" + std::to_string(i)));
                std::string ip = net::to_string(l.ip) + "\n";
                (void)!::write(fds[1], ip.data(), ip.size());
            } catch (...) {
            }
            ::_exit(0);
        }
    }
    ::close(fds[1]);
    std::string all;
    char buf[256];
    for (ssize_t r; (r = ::read(fds[0], buf, sizeof buf)) > 0;) all.append(buf, static_cast<size_t>(r));
    ::close(fds[0]);
    while (::wait(nullptr) > 0) {
    }
    std::set<std::string> ips;
    size_t lines = 0;
    for (size_t pos = 0, nl; (nl = all.find('\n', pos)) != std::string::npos; pos = nl + 1, ++lines)
        ips.insert(all.substr(pos, nl - pos));
    EXPECT_EQ(lines, static_cast<size_t>(n));
    EXPECT_EQ(ips.size(), static_cast<size_t>(n)) << all;
}

// ---------------------------------------------------------------------------------------------
// rtnetlink message building: walk the bytes as the kernel would.

struct Attr {
    uint16_t type;
    std::vector<uint8_t> payload;
};

std::vector<Attr> attrs(const uint8_t* p, size_t len) {
    std::vector<Attr> out;
    while (len >= NLA_HDRLEN) {
        nlattr a;
        std::memcpy(&a, p, sizeof a);
        EXPECT_GE(a.nla_len, NLA_HDRLEN);
        EXPECT_LE(a.nla_len, len);
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len) break;
        out.push_back({a.nla_type, std::vector<uint8_t>(p + NLA_HDRLEN, p + a.nla_len)});
        size_t step = NLA_ALIGN(a.nla_len);
        if (step > len) step = len;
        p += step;
        len -= step;
    }
    EXPECT_EQ(len, 0u) << "trailing bytes after the last attribute";
    return out;
}

const Attr* find(const std::vector<Attr>& v, uint16_t type) {
    for (auto& a : v)
        if (a.type == type) return &a;
    return nullptr;
}

std::string str(const Attr* a) { return a ? std::string(reinterpret_cast<const char*>(a->payload.data())) : "<none>"; }

// The nlmsghdr, then `T`, then the attributes.
template <class T>
std::vector<Attr> body(const netlink::Message& m, nlmsghdr& h, T& family) {
    auto bytes = m.bytes();
    EXPECT_GE(bytes.size(), NLMSG_HDRLEN + sizeof(T));
    std::memcpy(&h, bytes.data(), sizeof h);
    EXPECT_EQ(h.nlmsg_len, bytes.size());
    EXPECT_EQ(bytes.size() % 4, 0u);
    std::memcpy(&family, bytes.data() + NLMSG_HDRLEN, sizeof(T));
    size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(T));
    return attrs(bytes.data() + off, bytes.size() - off);
}

TEST(Step04Netlink, VethPairNestsThePeer) {
    auto m = netlink::new_veth("mbv0123456789ab", "mbp0123456789ab");
    nlmsghdr h{};
    ifinfomsg ifi{};
    auto top = body(m, h, ifi);
    EXPECT_EQ(h.nlmsg_type, RTM_NEWLINK);
    EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    EXPECT_EQ(str(find(top, IFLA_IFNAME)), "mbv0123456789ab");
    const Attr* info = find(top, IFLA_LINKINFO);
    ASSERT_TRUE(info);
    auto inner = attrs(info->payload.data(), info->payload.size());
    EXPECT_EQ(str(find(inner, IFLA_INFO_KIND)), "veth");
    const Attr* data = find(inner, IFLA_INFO_DATA);
    ASSERT_TRUE(data);
    auto peer_list = attrs(data->payload.data(), data->payload.size());
    const Attr* peer = find(peer_list, VETH_INFO_PEER);
    ASSERT_TRUE(peer);
    // VETH_INFO_PEER holds an ifinfomsg, then the peer's own attributes.
    ASSERT_GE(peer->payload.size(), sizeof(ifinfomsg));
    auto peer_attrs = attrs(peer->payload.data() + NLMSG_ALIGN(sizeof(ifinfomsg)),
                            peer->payload.size() - NLMSG_ALIGN(sizeof(ifinfomsg)));
    EXPECT_EQ(str(find(peer_attrs, IFLA_IFNAME)), "mbp0123456789ab");
}

TEST(Step04Netlink, BridgeMoveAndUp) {
    nlmsghdr h{};
    ifinfomsg ifi{};
    auto br = body(netlink::new_bridge("minibox0"), h, ifi);
    EXPECT_EQ(str(find(br, IFLA_IFNAME)), "minibox0");
    auto kind = attrs(find(br, IFLA_LINKINFO)->payload.data(), find(br, IFLA_LINKINFO)->payload.size());
    EXPECT_EQ(str(find(kind, IFLA_INFO_KIND)), "bridge");

    auto up = body(netlink::link_up(7, 3), h, ifi);
    EXPECT_EQ(ifi.ifi_index, 7);
    EXPECT_EQ(ifi.ifi_flags & IFF_UP, static_cast<unsigned>(IFF_UP));
    EXPECT_EQ(ifi.ifi_change & IFF_UP, static_cast<unsigned>(IFF_UP));
    ASSERT_TRUE(find(up, IFLA_MASTER));
    uint32_t master = 0;
    std::memcpy(&master, find(up, IFLA_MASTER)->payload.data(), 4);
    EXPECT_EQ(master, 3u);
    EXPECT_FALSE(find(body(netlink::link_up(7), h, ifi), IFLA_MASTER)) << "no master: no IFLA_MASTER";

    auto mv = body(netlink::move_link(9, 42, "eth0"), h, ifi);
    EXPECT_EQ(h.nlmsg_flags & NLM_F_CREATE, 0);
    EXPECT_EQ(ifi.ifi_index, 9);
    uint32_t fd = 0;
    ASSERT_TRUE(find(mv, IFLA_NET_NS_FD));
    std::memcpy(&fd, find(mv, IFLA_NET_NS_FD)->payload.data(), 4);
    EXPECT_EQ(fd, 42u);
    EXPECT_EQ(str(find(mv, IFLA_IFNAME)), "eth0");

    auto del = netlink::delete_link(5);
    std::memcpy(&h, del.bytes().data(), sizeof h);
    EXPECT_EQ(h.nlmsg_type, RTM_DELLINK);
}

TEST(Step04Netlink, AddressAndDefaultRoute) {
    in_addr ip{}, gw{};
    ::inet_pton(AF_INET, "10.61.0.2", &ip);
    ::inet_pton(AF_INET, "10.61.0.1", &gw);
    nlmsghdr h{};
    ifaddrmsg ifa{};
    auto a = body(netlink::add_address(4, ip, 16), h, ifa);
    EXPECT_EQ(h.nlmsg_type, RTM_NEWADDR);
    EXPECT_EQ(ifa.ifa_family, AF_INET);
    EXPECT_EQ(ifa.ifa_prefixlen, 16);
    EXPECT_EQ(ifa.ifa_index, 4u);
    auto addr_of = [&](uint16_t type) {
        const Attr* at = find(a, type);
        if (!at || at->payload.size() != 4) return std::string("<none>");
        in_addr x{};
        std::memcpy(&x, at->payload.data(), 4);
        return net::to_string(x);
    };
    EXPECT_EQ(addr_of(IFA_LOCAL), "10.61.0.2");
    EXPECT_EQ(addr_of(IFA_ADDRESS), "10.61.0.2");
    EXPECT_EQ(addr_of(IFA_BROADCAST), "10.61.255.255");

    rtmsg rt{};
    auto r = body(netlink::add_default_route(gw), h, rt);
    EXPECT_EQ(h.nlmsg_type, RTM_NEWROUTE);
    EXPECT_EQ(rt.rtm_dst_len, 0) << "0.0.0.0/0 is the default route";
    EXPECT_EQ(rt.rtm_table, RT_TABLE_MAIN);
    ASSERT_TRUE(find(r, RTA_GATEWAY));
    in_addr got{};
    std::memcpy(&got, find(r, RTA_GATEWAY)->payload.data(), 4);
    EXPECT_EQ(net::to_string(got), "10.61.0.1");
}

// ---------------------------------------------------------------------------------------------
// The nft ruleset and the command line

TEST(Step04Nft, RulesetNamesTheSubnetAndBridge) {
    auto text = net::nft::ruleset("minibox0", "minibox0", *net::Subnet::parse("10.61.0.0/16"));
    EXPECT_NE(text.find("table inet minibox0 {"), std::string::npos);
    EXPECT_NE(text.find("ip saddr 10.61.0.0/16 ip daddr != 10.61.0.0/16 masquerade"), std::string::npos) << text;
    EXPECT_NE(text.find("dnat ip to tcp dport map @tcp_ports"), std::string::npos) << text;
    EXPECT_NE(text.find("iifname \"minibox0\" ip daddr 127.0.0.0/8 drop"), std::string::npos) << text;
}

TEST(Step04Cli, OptionsAreCheckedWhenParsed) {
    auto parse = [](std::vector<std::string> args, net::Config& cfg) {
        CLI::App app;
        net::add_options(app, cfg);
        std::reverse(args.begin(), args.end());
        try {
            app.parse(args);
            return std::string();
        } catch (const CLI::ParseError& e) {
            return std::string(e.what());
        }
    };
    net::Config cfg;
    EXPECT_EQ(parse({"--network", "none", "-p", "8080:80", "-p", "9090:90/tcp"}, cfg), "");
    EXPECT_EQ(cfg.mode, net::Mode::none);
    EXPECT_EQ(cfg.ports, (std::vector<PortSpec>{{8080, 80, "tcp"}, {9090, 90, "tcp"}}));
    net::Config c2;
    EXPECT_NE(parse({"--network", "overlay"}, c2).find("unknown network mode \"overlay\""), std::string::npos);
    EXPECT_NE(parse({"-p", "70000:80"}, c2).find("out of range"), std::string::npos);
    EXPECT_NE(parse({"--bridge", "a-name-far-too-long"}, c2).find("1 to 15"), std::string::npos);
    EXPECT_NE(parse({"--subnet", "10.0.0.0/33"}, c2).find("prefix"), std::string::npos);
}

TEST(Step04Cli, CrossChecksBeforeAnythingIsMade) {
    net::Config cfg;
    cfg.mode = net::Mode::none;
    cfg.ports = {PortSpec{8080, 80, "tcp"}};
    EXPECT_THROW(net::Layer(cfg, "box"), Error);
    cfg.mode = net::Mode::bridge;
    cfg.ports = {PortSpec{8080, 80, "tcp"}, PortSpec{8080, 81, "tcp"}};
    EXPECT_THROW(net::Layer(cfg, "box"), Error);
    cfg.ports = {PortSpec{8080, 80, "tcp"}};
    EXPECT_NO_THROW(net::Layer(cfg, "box"));
    EXPECT_EQ(net::validate_ifname("minibox0"), "");
    EXPECT_NE(net::validate_ifname("a b"), "");
}

TEST(Step04Subnet, RangesThatCannotHoldABridgeAreRefused) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"224.0.0.0/24", "multicast"},   {"239.255.0.0/16", "multicast"}, {"127.0.0.0/8", "loopback"},
        {"127.1.2.0/24", "loopback"},    {"169.254.0.0/16", "link-local"}, {"169.254.3.0/24", "link-local"},
        {"255.255.255.0/24", "broadcast"}, {"240.0.0.0/8", "reserved"},   {"0.0.0.0/8", "0.0.0.0/8"},
    };
    for (auto& [cidr, why] : bad) {
        std::string got;
        EXPECT_FALSE(net::Subnet::parse(cidr, &got)) << cidr;
        EXPECT_NE(got.find(why), std::string::npos) << cidr << ": " << got;
    }
    for (const char* good : {"10.61.0.0/16", "172.16.0.0/12", "192.168.5.0/24", "100.64.0.0/10", "126.0.0.0/8"})
        EXPECT_TRUE(net::Subnet::parse(good)) << good;
}

TEST(Step04Subnet, Overlaps) {
    auto a = *net::Subnet::parse("10.61.0.0/16");
    EXPECT_TRUE(net::overlaps(a, *net::Subnet::parse("10.61.7.0/24")));
    EXPECT_TRUE(net::overlaps(*net::Subnet::parse("10.0.0.0/8"), a));
    EXPECT_FALSE(net::overlaps(a, *net::Subnet::parse("10.62.0.0/16")));
}

TEST(Step04Ports, AnUnknownProtocolIsNamed) {
    PortSpec p;
    EXPECT_NE(net::parse_port("80:80/tcp/x", p).find("unknown protocol \"tcp/x\""), std::string::npos);
    EXPECT_NE(net::parse_port("80:80/udp", p).find("only tcp can be published (udp is an exercise)"), std::string::npos);
}

// The veth request that makes the peer inside the container: IFF_UP and IFLA_MASTER on the
// host end, and IFLA_NET_NS_FD inside VETH_INFO_PEER (not at the top, which would move the
// host end).
TEST(Step04Netlink, NewVethIntoPlacesOnlyThePeerInTheNamespace) {
    auto m = netlink::new_veth_into("mbv1", 7, 42, "eth0");
    auto b = m.bytes();
    auto* h = reinterpret_cast<const nlmsghdr*>(b.data());
    EXPECT_EQ(h->nlmsg_type, RTM_NEWLINK);
    EXPECT_EQ(h->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL), NLM_F_CREATE | NLM_F_EXCL);
    auto* ifi = reinterpret_cast<const ifinfomsg*>(NLMSG_DATA(h));
    EXPECT_EQ(ifi->ifi_flags & IFF_UP, static_cast<unsigned>(IFF_UP));
    int len = static_cast<int>(IFLA_PAYLOAD(h));
    bool master = false, top_ns = false, peer_ns = false, peer_name = false;
    for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_MASTER) master = *static_cast<const uint32_t*>(RTA_DATA(a)) == 7;
        if (a->rta_type == IFLA_NET_NS_FD) top_ns = true;
        if (a->rta_type != IFLA_LINKINFO) continue;
        int l1 = static_cast<int>(RTA_PAYLOAD(a));
        for (auto* i = static_cast<const rtattr*>(RTA_DATA(a)); RTA_OK(i, l1); i = RTA_NEXT(i, l1)) {
            if (i->rta_type != IFLA_INFO_DATA) continue;
            int l2 = static_cast<int>(RTA_PAYLOAD(i));
            for (auto* p = static_cast<const rtattr*>(RTA_DATA(i)); RTA_OK(p, l2); p = RTA_NEXT(p, l2)) {
                if (p->rta_type != VETH_INFO_PEER) continue;
                int l3 = static_cast<int>(RTA_PAYLOAD(p)) - static_cast<int>(sizeof(ifinfomsg));
                auto* pa = reinterpret_cast<const rtattr*>(static_cast<const char*>(RTA_DATA(p)) + sizeof(ifinfomsg));
                for (; RTA_OK(pa, l3); pa = RTA_NEXT(pa, l3)) {
                    if (pa->rta_type == IFLA_NET_NS_FD) peer_ns = *static_cast<const uint32_t*>(RTA_DATA(pa)) == 42;
                    if (pa->rta_type == IFLA_IFNAME) peer_name = std::string(static_cast<const char*>(RTA_DATA(pa))) == "eth0";
                }
            }
        }
    }
    EXPECT_TRUE(master);
    EXPECT_FALSE(top_ns);
    EXPECT_TRUE(peer_ns);
    EXPECT_TRUE(peer_name);
}

TEST(Step04Nft, TheTableCarriesTheOwnerMark) {
    auto text = net::nft::ruleset("minibox0", "minibox0", *net::Subnet::parse("10.61.0.0/16"));
    EXPECT_EQ(text.find("table inet minibox0 {\n\tcomment \"minibox\"\n"), 0u) << text;
}

}  // namespace
