// Step roots and RUN containers (see runner.hpp).
#include "runner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dockerignore.hpp"
#include "error.hpp"
#include "files.hpp"
#include "image_store.hpp"
#include "narrate.hpp"
#include "overlay.hpp"
#include "shim/netns.hpp"
#include "spec.hpp"
#include "state.hpp"
#include "unique_fd.hpp"

extern char** environ;

namespace builder {

namespace {

std::string steps_dir() { return state::root_dir() + "/builder/containers"; }

void mkdir_p(const std::string& path, mode_t mode) {
    std::string cur;
    std::stringstream ss(path);
    std::string part;
    while (std::getline(ss, part, '/')) {
        if (part.empty()) continue;
        cur += "/" + part;
        if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) throw SysError("mkdir(\"" + cur + "\")", errno);
    }
}

long openat2_in_root(int rootfd, const std::string& rel, int flags) {
    struct open_how how {};
    how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return ::syscall(SYS_openat2, rootfd, rel.c_str(), &how, sizeof how);
}

int spawn_wait(const std::vector<std::string>& argv, int out_fd, const OutputSink* out) {
    std::vector<char*> av;
    for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    int pipefd[2] = {-1, -1};
    if (out && ::pipe2(pipefd, O_CLOEXEC) != 0) throw SysError("pipe2(O_CLOEXEC)", errno);
    unique_fd rd(out ? pipefd[0] : -1), wr(out ? pipefd[1] : -1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int target = out ? wr.get() : out_fd;
    posix_spawn_file_actions_adddup2(&fa, target, 1);
    posix_spawn_file_actions_adddup2(&fa, target, 2);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, av[0], &fa, nullptr, av.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw SysError("posix_spawn(\"" + argv[0] + "\")", rc);
    wr.reset();
    if (out) {
        char buf[8192];
        for (;;) {
            ssize_t n = ::read(rd.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            (*out)(std::string_view(buf, static_cast<size_t>(n)));
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw SysError("waitpid(" + std::to_string(pid) + ")", errno);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return exit_code::tool_failed;
}

}  // namespace

std::string runtime_path() {
    if (const char* e = std::getenv("MINIBOX_STEP07_FULL"); e && *e) return e;
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) throw SysError("readlink(\"/proc/self/exe\")", errno);
    std::string self(buf, static_cast<size_t>(n));
    return self.substr(0, self.rfind('/')) + "/step07_full";
}

StepRoot::StepRoot(const std::vector<std::string>& lowers_in) {
    mkdir_p(steps_dir(), 0700);
    id_ = state::new_container_id();
    dir_ = steps_dir() + "/" + id_;
    narrate::sys({"builder", "mkdir(\"" + dir_ + "\", 0700)", "this step's directories: upper, work, merged (and the bundle for RUN)", ""},
                 [&] { return ::mkdir(dir_.c_str(), 0700); });
    try {
        files::write(dir_ + "/owner", state::Owner::self().str() + "\n");  // a killed build is reaped by the next
        upper_ = dir_ + "/upper";
        work_ = dir_ + "/work";
        merged_ = dir_ + "/merged";
        for (const auto& d : {upper_, work_, merged_}) check(::mkdir(d.c_str(), 0755), "mkdir(\"" + d + "\")");
        std::vector<std::string> lowers = lowers_in;
        if (lowers.empty()) {  // FROM scratch: overlayfs needs a lower directory, an empty one
            lowers.push_back(dir_ + "/empty");
            check(::mkdir(lowers.back().c_str(), 0755), "mkdir(\"" + lowers.back() + "\")");
        }
        std::string opts = overlay::mount_options(lowers, upper_, work_);
        narrate::sys({"builder", "mount(\"overlay\", \"" + merged_ + "\", \"overlay\", 0, \"lowerdir=<" + std::to_string(lowers.size()) +
                                     " layers>,upperdir=" + upper_ + ",workdir=" + work_ + "\")",
                      "the step sees the parent image; what it changes lands in upperdir, the new layer", "findmnt -t overlay " + merged_},
                     [&] { return ::mount("overlay", merged_.c_str(), "overlay", 0, opts.c_str()); });
        mounted_ = true;
    } catch (...) {
        image::remove_tree(dir_);
        throw;
    }
}

void StepRoot::unmount() {
    if (!mounted_) return;
    narrate::sys({"builder", "umount2(\"" + merged_ + "\", 0)", "the step is done: its upper directory is complete", ""},
                 [&] { return ::umount2(merged_.c_str(), 0); });
    mounted_ = false;
}

StepRoot::~StepRoot() {
    try {
        if (mounted_) {
            if (::umount2(merged_.c_str(), 0) != 0) ::umount2(merged_.c_str(), MNT_DETACH);
        }
        image::remove_tree(dir_);
    } catch (const std::exception& e) {
        narrate::warn(std::string("build step cleanup: ") + e.what());
    }
}

bool StepRoot::upper_empty() const {
    DIR* d = ::opendir(upper_.c_str());
    if (!d) return true;
    bool empty = true;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") empty = false;
    }
    ::closedir(d);
    return empty;
}

std::string read_in_root(const std::string& root, const std::string& path) {
    unique_fd rfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rfd) throw SysError("open(\"" + root + "\", O_PATH|O_DIRECTORY)", errno);
    unique_fd fd(static_cast<int>(openat2_in_root(rfd.get(), clean_path(path), O_RDONLY)));
    if (!fd) return "";
    std::string out;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

int mkdirs_in_root(const std::string& root, const std::string& path, unsigned uid, unsigned gid) {
    unique_fd rfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rfd) throw SysError("open(\"" + root + "\", O_PATH|O_DIRECTORY)", errno);
    std::string rel = clean_path(path);
    unique_fd cur(static_cast<int>(openat2_in_root(rfd.get(), ".", O_RDONLY | O_DIRECTORY)));
    if (!cur) throw SysError("openat2(\"" + root + "\", RESOLVE_IN_ROOT)", errno);
    std::string prefix;
    std::stringstream ss(rel);
    std::string part;
    while (std::getline(ss, part, '/')) {
        prefix += (prefix.empty() ? "" : "/") + part;
        long fd = openat2_in_root(rfd.get(), prefix, O_RDONLY | O_DIRECTORY);
        if (fd < 0 && errno == ENOENT) {
            if (::mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST) throw SysError("mkdirat(\"" + prefix + "\", 0755)", errno);
            if (::fchownat(cur.get(), part.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw SysError("fchownat(\"" + prefix + "\")", errno);
            fd = openat2_in_root(rfd.get(), prefix, O_RDONLY | O_DIRECTORY);
        }
        if (fd < 0) throw SysError("openat2(\"" + prefix + "\", O_DIRECTORY, RESOLVE_IN_ROOT)", errno);
        cur.reset(static_cast<int>(fd));
    }
    return cur.release();
}

Ids resolve_user(const std::string& root, const std::string& user) {
    Ids ids;
    if (user.empty()) return ids;
    std::string u = user, g;
    if (auto c = user.find(':'); c != std::string::npos) {
        u = user.substr(0, c);
        g = user.substr(c + 1);
    }
    auto numeric = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
    auto lines = [](const std::string& text) {
        std::vector<std::vector<std::string>> out;
        std::stringstream ss(text);
        std::string line;
        while (std::getline(ss, line)) {
            std::vector<std::string> f;
            std::stringstream ls(line);
            std::string x;
            while (std::getline(ls, x, ':')) f.push_back(x);
            if (f.size() >= 4) out.push_back(f);
        }
        return out;
    };
    bool found = false;
    for (const auto& f : lines(read_in_root(root, "/etc/passwd"))) {
        if (numeric(u) ? f[2] == u : f[0] == u) {
            ids.uid = static_cast<unsigned>(std::stoul(f[2]));
            ids.gid = static_cast<unsigned>(std::stoul(f[3]));
            found = true;
            break;
        }
    }
    if (!found) {
        if (!numeric(u)) throw Error("unable to find user " + u + ": no matching entries in passwd file");
        ids.uid = static_cast<unsigned>(std::stoul(u));
    }
    if (!g.empty()) {
        if (numeric(g)) {
            ids.gid = static_cast<unsigned>(std::stoul(g));
        } else {
            bool gf = false;
            for (const auto& f : lines(read_in_root(root, "/etc/group"))) {
                if (f[0] == g) {
                    ids.gid = static_cast<unsigned>(std::stoul(f[2]));
                    gf = true;
                }
            }
            if (!gf) throw Error("unable to find group " + g + ": no matching entries in group file");
        }
    }
    return ids;
}

int run_container(const StepRoot& root, const RunSpec& rs, const OutputSink& out) {
    Ids ids = resolve_user(root.merged(), rs.user);
    unique_fd cwd(mkdirs_in_root(root.merged(), rs.cwd));  // Docker makes a missing WORKDIR too
    cwd.reset();
    spec::SpecOptions so;
    so.args = rs.args;
    so.terminal = false;
    so.rootfs = root.merged();
    nlohmann::json cfg = spec::default_spec(so);
    cfg["process"]["env"] = rs.env;
    cfg["process"]["cwd"] = rs.cwd.empty() ? "/" : rs.cwd;
    cfg["process"]["user"] = {{"uid", ids.uid}, {"gid", ids.gid}};
    cfg["root"] = {{"path", root.merged()}, {"readonly", false}};
    cfg["hostname"] = root.id();
    // The step's network: the runtime's config joins a namespace by path (bridge), makes an
    // empty one (none: the default spec's), or none at all (host).
    std::unique_ptr<shim::Netns> netns;  // torn down when this returns (after the runtime's delete)
    auto& ns = cfg["linux"]["namespaces"];
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& n : ns)
        if (n.value("type", "") != "network") kept.push_back(n);
    if (rs.network == "none") {
        kept.push_back({{"type", "network"}});
    } else if (rs.network == "bridge") {
        shim::Network nc;
        nc.mode = "bridge";
        nc.hostname = root.id();
        narrate::note("builder", "RUN on the bridge: a network namespace at " + root.dir() +
                                     "/netns, wired by the shim's code (veth pair, leased address)");
        netns = std::make_unique<shim::Netns>(nc, root.dir(), root.id());
        netns->setup();
        kept.push_back({{"type", "network"}, {"path", root.dir() + "/netns"}});
    } else if (rs.network != "host") {
        throw Error("network " + rs.network + ": a build step runs on host, none or bridge");
    }
    ns = kept;
    std::string bundle = root.dir() + "/bundle";
    check(::mkdir(bundle.c_str(), 0700), "mkdir(\"" + bundle + "\")");
    files::write(bundle + "/config.json", cfg.dump(2) + "\n");
    std::string rt = runtime_path();
    std::string state_root = root.dir() + "/runtime";
    std::vector<std::string> argv{rt, "--root", state_root, "run", "--bundle", bundle, root.id()};
    narrate::note("builder", "exec " + rt + " --root " + state_root + " run --bundle " + bundle + " " + root.id() +
                                 "  (the runtime runs the step as an engine drives runc; its output is the build's)");
    int status = spawn_wait(argv, -1, &out);
    // `run` deletes its container; a runtime killed half-way would not: delete --force is harmless
    struct stat st;
    if (::stat((state_root + "/" + root.id()).c_str(), &st) == 0) {
        unique_fd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
        spawn_wait({rt, "--root", state_root, "delete", "--force", root.id()}, devnull.get(), nullptr);
    }
    return status;
}

void reap_dead_steps() {
    image::Store old(state::root_dir() + "/builder");
    for (const auto& l : overlay::reap_leftovers(old)) narrate::note("builder", "removed what a killed build left: " + l.dir);
}

}  // namespace builder
