// rtnetlink: how a program (ip(8), Docker, this tool) creates links, addresses and routes.
//
// The kernel's routing subsystem is driven by messages on an AF_NETLINK socket: a fixed header
// (nlmsghdr), a family header (ifinfomsg for links, ifaddrmsg for addresses, rtmsg for routes),
// then type-length-value attributes, some nested. Each request asks for an ACK; the kernel
// answers with NLMSG_ERROR whose error is 0 on success or -errno. See netlink(7), rtnetlink(7).
// A socket acts on the network namespace it was created in: Socket::in_netns_of() makes one
// inside a container's namespace.
#pragma once

#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "unique_fd.hpp"

namespace netlink {

// One request being built: the nlmsghdr, the family header, then attributes. Kept apart from
// the socket so unit tests can check the bytes.
class Message {
public:
    Message(uint16_t type, uint16_t flags);

    // The family header (ifinfomsg, ifaddrmsg, rtmsg) right after the nlmsghdr.
    template <class T>
    Message& header(const T& h) {
        append(&h, sizeof h);
        return *this;
    }
    Message& put(uint16_t type, const void* data, size_t len);
    Message& put_u32(uint16_t type, uint32_t v) { return put(type, &v, sizeof v); }
    Message& put_string(uint16_t type, const std::string& s) { return put(type, s.c_str(), s.size() + 1); }
    Message& put_addr(uint16_t type, in_addr a) { return put(type, &a, sizeof a); }
    // Nested attributes: begin() returns a mark for end(), which fixes the outer length.
    size_t begin(uint16_t type);
    Message& end(size_t mark);

    void set_seq(uint32_t seq);
    // The finished message: nlmsg_len is kept up to date by every append.
    std::span<const uint8_t> bytes() const { return buf_; }

private:
    void append(const void* data, size_t len);
    std::vector<uint8_t> buf_;
};

// A NETLINK_ROUTE socket.
class Socket {
public:
    // A socket in the caller's network namespace.
    Socket();
    // A socket in the network namespace `netns_fd` refers to (an open /proc/PID/ns/net): a
    // helper thread setns(2)es there and creates it, so this process never changes namespace.
    static Socket in_netns(int netns_fd);

    // Sends `m` with NLM_F_ACK and waits for the kernel's answer. Returns 0, or -1 with errno
    // set to the kernel's error (EEXIST, ENODEV, ...), as a system call would.
    int request(Message& m);
    // RTM_GETLINK by name: the interface index, or 0 when there is no such link.
    int link_index(const std::string& name);

    // What RTM_GETLINK tells about one link: enough to decide whether it is ours.
    struct Link {
        int index = 0;       // 0: no such link
        std::string kind;    // IFLA_INFO_KIND: "bridge", "veth", ... ("" for lo, physical NICs)
        std::string alias;   // IFLA_IFALIAS ("ip link set NAME alias TEXT")
    };
    Link link(const std::string& name);

private:
    // Sends `m`, then reads answers until the ACK; `on_reply` sees every other message.
    template <class F>
    int transact(Message& m, F&& on_reply);
    explicit Socket(unique_fd fd) : fd_(std::move(fd)) {}
    unique_fd fd_;
    uint32_t seq_ = 0;
};

// The requests this step sends. Each returns a Message ready for Socket::request().
Message new_bridge(const std::string& name);
// IFLA_IFALIAS: a free-text label on a link. The toolkit labels what it creates "minibox" and
// never deletes or uses a bridge without that label. (The kernel ignores the alias in a
// creating RTM_NEWLINK, so it is a request of its own.)
Message set_alias(int index, const std::string& alias);
// A veth pair: `name` here, `peer` its other end, in this namespace too.
Message new_veth(const std::string& name, const std::string& peer);
// A veth pair made in one request: `name` here, up and enslaved to `master`; `peer` created
// straight in the namespace `peer_netns_fd` refers to, named `peer_name` there. Nothing has to
// be moved afterwards, and "eth0" never exists on the host.
Message new_veth_into(const std::string& name, int master, int peer_netns_fd, const std::string& peer_name);
Message delete_link(int index);
// Bring a link up (IFF_UP) and, when master > 0, enslave it to that bridge.
Message link_up(int index, int master = 0);
// Move a link into the namespace `netns_fd` refers to, renaming it `new_name` there.
Message move_link(int index, int netns_fd, const std::string& new_name);
Message add_address(int index, in_addr addr, int prefix_len);
Message add_default_route(in_addr gateway);

}  // namespace netlink
