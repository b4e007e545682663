#include "files.hpp"
#include "net.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "error.hpp"
#include "mnt.hpp"
#include "fault.hpp"
#include "narrate.hpp"
#include "netlink.hpp"
#include "nft.hpp"
#include "state.hpp"

namespace net {
namespace {

std::string leases_dir(const std::string& bridge) { return bridge_dir(bridge) + "/leases"; }

constexpr const char* kOwnerMark = "minibox";

// A state file's value without its trailing newline.
std::string read_text(const std::string& path) {
    std::string text = files::read(path);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    if (!f.flush()) throw Error("cannot write " + path);
}

// Generated /etc/hosts and /etc/hostname: run_dir()/net/files/PID:START.{hosts,hostname}.
std::string files_dir() {
    std::string dir = state::run_dir() + "/net";
    ::mkdir(dir.c_str(), 0700);
    dir += "/files";
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + dir + "\")", errno);
    return dir;
}

// The lock that serializes every change to a bridge: its creation, its leases, its removal.
std::string lock_name(const std::string& bridge) { return "net-ns" + netns_id() + "-" + bridge; }

void sysctl(const std::string& key, const std::string& value, const std::string& why) {
    // /proc/sys/net/... shows the network namespace of the process that opens it: ours.
    std::string path = "/proc/sys/" + key;
    for (auto& c : path)
        if (c == '.') c = '/';
    narrate::sys({"net", "write(\"" + path + "\", \"" + value + "\")", why, "sysctl " + key},
                 [&] { return files::write_once(path, value); });
}

std::string veth_name(const std::string& prefix, const std::string& id) { return prefix + id.substr(0, 12); }

// Deletes link `name` if it exists; true when it did.
bool delete_link_named(netlink::Socket& sock, const std::string& name, const std::string& why) {
    int index = sock.link_index(name);
    if (index == 0) return false;
    auto m = netlink::delete_link(index);
    try {
        narrate::sys({"net", "RTM_DELLINK(\"" + name + "\")", why, "ip link show " + name},
                     [&] { return sock.request(m); });
    } catch (const Error& e) {
        if (e.err() != ENODEV) throw;  // it went away by itself meanwhile
        return false;
    }
    return true;
}

// Undoes what a lease's container made on the host: its published ports and its veth.
void undo_lease(netlink::Socket& sock, const std::string& bridge, const Lease& l) {
    for (auto& p : l.ports) nft::unpublish(bridge, p);
    if (!l.veth.empty()) {
        try {
            delete_link_named(sock, l.veth, "a dead container's veth");
        } catch (const Error& e) {
            narrate::warn("reaping " + l.veth + ": " + e.line());
        }
    }
}

std::vector<Lease> reap_locked(netlink::Socket& sock, const std::string& bridge, const Subnet& subnet) {
    Ipam ipam(leases_dir(bridge), subnet);
    auto reaped = ipam.reap([&](const Lease& l) { undo_lease(sock, bridge, l); });
    for (auto& l : reaped)
        narrate::note("net", "reaped lease " + to_string(l.ip) + " of dead owner " + l.owner.str() +
                                 (l.veth.empty() ? "" : " (veth " + l.veth + ")"));
    return reaped;
}

// The owner mark on a bridge we just made; the "creating" record is no longer needed after it.
void label(netlink::Socket& sock, int index, const std::string& bridge) {
    auto m = netlink::set_alias(index, kOwnerMark);
    narrate::sys({"net", "RTM_NEWLINK(\"" + bridge + "\", IFLA_IFALIAS=\"" + kOwnerMark + "\")",
                  "mark the bridge as minibox's: only a bridge with this mark is ever used or removed",
                  "ip link show " + bridge},
                 [&] { return sock.request(m); });
    ::unlink((bridge_dir(bridge) + "/creating").c_str());
}

Subnet recorded_subnet(const std::string& bridge) {
    std::string text = read_text(bridge_dir(bridge) + "/subnet");
    if (auto s = Subnet::parse(text)) return *s;
    return *Subnet::parse("10.61.0.0/16");  // any: only used to read leases
}

// A bridge the toolkit made carries the alias "minibox" (see netlink::set_alias). A tool killed
// between creating the bridge and labelling it leaves run_dir()/.../creating, naming it, behind.
// A "creating" record: a start of ours made the bridge and has not set its alias yet (a live
// owner: it is doing so right now, under the bridge lock), or died in between (a dead one).
bool creating_record(const std::string& bridge) {
    return state::record_owner(bridge_dir(bridge) + "/creating").has_value();
}

}  // namespace

bool is_ours(const netlink::Socket::Link& link, const std::string& bridge) {
    if (link.index == 0 || link.kind != "bridge") return false;
    return link.alias == kOwnerMark || (link.alias.empty() && creating_record(bridge));
}

void check_usable(const std::string& bridge, const Subnet& subnet) {
    netlink::Socket sock;
    auto link = sock.link(bridge);
    // A concurrent start may have set the alias and dropped its record between our two reads:
    // look once more before calling the bridge foreign.
    if (link.index > 0 && link.kind == "bridge" && !is_ours(link, bridge)) {
        ::usleep(50000);
        link = sock.link(bridge);
    }
    if (link.index > 0 && link.kind != "bridge")
        throw Error("--bridge " + bridge + ": " + bridge + " is " +
                    (link.kind.empty() ? std::string("an interface of the host") : "a " + link.kind + " interface") +
                    ", not a bridge")
            .with_hint("name a bridge minibox may create, e.g. --bridge minibox1");
    if (link.index > 0 && !is_ours(link, bridge))
        throw Error("--bridge " + bridge + ": bridge " + bridge + " exists and is not minibox's (no alias \"" +
                    kOwnerMark + "\"); minibox only uses and removes bridges it made")
            .with_hint("pick another --bridge name");
    if (nft::table_exists(bridge) && !nft::table_is_ours(bridge))
        throw Error("--bridge " + bridge + ": nft table inet " + bridge + " exists and is not minibox's")
            .with_hint("pick another --bridge name");
    // Routes on the bridge itself are ours (a concurrent start may have just made it).
    if (auto clash = route_clash(subnet, bridge); !clash.empty())
        throw Error("subnet " + subnet.str() + " overlaps the host's route " + clash)
            .with_hint("pick a free range with --subnet");
}

std::string route_clash(const Subnet& subnet, const std::string& own_bridge) {
    std::ifstream f("/proc/net/route");
    std::string line;
    std::getline(f, line);  // the header
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string iface, dst, gw, flags, refcnt, use, metric, mask;
        if (!(in >> iface >> dst >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
        // The kernel prints the raw network-order words in hex: read back, they are in_addr.
        Subnet r;
        r.network.s_addr = static_cast<uint32_t>(std::stoul(dst, nullptr, 16));
        uint32_t m = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
        while (m & 0x80000000u) ++r.prefix, m <<= 1;
        if (r.prefix == 0 || iface == own_bridge) continue;  // the default route; our own bridge's
        if (overlaps(r, subnet)) return r.str() + " on " + iface;
    }
    return {};
}

namespace {

// The bridge, its address, forwarding and its nft table: made on first use, checked after.
void ensure_bridge(netlink::Socket& sock, const std::string& bridge, const Subnet& subnet) {
    check_usable(bridge, subnet);  // again, now under the lock
    std::string dir = bridge_dir(bridge);
    Ipam(leases_dir(bridge), subnet);  // makes the directories
    std::string record = read_text(dir + "/subnet");
    int index = sock.link_index(bridge);
    if (index > 0 && !record.empty() && record != subnet.str())
        throw Error("bridge " + bridge + " has subnet " + record + ", not " + subnet.str())
            .with_hint("use --bridge with another name for another subnet, or remove it with --remove-bridge");

    if (index == 0) {
        ::unlink((dir + "/ip_forward.before").c_str());  // from an earlier namespace of this inode
        // Until the alias is on, this names the bridge as ours (a kill in between).
        write_text(dir + "/creating", state::Owner::self().str() + "\n");
        auto m = netlink::new_bridge(bridge);
        narrate::sys({"net", "RTM_NEWLINK(\"" + bridge + "\", kind=bridge)",
                      "a virtual switch on the host; every container's veth plugs into it",
                      "ip -d link show " + bridge},
                     [&] { return sock.request(m); });
        index = sock.link_index(bridge);
        write_text(dir + "/subnet", subnet.str());
        label(sock, index, bridge);
        in_addr gw = subnet.gateway();
        auto addr = netlink::add_address(index, gw, subnet.prefix);
        narrate::sys({"net", "RTM_NEWADDR(\"" + bridge + "\", " + to_string(gw) + "/" + std::to_string(subnet.prefix) + ")",
                      "the gateway: the host's address on the containers' subnet",
                      "ip addr show " + bridge},
                     [&] { return sock.request(addr); });
        auto up = netlink::link_up(index);
        narrate::sys({"net", "RTM_NEWLINK(\"" + bridge + "\", IFF_UP)", "the bridge forwards frames once it is up",
                      "ip link show " + bridge},
                     [&] { return sock.request(up); });
        // Routing between the bridge and the host's other interfaces (outbound traffic).
        if (read_text("/proc/sys/net/ipv4/ip_forward") == "0") {
            write_text(dir + "/ip_forward.before", "0");
            sysctl("net.ipv4.ip_forward", "1", "route packets between the bridge and the host's other interfaces");
        }
        // Let packets to 127.0.0.1 that DNAT sent to a container leave through the bridge.
        sysctl("net.ipv4.conf." + bridge + ".route_localnet", "1",
               "127.0.0.1:HOSTPORT may be DNAT'ed onto the bridge (published ports on localhost)");
    } else {
        if (record.empty()) write_text(dir + "/subnet", subnet.str());
        if (sock.link(bridge).alias.empty()) label(sock, index, bridge);  // a kill before the label
    }
    if (!nft::table_exists(bridge)) nft::create_table(bridge, bridge, subnet);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Where the tool keeps what it knows

std::string netns_id() {
    struct stat st {};
    if (::stat("/proc/self/ns/net", &st) < 0) throw SysError("stat(\"/proc/self/ns/net\")", errno);
    return std::to_string(st.st_ino);
}

std::string bridge_dir(const std::string& bridge) { return state::run_dir() + "/net/ns" + netns_id() + "/" + bridge; }

// ---------------------------------------------------------------------------------------------
// Options

std::string validate_ifname(const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ) return "must be 1 to 15 characters long";
    if (name == "." || name == "..") return "is not a valid interface name";
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.';
        if (!ok) return "may only hold letters, digits, '-', '_' and '.'";
    }
    return {};
}

void add_options(CLI::App& app, Config& cfg) {
    static const std::map<std::string, Mode> modes = {{"bridge", Mode::bridge}, {"none", Mode::none}, {"host", Mode::host}};
    app.add_option_function<std::string>(
           "--network",
           [&cfg](const std::string& m) { cfg.mode = modes.at(m); },
           "bridge (default): eth0 on the host's bridge; none: only lo; host: the host's network")
        ->envname("MINIBOX_NETWORK")
        ->check([](const std::string& m) {
            return modes.count(m) ? std::string() : "unknown network mode \"" + m + "\" (bridge, none or host)";
        });
    app.add_option_function<std::vector<std::string>>(
           "-p,--publish",
           [&cfg](const std::vector<std::string>& specs) {
               for (auto& s : specs) {
                   PortSpec p;
                   parse_port(s, p);
                   cfg.ports.push_back(p);
               }
           },
           "publish a container port: 127.0.0.1:HOSTPORT (and the host's addresses) reach CONTAINERPORT")
        ->type_name("HOSTPORT:CONTAINERPORT[/tcp]")
        ->allow_extra_args(false)
        ->check([](const std::string& s) {
            PortSpec p;
            return parse_port(s, p);
        });
    app.add_option("--bridge", cfg.bridge, "the host's bridge for --network bridge (default minibox0)")
        ->envname("MINIBOX_BRIDGE")
        ->check([](const std::string& b) {
            auto why = validate_ifname(b);
            return why.empty() ? why : "bridge name \"" + b + "\" " + why;
        });
    app.add_option("--subnet", cfg.subnet, "the bridge's subnet, its first address the gateway (default 10.61.0.0/16)")
        ->envname("MINIBOX_SUBNET")
        ->check([](const std::string& s) {
            std::string why;
            Subnet::parse(s, &why);
            return why;
        });
    app.add_flag_callback(
        "--remove-bridge",
        [&cfg] {
            cli::set_action([&cfg] {
                std::string done = remove_bridge(cfg.bridge);
                std::printf("%s\n", done.c_str());
                return 0;
            });
        },
        "remove the bridge, its nft table and its state (when no container uses it), then exit");
}

// ---------------------------------------------------------------------------------------------
// Bridge-wide operations

std::vector<std::string> dead_files() {
    std::vector<std::string> out;
    std::string dir = state::run_dir() + "/net/files";  // read only: not made here
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        auto dot = name.find('.');
        if (dot == std::string::npos || dot == 0) continue;
        auto owner = state::Owner::parse(name.substr(0, dot));
        if (!owner || !owner->alive()) out.push_back(dir + "/" + name);
    }
    ::closedir(d);
    return out;
}

void reap_files() {
    for (auto& f : dead_files()) {
        if (::unlink(f.c_str()) == 0) narrate::note("net", "removed " + f + " (its tool is gone)");
    }
}

BridgeState inspect(const std::string& bridge) {
    BridgeState s;
    s.bridge = bridge;
    s.subnet = read_text(bridge_dir(bridge) + "/subnet");
    netlink::Socket sock;
    s.link = sock.link_index(bridge) > 0;
    s.table = nft::table_exists(bridge);
    struct stat st{};
    if (::stat(leases_dir(bridge).c_str(), &st) == 0) {
        Ipam ipam(leases_dir(bridge), recorded_subnet(bridge));
        s.leases = ipam.leases();
        for (auto& l : s.leases)
            if (!(l.owner.pid > 0 && l.owner.alive())) s.dead.push_back(l);
    }
    return s;
}

std::vector<Lease> reap(const std::string& bridge) {
    state::Lock lock(lock_name(bridge));
    netlink::Socket sock;
    return reap_locked(sock, bridge, recorded_subnet(bridge));
}

std::string remove_bridge(const std::string& bridge) {
    {
        // Nothing of someone else's is ever removed: check before the lock (no lock file for a
        // name that is not ours) and again under it.
        netlink::Socket probe;
        auto link = probe.link(bridge);
        if (link.index > 0 && !is_ours(link, bridge))
            throw Error("--remove-bridge: " + bridge + " is not a bridge minibox made (no alias \"" +
                        std::string(kOwnerMark) + "\"); refusing to remove it");
        if (link.index == 0 && !nft::table_is_ours(bridge)) {
            struct stat st {};
            if (::stat(bridge_dir(bridge).c_str(), &st) != 0) return "nothing to remove: no bridge " + bridge;
        }
    }
    state::Lock lock(lock_name(bridge));
    netlink::Socket sock;
    if (auto link = sock.link(bridge); link.index > 0 && !is_ours(link, bridge))
        throw Error("--remove-bridge: " + bridge + " is not a bridge minibox made; refusing to remove it");
    std::string dir = bridge_dir(bridge);
    reap_locked(sock, bridge, recorded_subnet(bridge));
    Ipam ipam(leases_dir(bridge), recorded_subnet(bridge));
    auto live = ipam.leases();
    if (!live.empty())
        throw Error("bridge " + bridge + " is in use by " + std::to_string(live.size()) + " running container(s)")
            .with_hint("stop them first (the first holds " + to_string(live.front().ip) + ")");

    std::vector<std::string> removed;
    if (nft::table_is_ours(bridge) && nft::delete_table(bridge)) removed.push_back("table inet " + bridge);
    if (delete_link_named(sock, bridge, "the bridge goes; the next start makes it again"))
        removed.push_back("bridge " + bridge);
    if (read_text(dir + "/ip_forward.before") == "0") {
        sysctl("net.ipv4.ip_forward", "0", "put forwarding back as it was before the bridge");
        removed.push_back("net.ipv4.ip_forward back to 0");
    }
    ::unlink((dir + "/ip_forward.before").c_str());
    ::unlink((dir + "/subnet").c_str());
    ::unlink((dir + "/creating").c_str());
    ::rmdir(leases_dir(bridge).c_str());
    ::rmdir(dir.c_str());
    ::rmdir(dir.substr(0, dir.rfind('/')).c_str());  // the namespace's directory, when empty
    if (removed.empty()) return "nothing to remove: no bridge " + bridge;
    std::string line = "removed";
    for (size_t i = 0; i < removed.size(); ++i) line += (i ? ", " : " ") + removed[i];
    return line;
}

// ---------------------------------------------------------------------------------------------
// The layer

Layer::Layer(Config cfg, std::string hostname) : cfg_(std::move(cfg)), hostname_(std::move(hostname)) {
    // Checks across options, still before anything is made on the host.
    std::string why;
    auto subnet = Subnet::parse(cfg_.subnet, &why);
    if (!subnet) throw Error(why);
    subnet_ = *subnet;
    if (!cfg_.ports.empty() && cfg_.mode != Mode::bridge)
        throw Error("-p needs --network bridge: with none there is no way in, with host the port is the host's already");
    std::set<uint16_t> seen;
    for (auto& p : cfg_.ports)
        if (!seen.insert(p.host).second) throw Error("host port " + std::to_string(p.host) + " is published twice");
}

int Layer::clone_flags() const { return cfg_.mode == Mode::host ? 0 : CLONE_NEWNET; }

void Layer::prepare_host(launch::Context& ctx) {
    if (cfg_.mode == Mode::host) {
        narrate::note("net", "--network host: no network namespace; the container uses the host's interfaces");
        return;
    }
    // Whether the bridge may be used is known before anything is made (nothing to undo).
    if (cfg_.mode == Mode::bridge) check_usable(cfg_.bridge, subnet_);
    reap_files();
    if (cfg_.mode == Mode::bridge) prepare_bridge(ctx);
    prepare_files(ctx);
}

void Layer::prepare_bridge(launch::Context& ctx) {
    // 1. Hold the host ports first: "in use" must fail before anything is made.
    for (auto& p : cfg_.ports) held_ports_.push_back(reserve_host_port(p.host));

    netlink::Socket sock;
    state::Lock lock(lock_name(cfg_.bridge));
    // 2. What killed tools left behind goes first: their addresses become free again.
    reap_locked(sock, cfg_.bridge, subnet_);
    // 3. The bridge (first use only) ...
    ensure_bridge(sock, cfg_.bridge, subnet_);
    // 4. ... an address. The lease names everything made below, before it is made: a tool
    //    killed half-way leaves a record the next start can undo.
    Ipam ipam(leases_dir(cfg_.bridge), subnet_);
    Lease wanted;
    wanted.owner = state::Owner::self();
    wanted.id = ctx.id;
    wanted.veth = veth_name("mbv", ctx.id);
    wanted.ports = cfg_.ports;
    lease_ = ipam.allocate(wanted);
    leased_ = true;
    narrate::note("net", "lease " + to_string(lease_.ip) + " in " + ipam.dir());

    // 5. The veth pair is made in join_child, once the container's namespace exists: its
    //    name is in the lease already.
    // 6. Published ports: DNAT to the container's address.
    for (auto& p : cfg_.ports) {
        nft::publish(cfg_.bridge, p, lease_.ip);
        published_.push_back(p);  // only what we added: a refused element is someone else's
    }
}

void Layer::prepare_files(launch::Context&) {
    // /etc/hosts and /etc/hostname of the container: written to the run directory, taken as
    // detached mounts (mnt::detach) and attached inside by setup_inside. (They cannot be
    // unlinked before the attach: move_mount(2) refuses a source whose file is gone.) The
    // names carry the owner, so a start after a SIGKILL'ed tool removes them (reap_files).
    std::string ip = leased_ ? to_string(lease_.ip) : "127.0.1.1";
    std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + ip + "\t" + hostname_ + "\n";
    files_base_ = files_dir() + "/" + state::Owner::self().str();
    auto place = [&](const std::string& suffix, const std::string& text) {
        std::string path = files_base_ + suffix;
        write_text(path, text);
        return mnt::detach(path, false);
    };
    hosts_ = place(".hosts", hosts);
    hostname_file_ = place(".hostname", hostname_ + "\n");
}

void Layer::join_child(launch::Context& ctx) {
    if (cfg_.mode == Mode::host) return;
    std::string ns_path = "/proc/" + std::to_string(ctx.pid) + "/ns/net";
    unique_fd ns(static_cast<int>(check(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC), "open(\"" + ns_path + "\")")));

    if (cfg_.mode == Mode::bridge) {
        // One message: the host end, up and on the bridge, and its peer made directly inside
        // the container as eth0. Moving a made link into a namespace waits for the kernel
        // (an RCU grace period); creating it there does not.
        netlink::Socket host;
        int bridge = host.link_index(cfg_.bridge);
        auto veth = netlink::new_veth_into(lease_.veth, bridge, ns.get(), "eth0");
        narrate::sys({"net", "RTM_NEWLINK(\"" + lease_.veth + "\", kind=veth, IFLA_MASTER=\"" + cfg_.bridge +
                          "\", IFF_UP, peer=\"eth0\" IFLA_NET_NS_FD=" + ns_path + ")",
                      "a virtual cable: the host end plugged into the bridge, the other end inside the container as eth0",
                      "bridge link show; nsenter -t {pid} -n ip link"},
                     [&] { return host.request(veth); });
    }

    // The inside is configured from here too, through a socket created in the child's
    // namespace: the child needs no privilege and no code for it, and errors surface here.
    auto inside = netlink::Socket::in_netns(ns.get());
    narrate::note("net", "netlink socket opened inside the container's network namespace (setns in a helper thread)");
    int lo = inside.link_index("lo");
    auto lo_up = netlink::link_up(lo);
    narrate::sys({"net", "RTM_NEWLINK(\"lo\", IFF_UP) in the container",
                  "a new namespace's loopback starts down: 127.0.0.1 needs it up", "nsenter -t {pid} -n ip addr show lo"},
                 [&] { return inside.request(lo_up); });
    if (cfg_.mode != Mode::bridge) return;

    int eth0 = inside.link_index("eth0");
    auto addr = netlink::add_address(eth0, lease_.ip, subnet_.prefix);
    narrate::sys({"net", "RTM_NEWADDR(\"eth0\", " + to_string(lease_.ip) + "/" + std::to_string(subnet_.prefix) + ")",
                  "the container's address, leased from " + subnet_.str(), "nsenter -t {pid} -n ip addr show eth0"},
                 [&] { return inside.request(addr); });
    auto up = netlink::link_up(eth0);
    narrate::sys({"net", "RTM_NEWLINK(\"eth0\", IFF_UP)", "the container's end of the cable comes up",
                  "nsenter -t {pid} -n ip link show eth0"},
                 [&] { return inside.request(up); });
    auto route = netlink::add_default_route(subnet_.gateway());
    narrate::sys({"net", "RTM_NEWROUTE(default via " + to_string(subnet_.gateway()) + ")",
                  "everything not on the subnet goes to the host's bridge", "nsenter -t {pid} -n ip route"},
                 [&] { return inside.request(route); });
}

void Layer::setup_inside(launch::Context&) {
    if (hosts_) mnt::attach(hosts_.get(), "/etc/hosts");
    if (hostname_file_) mnt::attach(hostname_file_.get(), "/etc/hostname");
    hosts_.reset();
    hostname_file_.reset();
}

void Layer::cleanup(launch::Context&) noexcept {
    fault::Suspend undo;  // tests: fault injection fails the doing, never the undoing
    hosts_.reset();
    hostname_file_.reset();
    if (!files_base_.empty()) {
        ::unlink((files_base_ + ".hosts").c_str());
        ::unlink((files_base_ + ".hostname").c_str());
    }
    try {
        for (auto& p : published_) nft::unpublish(cfg_.bridge, p);
        published_.clear();
        // The veth pair is not deleted here: its eth0 end lives in the container's network
        // namespace, and when that namespace goes (its last process has exited, or was
        // killed above) the kernel deletes both ends by itself. A RTM_DELLINK would only wait
        // for that (two RCU grace periods) on every container's exit.
        if (leased_) {
            Ipam(leases_dir(cfg_.bridge), subnet_).release(lease_.ip);
            narrate::note("net", "released lease " + to_string(lease_.ip));
            leased_ = false;
        }
    } catch (const std::exception& e) {
        narrate::warn(std::string("net cleanup: ") + e.what());
    }
    held_ports_.clear();
}

}  // namespace net
