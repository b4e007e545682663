#include "netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "error.hpp"
#include "launcher.hpp"
#include "narrate.hpp"
#include "net.hpp"
#include "netlink.hpp"
#include "util.hpp"

namespace shim {
namespace {

net::Config to_config(const Network& n) {
    net::Config c;
    if (n.mode == "bridge") c.mode = net::Mode::bridge;
    else if (n.mode == "none") c.mode = net::Mode::none;
    else if (n.mode == "host") c.mode = net::Mode::host;
    else throw Error("network mode \"" + n.mode + "\": expected none, bridge or host");
    for (auto& p : n.ports) {
        net::PortSpec spec;
        if (auto why = net::parse_port(p, spec); !why.empty()) throw Error("published port \"" + p + "\": " + why);
        c.ports.push_back(spec);
    }
    // step04's defaults, with its environment overrides, unless shim.json names them.
    if (const char* b = std::getenv("MINIBOX_BRIDGE"); b && *b) c.bridge = b;
    if (const char* s = std::getenv("MINIBOX_SUBNET"); s && *s) c.subnet = s;
    if (!n.bridge.empty()) c.bridge = n.bridge;
    if (!n.subnet.empty()) c.subnet = n.subnet;
    if (auto why = net::validate_ifname(c.bridge); !why.empty()) throw Error("bridge name \"" + c.bridge + "\" " + why);
    return c;
}

// A task whose only job is to be in the new network namespace while it is wired: step04's
// layer works on a task (/proc/TID/ns/net), as it does with a container's init. A thread of
// the shim, not a forked child: nothing to copy, and its end is not waited for (a child
// killed has to be scheduled to die and be reaped: 10-15 ms on a busy host, on every run).
// unshare(CLONE_NEWNET) moves only the calling thread (namespaces are per task, see
// unshare(2)); the shim's other threads stay in the host's namespace.
struct Holder {
    pid_t pid = -1;     // the thread's id: /proc/TID/ns/net is the new namespace
    unique_fd release;  // closed by the destructor: the thread reads EOF and ends on its own
    Holder() {
        int hold[2], report[2];
        if (::pipe2(hold, O_CLOEXEC) < 0) throw SysError("pipe2()", errno);
        unique_fd hold_rd(hold[0]);
        release.reset(hold[1]);
        if (::pipe2(report, O_CLOEXEC) < 0) throw SysError("pipe2()", errno);
        unique_fd report_rd(report[0]), report_wr(report[1]);
        std::thread([in = hold_rd.release(), out = report_wr.release()] {
            unique_fd hold_fd(in), report_fd(out);
            pid_t tid = ::unshare(CLONE_NEWNET) == 0 ? static_cast<pid_t>(::gettid()) : -errno;
            if (::write(report_fd.get(), &tid, sizeof tid) != sizeof tid) return;
            report_fd.reset();
            if (tid < 0) return;
            char c;
            while (::read(hold_fd.get(), &c, 1) < 0 && errno == EINTR) {
            }
        }).detach();
        pid_t tid = 0;
        ssize_t n;
        while ((n = ::read(report_rd.get(), &tid, sizeof tid)) < 0 && errno == EINTR) {
        }
        if (n != sizeof tid || tid <= 0) throw SysError("unshare(CLONE_NEWNET)", n == sizeof tid ? -tid : EPERM);
        pid = tid;
    }
};

}  // namespace

Netns::Netns(const Network& cfg, std::string dir, std::string id)
    : cfg_(cfg), dir_(std::move(dir)), id_(std::move(id)) {
    std::string host = cfg_.hostname.empty() ? id_.substr(0, 12) : cfg_.hostname;
    cfg_.hostname = host;
    layer_ = std::make_unique<net::Layer>(to_config(cfg_), host);
}

Netns::~Netns() { teardown(); }

void Netns::setup() {
    std::string path = netns_path(dir_);
    bool isolated = cfg_.mode != "host";
    launch::Context ctx;
    ctx.id = id_;
    if (isolated) {
        Holder holder;
        ctx.pid = holder.pid;
        // An empty file to mount the namespace on (nsfs files are bind-mounted onto files).
        unique_fd target(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
        if (!target) throw SysError("open(\"" + path + "\", O_CREAT|O_EXCL)", errno);
        target.reset();
        std::string src = "/proc/" + std::to_string(holder.pid) + "/ns/net";
        try {
            narrate::sys({"shim", "mount(\"" + src + "\", \"" + path + "\", MS_BIND)",
                          "the namespace outlives its first process while this mount exists; config.json joins it by path",
                          "findmnt " + path},
                         [&] { return ::mount(src.c_str(), path.c_str(), nullptr, MS_BIND, nullptr); });
        } catch (...) {
            ::unlink(path.c_str());
            throw;
        }
        mounted_ = true;
        prepared_ = true;
        layer_->prepare_host(ctx);  // bridge: ports held, lease, bridge, DNAT rules
        layer_->join_child(ctx);    // veth into the namespace as eth0, address, routes, lo up
    }
    // The generated files (step04 makes its own as detached mounts for its launcher; the OCI
    // runtime binds files by path, so the shim writes them into DIR).
    std::string ip = "127.0.1.1";
    if (cfg_.mode == "bridge") {
        auto st = net::inspect(to_config(cfg_).bridge);
        for (auto& l : st.leases)
            if (l.id == id_ && l.owner.pid == ::getpid()) ip = ip_ = net::to_string(l.ip);
    }
    write_atomic(dir_ + "/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + ip + "\t" +
                                      cfg_.hostname + "\n");
    write_atomic(dir_ + "/hostname", cfg_.hostname + "\n");
}

void Netns::teardown() noexcept {
    if (prepared_) {
        launch::Context ctx;
        ctx.id = id_;
        layer_->cleanup(ctx);  // unpublish, release the lease, unlink step04's files
        prepared_ = false;
    }
    if (mounted_ && cfg_.mode == "bridge") {
        // The kernel would delete the pair with the namespace, but asynchronously (its cleanup
        // work runs later): deleted here, the veth is gone when the shim says it is done.
        std::string veth = "mbv" + id_.substr(0, 12);
        try {
            netlink::Socket sock;
            if (int index = sock.link_index(veth); index > 0) {
                auto m = netlink::delete_link(index);
                narrate::sys({"shim", "RTM_DELLINK(\"" + veth + "\")", "the host end of the container's veth (its peer goes with it)",
                              "ip link show " + veth},
                             [&] { return sock.request(m); });
            }
        } catch (const std::exception& e) {
            narrate::warn(std::string("deleting ") + veth + ": " + e.what());
        }
    }
    if (mounted_) {
        remove_netns_mount(netns_path(dir_));
        mounted_ = false;
    }
}

void remove_netns_mount(const std::string& path) noexcept {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return;
    try {
        narrate::sys({"shim", "umount2(\"" + path + "\", MNT_DETACH)",
                      "the last reference to the container's network namespace: it goes, its veth with it", ""},
                     [&] { return ::umount2(path.c_str(), MNT_DETACH); });
    } catch (const Error& e) {
        if (e.err() != EINVAL) narrate::warn(e.line());  // EINVAL: not a mount point (any more)
    }
    ::unlink(path.c_str());
}

}  // namespace shim
