// The lifecycle commands. The table of contents of a container is container_layers(): the
// layers of steps 01-06 that fit an OCI bundle, plus step07's own, in the order they act.
#include "lifecycle.hpp"

#include <fcntl.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "console.hpp"
#include "container.hpp"
#include "error.hpp"
#include "files.hpp"
#include "hooks.hpp"
#include "launcher.hpp"
#include "masked.hpp"
#include "namespaces.hpp"
#include "narrate.hpp"
#include "process.hpp"
#include "resources.hpp"
#include "rootfs.hpp"
#include "security.hpp"
#include "seccomp.hpp"
#include "spec.hpp"
#include "state.hpp"
#include "uts.hpp"

namespace lifecycle {
namespace {

using container::State;
using container::Status;
using container::Store;

Error not_running(const std::string& id, Status st) {
    return Error(fmt::format("container {} is {}", id, container::status_name(st)), 1);
}

// The state's "owner" (runc's field: the user running the runtime). Looked up once a process:
// getpwuid goes through NSS (nscd's socket, then libnss_* loaded with dlopen), and create
// writes the state twice.
std::string user_name() {
    static const std::string name = [] {
        if (passwd* pw = ::getpwuid(::geteuid())) return std::string(pw->pw_name);
        return std::to_string(::geteuid());
    }();
    return name;
}

void write_pid_file(const std::string& path, pid_t pid) {
    if (path.empty()) return;
    std::string tmp = path + ".tmp";
    files::write(tmp, std::to_string(pid));
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw SysError("rename(\"" + tmp + "\", \"" + path + "\")", errno);
}

// ---------------------------------------------------------------------------------------------
// The layers of step07 that have no module of their own: small duties of an OCI runtime.

// The exec fifo and the session keyring, first thing in the child; the fifo's gate last.
class InitLayer : public launch::Layer {
public:
    InitLayer(std::string fifo, bool new_keyring, int preserve_fds, std::string domainname)
        : fifo_(std::move(fifo)), new_keyring_(new_keyring), preserve_fds_(preserve_fds),
          domainname_(std::move(domainname)) {}
    const char* name() const override { return "init"; }

    void setup_inside(launch::Context& ctx) override {
        if (!fifo_.empty()) {
            // Opened now, while the host's tree is still visible; reopened for writing at the
            // gate through /proc/self/fd, after pivot_root.
            fifo_fd_.reset(static_cast<int>(narrate::sys(
                {"init", "open(\"" + fifo_ + "\", O_PATH)", "the exec fifo: `start` opens its other end", ""},
                [&] { return ::open(fifo_.c_str(), O_PATH | O_CLOEXEC); })));
        }
        if (new_keyring_) {
            // Keys are not namespaced: without a session keyring of its own the container
            // would share the caller's (and could read the keys of other containers).
            std::string name = "_ses." + ctx.id;
            narrate::sys({"init", "keyctl(KEYCTL_JOIN_SESSION_KEYRING, \"" + name + "\")",
                          "a session keyring of the container's own", "cat /proc/{pid}/task/*/... # keyctl show"},
                         [&] { return ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str()); });
        }
        if (!domainname_.empty()) {
            narrate::sys({"uts", "setdomainname(\"" + domainname_ + "\")", "the NIS domain name of this UTS namespace", ""},
                         [&] { return ::setdomainname(domainname_.data(), domainname_.size()); });
        }
    }

    // Child side, in create mode: block until `start` opens the fifo for reading.
    void gate() {
        std::string path = "/proc/self/fd/" + std::to_string(fifo_fd_.get());
        int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) throw SysError("open(exec fifo, O_WRONLY)", errno);
        char c = '0';
        (void)!::write(fd, &c, 1);
        ::close(fd);
        fifo_fd_.reset();
    }

    void before_exec(launch::Context&) override {
        // The launcher marked every fd above 2 close-on-exec; --preserve-fds N keeps 3..N+2.
        for (int fd = 3; fd < 3 + preserve_fds_; ++fd) ::fcntl(fd, F_SETFD, 0);
    }

private:
    std::string fifo_;
    unique_fd fifo_fd_;
    bool new_keyring_;
    int preserve_fds_;
    std::string domainname_;
};

// The cgroup: made by the parent, removed on failure (and, in run mode, at the end). The init
// gets in without anyone moving it where the kernel allows (resources.hpp: moving a process
// costs an RCU grace period, ~8 ms here): born in the v2 directory (clone3), and in the v1
// hierarchies by moving itself, first thing, before its cgroup namespace roots there. With
// prestart or createRuntime hooks the parent moves it before they run, as they may look.
class CgroupLayer : public launch::Layer {
public:
    CgroupLayer(resources::Container c, bool hooks_look) : cg_(std::move(c)), hooks_look_(hooks_look) {}
    const char* name() const override { return "cgroup"; }
    void prepare_host(launch::Context& ctx) override {
        cg_.create();
        created_ = true;
        cg_.open_entries(!hooks_look_);
        ctx.cgroup_fd = cg_.entry_dir();
    }
    void join_child(launch::Context& ctx) override {
        cg_.close_entries();
        cg_.add_pid_rest(ctx.pid, ctx.cgroup_fd >= 0);
    }
    void setup_inside(launch::Context&) override { cg_.enter_self(); }
    void cleanup(launch::Context&) noexcept override {
        cg_.close_entries();
        if (!created_ || keep_) return;
        try {
            cg_.destroy();
        } catch (const Error& e) {
            narrate::warn("cgroup cleanup: " + e.line());
        }
    }
    void keep() { keep_ = true; }  // create succeeded: the container owns it now
    std::vector<std::string> dirs() const { return cg_.dirs(); }
    const cgroup::Host& host() const { return cg_.host(); }

private:
    resources::Container cg_;
    bool hooks_look_;
    bool created_ = false, keep_ = false;
};

// The process's own setup: oom_score_adj from outside, sysctls inside, then rlimits, cwd.
class ProcessLayer : public launch::Layer {
public:
    explicit ProcessLayer(const spec::Spec& s) : s_(s) {}
    const char* name() const override { return "process"; }
    void join_child(launch::Context& ctx) override {
        if (s_.process.oom_score_adj) process::set_oom_score_adj(ctx.pid, *s_.process.oom_score_adj);
    }
    void setup_inside(launch::Context&) override { process::write_sysctl(s_.sysctl); }
    void before_exec(launch::Context&) override { process::prepare(s_.process, s_.personality); }

private:
    const spec::Spec& s_;
};

class ConsoleLayer : public launch::Layer {
public:
    ConsoleLayer(std::string socket, unsigned h, unsigned w) : path_(std::move(socket)), h_(h), w_(w) {}
    const char* name() const override { return "console"; }
    void prepare_host(launch::Context&) override { sock_ = console::connect(path_); }
    void setup_inside(launch::Context&) override {
        console::setup(sock_.get(), h_, w_);
        sock_.reset();
    }
    void cleanup(launch::Context&) noexcept override { sock_.reset(); }

private:
    std::string path_;
    unique_fd sock_;
    unsigned h_, w_;
};

// prestart and createRuntime run on the host once the namespaces exist; startContainer runs
// in the container right before the command.
class HooksLayer : public launch::Layer {
public:
    HooksLayer(const spec::Spec& s, std::string id) : s_(s), id_(std::move(id)) {}
    const char* name() const override { return "hooks"; }
    nlohmann::json state_json(pid_t pid, const char* status) const {
        nlohmann::json j = {{"ociVersion", "1.0.2"}, {"id", id_}, {"status", status}, {"pid", pid}, {"bundle", s_.bundle}};
        if (!s_.annotations.empty()) j["annotations"] = s_.annotations;
        return j;
    }
    void join_child(launch::Context& ctx) override {
        hooks::run_all(s_.hooks.prestart, state_json(ctx.pid, "created"), "prestart");
        hooks::run_all(s_.hooks.create_runtime, state_json(ctx.pid, "creating"), "createRuntime");
    }
    void before_exec(launch::Context& ctx) override {
        hooks::run_all(s_.hooks.start_container, state_json(ctx.pid, "created"), "startContainer");
    }

private:
    const spec::Spec& s_;
    std::string id_;
};

// Everything one container needs, built from its spec; owns the layers.
struct Assembly {
    std::unique_ptr<InitLayer> init;
    std::unique_ptr<namespaces::Layer> ns;
    std::unique_ptr<uts::Layer> uts;
    std::unique_ptr<CgroupLayer> cgroup;
    std::unique_ptr<HooksLayer> hooks;
    std::unique_ptr<rootfs::Layer> root;
    std::unique_ptr<ProcessLayer> process;
    std::unique_ptr<masked::Layer> masks;
    std::unique_ptr<ConsoleLayer> console;
    std::unique_ptr<security::Layer> security;

    // The order is the order of setup_inside (and of before_exec), see DESIGN: init (the fifo,
    // the keyring), cgroup (the init enters its v1 cgroups, before its cgroup namespace roots
    // there), ns (setns, the user ns's root, the cgroup ns), uts (hostname), hooks, rootfs
    // (mounts, devices, pivot_root), process (sysctls, before /proc/sys goes read-only), masked
    // (masked and read-only paths), console (the pty, after devpts), security (last: identity,
    // capabilities, no_new_privs, seccomp).
    std::vector<launch::Layer*> list() const {
        std::vector<launch::Layer*> out{init.get(), cgroup.get(), ns.get()};
        if (uts) out.push_back(uts.get());
        out.insert(out.end(), {hooks.get(), root.get(), process.get(), masks.get()});
        if (console) out.push_back(console.get());
        out.push_back(security.get());
        return out;
    }
};

// `fifo` empty: run mode (no gate); a terminal then is the tool's own when no socket is given.
Assembly assemble(const spec::Spec& s, const Global& g, const std::string& id, const CreateOptions& opts,
                  const std::string& fifo) {
    Assembly a;
    a.init = std::make_unique<InitLayer>(fifo, !opts.no_new_keyring, opts.preserve_fds, s.domainname);
    a.ns = std::make_unique<namespaces::Layer>(s.namespaces, s.uid_mappings, s.gid_mappings);
    const spec::Namespace* uts_ns = s.find_namespace(CLONE_NEWUTS);
    if (!s.hostname.empty()) {
        if (!uts_ns || !uts_ns->path.empty())
            throw Error("hostname: setting a hostname needs a new uts namespace (linux.namespaces)");
        std::string why = uts::validate_hostname(s.hostname);
        if (!why.empty()) throw Error("hostname: " + why);
        a.uts = std::make_unique<uts::Layer>(uts::Config{s.hostname});
    }
    if (!s.domainname.empty() && (!uts_ns || !uts_ns->path.empty()))
        throw Error("domainname: setting a domain name needs a new uts namespace (linux.namespaces)");
    a.cgroup = std::make_unique<CgroupLayer>(resources::Container::plan(s.cgroups_path, id, g.systemd_cgroup, s.resources),
                                             !s.hooks.prestart.empty() || !s.hooks.create_runtime.empty());
    a.hooks = std::make_unique<HooksLayer>(s, id);
    if (!s.has_namespace(CLONE_NEWNS)) throw Error("linux.namespaces: this runtime needs a mount namespace");
    rootfs::Config rc;
    rc.root = s.root;
    rc.read_only = s.root_readonly;
    rc.mounts = s.mounts;
    rc.devices = s.devices;
    rc.propagation = s.rootfs_propagation;
    rc.no_pivot = opts.no_pivot;
    rc.user_namespace = a.ns->new_user();
    rc.cgroup_namespace = s.has_namespace(CLONE_NEWCGROUP);
    rc.cgroup_host = a.cgroup->host();  // detected once, by the cgroup plan
    HooksLayer* hooks = a.hooks.get();
    rc.before_pivot = [hooks, &s] {
        hooks::run_all(s.hooks.create_container, hooks->state_json(::getpid(), "created"), "createContainer");
    };
    a.root = std::make_unique<rootfs::Layer>(rc);
    if (a.ns->new_user()) a.root->set_idmap(s.uid_mappings, s.gid_mappings);
    process::validate_sysctl(s.sysctl, s);
    a.process = std::make_unique<ProcessLayer>(s);
    a.masks = std::make_unique<masked::Layer>(s.masked_paths, s.readonly_paths);
    if (s.process.terminal && opts.console_socket.empty() && fifo.empty()) {
        // `run` in a terminal: the container uses the tool's own stdio, as `runc run` does.
    } else if (s.process.terminal) {
        if (opts.console_socket.empty())
            throw Error("process.terminal is true: --console-socket is required (the pty's master goes there)");
        a.console = std::make_unique<ConsoleLayer>(opts.console_socket, s.process.console_height, s.process.console_width);
    } else if (!opts.console_socket.empty()) {
        throw Error("--console-socket given but process.terminal is false");
    }
    // Compiled filters are kept under the state root (.cache/seccomp), as newer crun releases keep theirs.
    a.security = std::make_unique<security::Layer>(s.process, s.seccomp, Store(g.root).root() + "/.cache/seccomp");
    return a;
}

launch::Context context_for(const spec::Spec& s, const std::string& id) {
    launch::Context ctx;
    ctx.argv = s.process.args;
    ctx.env = s.process.env;
    ctx.id = id;
    return ctx;
}

void say_warnings(const spec::Spec& s) {
    for (auto& w : s.warnings) narrate::warn(w);
}

State new_state(const spec::Spec& s, const std::string& id, pid_t pid, const std::vector<std::string>& dirs,
                const Global& g) {
    State st;
    st.id = id;
    st.bundle = s.bundle;
    st.rootfs = s.root;
    st.pid = pid;
    st.start_time = pid > 0 ? state::start_time(pid).value_or(0) : 0;
    st.created = container::now_rfc3339();
    st.owner = user_name();
    st.annotations = s.annotations;
    st.cgroup_dirs = dirs;
    st.systemd_cgroup = g.systemd_cgroup;
    const spec::Namespace* pidns = s.find_namespace(CLONE_NEWPID);
    st.own_pid_namespace = pidns && pidns->path.empty();
    return st;
}

bool alive(const State& st) {
    auto now = state::start_time(st.pid);
    return now && *now == st.start_time;
}

// Waits until the init is gone (or a zombie: its parent reaps it, not us).
bool wait_gone(const Store& store, const State& st, int ms) {
    for (int i = 0; i < ms / 5; ++i) {
        if (container::status(st, store) == Status::stopped) return true;
        ::usleep(5000);
    }
    return container::status(st, store) == Status::stopped;
}

// The host id that id 0 of the container maps to.
uid_t host_id_of_root(const std::vector<spec::IdMap>& maps) {
    for (auto& m : maps)
        if (m.container_id == 0) return m.host_id;
    return static_cast<uid_t>(-1);  // chown(2): leave unchanged
}

void check_id(const std::string& id) {
    std::string why;
    if (!container::valid_id(id, why)) throw Error(why, 1);
}

// A command that changes an existing container: its id checked, its state read under its lock.
// The first read makes a missing id fail before a lock file is made for it; the second, with the
// lock held, sees what a concurrent command may have changed meanwhile.
struct Locked {
    Locked(const Global& g, const std::string& id) : store(g.root) {
        check_id(id);
        store.load(id);
        lock.emplace(store, id);
        st = store.load(id);
    }
    Store store;
    std::optional<Store::Lock> lock;
    State st;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

int create(const Global& g, const std::string& id, const CreateOptions& opts) {
    check_id(id);
    spec::Spec s = spec::load(opts.bundle);
    say_warnings(s);
    Store store(g.root);
    Store::Lock lock(store, id);
    if (store.exists(id)) throw Error("container " + id + " already exists", 1);
    std::string fifo = store.fifo(id);
    Assembly a = assemble(s, g, id, opts, fifo);  // every check before the host is touched

    store.create_dir(id);
    try {
        // Recorded before anything else is made: a create killed half-way leaves a "stopped"
        // record naming its cgroup, which `delete` removes.
        State pending = new_state(s, id, 0, a.cgroup->dirs(), g);
        pending.creator = state::Owner::self().str();
        store.save(pending);
        if (::mkfifo(fifo.c_str(), 0600) < 0) throw SysError("mkfifo(\"" + fifo + "\")", errno);
        // In a user namespace the init is root there but an unprivileged id here: the fifo must
        // be its own, or it cannot reopen it for writing at the gate.
        if (!s.uid_mappings.empty() && ::chown(fifo.c_str(), host_id_of_root(s.uid_mappings),
                                               host_id_of_root(s.gid_mappings)) < 0)
            throw SysError("chown(\"" + fifo + "\")", errno);
        launch::Context ctx = context_for(s, id);
        launch::CreateHooks hooks;
        hooks.on_ready = [&](launch::Context& c) {
            store.save(new_state(s, id, c.pid, a.cgroup->dirs(), g));
            write_pid_file(opts.pid_file, c.pid);
            a.cgroup->keep();
        };
        InitLayer* init = a.init.get();
        hooks.gate = [init](launch::Context&) { init->gate(); };
        launch::create(a.list(), ctx, hooks);
        return 0;
    } catch (...) {
        store.remove(id);
        throw;
    }
}

int start(const Global& g, const std::string& id) {
    Locked c(g, id);
    const Store& store = c.store;
    State& st = c.st;
    Status status = container::status(st, store);
    if (status != Status::created) {
        if (status == Status::stopped) throw Error("cannot start a container that has stopped", 1);
        throw Error(fmt::format("cannot start a container that is {}", container::status_name(status)), 1);
    }
    // The init is blocked in open(fifo, O_WRONLY): our open lets it through, and its one byte
    // says it got there. O_NONBLOCK: never hang on an init that died meanwhile.
    std::string fifo = store.fifo(id);
    unique_fd fd(static_cast<int>(narrate::sys({"start", "open(\"" + fifo + "\", O_RDONLY|O_NONBLOCK)",
                                                "the init, waiting to open the fifo for writing, goes on", ""},
                                               [&] { return ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC); })));
    for (int i = 0;; ++i) {
        char c;
        ssize_t n = ::read(fd.get(), &c, 1);
        if (n == 1) break;
        if (!alive(st)) throw Error("container " + id + ": the init died before it started", 1);
        if (i > 20000) throw Error("container " + id + ": the init did not take the start (10 s)", 1);
        ::usleep(500);
    }
    ::unlink(fifo.c_str());
    st.started = true;
    store.save(st);
    // poststart: failures are warnings (the container is running already).
    try {
        spec::Spec s = spec::load(st.bundle);
        nlohmann::json j = container::to_json(st, Status::running);
        hooks::run_all(s.hooks.poststart, j, "poststart");
    } catch (const Error& e) {
        narrate::warn(e.line());
    }
    return 0;
}

int run(const Global& g, const std::string& id, const CreateOptions& opts, bool detach) {
    if (detach) {
        if (int rc = create(g, id, opts)) return rc;
        return start(g, id);
    }
    check_id(id);
    spec::Spec s = spec::load(opts.bundle);
    say_warnings(s);
    Store store(g.root);
    std::unique_ptr<Store::Lock> lock = std::make_unique<Store::Lock>(store, id);
    if (store.exists(id)) throw Error("container " + id + " already exists", 1);
    Assembly a = assemble(s, g, id, opts, "");
    store.create_dir(id);
    {
        // As in create: recorded before the lock goes, so a run killed from here on leaves a
        // "stopped" record (its creator dead) that `delete` removes with its cgroup, never a
        // bare directory that `create` calls taken and `delete` calls missing.
        State pending = new_state(s, id, 0, a.cgroup->dirs(), g);
        pending.creator = state::Owner::self().str();
        store.save(pending);
    }
    lock.reset();  // other commands (state, kill, ps) may act on it while it runs

    // The state is recorded once the init exists (join_child of a small layer at the end).
    class Record : public launch::Layer {
    public:
        Record(std::function<void(pid_t)> f) : f_(std::move(f)) {}
        const char* name() const override { return "state"; }
        void join_child(launch::Context& ctx) override { f_(ctx.pid); }

    private:
        std::function<void(pid_t)> f_;
    } record([&](pid_t pid) {
        State st = new_state(s, id, pid, a.cgroup->dirs(), g);
        st.started = true;
        store.save(st);
        write_pid_file(opts.pid_file, pid);
    });
    std::vector<launch::Layer*> layers = a.list();
    layers.insert(layers.begin() + 1, &record);
    int status;
    try {
        status = launch::run(layers, context_for(s, id));
    } catch (...) {
        store.remove(id);
        throw;
    }
    try {
        hooks::run_all(s.hooks.poststop, nlohmann::json{{"ociVersion", "1.0.2"}, {"id", id}, {"status", "stopped"},
                                                         {"bundle", s.bundle}},
                       "poststop");
    } catch (const Error& e) {
        narrate::warn(e.line());
    }
    store.remove(id);
    return status;
}

int state(const Global& g, const std::string& id) {
    check_id(id);
    Store store(g.root);
    State st = store.load(id);
    std::cout << container::to_json(st, container::status(st, store)).dump(2) << std::endl;
    return 0;
}

int parse_signal(const std::string& text) {
    if (text.empty()) return 0;
    if (std::all_of(text.begin(), text.end(), ::isdigit)) {
        int n = std::atoi(text.c_str());
        return n > 0 && n < 65 ? n : 0;
    }
    std::string name = text;
    for (auto& c : name) c = static_cast<char>(::toupper(c));
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    for (int sig = 1; sig < 32; ++sig)
        if (const char* abbrev = ::sigabbrev_np(sig); abbrev && name == abbrev) return sig;
    if (name.rfind("RTMIN", 0) == 0) return SIGRTMIN + std::atoi(name.c_str() + 5 + (name.size() > 5 && name[5] == '+'));
    return 0;
}

int kill(const Global& g, const std::string& id, const std::string& signal, bool all) {
    check_id(id);
    int sig = parse_signal(signal.empty() ? "TERM" : signal);
    if (sig == 0) throw Error("unknown signal \"" + signal + "\"", 1);
    Store store(g.root);
    State st = store.load(id);
    Status status = container::status(st, store);
    if (status == Status::stopped && !all) throw Error("container " + id + " is not running", 1);
    auto cg = resources::Container::from_dirs(st.cgroup_dirs);
    if (all || !st.own_pid_namespace) {
        narrate::note("kill", fmt::format("{} to every process of the container's cgroup", ::sigabbrev_np(sig)));
        cg.signal_all(sig);
    } else {
        narrate::sys({"kill", fmt::format("kill({}, SIG{})", st.pid, ::sigabbrev_np(sig)), "to the container's init", ""},
                     [&] { return ::kill(st.pid, sig); });
    }
    // A frozen process cannot die until it is thawed.
    if (status == Status::paused && sig == SIGKILL) cg.thaw();
    return 0;
}

int remove(const Global& g, const std::string& id, bool force) {
    check_id(id);
    // runc's rule, which containerd's shim relies on: it deletes, then deletes --force again.
    if (force && !Store(g.root).exists(id)) return 0;
    Locked c(g, id);
    const Store& store = c.store;
    State& st = c.st;
    Status status = container::status(st, store);
    auto cg = resources::Container::from_dirs(st.cgroup_dirs);
    if (status == Status::running || status == Status::paused) {
        if (!force)
            throw Error(fmt::format("cannot delete container {} that is not stopped: {}", id, container::status_name(status)), 1);
    }
    if (status == Status::creating) throw Error("container " + id + " is being created", 1);
    if (status != Status::stopped) {
        // created (never started) is deleted without --force, as runc does: nothing ran yet.
        if (status == Status::paused) cg.thaw();
        ::kill(st.pid, SIGKILL);
        cg.signal_all(SIGKILL);
        if (!wait_gone(store, st, 10000)) throw Error("container " + id + ": the init did not die after SIGKILL", 1);
    }
    cg.destroy();
    store.remove(id);
    // poststop: after the container is gone; the bundle may be gone too (then nothing to run).
    try {
        spec::Spec s = spec::load(st.bundle);
        hooks::run_all(s.hooks.poststop, container::to_json(st, Status::stopped), "poststop");
    } catch (const Error& e) {
        narrate::warn(e.line());
    }
    return 0;
}

int pause(const Global& g, const std::string& id) {
    Locked c(g, id);
    Status status = container::status(c.st, c.store);
    if (status != Status::running) throw not_running(id, status);
    resources::Container::from_dirs(c.st.cgroup_dirs).freeze();
    return 0;
}

int resume(const Global& g, const std::string& id) {
    Locked c(g, id);
    Status status = container::status(c.st, c.store);
    if (status != Status::paused) throw Error(fmt::format("container {} is not paused", id), 1);
    resources::Container::from_dirs(c.st.cgroup_dirs).thaw();
    return 0;
}

int ps(const Global& g, const std::string& id, const std::string& format) {
    check_id(id);
    Store store(g.root);
    State st = store.load(id);
    std::vector<pid_t> pids = resources::Container::from_dirs(st.cgroup_dirs).pids();
    if (pids.empty() && container::status(st, store) != Status::stopped) pids.push_back(st.pid);
    if (format == "json") {
        std::cout << nlohmann::json(pids).dump() << std::endl;
        return 0;
    }
    if (format != "table" && !format.empty()) throw Error("ps --format: table or json", 1);
    std::printf("%-8s %s\n", "PID", "CMD");
    for (pid_t p : pids) {
        std::string cmd;
        try {
            cmd = files::read("/proc/" + std::to_string(p) + "/cmdline");
        } catch (const Error&) {
        }
        for (auto& c : cmd)
            if (c == '\0') c = ' ';
        std::printf("%-8d %s\n", p, cmd.c_str());
    }
    return 0;
}

int list(const Global& g, const std::string& format, bool quiet) {
    Store store(g.root);
    nlohmann::json all = nlohmann::json::array();
    if (!quiet && format != "json") std::printf("%-20s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    for (auto& id : store.ids()) {
        State st;
        try {
            st = store.load(id);
        } catch (const Error&) {
            continue;
        }
        Status status = container::status(st, store);
        if (quiet) std::printf("%s\n", id.c_str());
        else if (format == "json") all.push_back(container::to_json(st, status));
        else
            std::printf("%-20s %-8d %-10s %-40s %-32s %s\n", id.c_str(), status == Status::stopped ? 0 : st.pid,
                        container::status_name(status), st.bundle.c_str(), st.created.c_str(), st.owner.c_str());
    }
    if (format == "json" && !quiet) std::cout << all.dump() << std::endl;
    return 0;
}

int update(const Global& g, const std::string& id, const std::string& resources_file) {
    Locked c(g, id);
    std::string text;
    if (resources_file == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
    else text = files::read(resources_file);
    nlohmann::json res;
    try {
        res = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        throw Error(std::string("--resources: not JSON: ") + e.what());
    }
    // The resources object is validated by the same code as config.json's linux.resources.
    nlohmann::json wrapper = {{"ociVersion", "1.0.2"},
                              {"root", {{"path", "/"}}},
                              {"process", {{"args", {"true"}}, {"cwd", "/"}}},
                              {"linux", {{"resources", res}}}};
    spec::Spec s = spec::parse(wrapper, "/");
    if (s.resources) resources::Container::from_dirs(c.st.cgroup_dirs).update(*s.resources);
    return 0;
}

int features() {
    nlohmann::json caps = nlohmann::json::array();
    for (int c = 0; c <= spec::last_capability(); ++c) caps.push_back(spec::capability_name(c));
    nlohmann::json j = {
        {"ociVersionMin", "1.0.0"},
        {"ociVersionMax", "1.1.0"},
        {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
        {"mountOptions",
         {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev",
          "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
          "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime",
          "suid", "sync", "unbindable"}},
        {"linux",
         {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
          {"capabilities", caps},
          {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
          {"seccomp",
           {{"enabled", true},
            {"actions",
             {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
              "SCMP_ACT_LOG", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE"}},
            {"operators",
             {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
              "SCMP_CMP_NE"}},
            {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"}}}},
          {"apparmor", {{"enabled", false}}},
          {"selinux", {{"enabled", false}}}}},
        {"annotations", {{"org.opencontainers.runc.version", "minibox-step07"}}}};
    std::cout << j.dump(2) << std::endl;
    return 0;
}

int write_spec(const std::string& bundle, bool userns, const std::vector<std::string>& args) {
    std::string path = bundle + "/config.json";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) throw Error(path + " already exists: remove it first");
    spec::SpecOptions o;
    if (!args.empty()) o.args = args;
    o.userns = userns;
    files::write(path, spec::default_spec(o).dump(4) + "\n");
    return 0;
}

}  // namespace lifecycle
