// step04 as root: the container's network from inside, from the "host", and what is left after.
//
// The machine's own network is never touched: before each test, this test process moves into a
// fresh network namespace of its own (unshare(CLONE_NEWNET)) that stands in for the host, with
// a private run directory. Every tool it starts inherits both; the bridge, the veths and the
// nft table live and die in that namespace, which the kernel removes once nothing is in it any
// more (at the latest when the test process exits, whatever the path). Traffic goes only to 127.0.0.1 and to the containers' addresses.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "support.hpp"

using support::bin;
using support::run;

namespace {

// ---------------------------------------------------------------------------------------------
// The stand-in host.

class PrivateHost {
public:
    // A new stand-in host: a fresh network namespace with lo up, an empty run directory.
    void fresh() {
        if (::unshare(CLONE_NEWNET) < 0) {
            std::perror("unshare(CLONE_NEWNET)");
            std::abort();  // never run these tests in the machine's own namespace
        }
        if (!run_.empty()) std::filesystem::remove_all(run_);
        char tmpl[] = "/tmp/minibox-step04-run-XXXXXX";
        if (!::mkdtemp(tmpl)) std::abort();
        run_ = tmpl;
        ::setenv("MINIBOX_RUN", run_.c_str(), 1);
        ::unsetenv("MINIBOX_BRIDGE");
        ::unsetenv("MINIBOX_SUBNET");
        if (std::system("ip link set lo up") != 0) std::abort();
        // A new namespace copies net.ipv4.* from the machine's (net.core.devconf_inherit_init_net
        // = 0): start from "off" whatever the machine has, as a host without the bridge would.
        std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_forward", "w");
        if (!f || std::fputs("0", f) < 0 || std::fclose(f) != 0) std::abort();
    }
    ~PrivateHost() {
        if (!run_.empty()) std::filesystem::remove_all(run_);
    }
    const std::string& run_dir() const { return run_; }

private:
    std::string run_;
};

PrivateHost g_host;

// Every test: root, then a host of its own (so the tests also pass when run in one process).
class Step04 : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        g_host.fresh();
    }
};
class Step04Inside : public Step04 {};
class Step04Host : public Step04 {};
class Step04Across : public Step04 {};
class Step04Outside : public Step04 {};
class Step04BadInput : public Step04 {};
class Step04Remove : public Step04 {};

std::string tool() { return bin("step04_net"); }
// run_dir()/net/nsINODE/minibox0/leases: the leases of the bridge of this network namespace.
std::string leases() {
    std::string ns = support::ns_link(0, "net");  // "net:[4026532281]"
    return g_host.run_dir() + "/net/ns" + ns.substr(5, ns.size() - 6) + "/minibox0/leases";
}

int count_leases() {
    std::error_code ec;
    int n = 0;
    for (auto& e : std::filesystem::directory_iterator(leases(), ec)) {
        (void)e;
        ++n;
    }
    return n;
}

// Host-side views, with the standard tools (observing only).
std::string links() { return support::sh("ip -o link show").out; }
int veth_count() {
    std::string all = links();
    int n = 0;
    for (size_t pos = 0; (pos = all.find(": mbv", pos)) != std::string::npos; ++pos) ++n;
    return n;
}
std::string port_map() { return support::sh("nft list map inet minibox0 tcp_ports 2>&1").out; }

// What a leftover-free host looks like after runs: no veth, no lease, no published port.
void expect_nothing_left(const std::string& when) {
    // The kernel deletes a container's veth pair with its network namespace, asynchronously
    // (the tool does not wait for it): give it a moment.
    for (int i = 0; i < 60 && veth_count() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(veth_count(), 0) << when << "\n" << links();
    EXPECT_EQ(count_leases(), 0) << when;
    EXPECT_EQ(port_map().find("elements"), std::string::npos) << when << "\n" << port_map();
}

// The IPv4 address a container printed with `ip -4 -o addr show eth0`.
std::string address_in(const std::string& out) {
    std::smatch m;
    if (std::regex_search(out, m, std::regex(R"(inet (\d+\.\d+\.\d+\.\d+)/(\d+))"))) return m[1];
    return "";
}

// Connects to 127.0.0.1:port, sends `request`, returns everything read ("" on failure).
std::string talk(uint16_t port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        (void)!::write(fd, request.data(), request.size());
        char buf[4096];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

// Polls until the server inside answers through the published port (the container prints
// "ready" before its server has bound its socket).
std::string fetch(uint16_t port, const std::string& request) {
    for (int i = 0; i < 100; ++i) {
        std::string got = talk(port, request);
        if (!got.empty()) return got;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
}

// A web server in a container: `busybox httpd` serving "hello from NAME".
std::vector<std::string> web(const std::string& name, const std::vector<std::string>& extra) {
    std::vector<std::string> argv{tool(), "--init", "--hostname", name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"sh", "-c",
                             "mkdir /tmp/www && echo hello from $(hostname) > /tmp/www/index.html && "
                             "ip -4 -o addr show eth0 && echo ready && exec httpd -f -p 80 -h /tmp/www"});
    return argv;
}

// ---------------------------------------------------------------------------------------------
// Inside

TEST_F(Step04Inside, BridgeGivesEth0AnAddressADefaultRouteAndLoUp) {
    REQUIRE_ROOT();
    auto r = run({tool(), "--hostname", "box", "sh", "-c",
                  "ip -4 -o addr show eth0; ip route; ip -o link show lo; cat /etc/hosts /etc/hostname"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string ip = address_in(r.out);
    EXPECT_EQ(ip.rfind("10.61.", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("/16"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("default via 10.61.0.1 dev eth0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("lo: <LOOPBACK,UP,LOWER_UP>"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(ip + "\tbox\n"), std::string::npos) << "/etc/hosts names the container\n" << r.out;
    EXPECT_NE(r.out.find("\nbox\n"), std::string::npos) << "/etc/hostname\n" << r.out;
}

TEST_F(Step04Inside, NoneShowsOnlyLoAndItIsUp) {
    REQUIRE_ROOT();
    auto r = run({tool(), "--network", "none", "sh", "-c", "ls /sys/class/net; ip -o link"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, 3), "lo\n") << r.out;
    EXPECT_EQ(r.out.find("eth0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("lo: <LOOPBACK,UP,LOWER_UP>"), std::string::npos) << r.out;
    EXPECT_EQ(veth_count(), 0);
    EXPECT_EQ(links().find("minibox0"), std::string::npos) << "none makes no bridge";
}

TEST_F(Step04Inside, HostModeKeepsTheHostsNamespace) {
    REQUIRE_ROOT();
    auto r = run({tool(), "--network", "host", "readlink", "/proc/self/ns/net"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, support::ns_link(0, "net") + "\n");
    auto other = run({tool(), "--network", "none", "readlink", "/proc/self/ns/net"});
    EXPECT_NE(other.out, support::ns_link(0, "net") + "\n");
}

// ---------------------------------------------------------------------------------------------
// From the host, while it runs

TEST_F(Step04Host, TheVethIsOnTheBridgeAndTheRulesExist) {
    REQUIRE_ROOT();
    support::Background c({tool(), "--hostname", "seen", "sh", "-c", "echo ready; exec sleep 30"});
    ASSERT_NE(c.wait_for_line("ready"), "");
    pid_t inside = support::wait_for_child(c.pid(), "sleep");
    ASSERT_GT(inside, 0);
    EXPECT_NE(support::ns_link(inside, "net"), support::ns_link(0, "net"));
    auto bridged = support::sh("ip -o link show master minibox0").out;
    EXPECT_NE(bridged.find(": mbv"), std::string::npos) << bridged;
    EXPECT_NE(support::sh("ip -4 addr show minibox0").out.find("inet 10.61.0.1/16"), std::string::npos);
    // Seen from the host with nsenter: eth0 is in the container's namespace, not here.
    auto in = support::sh("nsenter -t " + std::to_string(inside) + " -n ip -o link show eth0");
    EXPECT_EQ(in.status, 0) << in.err;
    EXPECT_NE(support::sh("ip link show eth0 2>&1").status, 0) << "eth0 is not on the host";
    // Forwarding and masquerade were set up with the bridge.
    EXPECT_EQ(support::read_file("/proc/sys/net/ipv4/ip_forward"), "1\n");
    auto table = support::sh("nft list table inet minibox0").out;
    EXPECT_NE(table.find("ip saddr 10.61.0.0/16 ip daddr != 10.61.0.0/16 masquerade"), std::string::npos) << table;
    EXPECT_EQ(count_leases(), 1);
}

// ---------------------------------------------------------------------------------------------
// Across

TEST_F(Step04Across, TwoContainersReachEachOther) {
    REQUIRE_ROOT();
    support::Background server(web("server", {}));
    std::string ip = address_in(server.wait_for_line("inet "));
    ASSERT_NE(ip, "");
    ASSERT_NE(server.wait_for_line("ready"), "");
    // The client retries while the server's httpd is still starting.
    auto client = run({tool(), "--hostname", "client", "sh", "-c",
                       "ip -4 -o addr show eth0; for i in $(seq 50); do "
                       "wget -qO- http://" + ip + "/index.html && exit 0; sleep 0.1; done; exit 1"});
    EXPECT_EQ(client.status, 0) << client.err;
    EXPECT_NE(client.out.find("hello from server"), std::string::npos) << client.out;
    EXPECT_NE(address_in(client.out), ip) << "two containers, two addresses";
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(), 128 + SIGTERM);
}

TEST_F(Step04Across, TheHostReachesAPublishedPortOnLocalhost) {
    REQUIRE_ROOT();
    {
        support::Background c(web("web1", {"-p", "18080:80"}));
        ASSERT_NE(c.wait_for_line("ready"), "");
        EXPECT_NE(port_map().find("18080 : 10.61.0."), std::string::npos) << port_map();
        std::string got = fetch(18080, "GET /index.html HTTP/1.0\r\n\r\n");
        EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
        EXPECT_NE(got.find("hello from web1"), std::string::npos) << got;
        // A second container cannot take the same host port.
        auto again = run({tool(), "-p", "18080:80", "true"});
        EXPECT_EQ(again.status, 125);
        EXPECT_NE(again.err.find("host port 18080 is already in use"), std::string::npos) << again.err;
        c.signal(SIGTERM);
        EXPECT_EQ(c.wait(), 128 + SIGTERM);
    }
    expect_nothing_left("after the published container ended");
    EXPECT_EQ(talk(18080, "GET / HTTP/1.0\r\n\r\n"), "") << "the port is not published any more";
}

// ---------------------------------------------------------------------------------------------
// Outside: nothing left behind

TEST_F(Step04Outside, NothingLeftAfterExitButTheBridgeStays) {
    REQUIRE_ROOT();
    EXPECT_EQ(run({tool(), "-p", "18081:80", "true"}).status, 0);
    EXPECT_EQ(run({tool(), "sh", "-c", "exit 3"}).status, 3);
    expect_nothing_left("after two runs");
    EXPECT_NE(links().find("minibox0"), std::string::npos) << "the bridge stays for the next container";
}

TEST_F(Step04Outside, NothingLeftAfterAnErrorHalfWay) {
    REQUIRE_ROOT();
    // The command is not found: everything was set up, the child fails before execve.
    auto r = run({tool(), "-p", "18082:80", "no-such-command-xyz"});
    EXPECT_EQ(r.status, 127);
    expect_nothing_left("after exit 127");
    // A published port refused by nftables after the lease, the veth and a first port were made:
    // an element for 18084 that is not ours is already in the map.
    ASSERT_EQ(run({tool(), "true"}).status, 0);  // the bridge and table exist
    ASSERT_EQ(support::sh("nft add element inet minibox0 tcp_ports '{ 18084 : 10.61.250.250 . 1 }'").status, 0);
    r = run({tool(), "-p", "18083:80", "-p", "18084:80", "true"});
    EXPECT_EQ(r.status, 125);
    EXPECT_NE(r.err.find("18084"), std::string::npos) << r.err;
    for (int i = 0; i < 60 && veth_count() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(veth_count(), 0) << links();
    EXPECT_EQ(count_leases(), 0);
    EXPECT_EQ(port_map().find("18083"), std::string::npos) << port_map();
    EXPECT_NE(port_map().find("18084 : 10.61.250.250"), std::string::npos) << "what is not ours stays";
}

TEST_F(Step04Outside, AfterSigkillTheNextStartReaps) {
    REQUIRE_ROOT();
    {
        support::Background c(web("doomed", {"-p", "18085:80"}));
        ASSERT_NE(c.wait_for_line("ready"), "");
        c.signal(SIGKILL);
        EXPECT_EQ(c.wait(), 128 + SIGKILL);
    }
    // The tool could not clean up: its lease and published port are still there.
    EXPECT_EQ(count_leases(), 1);
    EXPECT_NE(port_map().find("18085"), std::string::npos) << port_map();
    // The next start finds the dead owner and removes what it left, then runs normally.
    auto r = run({tool(), "--explain", "true"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("reaped lease"), std::string::npos) << r.err;
    expect_nothing_left("after the next start");
}

TEST_F(Step04Outside, MiniboxCleanupListsAndRemovesWhatAKilledToolLeft) {
    REQUIRE_ROOT();
    {
        support::Background c(web("doomed", {"-p", "18088:80"}));
        ASSERT_NE(c.wait_for_line("ready"), "");
        c.signal(SIGKILL);
        c.wait();
    }
    auto list = run({bin("minibox"), "cleanup"});
    EXPECT_EQ(list.status, 0) << list.err;
    EXPECT_NE(list.out.find("lease " + leases() + "/10.61.0.2 (owner "), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("port 18088:80/tcp)"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find(".hosts (its tool is gone)"), std::string::npos) << list.out;
    EXPECT_EQ(count_leases(), 1) << "listing changes nothing";
    auto removed = run({bin("minibox"), "cleanup", "--remove"});
    EXPECT_EQ(removed.status, 0) << removed.err;
    expect_nothing_left("after minibox cleanup --remove");
    // (Other steps' finders look at the whole host: only our own lines are asserted.)
    auto after = run({bin("minibox"), "cleanup"}).out;
    EXPECT_EQ(after.find(g_host.run_dir()), std::string::npos) << after;
    EXPECT_EQ(after.find("tcp_ports"), std::string::npos) << after;
}

TEST_F(Step04Outside, TenConcurrentStartsGetTenDistinctAddresses) {
    REQUIRE_ROOT();
    // The containers stay up until all ten have printed their address (a file in a shared
    // volume releases them), so no address can be reused by a later one.
    std::string sync = g_host.run_dir() + "/sync";
    std::filesystem::create_directories(sync);
    std::vector<std::unique_ptr<support::Background>> boxes;
    for (int i = 0; i < 10; ++i)
        boxes.push_back(std::make_unique<support::Background>(std::vector<std::string>{
            tool(), "-v", sync + ":/tmp/sync", "sh", "-c",
            "ip -4 -o addr show eth0; while [ ! -e /tmp/sync/go ]; do sleep 0.05; done"}));
    std::set<std::string> ips;
    for (auto& b : boxes) {
        std::string ip = address_in(b->wait_for_line("inet ", std::chrono::seconds(30)));
        EXPECT_NE(ip, "");
        ips.insert(ip);
    }
    EXPECT_EQ(count_leases(), 10);
    EXPECT_EQ(veth_count(), 10);
    { std::FILE* f = std::fopen((sync + "/go").c_str(), "w"); if (f) std::fclose(f); }
    for (auto& b : boxes) EXPECT_EQ(b->wait(), 0);
    EXPECT_EQ(ips.size(), 10u);
    expect_nothing_left("after ten");
}

// ---------------------------------------------------------------------------------------------
// Bad input: one line, exit 125, nothing left

void expect_refused(const std::vector<std::string>& argv, const std::string& why) {
    auto r = run(argv);
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line:\n" << r.err;
    EXPECT_EQ(r.out, "");
}

TEST_F(Step04BadInput, RefusedBeforeAnythingIsMade) {
    REQUIRE_ROOT();
    expect_refused({tool(), "--network", "overlay", "true"}, "unknown network mode \"overlay\"");
    expect_refused({tool(), "-p", "0:80", "true"}, "out of range");
    expect_refused({tool(), "-p", "8080:65536", "true"}, "out of range");
    expect_refused({tool(), "-p", "http", "true"}, "HOSTPORT:CONTAINERPORT");
    expect_refused({tool(), "-p", "8080:80/udp", "true"}, "only tcp");
    expect_refused({tool(), "--network", "none", "-p", "8080:80", "true"}, "-p needs --network bridge");
    expect_refused({tool(), "--subnet", "10.61.0.0/33", "true"}, "prefix");
    EXPECT_EQ(links().find("minibox0"), std::string::npos) << "not even the bridge was made";
    EXPECT_EQ(count_leases(), 0);
}

TEST_F(Step04BadInput, HostPortInUse) {
    REQUIRE_ROOT();
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(18086);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    expect_refused({tool(), "-p", "18086:80", "true"}, "host port 18086 is already in use");
    ::close(fd);
    EXPECT_EQ(veth_count(), 0);
    EXPECT_EQ(count_leases(), 0);
    EXPECT_EQ(port_map().find("18086"), std::string::npos);
}

TEST_F(Step04BadInput, FullSubnet) {
    REQUIRE_ROOT();
    // A /30 holds one container.
    std::vector<std::string> small{tool(), "--bridge", "mbtest0", "--subnet", "10.62.0.0/30"};
    auto first = small;
    first.insert(first.end(), {"sh", "-c", "echo ready; exec sleep 30"});
    support::Background holder(first);
    ASSERT_NE(holder.wait_for_line("ready"), "");
    auto second = small;
    second.insert(second.end(), {"-p", "18087:80", "true"});
    expect_refused(second, "subnet 10.62.0.0/30 is full");
    EXPECT_EQ(veth_count(), 1) << "only the first container's";
    EXPECT_EQ(support::sh("nft list map inet mbtest0 tcp_ports").out.find("18087"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Removing the bridge

TEST_F(Step04Remove, RemoveBridgeRefusesWhileInUseThenRemovesEverything) {
    REQUIRE_ROOT();
    ASSERT_EQ(support::read_file("/proc/sys/net/ipv4/ip_forward"), "0\n");
    {
        support::Background c({tool(), "sh", "-c", "echo ready; exec sleep 30"});
        ASSERT_NE(c.wait_for_line("ready"), "");
        auto busy = run({tool(), "--remove-bridge"});
        EXPECT_EQ(busy.status, 125);
        EXPECT_NE(busy.err.find("in use by 1 running container"), std::string::npos) << busy.err;
    }
    auto r = run({tool(), "--remove-bridge"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "removed table inet minibox0, bridge minibox0, net.ipv4.ip_forward back to 0\n");
    EXPECT_EQ(links().find("minibox0"), std::string::npos) << links();
    EXPECT_EQ(support::sh("nft list tables").out, "");
    EXPECT_EQ(support::read_file("/proc/sys/net/ipv4/ip_forward"), "0\n");
    EXPECT_EQ(run({tool(), "--remove-bridge"}).out, "nothing to remove: no bridge minibox0\n");
}

// ---------------------------------------------------------------------------------------------
// Only what is ours: a bridge, a veth or an nft table of the user's is never used nor removed

class Step04Foreign : public Step04 {};

// What the tool may have made on the host for a bridge name: its nft table, its run-dir state.
void expect_nothing_made_for(const std::string& name) {
    EXPECT_EQ(support::sh("nft list tables").out.find("inet " + name + "\n"), std::string::npos)
        << support::sh("nft list tables").out;
    std::error_code ec;
    for (auto& e : std::filesystem::recursive_directory_iterator(g_host.run_dir(), ec))
        EXPECT_EQ(e.path().string().find(name), std::string::npos) << "state left: " << e.path();
}

TEST_F(Step04Foreign, RemoveBridgeRefusesTheUsersBridgeAndVeth) {
    REQUIRE_ROOT();
    ASSERT_EQ(support::sh("ip link add ubr0 type bridge && ip link add uv0 type veth peer name uv1").status, 0);
    for (const char* name : {"ubr0", "uv0", "lo"}) {
        auto r = run({tool(), "--bridge", name, "--remove-bridge"});
        EXPECT_EQ(r.status, 125) << name << ": " << r.out << r.err;
        EXPECT_NE(r.err.find("not a bridge minibox made"), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_EQ(r.out, "");
    }
    EXPECT_NE(links().find(": ubr0:"), std::string::npos) << "the user's bridge is still there\n" << links();
    EXPECT_NE(links().find(": uv0@uv1:"), std::string::npos) << links();
    EXPECT_NE(links().find(": uv1@uv0:"), std::string::npos) << links();
    expect_nothing_made_for("ubr0");
    expect_nothing_made_for("uv0");
}

TEST_F(Step04Foreign, RunRefusesAnInterfaceThatIsNotAnOwnBridge) {
    REQUIRE_ROOT();
    ASSERT_EQ(support::sh("ip link add ubr0 type bridge && ip link add uv0 type veth peer name uv1").status, 0);
    expect_refused({tool(), "--bridge", "uv0", "true"}, "uv0 is a veth interface, not a bridge");
    expect_refused({tool(), "--bridge", "lo", "true"}, "lo is an interface of the host, not a bridge");
    expect_refused({tool(), "--bridge", "ubr0", "true"}, "bridge ubr0 exists and is not minibox's");
    expect_nothing_made_for("uv0");
    expect_nothing_made_for("lo");
    expect_nothing_made_for("ubr0");
    EXPECT_EQ(support::sh("ip -4 -o addr show ubr0").out, "") << "no gateway address put on the user's bridge";
    EXPECT_EQ(veth_count(), 0);
}

TEST_F(Step04Foreign, RunRefusesAForeignNftTableOfTheBridgesName) {
    REQUIRE_ROOT();
    ASSERT_EQ(support::sh("nft add table inet mbt1").status, 0);
    expect_refused({tool(), "--bridge", "mbt1", "true"}, "nft table inet mbt1 exists and is not minibox's");
    EXPECT_EQ(links().find("mbt1"), std::string::npos) << "no bridge made";
    auto r = run({tool(), "--bridge", "mbt1", "--remove-bridge"});
    EXPECT_EQ(r.out, "nothing to remove: no bridge mbt1\n") << r.err;
    EXPECT_EQ(support::sh("nft list table inet mbt1").status, 0) << "the user's table stays";
}

TEST_F(Step04Foreign, OwnBridgeIsMarkedAndRemovable) {
    REQUIRE_ROOT();
    auto r = run({tool(), "--bridge", "mbt2", "--subnet", "10.63.0.0/24", "true"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(support::sh("ip link show mbt2").out.find("alias minibox"), std::string::npos)
        << support::sh("ip link show mbt2").out;
    EXPECT_NE(support::sh("nft list table inet mbt2").out.find("comment \"minibox\""), std::string::npos);
    // A second start uses it again; then it can be removed.
    EXPECT_EQ(run({tool(), "--bridge", "mbt2", "--subnet", "10.63.0.0/24", "true"}).status, 0);
    auto rm = run({tool(), "--bridge", "mbt2", "--remove-bridge"});
    EXPECT_EQ(rm.status, 0) << rm.err;
    EXPECT_EQ(rm.out, "removed table inet mbt2, bridge mbt2, net.ipv4.ip_forward back to 0\n");
    EXPECT_EQ(links().find("mbt2"), std::string::npos);
}

TEST_F(Step04Foreign, BadSubnetsAreRefusedBeforeAnythingIsMade) {
    REQUIRE_ROOT();
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"224.0.0.0/24", "multicast"},      {"239.1.0.0/16", "multicast"}, {"127.0.0.0/8", "loopback"},
        {"127.5.0.0/16", "loopback"},       {"169.254.0.0/16", "link-local"}, {"255.255.255.0/24", "broadcast"},
        {"240.0.0.0/8", "reserved"},        {"0.0.0.0/8", "0.0.0.0/8"},
    };
    for (auto& [subnet, why] : bad) expect_refused({tool(), "--bridge", "mbt3", "--subnet", subnet, "true"}, why);
    // A route of the host: an interface (one end of a veth pair) with 192.168.77.0/24 on it.
    ASSERT_EQ(support::sh("ip link add ud0 type veth peer name ud1 && ip addr add 192.168.77.1/24 dev ud0 && ip link set ud0 up").status, 0);
    expect_refused({tool(), "--bridge", "mbt3", "--subnet", "192.168.0.0/16", "true"},
                   "overlaps the host's route 192.168.77.0/24 on ud0");
    expect_refused({tool(), "--bridge", "mbt3", "--subnet", "192.168.77.128/25", "true"}, "overlaps the host's route");
    EXPECT_EQ(links().find("mbt3"), std::string::npos) << links();
    expect_nothing_made_for("mbt3");
    // Our own bridge's route is no clash: a second start on it works.
    EXPECT_EQ(run({tool(), "--bridge", "mbt3", "--subnet", "10.64.0.0/24", "true"}).status, 0);
    auto again = run({tool(), "--bridge", "mbt3", "--subnet", "10.64.0.0/24", "true"});
    EXPECT_EQ(again.status, 0) << again.err;
}

TEST_F(Step04Foreign, ABridgeLeftUnlabelledByAKilledToolIsStillOurs) {
    REQUIRE_ROOT();
    // A tool killed between RTM_NEWLINK and the alias: its "creating" record names the bridge.
    std::string ns = support::ns_link(0, "net");
    std::string dir = g_host.run_dir() + "/net/ns" + ns.substr(5, ns.size() - 6) + "/mbt4";
    std::filesystem::create_directories(dir);
    ASSERT_EQ(support::sh("ip link add mbt4 type bridge && echo 999999:1 > " + dir + "/creating").status, 0);
    auto r = run({tool(), "--bridge", "mbt4", "--subnet", "10.65.0.0/24", "true"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(support::sh("ip link show mbt4").out.find("alias minibox"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(dir + "/creating"));
}

// A netns that is gone leaves its state and lock files: cleanup lists and removes them.
TEST_F(Step04Outside, CleanupRemovesStateOfNetworkNamespacesThatAreGone) {
    REQUIRE_ROOT();
    std::string run_dir = g_host.run_dir();
    // A child in a namespace of its own starts a container there, then the namespace goes.
    auto r = support::sh("unshare -n sh -c 'ip link set lo up; " + tool() + " true'");
    ASSERT_EQ(r.status, 0) << r.err;
    int ns_dirs = 0, locks = 0;
    for (auto& e : std::filesystem::directory_iterator(run_dir + "/net"))
        if (e.path().filename().string().rfind("ns", 0) == 0) ++ns_dirs;
    for (auto& e : std::filesystem::directory_iterator(run_dir))
        if (e.path().filename().string().rfind("net-ns", 0) == 0) ++locks;
    ASSERT_EQ(ns_dirs, 1);
    ASSERT_EQ(locks, 1);
    auto list = run({bin("minibox"), "cleanup"});
    EXPECT_NE(list.out.find("net-state " + run_dir + "/net/ns"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("lock " + run_dir + "/net-ns"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("is gone"), std::string::npos) << list.out;
    auto rm = run({bin("minibox"), "cleanup", "--remove"});
    EXPECT_EQ(rm.status, 0) << rm.err;
    for (auto& e : std::filesystem::directory_iterator(run_dir + "/net"))
        EXPECT_NE(e.path().filename().string().rfind("ns", 0), 0u) << e.path();
    for (auto& e : std::filesystem::directory_iterator(run_dir))
        EXPECT_NE(e.path().filename().string().rfind("net-ns", 0), 0u) << e.path();
    // (Other steps' finders look at machine-wide places, cgroups: only step04's lines count here.)
    auto after = run({bin("minibox"), "cleanup"}).out;
    EXPECT_EQ(after.find("net-state "), std::string::npos) << after;
    EXPECT_EQ(after.find("lock "), std::string::npos) << after;
}

}  // namespace
