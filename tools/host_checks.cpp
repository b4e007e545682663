#include "files.hpp"
#include "host_checks.hpp"

#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <nftables/libnftables.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "state.hpp"
#include "unique_fd.hpp"

namespace host_checks {
namespace {

using doctor::CheckResult;

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::string first_line(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    return line;
}

std::string kernel_release() {
    struct utsname u {};
    return ::uname(&u) == 0 ? u.release : "";
}

std::string errno_name(int err) {
    const char* name = ::strerrorname_np(err);
    return std::string(name ? name : "errno " + std::to_string(err)) + " (" + std::strerror(err) + ")";
}

// A probe the kernel refused for lack of privilege says nothing about what the machine offers:
// the fix is to ask again as root, not to install or rebuild anything.
CheckResult not_permitted(const std::string& what, int err,
                          const std::string& meaning = "says nothing about whether the kernel has it") {
    return CheckResult::fail(what + ": not permitted as uid " + std::to_string(::geteuid()) + ", " + errno_name(err) +
                                 " (" + meaning + ")",
                             "run as root: sudo minibox doctor (or, as root, minibox doctor)");
}

// ---------------------------------------------------------------------------------------------

CheckResult root() {
    uid_t uid = ::geteuid();
    if (uid == 0) return CheckResult::ok("running as uid 0");
    return CheckResult::fail("running as uid " + std::to_string(uid) + ": namespaces, mounts and cgroups need root",
                             "run the tools as root: sudo minibox doctor");
}

CheckResult kernel() {
    std::string release = kernel_release();
    auto [major, minor] = kernel_version(release);
    if (major == 0) return CheckResult::fail("cannot read the kernel release (uname)", "check /proc and uname -r");
    if (major < 4 || (major == 4 && minor < 6))
        return CheckResult::fail(release + ": older than 4.6, no cgroup namespaces",
                                 "boot a 5.6 or newer kernel (Debian 12, Ubuntu 22.04)");
    if (major < 5 || (major == 5 && minor < 6))
        return CheckResult::warn(release + ": older than 5.6 (clone3, openat2, pidfd, time namespaces)",
                                 "boot a 5.6 or newer kernel (Debian 12, Ubuntu 22.04)");
    return CheckResult::ok(release + " (>= 5.6)");
}

// Each namespace type the kernel offers shows up as /proc/self/ns/<type>.
CheckResult namespaces() {
    std::string missing_needed, missing_optional, present;
    for (const char* ns : {"uts", "pid", "mnt", "net", "ipc", "cgroup"}) {
        if (exists(std::string("/proc/self/ns/") + ns)) present += std::string(present.empty() ? "" : " ") + ns;
        else missing_needed += std::string(missing_needed.empty() ? "" : " ") + ns;
    }
    for (const char* ns : {"user", "time"}) {
        if (exists(std::string("/proc/self/ns/") + ns)) present += std::string(" ") + ns;
        else missing_optional += std::string(missing_optional.empty() ? "" : " ") + ns;
    }
    std::string fix = "a kernel built with CONFIG_NAMESPACES and CONFIG_<TYPE>_NS (any distribution kernel)";
    if (!missing_needed.empty()) return CheckResult::fail("missing: " + missing_needed + " (have: " + present + ")", fix);
    if (!missing_optional.empty()) return CheckResult::warn("missing: " + missing_optional + " (have: " + present + ")", fix);
    return CheckResult::ok(present);
}

CheckResult user_namespaces() {
    std::string max = first_line("/proc/sys/user/max_user_namespaces");
    if (!max.empty() && std::atol(max.c_str()) == 0)
        return CheckResult::fail("user.max_user_namespaces = 0: user namespaces are switched off",
                                 "sysctl -w user.max_user_namespaces=15000");
    int rc = doctor::in_child([] { return ::unshare(CLONE_NEWUSER) == 0 ? 0 : errno; });
    if (rc != 0)
        return CheckResult::fail("unshare(CLONE_NEWUSER) failed: " + errno_name(rc),
                                 "sysctl -w user.max_user_namespaces=15000");
    // Debian's and Ubuntu's switches for unprivileged users; root is not affected by them.
    std::string debian = first_line("/proc/sys/kernel/unprivileged_userns_clone");
    if (debian == "0")
        return CheckResult::warn("allowed for root; kernel.unprivileged_userns_clone = 0 stops other users",
                                 "sysctl -w kernel.unprivileged_userns_clone=1   # only for rootless use");
    std::string ubuntu = first_line("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    if (ubuntu == "1")
        return CheckResult::warn("allowed for root; AppArmor restricts them for other users",
                                 "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0   # only for rootless use");
    return CheckResult::ok("allowed (max_user_namespaces " + max + ")");
}

CheckResult propagation() {
    std::string p = root_propagation(files::read("/proc/self/mountinfo"));
    if (p.empty()) return CheckResult::fail("no mount for / in /proc/self/mountinfo", "mount -t proc proc /proc");
    if (p == "shared")
        return CheckResult::ok("/ is shared (systemd's default): step03 makes it private in the container's "
                               "mount namespace, so no mount leaks back");
    return CheckResult::ok("/ is " + p + ": mounts in a new mount namespace stay there");
}

// The layout, by the magic number of what is mounted at /sys/fs/cgroup (statfs(2)).
CheckResult cgroup_layout() {
    struct statfs st {};
    if (::statfs("/sys/fs/cgroup", &st) != 0)
        return CheckResult::fail("nothing mounted at /sys/fs/cgroup",
                                 "mount -t cgroup2 none /sys/fs/cgroup");
    if (st.f_type == CGROUP2_SUPER_MAGIC) return CheckResult::ok("v2 (unified): cgroup2 at /sys/fs/cgroup");
    if (st.f_type == TMPFS_MAGIC) {
        struct statfs u {};
        if (::statfs("/sys/fs/cgroup/unified", &u) == 0 && u.f_type == CGROUP2_SUPER_MAGIC)
            return CheckResult::ok("hybrid: v1 controllers in /sys/fs/cgroup/<controller>, cgroup2 at "
                                   "/sys/fs/cgroup/unified (as on WSL2 and VMs like this one)");
        return CheckResult::ok("v1 (legacy): one hierarchy per controller in /sys/fs/cgroup/<controller>");
    }
    return CheckResult::fail("/sys/fs/cgroup is neither cgroup2 nor a tmpfs of v1 hierarchies",
                             "mount -t cgroup2 none /sys/fs/cgroup");
}

CheckResult cgroup_controllers() {
    auto enabled = enabled_controllers(files::read("/proc/cgroups"));
    std::string missing;
    for (const char* c : {"memory", "pids", "cpu"})
        if (std::find(enabled.begin(), enabled.end(), c) == enabled.end())
            missing += std::string(missing.empty() ? "" : " ") + c;
    if (enabled.empty() && !exists("/proc/cgroups"))
        return CheckResult::warn("no /proc/cgroups to read", "cat /sys/fs/cgroup/cgroup.controllers");
    if (!missing.empty())
        return CheckResult::fail("not enabled: " + missing,
                                 "add cgroup_enable=memory (or remove cgroup_disable=...) on the kernel command line and reboot");
    return CheckResult::ok("memory pids cpu enabled");
}

CheckResult overlayfs() {
    std::string fs = files::read("/proc/filesystems");
    if (fs.find("\toverlay\n") != std::string::npos) return CheckResult::ok("overlay in /proc/filesystems");
    std::string modules = "/lib/modules/" + kernel_release();
    for (const char* ko : {"/kernel/fs/overlayfs/overlay.ko", "/kernel/fs/overlayfs/overlay.ko.xz",
                           "/kernel/fs/overlayfs/overlay.ko.zst"})
        if (exists(modules + ko)) return CheckResult::ok("a module, loaded on the first overlay mount");
    return CheckResult::fail("no overlay in /proc/filesystems and no module in " + modules, "modprobe overlay");
}

// ---------------------------------------------------------------------------------------------
// veth and bridge: ask the kernel for one, in a network namespace made for the occasion. The
// namespace dies with the probe process and takes the links with it: nothing is left behind,
// and the answer covers built-in drivers, loaded modules and modules the kernel loads on demand.

struct Attr {
    std::string bytes;
    Attr& put(unsigned short type, const void* data, size_t len) {
        rtattr a{};
        a.rta_type = type;
        a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        bytes.append(reinterpret_cast<const char*>(&a), sizeof a);
        bytes.append(static_cast<const char*>(data), len);
        bytes.append(RTA_ALIGN(len) - len, '\0');
        return *this;
    }
    Attr& str(unsigned short type, const std::string& s) { return put(type, s.c_str(), s.size() + 1); }
    Attr& nest(unsigned short type, const Attr& inner) { return put(type, inner.bytes.data(), inner.bytes.size()); }
};

// 0, or the errno the kernel answered RTM_NEWLINK with.
int create_link(const std::string& kind) {
    unique_fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) return errno;
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    Attr data;
    if (kind == "veth") {
        Attr peer;
        peer.str(IFLA_IFNAME, "mbxdoc1");
        std::string info(reinterpret_cast<const char*>(&ifi), sizeof ifi);
        info += peer.bytes;
        data.put(VETH_INFO_PEER, info.data(), info.size());
    }
    Attr linkinfo;
    linkinfo.str(IFLA_INFO_KIND, kind);
    if (!data.bytes.empty()) linkinfo.nest(IFLA_INFO_DATA, data);
    Attr attrs;
    attrs.str(IFLA_IFNAME, "mbxdoc0").nest(IFLA_LINKINFO, linkinfo);

    std::string msg(NLMSG_HDRLEN, '\0');
    msg.append(reinterpret_cast<const char*>(&ifi), sizeof ifi);
    msg += attrs.bytes;
    nlmsghdr h{};
    h.nlmsg_len = static_cast<unsigned>(msg.size());
    h.nlmsg_type = RTM_NEWLINK;
    h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    h.nlmsg_seq = 1;
    std::memcpy(msg.data(), &h, sizeof h);
    if (::send(fd.get(), msg.data(), msg.size(), 0) < 0) return errno;

    char buf[4096];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < static_cast<ssize_t>(NLMSG_HDRLEN + sizeof(nlmsgerr))) return n < 0 ? errno : EPROTO;
    auto* reply = reinterpret_cast<nlmsghdr*>(buf);
    if (reply->nlmsg_type != NLMSG_ERROR) return EPROTO;
    auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(reply));
    return -e->error;
}

CheckResult link_kind(const std::string& kind, const std::string& module) {
    int rc = doctor::in_child([&] {
        if (::unshare(CLONE_NEWNET) != 0) return errno;
        return create_link(kind);
    });
    if (rc == 0)
        return CheckResult::ok(std::string(kind == "veth" ? "created a veth pair" : "created a bridge") +
                               " in a throwaway network namespace");
    if (rc == EPERM || rc == EACCES) return not_permitted("cannot try a " + kind + " link", rc);
    return CheckResult::fail(
        "cannot create a " + kind + " link: " + errno_name(rc),
        "modprobe " + module + "   (Ubuntu: apt-get install linux-modules-extra-$(uname -r); /lib/modules/" +
            kernel_release() + " must hold " + module + ".ko)");
}

// ---------------------------------------------------------------------------------------------

// The tools drive nftables through libnftables (no nft or iptables program is run): a context
// and a harmless command, in a throwaway network namespace so the host's ruleset is not read.
CheckResult firewall() {
    int rc = doctor::in_child([] {
        if (::unshare(CLONE_NEWNET) != 0) return errno;
        nft_ctx* ctx = ::nft_ctx_new(NFT_CTX_DEFAULT);
        if (ctx == nullptr) return ENOMEM;
        ::nft_ctx_buffer_output(ctx);
        ::nft_ctx_buffer_error(ctx);
        int r = ::nft_run_cmd_from_buffer(ctx, "add table inet minibox_doctor");
        ::nft_ctx_free(ctx);
        return r == 0 ? 0 : EPROTONOSUPPORT;
    });
    if (rc == 0) return CheckResult::ok("libnftables made a table (throwaway network namespace)");
    if (rc == EPERM || rc == EACCES) return not_permitted("cannot try libnftables", rc);
    return CheckResult::fail("libnftables could not make a table: " + errno_name(rc),
                             "a kernel with CONFIG_NF_TABLES (modprobe nf_tables); apt-get install libnftables1");
}

CheckResult image() {
    std::string rootfs = state::default_rootfs();
    const char* root_env = std::getenv("MINIBOX_ROOT");
    std::string make = std::string(root_env && *root_env ? "MINIBOX_ROOT=" + std::string(root_env) + " " : "") +
                       MINIBOX_SOURCE_DIR + "/scripts/make-image.sh " + MINIBOX_BIN_DIR + "/nsinfo";
    // An unreadable store is not a missing image (the store is root's, 0700 or under /var/lib).
    if (::access((rootfs + "/bin/busybox").c_str(), F_OK) != 0 && (errno == EACCES || errno == EPERM))
        return not_permitted("cannot look into " + rootfs, errno, "the store is root's; the image may well be there");
    if (!exists(rootfs + "/bin/busybox"))
        return CheckResult::fail("no default image: " + rootfs + "/bin/busybox is missing",
                                 make + "   (needs busybox-static)");
    if (!exists(rootfs + "/bin/nsinfo"))
        return CheckResult::fail(rootfs + " has no bin/nsinfo (made before nsinfo was built)", make);
    return CheckResult::ok(rootfs + " (busybox, nsinfo)");
}

}  // namespace

std::pair<int, int> kernel_version(const std::string& release) {
    int major = 0, minor = 0;
    if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
    return {major, minor};
}

std::string root_propagation(const std::string& mountinfo) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER"
    std::string result;
    std::istringstream in(mountinfo);
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::vector<std::string> f;
        for (std::string w; fields >> w && w != "-";) f.push_back(w);
        if (f.size() < 6 || f[4] != "/") continue;
        result = "private";
        for (size_t i = 6; i < f.size(); ++i) {
            if (f[i].starts_with("shared:")) result = "shared";
            else if (f[i].starts_with("master:") && result != "shared") result = "slave";
            else if (f[i] == "unbindable") result = "unbindable";
        }
    }
    return result;
}

std::vector<std::string> enabled_controllers(const std::string& proc_cgroups) {
    // "#subsys_name hierarchy num_cgroups enabled"
    std::vector<std::string> names;
    std::istringstream in(proc_cgroups);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string name;
        long hierarchy = 0, count = 0, enabled = 0;
        if (fields >> name >> hierarchy >> count >> enabled && enabled == 1) names.push_back(name);
    }
    return names;
}

std::vector<doctor::Check> checks() {
    return {
        {"root", root},
        {"kernel", kernel},
        {"namespaces", namespaces},
        {"userns", user_namespaces},
        {"propagation", propagation},
        {"cgroups", cgroup_layout},
        {"controllers", cgroup_controllers},
        {"overlayfs", overlayfs},
        {"veth", [] { return link_kind("veth", "veth"); }},
        {"bridge", [] { return link_kind("bridge", "bridge"); }},
        {"firewall", firewall},
        {"image", image},
    };
}

}  // namespace host_checks
