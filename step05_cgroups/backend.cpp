// Layout detection and what both backends share: narrated file writes, reads, and removal.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "files.hpp"
#include "backend_impl.hpp"
#include "narrate.hpp"

namespace cgroup {

const char* layout_name(Layout l) {
    switch (l) {
        case Layout::unified: return "unified (cgroup v2)";
        case Layout::hybrid: return "hybrid (cgroup v1 controllers, cgroup2 at unified/)";
        case Layout::legacy: return "legacy (cgroup v1)";
        case Layout::none: break;
    }
    return "none";
}

std::set<std::string> parse_proc_cgroups(const std::string& text) {
    // "#subsys_name hierarchy num_cgroups enabled": the enabled controllers of this kernel.
    std::set<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream f(line);
        std::string name;
        int hierarchy = 0, count = 0, enabled = 0;
        if (f >> name >> hierarchy >> count >> enabled && enabled) out.insert(name);
    }
    return out;
}

std::map<std::string, std::string> parse_v1_mounts(const std::string& mountinfo, const std::set<std::string>& known) {
    // 36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory
    std::map<std::string, std::string> out;
    std::istringstream in(mountinfo);
    std::string line;
    while (std::getline(in, line)) {
        size_t sep = line.find(" - ");
        if (sep == std::string::npos) continue;
        std::istringstream before(line.substr(0, sep)), after(line.substr(sep + 3));
        std::string id, parent, devno, root, mountpoint, fstype, source, options;
        before >> id >> parent >> devno >> root >> mountpoint;
        after >> fstype >> source >> options;
        if (fstype != "cgroup" || root != "/") continue;  // a bind of a sub-cgroup is not a hierarchy root
        std::istringstream opts(options);
        for (std::string o; std::getline(opts, o, ',');) {
            if (known.count(o) && !out.count(o)) out[o] = mountpoint;
        }
    }
    return out;
}

Host detect(const std::string& base) {
    Host h;
    struct statfs st {};
    if (::statfs(base.c_str(), &st) != 0) return h;
    if (st.f_type == CGROUP2_SUPER_MAGIC) {
        h.layout = Layout::unified;
        h.v2 = base;
        // Usable: what the root delegates to its children (cgroup.subtree_control), since the
        // tool's parent minibox/ is a child of the root and the tool never writes above it.
        std::istringstream in(files::read(base + "/cgroup.subtree_control"));
        for (std::string c; in >> c;) h.controllers.insert(c);
        return h;
    }
    // Not cgroup2 at the top: a tmpfs holding v1 hierarchies (and maybe a cgroup2 at unified/).
    h.v1 = parse_v1_mounts(files::read("/proc/self/mountinfo"), parse_proc_cgroups(files::read("/proc/cgroups")));
    for (auto& [c, path] : h.v1) h.controllers.insert(c);
    struct statfs u {};
    if (::statfs((base + "/unified").c_str(), &u) == 0 && u.f_type == CGROUP2_SUPER_MAGIC) {
        h.layout = Layout::hybrid;
        h.v2 = base + "/unified";
    } else if (!h.v1.empty()) {
        h.layout = Layout::legacy;
    }
    return h;
}

std::optional<uint64_t> read_number(const std::string& path) {
    std::string t = files::read(path);
    size_t used = 0;
    try {
        uint64_t v = std::stoull(t, &used);
        return v;
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<uint64_t> read_key(const std::string& path, const std::string& key) {
    std::istringstream in(files::read(path));
    std::string k;
    uint64_t v = 0;
    while (in >> k >> v) {
        if (k == key) return v;
    }
    return std::nullopt;
}

namespace detail {

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void write_file(const std::string& dir, const std::string& file, const std::string& value, const std::string& why) {
    std::string path = dir + "/" + file;
    narrate::Op op{"cgroup", "write(\"" + path + "\", \"" + value + "\")", why, "cat " + path};
    try {
        narrate::sys(op, [&] { return files::write_once(path, value, O_WRONLY | O_TRUNC); });
    } catch (Error& e) {
        if (e.err() == ENOENT) e.with_hint("the controller of " + file + " is not enabled for this cgroup (see minibox doctor)");
        if (e.err() == EACCES || e.err() == EPERM) e.with_hint("run as root (sudo)");
        if (e.err() == EROFS) e.with_hint("/sys/fs/cgroup is mounted read-only here (inside a container?)");
        if (e.err() == EBUSY && file.starts_with("memory.")) e.with_hint("the cgroup already uses more memory than that");
        if (e.err() == EINVAL && file == "cpuset.cpus") e.with_hint("those CPUs are not in the parent's cpuset");
        throw;
    }
}

void make_dir(const std::string& path, bool may_exist, const std::string& why) {
    narrate::Op op{"cgroup", "mkdir(\"" + path + "\")", why, "ls " + path};
    if (may_exist && exists(path)) return;
    try {
        narrate::sys(op, [&] { return ::mkdir(path.c_str(), 0755); });
    } catch (Error& e) {
        if (may_exist && e.err() == EEXIST) return;  // made by a concurrent start
        if (e.err() == EACCES || e.err() == EPERM) e.with_hint("run as root (sudo)");
        if (e.err() == EROFS) e.with_hint("/sys/fs/cgroup is mounted read-only here (inside a container?)");
        throw;
    }
}

std::vector<pid_t> procs(const std::string& dir) {
    std::vector<pid_t> out;
    std::istringstream in(files::read(dir + "/cgroup.procs"));
    for (long p; in >> p;) out.push_back(static_cast<pid_t>(p));
    return out;
}

}  // namespace detail

void remove_parent_if_empty(const std::string& dir) {
    std::string parent = dir.substr(0, dir.find_last_of('/'));
    if (parent.substr(parent.find_last_of('/') + 1) != kParent) return;
    if (::rmdir(parent.c_str()) == 0) {
        narrate::note("cgroup", "rmdir(\"" + parent + "\") = 0  - the last container is gone: so is the project's parent");
    }
}

void remove_dir(const std::string& dir) {
    // Guard: only ever a container's directory, directly under a parent named minibox.
    size_t slash = dir.find_last_of('/');
    std::string parent = slash == std::string::npos ? "" : dir.substr(0, slash);
    if (slash == std::string::npos || parent.substr(parent.find_last_of('/') + 1) != kParent) {
        throw Error("refusing to remove " + dir + ": not under a " + kParent + "/ parent");
    }
    narrate::Op op{"cgroup", "rmdir(\"" + dir + "\")", "the container's cgroup goes with the container",
                   "ls -d " + dir};
    narrate::before(op);
    for (int attempt = 0;; ++attempt) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
            narrate::after(op, "0");
            return;
        }
        int err = errno;
        if (err != EBUSY || attempt >= 300) {
            narrate::after(op, "-1");
            Error e = SysError(op.call, err);
            if (err == EBUSY) e.with_hint("processes are still in it: cat " + dir + "/cgroup.procs");
            throw e;
        }
        // Busy: processes are left (the tool was killed, or a process escaped the container's
        // PID 1). Kill them: cgroup.kill (v2, Linux 5.14) does it in one write, atomically
        // against forks; elsewhere, by pid, again and again, as a fork bomb may still fork.
        if (attempt % 10 == 0) {
            if (detail::exists(dir + "/cgroup.kill")) {
                int fd = ::open((dir + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                    (void)!::write(fd, "1", 1);
                    ::close(fd);
                }
            } else {
                for (pid_t p : detail::procs(dir))
                    if (p > 0) ::kill(p, SIGKILL);
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::unique_ptr<Cgroup> open(const Host& host, const std::string& id, const std::set<std::string>& wanted) {
    if (host.uses_v2()) {
        std::set<std::string> use;
        for (auto& c : wanted)
            if (host.controllers.count(c)) use.insert(c);
        return make_v2(host.v2, id, use);
    }
    std::map<std::string, std::string> use;
    for (auto& c : wanted) {
        auto it = host.v1.find(c);
        if (it != host.v1.end()) use[c] = it->second;
    }
    return make_v1(use, id);
}

}  // namespace cgroup
