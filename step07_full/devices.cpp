// The container's device nodes, and the rules every container starts with.
//
// The nodes are made in the fresh tmpfs the rootfs code mounted on /dev. mknod(2) needs
// CAP_MKNOD in the initial user namespace: in a user namespace it fails with EPERM, and the
// host's node is bind-mounted onto an empty file instead (a bind keeps the host's owner and
// mode, which is why rootless containers show /dev/null owned by nobody).
#include "devices.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include "error.hpp"
#include "mnt.hpp"
#include "narrate.hpp"

namespace devices {
namespace {

constexpr const char* kObserve = "ls -l /proc/{pid}/root/dev";

std::string mode_text(const spec::Device& d) {
    std::string kind = d.type == 'b' ? "S_IFBLK" : d.type == 'p' ? "S_IFIFO" : "S_IFCHR";
    return fmt::format("{}|{:04o}", kind, d.file_mode & 07777);
}

// "/dev/net/tun" -> ("/dev/net", "tun").
std::pair<std::string, std::string> split(const std::string& path) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    return {dir, path.substr(slash + 1)};
}

// mknodat + chown + chmod (mknod applies the umask, chmod puts the mode back). Returns false
// when the kernel says EPERM (no CAP_MKNOD here: a user namespace), having made nothing.
bool make_node(int dir, const std::string& name, const spec::Device& d) {
    mode_t kind = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
    dev_t dev = d.type == 'p' ? 0 : makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    std::string call = d.type == 'p' ? fmt::format("mknodat(\"{}\", {})", d.path, mode_text(d))
                                     : fmt::format("mknodat(\"{}\", {}, makedev({}, {}))", d.path, mode_text(d), d.major, d.minor);
    try {
        narrate::sys({"devices", call, "a device node of the container's own /dev", kObserve},
                     [&] { return ::mknodat(dir, name.c_str(), kind | (d.file_mode & 07777), dev); });
    } catch (const Error& e) {
        if (e.err() == EPERM) return false;
        throw;
    }
    if (d.uid != 0 || d.gid != 0) {
        narrate::sys({"devices", fmt::format("fchownat(\"{}\", {}, {})", d.path, d.uid, d.gid), "the owner the spec asks for", kObserve},
                     [&] { return ::fchownat(dir, name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW); });
    }
    check(::fchmodat(dir, name.c_str(), d.file_mode & 07777, 0), fmt::format("fchmodat(\"{}\", {:04o})", d.path, d.file_mode & 07777));
    return true;
}

// In a user namespace: an empty file, and the host's node bound onto it. The bind goes
// through /proc/self/fd/N of the file resolved inside the root, so no symlink of the image
// can move the mount elsewhere.
void bind_node(int root, const spec::Device& d) {
    mnt::Resolved f = mnt::resolve_in_root(root, d.path, mnt::Create::file);
    std::string target = "/proc/self/fd/" + std::to_string(f.fd.get());
    try {
        narrate::sys({"devices", fmt::format("mount(\"{}\", \"{}\", NULL, MS_BIND)", d.path, d.path),
                      "no mknod in a user namespace: the host's node, bound onto an empty file", kObserve},
                     [&] { return ::mount(d.path.c_str(), target.c_str(), nullptr, MS_BIND, nullptr); });
    } catch (Error& e) {
        if (e.err() == ENOENT) e.with_hint("the host has no " + d.path + " to bind");
        throw;
    }
}

void link(int dir, const char* target, const char* name, bool replace) {
    if (replace && ::unlinkat(dir, name, 0) < 0 && errno != ENOENT)
        throw SysError(fmt::format("unlinkat(\"/dev/{}\")", name), errno);
    try {
        narrate::sys({"devices", fmt::format("symlink(\"{}\", \"/dev/{}\")", target, name), "the usual links in /dev", kObserve},
                     [&] { return ::symlinkat(target, dir, name); });
    } catch (const Error& e) {
        if (e.err() != EEXIST) throw;  // the image's own link (or another layer's) is kept
    }
}

}  // namespace

std::vector<spec::Device> default_nodes() {
    auto c = [](const char* path, int64_t major, int64_t minor) {
        spec::Device d;
        d.path = path;
        d.type = 'c';
        d.major = major;
        d.minor = minor;
        d.file_mode = 0666;
        return d;
    };
    return {c("/dev/null", 1, 3),   c("/dev/zero", 1, 5),    c("/dev/full", 1, 7),
            c("/dev/random", 1, 8), c("/dev/urandom", 1, 9), c("/dev/tty", 5, 0)};
}

std::vector<spec::DeviceRule> default_rules() {
    auto rule = [](bool allow, char type, int64_t major, int64_t minor, const char* access) {
        spec::DeviceRule r;
        r.allow = allow;
        r.type = type;
        r.major = major;
        r.minor = minor;
        r.access = access;
        return r;
    };
    return {
        rule(false, 'a', -1, -1, "rwm"),  // nothing, then:
        rule(true, 'c', -1, -1, "m"),     // mknod of any node (opening it is another matter)
        rule(true, 'b', -1, -1, "m"),
        rule(true, 'c', 1, 3, "rwm"),     // /dev/null
        rule(true, 'c', 1, 8, "rwm"),     // /dev/random
        rule(true, 'c', 1, 7, "rwm"),     // /dev/full
        rule(true, 'c', 5, 0, "rwm"),     // /dev/tty
        rule(true, 'c', 1, 5, "rwm"),     // /dev/zero
        rule(true, 'c', 1, 9, "rwm"),     // /dev/urandom
        rule(true, 'c', 136, -1, "rwm"),  // /dev/pts/* (and /dev/console, a pty bound there)
        rule(true, 'c', 5, 2, "rwm"),     // /dev/ptmx
        rule(true, 'c', 10, 200, "rwm"),  // /dev/net/tun
    };
}

std::vector<spec::DeviceRule> effective_rules(const std::vector<spec::DeviceRule>& from_spec) {
    auto defaults = default_rules();
    if (from_spec.empty()) return defaults;
    // As runc: the spec's list, then the default allow list (without its leading deny-all), so
    // a spec that only says "deny all" (runc spec's) still leaves /dev/null usable.
    std::vector<spec::DeviceRule> out = from_spec;
    out.insert(out.end(), defaults.begin() + 1, defaults.end());
    return out;
}

void populate(int root, const std::vector<spec::Device>& extra, bool bind_from_host) {
    std::vector<spec::Device> nodes = default_nodes();
    for (auto& d : extra) {
        bool replaced = false;
        for (auto& n : nodes)
            if (n.path == d.path) n = d, replaced = true;  // the spec's own /dev/null wins
        if (!replaced) nodes.push_back(d);
    }
    mnt::Resolved dev = mnt::resolve_in_root(root, "/dev", mnt::Create::dir);
    bool bind = bind_from_host;
    for (auto& d : nodes) {
        if (!d.path.starts_with("/") || d.path.find("/../") != std::string::npos || d.path.ends_with("/.."))
            throw Error("linux.devices: path \"" + d.path + "\" must be absolute, without \"..\"");
        auto [dir, name] = split(d.path);
        if (name.empty()) throw Error("linux.devices: path \"" + d.path + "\" names no file");
        mnt::Resolved parent = mnt::resolve_in_root(root, dir, mnt::Create::dir);
        if (::unlinkat(parent.fd.get(), name.c_str(), 0) < 0 && errno != ENOENT && errno != EISDIR)
            throw SysError("unlinkat(\"" + d.path + "\")", errno);
        if (!bind && make_node(parent.fd.get(), name, d)) continue;
        if (!bind) narrate::note("devices", "mknod refused (EPERM, a user namespace?): binding the host's nodes instead");
        bind = true;
        if (d.type == 'p') throw Error("linux.devices: " + d.path + ": a fifo cannot be bound from the host");
        bind_node(root, d);
    }
    link(dev.fd.get(), "/proc/self/fd", "fd", false);
    link(dev.fd.get(), "/proc/self/fd/0", "stdin", false);
    link(dev.fd.get(), "/proc/self/fd/1", "stdout", false);
    link(dev.fd.get(), "/proc/self/fd/2", "stderr", false);
    // /dev/ptmx must be the container's devpts instance's (newinstance), not a node of the
    // host's ptys: whatever is there is replaced by the link.
    link(dev.fd.get(), "pts/ptmx", "ptmx", true);
}

}  // namespace devices
