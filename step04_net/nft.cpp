#include "nft.hpp"

#include <nftables/libnftables.h>

#include <memory>
#include <sstream>

#include "error.hpp"
#include "fault.hpp"
#include "narrate.hpp"

namespace net::nft {
namespace {

struct Result {
    int rc = 0;
    std::string out, err;
};

// One libnftables context per batch of commands: it parses nft(8) syntax and sends one netlink
// transaction, which the kernel applies whole or not at all.
Result run_quiet(const std::string& commands) {
    std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    if (!ctx) throw Error("nft_ctx_new: out of memory");
    // Capture what nft would print, instead of letting it reach the container's terminal.
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    Result r;
    r.rc = nft_run_cmd_from_buffer(ctx.get(), commands.c_str());
    if (const char* o = nft_ctx_get_output_buffer(ctx.get())) r.out = o;
    if (const char* e = nft_ctx_get_error_buffer(ctx.get())) r.err = e;
    return r;
}

std::string first_line(const std::string& text) {
    auto nl = text.find('\n');
    return nl == std::string::npos ? text : text.substr(0, nl);
}

// Narrated, and an Error naming the command when nftables refuses.
void run(const std::string& shown, const std::string& commands, const std::string& why,
         const std::string& observe) {
    narrate::Op op{"net", "nft_run_cmd_from_buffer(\"" + shown + "\")", why, observe};
    narrate::before(op);
    if (int injected = fault::inject(op.call)) throw SysError(op.call, injected);  // tests only
    Result r = run_quiet(commands);
    narrate::after(op, std::to_string(r.rc));
    if (r.rc != 0) {
        std::string msg = first_line(r.err);
        if (msg.rfind("Error: ", 0) == 0) msg = msg.substr(7);
        throw Error("nft " + shown + ": " + msg);
    }
}

std::string element(const PortSpec& p, in_addr ip) {
    return std::to_string(p.host) + " : " + to_string(ip) + " . " + std::to_string(p.container);
}

}  // namespace

std::string ruleset(const std::string& table, const std::string& bridge, const Subnet& subnet) {
    const std::string net = subnet.str();
    std::ostringstream s;
    s << "table inet " << table << " {\n"
      // The owner mark: a table without it is someone else's and is never changed or deleted.
      << "\tcomment \"minibox\"\n"
      << "\tmap tcp_ports {\n"
      << "\t\ttype inet_service : ipv4_addr . inet_service\n"
      << "\t}\n"
      // Connections arriving from elsewhere to one of this host's addresses.
      << "\tchain prerouting {\n"
      << "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
      << "\t\tfib daddr type local dnat ip to tcp dport map @tcp_ports\n"
      << "\t}\n"
      // Connections made on this host (to 127.0.0.1 or its own addresses) skip prerouting.
      << "\tchain output {\n"
      << "\t\ttype nat hook output priority -100; policy accept;\n"
      << "\t\tfib daddr type local dnat ip to tcp dport map @tcp_ports\n"
      << "\t}\n"
      << "\tchain postrouting {\n"
      << "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
      << "\t\tip saddr " << net << " ip daddr != " << net << " masquerade\n"
      // A DNAT'ed 127.0.0.1 connection would carry source 127.0.0.1 onto the bridge, and the
      // container would answer its own loopback: give it the gateway's address instead.
      << "\t\toifname \"" << bridge << "\" ip saddr 127.0.0.0/8 masquerade\n"
      << "\t}\n"
      // route_localnet lets 127.0.0.0/8 packets be routed over the bridge; without this guard a
      // container could send packets to the host's loopback services.
      << "\tchain guard {\n"
      << "\t\ttype filter hook prerouting priority raw; policy accept;\n"
      << "\t\tiifname \"" << bridge << "\" ip daddr 127.0.0.0/8 drop\n"
      << "\t}\n"
      << "}\n";
    return s.str();
}

bool table_exists(const std::string& table) { return run_quiet("list table inet " + table).rc == 0; }

bool table_is_ours(const std::string& table) {
    Result r = run_quiet("list table inet " + table);
    // The comment is printed on the table's own line right after its opening brace.
    return r.rc == 0 && r.out.find("\n\tcomment \"minibox\"\n") != std::string::npos;
}

void create_table(const std::string& table, const std::string& bridge, const Subnet& subnet) {
    run("table inet " + table + " {...}", ruleset(table, bridge, subnet),
        "masquerade for outbound traffic, DNAT for published ports", "nft list table inet " + table);
}

bool delete_table(const std::string& table) {
    if (!table_exists(table)) return false;
    run("delete table inet " + table, "delete table inet " + table, "the bridge's NAT rules go with it",
        "nft list tables");
    return true;
}

void publish(const std::string& table, const PortSpec& port, in_addr ip) {
    std::string cmd = "add element inet " + table + " tcp_ports { " + element(port, ip) + " }";
    try {
        run(cmd, cmd, "connections to host port " + std::to_string(port.host) + " go to the container",
            "nft list map inet " + table + " tcp_ports");
    } catch (Error& e) {
        e.with_hint("a stale rule? `step04_net --remove-bridge` removes the bridge and its rules");
        throw;
    }
}

bool unpublish(const std::string& table, const PortSpec& port) noexcept {
    try {
        std::string cmd = "delete element inet " + table + " tcp_ports { " + std::to_string(port.host) + " }";
        narrate::Op op{"net", "nft_run_cmd_from_buffer(\"" + cmd + "\")", "the published port goes with the container",
                       "nft list map inet " + table + " tcp_ports"};
        Result r = run_quiet(cmd);
        narrate::after(op, std::to_string(r.rc));
        return r.rc == 0;
    } catch (...) {
        return false;
    }
}

std::vector<uint16_t> published(const std::string& table) {
    Result r = run_quiet("list map inet " + table + " tcp_ports");
    std::vector<uint16_t> ports;
    if (r.rc != 0) return ports;
    // "elements = { 8080 : 10.61.0.2 . 80, 8081 : ... }", possibly over several lines.
    auto at = r.out.find("elements = {");
    if (at == std::string::npos) return ports;
    std::string list = r.out.substr(at + 12, r.out.find('}', at) - at - 12);
    std::istringstream in(list);
    for (std::string item; std::getline(in, item, ',');) {
        std::istringstream words(item);
        unsigned port = 0;
        if (words >> port) ports.push_back(static_cast<uint16_t>(port));
    }
    return ports;
}

std::string list_ruleset() {
    Result r = run_quiet("list ruleset");
    return r.rc == 0 ? r.out : "";
}

}  // namespace net::nft
