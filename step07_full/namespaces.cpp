// Namespaces from config.json: new ones by clone flag, joined ones by setns, the user
// namespace's maps. See namespaces.hpp.
#include "namespaces.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <string>

#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"

namespace namespaces {
namespace {

std::string read_link(const std::string& path) {
    char buf[256];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

const char* ns_file(int type) {
    switch (type) {
        case CLONE_NEWPID: return "pid";
        case CLONE_NEWNET: return "net";
        case CLONE_NEWNS: return "mnt";
        case CLONE_NEWIPC: return "ipc";
        case CLONE_NEWUTS: return "uts";
        case CLONE_NEWUSER: return "user";
        case CLONE_NEWCGROUP: return "cgroup";
    }
    return "?";
}

void write_map(pid_t pid, const char* file, const std::vector<spec::IdMap>& maps) {
    std::string text, shown;
    for (auto& m : maps) {
        text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
        shown += (shown.empty() ? "" : ", ") + std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
                 std::to_string(m.size);
    }
    std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    narrate::sys({"userns", std::string("write ") + file + " \"" + shown + "\"",
                  "ids inside map to these ids on the host; anything unmapped shows as 65534",
                  std::string("cat /proc/{pid}/") + file},
                 [&] {
                     int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
                     if (fd < 0) return -1;
                     // One write(2): the kernel accepts a map only once, whole.
                     ssize_t n = ::write(fd, text.data(), text.size());
                     int err = errno;
                     ::close(fd);
                     errno = err;
                     return n == static_cast<ssize_t>(text.size()) ? 0 : -1;
                 });
}

unique_fd make_userns(const std::vector<spec::IdMap>& uid, const std::vector<spec::IdMap>& gid) {
    int ready[2];
    check(::pipe2(ready, O_CLOEXEC), "pipe2()");
    pid_t child = ::fork();
    if (child < 0) throw SysError("fork()", errno);
    if (child == 0) {
        ::close(ready[1]);
        if (::unshare(CLONE_NEWUSER) < 0) ::_exit(1);
        char c;
        (void)!::read(ready[0], &c, 1);  // wait until the parent has read our namespace
        ::_exit(0);
    }
    ::close(ready[0]);
    unique_fd go(ready[1]);
    auto reap = [&] {
        go.reset();
        int st;
        ::waitpid(child, &st, 0);
    };
    try {
        // The child may not have unshared yet: wait until its user ns differs from ours.
        std::string ours = read_link("/proc/self/ns/user");
        std::string path = "/proc/" + std::to_string(child) + "/ns/user";
        for (int i = 0; i < 2000 && read_link(path) == ours; ++i) ::usleep(500);
        write_map(child, "uid_map", uid);
        write_map(child, "gid_map", gid);
        unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw SysError("open(\"" + path + "\")", errno);
        reap();
        return fd;
    } catch (...) {
        ::kill(child, SIGKILL);
        reap();
        throw;
    }
}

Layer::Layer(std::vector<spec::Namespace> list, std::vector<spec::IdMap> uid, std::vector<spec::IdMap> gid)
    : list_(std::move(list)), uid_(std::move(uid)), gid_(std::move(gid)) {
    bool joins_user = false, creates_other = false;
    for (auto& n : list_) {
        if (n.type == CLONE_NEWUSER) {
            if (n.path.empty()) new_user_ = true;
            else joins_user = true;
        } else if (n.path.empty()) {
            creates_other = true;
        }
        if (n.type == CLONE_NEWCGROUP && n.path.empty()) new_cgroup_ = true;
    }
    if (joins_user && creates_other)
        throw Error("linux.namespaces: joining a user namespace by path while creating other namespaces is not "
                    "supported by this runtime (they would be owned by the host's user namespace)");
    if (new_user_ && (uid_.empty() || gid_.empty()))
        throw Error("linux.uidMappings/gidMappings: a new user namespace needs both maps");
    if (!new_user_ && (!uid_.empty() || !gid_.empty()))
        throw Error("linux.uidMappings: id maps given without a new user namespace");
}

int Layer::clone_flags() const {
    int flags = 0;
    for (auto& n : list_)
        if (n.path.empty() && n.type != CLONE_NEWCGROUP) flags |= n.type;
    return flags;
}

void Layer::prepare_host(launch::Context&) {
    // Open every namespace to join now, on the host, and check its type: the paths are the
    // engine's (/proc/123/ns/net, /run/netns/x), resolved in our mount namespace.
    for (auto& n : list_) {
        if (n.path.empty()) continue;
        unique_fd fd(::open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw SysError("open(\"" + n.path + "\") for the " + n.name + " namespace", errno);
        int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
        if (type >= 0 && type != n.type)
            throw Error("linux.namespaces: " + n.path + " is not a " + n.name + " namespace");
        if (n.type == CLONE_NEWPID) {
            narrate::sys({"ns", "setns(\"" + n.path + "\", CLONE_NEWPID)",
                          "our children will be born in that pid namespace", ""},
                         [&] { return ::setns(fd.get(), CLONE_NEWPID); });
            continue;
        }
        join_.emplace_back(n.type, std::move(fd));
    }
    // The user namespace first: the others are then joined with its privileges.
    std::stable_partition(join_.begin(), join_.end(), [](auto& j) { return j.first == CLONE_NEWUSER; });
}

void Layer::join_child(launch::Context& ctx) {
    if (!new_user_) return;
    write_map(ctx.pid, "uid_map", uid_);
    write_map(ctx.pid, "gid_map", gid_);
}

void Layer::setup_inside(launch::Context&) {
    for (auto& [type, fd] : join_) {
        narrate::sys({"ns", std::string("setns(fd, CLONE_NEW") + (type == CLONE_NEWNET ? "NET" : ns_file(type)) + ")",
                      std::string("join the engine's ") + ns_file(type) + " namespace", "ls -l /proc/{pid}/ns"},
                     [&, t = type, f = fd.get()] { return ::setns(f, t); });
        fd.reset();
    }
    if (new_user_) {
        // The maps are written (the parent did it before "go"): become root of the namespace.
        narrate::sys({"userns", "setresgid(0, 0, 0), setresuid(0, 0, 0)",
                      "root inside the user namespace, an unprivileged id on the host", "cat /proc/{pid}/status | grep id"},
                     [] { return ::setresgid(0, 0, 0) == 0 ? ::setresuid(0, 0, 0) : -1; });
    }
    if (new_cgroup_) {
        // Now, not at clone: the parent has moved us into our cgroup, which becomes our "/".
        narrate::sys({"cgroup", "unshare(CLONE_NEWCGROUP)", "the container's cgroup becomes its /",
                      "cat /proc/{pid}/cgroup"},
                     [] { return ::unshare(CLONE_NEWCGROUP); });
    }
}

}  // namespace namespaces
