#include "netlink.hpp"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "error.hpp"

namespace netlink {
namespace {

nlmsghdr* head(std::vector<uint8_t>& buf) { return reinterpret_cast<nlmsghdr*>(buf.data()); }

ifinfomsg link_header(int index, unsigned flags = 0, unsigned change = 0) {
    ifinfomsg h{};
    h.ifi_family = AF_UNSPEC;
    h.ifi_index = index;
    h.ifi_flags = flags;
    h.ifi_change = change;
    return h;
}

constexpr uint16_t kCreate = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Message

Message::Message(uint16_t type, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_len = NLMSG_HDRLEN;
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    buf_.resize(NLMSG_HDRLEN);
    std::memcpy(buf_.data(), &h, sizeof h);
}

void Message::append(const void* data, size_t len) {
    size_t at = buf_.size();
    // Every part starts on a 4-byte boundary (NLMSG_ALIGN == NLA_ALIGN); the padding is zero.
    buf_.resize(at + NLMSG_ALIGN(len), 0);
    if (len) std::memcpy(buf_.data() + at, data, len);
    head(buf_)->nlmsg_len = static_cast<uint32_t>(buf_.size());
}

Message& Message::put(uint16_t type, const void* data, size_t len) {
    nlattr a{};
    a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);  // the length excludes the padding
    a.nla_type = type;
    append(&a, sizeof a);
    append(data, len);
    return *this;
}

size_t Message::begin(uint16_t type) {
    size_t mark = buf_.size();
    nlattr a{};
    a.nla_type = type;  // NLA_F_NESTED is optional for the attributes used here
    append(&a, sizeof a);
    return mark;
}

Message& Message::end(size_t mark) {
    auto* a = reinterpret_cast<nlattr*>(buf_.data() + mark);
    a->nla_len = static_cast<uint16_t>(buf_.size() - mark);
    return *this;
}

void Message::set_seq(uint32_t seq) { head(buf_)->nlmsg_seq = seq; }

// ---------------------------------------------------------------------------------------------
// Socket

Socket::Socket() {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw SysError("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)", errno);
    fd_.reset(fd);
}

Socket Socket::in_netns(int netns_fd) {
    // A socket belongs to the namespace it was created in, for good. Only this short-lived
    // thread enters the container's namespace (setns(2) with CLONE_NEWNET changes the calling
    // thread alone), so the rest of the tool stays on the host.
    int fd = -1, err = 0;
    const char* failed = nullptr;
    std::thread helper([&] {
        if (::setns(netns_fd, CLONE_NEWNET) < 0) {
            err = errno, failed = "setns(CLONE_NEWNET)";
            return;
        }
        fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) err = errno, failed = "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)";
    });
    helper.join();
    if (failed) throw SysError(failed, err);
    return Socket(unique_fd(fd));
}

template <class F>
int Socket::transact(Message& m, F&& on_reply) {
    m.set_seq(++seq_);
    auto bytes = m.bytes();
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do sent = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) return -1;

    alignas(nlmsghdr) uint8_t buf[16384];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        int len = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != seq_) continue;  // a late answer to an earlier request
            if (h->nlmsg_type == NLMSG_ERROR) {
                auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
                if (e->error == 0) return 0;  // the ACK
                errno = -e->error;
                return -1;
            }
            on_reply(h);
        }
    }
}

int Socket::request(Message& m) {
    return transact(m, [](nlmsghdr*) {});
}

int Socket::link_index(const std::string& name) {
    Message m(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
    m.header(link_header(0)).put_string(IFLA_IFNAME, name);
    int index = 0;
    int rc = transact(m, [&](nlmsghdr* h) {
        if (h->nlmsg_type == RTM_NEWLINK) index = static_cast<ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
    });
    if (rc < 0 && errno == ENODEV) return 0;
    if (rc < 0) throw SysError("RTM_GETLINK(\"" + name + "\")", errno);
    return index;
}

Socket::Link Socket::link(const std::string& name) {
    Message m(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
    m.header(link_header(0)).put_string(IFLA_IFNAME, name);
    Link out;
    int rc = transact(m, [&](nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWLINK) return;
        auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
        out.index = ifi->ifi_index;
        int len = static_cast<int>(IFLA_PAYLOAD(h));
        for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            auto text = [](rtattr* at) {
                const char* p = static_cast<const char*>(RTA_DATA(at));
                return std::string(p, strnlen(p, RTA_PAYLOAD(at)));
            };
            if (a->rta_type == IFLA_IFALIAS) out.alias = text(a);
            if ((a->rta_type & NLA_TYPE_MASK) == IFLA_LINKINFO) {
                int inner = static_cast<int>(RTA_PAYLOAD(a));
                for (auto* i = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(i, inner); i = RTA_NEXT(i, inner))
                    if (i->rta_type == IFLA_INFO_KIND) out.kind = text(i);
            }
        }
    });
    if (rc < 0 && errno == ENODEV) return {};
    if (rc < 0) throw SysError("RTM_GETLINK(\"" + name + "\")", errno);
    return out;
}

// ---------------------------------------------------------------------------------------------
// The requests

Message new_bridge(const std::string& name) {
    Message m(RTM_NEWLINK, kCreate | NLM_F_ACK);
    m.header(link_header(0)).put_string(IFLA_IFNAME, name);
    size_t info = m.begin(IFLA_LINKINFO);
    m.put_string(IFLA_INFO_KIND, "bridge");
    m.end(info);
    return m;
}

Message new_veth(const std::string& name, const std::string& peer) {
    Message m(RTM_NEWLINK, kCreate | NLM_F_ACK);
    m.header(link_header(0)).put_string(IFLA_IFNAME, name);
    size_t info = m.begin(IFLA_LINKINFO);
    m.put_string(IFLA_INFO_KIND, "veth");
    size_t data = m.begin(IFLA_INFO_DATA);
    // The peer is described like a link of its own: an ifinfomsg, then its attributes.
    size_t p = m.begin(VETH_INFO_PEER);
    m.header(link_header(0)).put_string(IFLA_IFNAME, peer);
    m.end(p);
    m.end(data);
    m.end(info);
    return m;
}

Message set_alias(int index, const std::string& alias) {
    Message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
    m.header(link_header(index)).put(IFLA_IFALIAS, alias.data(), alias.size());
    return m;
}

Message new_veth_into(const std::string& name, int master, int peer_netns_fd, const std::string& peer_name) {
    Message m(RTM_NEWLINK, kCreate | NLM_F_ACK);
    // IFF_UP in the creating header and IFLA_MASTER: the kernel brings the new link up and
    // enslaves it as part of the creation.
    m.header(link_header(0, IFF_UP, IFF_UP)).put_string(IFLA_IFNAME, name);
    m.put_u32(IFLA_MASTER, static_cast<uint32_t>(master));
    size_t info = m.begin(IFLA_LINKINFO);
    m.put_string(IFLA_INFO_KIND, "veth");
    size_t data = m.begin(IFLA_INFO_DATA);
    size_t p = m.begin(VETH_INFO_PEER);
    // The peer's own ifinfomsg and attributes; IFLA_NET_NS_FD here places the peer only.
    m.header(link_header(0)).put_string(IFLA_IFNAME, peer_name);
    m.put_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
    m.end(p);
    m.end(data);
    m.end(info);
    return m;
}

Message delete_link(int index) {
    Message m(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
    m.header(link_header(index));
    return m;
}

Message link_up(int index, int master) {
    Message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
    m.header(link_header(index, IFF_UP, IFF_UP));
    if (master > 0) m.put_u32(IFLA_MASTER, static_cast<uint32_t>(master));
    return m;
}

Message move_link(int index, int netns_fd, const std::string& new_name) {
    // With IFLA_NET_NS_FD and IFLA_IFNAME together, the kernel moves the link and gives it
    // its new name in the target namespace in one step, so "eth0" never clashes on the host.
    Message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
    m.header(link_header(index)).put_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
    m.put_string(IFLA_IFNAME, new_name);
    return m;
}

Message add_address(int index, in_addr addr, int prefix_len) {
    Message m(RTM_NEWADDR, kCreate | NLM_F_ACK);
    ifaddrmsg h{};
    h.ifa_family = AF_INET;
    h.ifa_prefixlen = static_cast<uint8_t>(prefix_len);
    h.ifa_scope = RT_SCOPE_UNIVERSE;
    h.ifa_index = static_cast<uint32_t>(index);
    m.header(h).put_addr(IFA_LOCAL, addr).put_addr(IFA_ADDRESS, addr);
    // The broadcast address ip(8) would add with "brd +".
    uint32_t host_mask = prefix_len >= 32 ? 0 : (0xffffffffu >> prefix_len);
    in_addr brd{htonl(ntohl(addr.s_addr) | host_mask)};
    m.put_addr(IFA_BROADCAST, brd);
    return m;
}

Message add_default_route(in_addr gateway) {
    Message m(RTM_NEWROUTE, kCreate | NLM_F_ACK);
    rtmsg h{};
    h.rtm_family = AF_INET;
    h.rtm_dst_len = 0;  // 0.0.0.0/0: the default route
    h.rtm_table = RT_TABLE_MAIN;
    h.rtm_protocol = RTPROT_BOOT;
    h.rtm_scope = RT_SCOPE_UNIVERSE;
    h.rtm_type = RTN_UNICAST;
    m.header(h).put_addr(RTA_GATEWAY, gateway);
    return m;
}

}  // namespace netlink
