#include "server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <list>
#include <memory>
#include <sstream>

#include "client.hpp"
#include "console.hpp"
#include "error.hpp"
#include "files.hpp"
#include "jsonlog.hpp"
#include "narrate.hpp"
#include "netns.hpp"
#include "runtime.hpp"
#include "state.hpp"
#include "util.hpp"

namespace shim {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxClientBuffer = 8u << 20;  // an attached client this far behind is dropped
constexpr size_t kMaxStdinBuffer = 1u << 20;   // beyond this, clients' stdin is not read
constexpr auto kDrain = std::chrono::milliseconds(1000);  // output after the init's exit

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// The memory cgroup's OOM-kill counter of a process, read from the host: v1's
// memory.oom_control "oom_kill N", else v2's memory.events "oom_kill N".
struct OomCounter {
    std::string file;
    static OomCounter of(pid_t pid) {
        OomCounter c;
        std::ifstream f("/proc/" + std::to_string(pid) + "/cgroup");
        std::string line, v2;
        while (std::getline(f, line)) {
            auto a = line.find(':'), b = line.find(':', a + 1);
            if (a == std::string::npos || b == std::string::npos) continue;
            std::string ctl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
            std::stringstream ctls(ctl);
            for (std::string one; std::getline(ctls, one, ',');)
                if (one == "memory") c.file = "/sys/fs/cgroup/memory" + path + "/memory.oom_control";
            if (ctl.empty()) v2 = path;
        }
        if (c.file.empty() && !v2.empty()) {
            // The cgroup2 mount: /sys/fs/cgroup on a pure v2 host (the hybrid one has no memory).
            if (::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) c.file = "/sys/fs/cgroup" + v2 + "/memory.events";
        }
        return c;
    }
    unsigned long long read() const {
        if (file.empty()) return 0;
        std::istringstream in(files::read(file));
        std::string key;
        unsigned long long v = 0;
        while (in >> key >> v)
            if (key == "oom_kill") return v;
        return 0;
    }
};

struct Conn {
    enum Kind { request, waiting, attached, shutting, closing };
    unique_fd fd;
    Kind kind = request;
    std::string in, out;
    bool want_stdin = false, want_out = false, want_err = false;
    bool cleans_up = false;  // a waiter that undoes the exit itself (wait "cleanup": true)
    bool read_closed = false;
    bool dead = false;
};

struct Restart {
    bool on_failure = false, always = false;
    int max = 0;  // on-failure:N, 0 = no limit
    static Restart parse(const std::string& r) {
        Restart p;
        if (r == "always" || r == "unless-stopped") p.always = true;
        if (r.rfind("on-failure", 0) == 0) {
            p.on_failure = true;
            if (r.size() > 11) p.max = std::stoi(r.substr(11));
        }
        return p;
    }
};

class Server {
public:
    Server(std::string dir, Options opts)
        : dir_(std::move(dir)), opts_(std::move(opts)), policy_(Restart::parse(opts_.restart)),
          net_(opts_.network, dir_, opts_.id) {
        rt_ = {opts_.runtime, opts_.runtime_root, dir_ + "/runtime.log"};
        st_.shim_pid = ::getpid();
        st_.started_at = zero_time;
        st_.finished_at = zero_time;
        st_.ports = opts_.network.ports;
    }

    void prepare();
    void first_life();
    void loop();
    void teardown() noexcept;
    void release() noexcept;
    State& state() { return st_; }

private:
    // A life: one create (+ start) of the container, up to the init's exit.
    void create_life();
    void start_life();
    void end_life();
    void finish();
    bool cleaning_waiter();
    void save() noexcept;

    void on_signal();
    void on_output(int which);
    void on_stdin_writable();
    void accept_client();
    void on_client_readable(Conn& c);
    void on_client_writable(Conn& c);
    void handle(Conn& c, const json& req);
    void send(Conn& c, const json& reply, Conn::Kind then);
    void broadcast(int stream, const char* data, size_t n);
    void close_stdin();
    bool outputs_open() const { return out_ || err_ || master_; }

    std::string dir_;
    Options opts_;
    Restart policy_;
    Runtime rt_;
    Netns net_;
    State st_;
    std::unique_ptr<JsonLog> log_;
    unique_fd listen_, sigfd_;
    bool recorded_ = false, bound_ = false, made_container_ = false;

    // This life's descriptors and process.
    pid_t init_ = 0;
    bool init_exited_ = false;
    int init_status_ = 0;
    unique_fd out_, err_, in_, master_;
    std::string stdin_buf_;
    bool stdin_close_pending_ = false;
    OomCounter oom_;
    unsigned long long oom_before_ = 0;
    Clock::time_point exited_at_{};
    bool life_active_ = false;

    // What follows the life.
    bool manual_stop_ = false, restart_requested_ = false, shutting_down_ = false, done_ = false;
    bool shutdown_requested_ = false;  // a "shutdown" request: its caller cleans up, no exit command
    std::optional<Clock::time_point> restart_at_;
    int backoff_ms_ = 100;

    std::list<Conn> conns_;
};

void Server::save() noexcept {
    try {
        write_atomic(state_path(dir_), st_.to_json().dump() + "\n");
    } catch (const std::exception& e) {
        narrate::warn(std::string("state.json: ") + e.what());
    }
}

void Server::prepare() {
    // 1. Ownership, before anything is made: the next shim or `minibox cleanup` undoes what a
    //    killed shim leaves behind by these two records.
    if (alive(dir_)) throw Error("a shim is already running for " + dir_);
    reap_dead();  // killed shims' leftovers, this directory's too
    std::string owner = state::Owner::self().str();
    write_atomic(dir_ + "/owner", owner + "\n");
    std::string records = state::run_dir() + "/shims";
    if (::mkdir(records.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + records + "\")", errno);
    write_atomic(records + "/" + opts_.id, owner + "\n" + dir_ + "\n");
    recorded_ = true;
    st_.status = "creating";
    save();

    // 2. The control socket, 0600: whoever may talk to it may run anything as root.
    std::string sock = socket_path(dir_);
    ::unlink(sock.c_str());  // a dead shim's (its owner was checked above)
    UnixAddress a = unix_address(sock);
    listen_.reset(static_cast<int>(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket(AF_UNIX)")));
    mode_t old = ::umask(0177);
    int rc = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a.addr), a.len);
    int err = errno;
    ::umask(old);
    if (rc < 0) throw SysError("bind(\"" + sock + "\")", err);
    bound_ = true;
    narrate::sys({"shim", "listen(\"" + sock + "\")", "the front end and the engine talk to the shim here (protocol.md)",
                  "ss -xl | grep shim.sock"},
                 [&] { return ::listen(listen_.get(), 64); });

    // 3. SIGCHLD (the init's exit, re-parented to us), SIGTERM/SIGINT (shut down) as readable
    //    events of the loop. SIGHUP is ignored: a daemon has no terminal to hang up.
    ::signal(SIGHUP, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&set, s);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    sigfd_.reset(static_cast<int>(check(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd(SIGCHLD|SIGTERM)")));

    // 4. The network, then the log.
    net_.setup();
    st_.ip = net_.ip();
    log_ = std::make_unique<JsonLog>(opts_.log_path.empty() ? log_path(dir_) : opts_.log_path);
}

void Server::create_life() {
    // Fresh stdio for every life: the shim keeps the reading ends, the runtime (and through it
    // the init) gets the writing ends, so the output's EOF marks the container's end.
    unique_fd child_in, child_out, child_err, console_listen;
    std::vector<std::string> args = {"create", "--bundle", dir_ + "/bundle", "--pid-file", dir_ + "/init.pid"};
    std::string console_path = dir_ + "/console.sock";
    std::string cwd;
    if (opts_.tty) {
        ::unlink(console_path.c_str());
        std::string given = console_path;
        if (console_path.size() >= 100) {  // too long for sun_path: relative to the runtime's cwd
            given = "console.sock";
            cwd = dir_;
        }
        UnixAddress a = unix_address(console_path);
        console_listen.reset(static_cast<int>(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_UNIX)")));
        check(::bind(console_listen.get(), reinterpret_cast<sockaddr*>(&a.addr), a.len), "bind(\"" + console_path + "\")");
        check(::listen(console_listen.get(), 1), "listen(console socket)");
        args.insert(args.end(), {"--console-socket", given});
    } else {
        int p[2];
        check(::pipe2(p, O_CLOEXEC), "pipe2(stdout)");
        out_.reset(p[0]);
        child_out.reset(p[1]);
        check(::pipe2(p, O_CLOEXEC), "pipe2(stderr)");
        err_.reset(p[0]);
        child_err.reset(p[1]);
        if (opts_.open_stdin) {
            check(::pipe2(p, O_CLOEXEC), "pipe2(stdin)");
            child_in.reset(p[0]);
            in_.reset(p[1]);
        }
        narrate::note("shim", "the container's stdio: pipes; the shim keeps the other ends (ls -l /proc/<shim>/fd)");
    }
    args.push_back(opts_.id);
    ::unlink((dir_ + "/init.pid").c_str());
    made_container_ = true;
    auto r = rt_.run(args, child_in.get(), child_out.get(), child_err.get(), cwd);
    child_in.reset();
    child_out.reset();
    child_err.reset();
    if (!r.ok()) {
        ::unlink(console_path.c_str());
        out_.reset(), err_.reset(), in_.reset();
        throw Error(r.error, r.status);
    }
    life_active_ = true;
    init_exited_ = false;
    init_ = std::stoi("0" + files::read_line(dir_ + "/init.pid"));
    if (init_ <= 0) throw Error("the runtime wrote no pid to " + dir_ + "/init.pid");
    if (opts_.tty) {
        pollfd p{console_listen.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) throw Error("the runtime sent no terminal to " + console_path);
        master_ = console::receive_master(console_listen.get());
        console_listen.reset();
        ::unlink(console_path.c_str());
        if (opts_.height && opts_.width) {
            winsize ws{static_cast<unsigned short>(opts_.height), static_cast<unsigned short>(opts_.width), 0, 0};
            ::ioctl(master_.get(), TIOCSWINSZ, &ws);
        }
        narrate::note("shim", "the container's terminal: the pty master came over the console socket (SCM_RIGHTS)");
    }
    for (int fd : {out_.get(), err_.get(), in_.get(), master_.get()})
        if (fd >= 0) set_nonblock(fd);
    oom_ = OomCounter::of(init_);
    oom_before_ = oom_.read();
    st_.status = "created";
    st_.pid = init_;
    st_.error.clear();
    save();
}

void Server::start_life() {
    auto r = rt_.run({"start", opts_.id});
    if (!r.ok()) throw Error(r.error, r.status);
    st_.status = "running";
    st_.started_at = now_rfc3339();
    save();
}

void Server::first_life() {
    create_life();
    if (opts_.start) start_life();
}

// The init is gone and its output drained (or the drain gave up).
void Server::end_life() {
    log_->flush_all();
    out_.reset(), err_.reset(), in_.reset(), master_.reset();
    stdin_buf_.clear();
    stdin_close_pending_ = false;
    life_active_ = false;
    bool ran = st_.status == "running";
    st_.exit_code = exit_code_of(init_status_);
    st_.oom_killed = oom_.read() > oom_before_;
    st_.finished_at = now_rfc3339();
    st_.pid = 0;
    narrate::note("shim", "the init (" + std::to_string(init_) + ") exited: " + std::to_string(st_.exit_code) +
                              (st_.oom_killed ? ", OOM-killed" : ""));
    init_ = 0;

    bool again = false;
    if (!shutting_down_) {
        if (restart_requested_) again = true;
        else if (!manual_stop_ && ran && policy_.always) again = true;
        else if (!manual_stop_ && ran && policy_.on_failure && st_.exit_code != 0 &&
                 (policy_.max == 0 || st_.restart_count < policy_.max))
            again = true;
    }
    // Attached streams end with the life; waiters hear of it now when it runs again, after the
    // cleanup when it does not (then everything is gone when `wait` returns).
    for (auto& c : conns_)
        if (c.kind == Conn::attached) c.kind = Conn::closing;
    if (again) {
        if (!restart_requested_) ++st_.restart_count;
        restart_requested_ = false;
        manual_stop_ = false;
        st_.status = "restarting";
        save();
        json w = {{"ok", true}, {"exit_code", st_.exit_code}, {"finished_at", st_.finished_at},
                  {"oom_killed", st_.oom_killed}, {"restarting", true}};
        for (auto& c : conns_)
            if (c.kind == Conn::waiting) send(c, w, Conn::closing);
        restart_at_ = Clock::now() + std::chrono::milliseconds(backoff_ms_);
        backoff_ms_ = std::min(backoff_ms_ * 2, 2000);
        return;
    }
    st_.status = "exited";
    finish();
}

// A waiter with "cleanup": true whose client is still there (a peer that has closed reads 0
// bytes: an engine that died while waiting cleans nothing, so the exit command runs).
bool Server::cleaning_waiter() {
    for (auto& c : conns_) {
        if (c.kind != Conn::waiting || !c.cleans_up || c.dead || c.read_closed) continue;
        char b;
        ssize_t n = ::recv(c.fd.get(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) continue;
        return true;
    }
    return false;
}

void Server::finish() {
    teardown();
    st_.status = "exited";
    st_.pid = 0;
    if (st_.finished_at == zero_time) st_.finished_at = now_rfc3339();
    save();
    release();
    if (!shutdown_requested_ && !opts_.exit_command.empty()) {
        if (cleaning_waiter()) {
            // The engine's watcher waits with "cleanup": it settles the container and removes
            // it (--rm) as the exit command would; two processes of the front end (its 50
            // libraries) would only compete with it for the CPU.
            narrate::note("shim", "the life is over: a waiter that cleans up is connected, no exit command");
        } else {
            narrate::note("shim", "the life is over: run the exit command " + opts_.exit_command.front());
            spawn_detached(opts_.exit_command);
        }
    }
    json w = {{"ok", true}, {"exit_code", st_.exit_code}, {"finished_at", st_.finished_at},
              {"oom_killed", st_.oom_killed}, {"restarting", false}};
    for (auto& c : conns_) {
        if (c.kind == Conn::waiting) send(c, w, Conn::closing);
        if (c.kind == Conn::shutting) send(c, {{"ok", true}}, Conn::closing);
    }
    done_ = true;
}

// Everything the shim made on the host, in reverse: the runtime's container (its cgroup,
// its state), the network, the socket and the records. Safe to call twice.
void Server::teardown() noexcept {
    try {
        if (init_ > 0 && !init_exited_) {
            rt_.run({"kill", opts_.id, "KILL"});
            int status = 0;
            if (::waitpid(init_, &status, 0) == init_) init_status_ = status;
            init_exited_ = true;
        }
        if (made_container_) rt_.run({"delete", "--force", opts_.id});
        made_container_ = false;
    } catch (const std::exception& e) {
        narrate::warn(std::string("delete: ") + e.what());
    }
    net_.teardown();
    // The name goes now (no new client finds it); the socket itself stays open until the last
    // replies, so clients already in its backlog get an answer, not a reset.
    if (bound_) ::unlink(socket_path(dir_).c_str());
    bound_ = false;
    if (recorded_) {
        ::unlink((dir_ + "/console.sock").c_str());
        ::unlink((dir_ + "/init.pid").c_str());
    }
}

// Last: the records that name the shim as the owner. state.json is final before they go, so a
// reader that sees no live owner also sees the exit.
void Server::release() noexcept {
    if (recorded_) {
        ::unlink((dir_ + "/owner").c_str());
        try {
            ::unlink((state::run_dir() + "/shims/" + opts_.id).c_str());
        } catch (...) {
        }
        recorded_ = false;
    }
}

// ---------------------------------------------------------------------------------------------
// The loop

void Server::on_signal() {
    signalfd_siginfo si;
    while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD && !shutting_down_) {
            narrate::note("shim", std::string("got ") + ::sigabbrev_np(static_cast<int>(si.ssi_signo)) + ": shutting down");
            shutting_down_ = true;
            if (life_active_ && init_ > 0 && !init_exited_) rt_.run({"kill", opts_.id, "KILL"});
        }
    }
    // Every child that ended: the init, and orphans re-parented to the subreaper.
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        if (pid == init_ && !init_exited_) {
            init_exited_ = true;
            init_status_ = status;
            exited_at_ = Clock::now();
        }
    }
}

void Server::broadcast(int stream, const char* data, size_t n) {
    for (auto& c : conns_) {
        if (c.kind != Conn::attached || c.dead) continue;
        if ((stream == 1 && !c.want_out) || (stream == 2 && !c.want_err)) continue;
        if (opts_.tty) {
            c.out.append(data, n);
        } else {
            unsigned char h[8] = {static_cast<unsigned char>(stream), 0, 0, 0, static_cast<unsigned char>(n >> 24),
                                  static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 8),
                                  static_cast<unsigned char>(n)};
            c.out.append(reinterpret_cast<char*>(h), 8);
            c.out.append(data, n);
        }
        if (c.out.size() > kMaxClientBuffer) {
            narrate::warn("an attached client fell behind by " + std::to_string(c.out.size()) + " bytes: dropped");
            c.dead = true;
        }
    }
}

void Server::on_output(int which) {
    unique_fd& fd = which == 2 ? err_ : (which == 1 ? out_ : master_);
    char buf[65536];
    for (int rounds = 0; rounds < 16; ++rounds) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {  // EOF; a pty master reads EIO once every slave end is closed
            log_->flush(which == 2 ? "stderr" : "stdout");
            fd.reset();
            return;
        }
        const char* stream = which == 2 ? "stderr" : "stdout";
        log_->write(stream, std::string_view(buf, static_cast<size_t>(n)));
        broadcast(which == 2 ? 2 : 1, buf, static_cast<size_t>(n));
    }
}

void Server::close_stdin() {
    if (opts_.tty) {
        // A pty cannot be half-closed: the line discipline's EOF character ends a read.
        termios t{};
        char eof = ::tcgetattr(master_.get(), &t) == 0 ? static_cast<char>(t.c_cc[VEOF]) : 4;
        if (master_ && ::write(master_.get(), &eof, 1) < 0) narrate::warn("write(EOF to the pty) failed");
    } else {
        in_.reset();
        narrate::note("shim", "the attached client closed its stdin: close(the container's stdin pipe)");
    }
}

void Server::on_stdin_writable() {
    int fd = opts_.tty ? master_.get() : in_.get();
    while (!stdin_buf_.empty()) {
        ssize_t n = ::write(fd, stdin_buf_.data(), stdin_buf_.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n < 0) {  // the container closed its stdin (EPIPE): nothing more goes in
            stdin_buf_.clear();
            if (!opts_.tty) in_.reset();
            return;
        }
        stdin_buf_.erase(0, static_cast<size_t>(n));
    }
    if (stdin_close_pending_) {
        stdin_close_pending_ = false;
        close_stdin();
    }
}

void Server::accept_client() {
    for (;;) {
        int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        Conn c;
        c.fd.reset(fd);
        conns_.push_back(std::move(c));
    }
}

void Server::send(Conn& c, const json& reply, Conn::Kind then) {
    c.out += reply.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    c.kind = then;
}

void Server::handle(Conn& c, const json& req) {
    auto fail = [&](const std::string& why) { send(c, {{"ok", false}, {"error", why}}, Conn::closing); };
    std::string op = req.is_object() ? req.value("op", "") : "";
    narrate::note("shim", "request: " + req.dump());
    if (op == "state") {
        json j = st_.to_json();
        j["ok"] = true;
        send(c, j, Conn::closing);
    } else if (op == "start") {
        if (st_.status != "created") {
            return fail(st_.status == "running" ? "container is already running"
                                                : "container is " + st_.status + ": a shim runs one container life; start a new shim");
        }
        try {
            start_life();
        } catch (const Error& e) {
            return fail(e.message());
        }
        send(c, {{"ok", true}, {"pid", st_.pid}}, Conn::closing);
    } else if (op == "kill") {
        std::string sig = "TERM";
        if (req.contains("signal")) {
            if (req["signal"].is_number_integer()) sig = std::to_string(req["signal"].get<int>());
            else if (req["signal"].is_string()) sig = req["signal"].get<std::string>();
            else return fail("kill: \"signal\" must be a number or a name");
        }
        bool restart = req.value("restart", false);
        if (st_.status == "restarting" && !restart) {
            // Stopped between two lives: the pending restart is cancelled, the life is over.
            restart_at_.reset();
            manual_stop_ = true;
            send(c, {{"ok", true}}, Conn::closing);
            finish();
            return;
        }
        if (!life_active_ || init_exited_) return fail("container is not running");
        auto r = rt_.run({"kill", opts_.id, sig});
        if (!r.ok()) return fail(r.error);
        if (restart) restart_requested_ = true;
        else manual_stop_ = true;
        send(c, {{"ok", true}}, Conn::closing);
    } else if (op == "wait") {
        c.kind = Conn::waiting;  // answered by end_life / finish
        c.cleans_up = req.value("cleanup", false);
    } else if (op == "resize") {
        if (!opts_.tty || !master_) return fail("resize: the container has no terminal");
        int h = req.value("height", 0), w = req.value("width", 0);
        if (h <= 0 || w <= 0 || h > 65535 || w > 65535) return fail("resize: height and width must be 1..65535");
        winsize ws{static_cast<unsigned short>(h), static_cast<unsigned short>(w), 0, 0};
        if (::ioctl(master_.get(), TIOCSWINSZ, &ws) < 0) return fail(std::string("TIOCSWINSZ: ") + std::strerror(errno));
        send(c, {{"ok", true}}, Conn::closing);
    } else if (op == "attach") {
        c.want_stdin = req.value("stdin", false) && opts_.open_stdin;
        c.want_out = req.value("stdout", false);
        c.want_err = req.value("stderr", false);
        send(c, {{"ok", true}, {"tty", opts_.tty}}, Conn::attached);
        narrate::note("shim", std::string("attached a client (stdin ") + (c.want_stdin ? "yes" : "no") + ")");
    } else if (op == "shutdown") {
        c.kind = Conn::shutting;
        shutdown_requested_ = true;
        if (!shutting_down_) {
            shutting_down_ = true;
            restart_at_.reset();
            if (life_active_ && !init_exited_) {
                auto r = rt_.run({"kill", opts_.id, "KILL"});
                if (!r.ok() && init_ > 0) ::kill(init_, SIGKILL);
            } else if (!life_active_) {
                finish();
            }
        }
    } else {
        fail("unknown request \"" + op + "\" (state, start, kill, wait, resize, attach, shutdown)");
    }
}

void Server::on_client_readable(Conn& c) {
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            c.read_closed = true;
            if (c.kind == Conn::request) c.dead = true;
            if (c.kind == Conn::waiting || c.kind == Conn::shutting) c.dead = true;  // gone: no one to answer
            if (c.kind == Conn::attached && c.want_stdin && opts_.stdin_once) {
                if (stdin_buf_.empty()) close_stdin();
                else stdin_close_pending_ = true;
            }
            return;
        }
        if (c.kind == Conn::request) {
            c.in.append(buf, static_cast<size_t>(n));
            auto nl = c.in.find('\n');
            if (nl == std::string::npos) {
                if (c.in.size() > 65536) send(c, {{"ok", false}, {"error", "request line too long"}}, Conn::closing);
                continue;
            }
            std::string line = c.in.substr(0, nl), rest = c.in.substr(nl + 1);
            c.in.clear();
            auto req = json::parse(line, nullptr, false);
            if (req.is_discarded()) send(c, {{"ok", false}, {"error", "malformed JSON request"}}, Conn::closing);
            else handle(c, req);
            if (c.kind == Conn::attached && !rest.empty() && c.want_stdin) stdin_buf_ += rest;
            if (done_) return;
        } else if (c.kind == Conn::attached && c.want_stdin && (in_ || master_)) {
            stdin_buf_.append(buf, static_cast<size_t>(n));
            if (stdin_buf_.size() > kMaxStdinBuffer) return;
        }
        // Other kinds send nothing more: bytes are ignored.
    }
}

void Server::on_client_writable(Conn& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n < 0) {
            c.dead = true;
            return;
        }
        c.out.erase(0, static_cast<size_t>(n));
    }
    if (c.kind == Conn::closing) c.dead = true;
}

void Server::loop() {
    while (!done_) {
        std::vector<pollfd> fds;
        std::vector<std::function<void(short)>> handlers;
        auto add = [&](int fd, short events, std::function<void(short)> h) {
            fds.push_back({fd, events, 0});
            handlers.push_back(std::move(h));
        };
        add(sigfd_.get(), POLLIN, [&](short) { on_signal(); });
        add(listen_.get(), POLLIN, [&](short) { accept_client(); });
        if (out_) add(out_.get(), POLLIN, [&](short) { on_output(1); });
        if (err_) add(err_.get(), POLLIN, [&](short) { on_output(2); });
        if (master_) add(master_.get(), POLLIN, [&](short) { if (master_) on_output(0); });
        int in_fd = opts_.tty ? master_.get() : in_.get();
        if (in_fd >= 0 && !stdin_buf_.empty()) add(in_fd, POLLOUT, [&](short) { on_stdin_writable(); });
        for (auto& c : conns_) {
            short ev = 0;
            bool stdin_full = stdin_buf_.size() > kMaxStdinBuffer;
            if (!c.read_closed && !(c.kind == Conn::attached && stdin_full)) ev |= POLLIN;
            if (!c.out.empty() || c.kind == Conn::closing) ev |= POLLOUT;
            if (ev) add(c.fd.get(), ev, [&c, this](short re) {
                if (re & (POLLOUT | POLLERR | POLLHUP)) on_client_writable(c);
                if (!c.dead && (re & (POLLIN | POLLHUP | POLLERR)) && !c.read_closed) on_client_readable(c);
            });
        }
        int timeout = -1;
        auto now = Clock::now();
        if (init_exited_ && life_active_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(exited_at_ + kDrain - now).count();
            timeout = static_cast<int>(std::max<long>(0, left));
        }
        if (restart_at_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*restart_at_ - now).count();
            int t = static_cast<int>(std::max<long>(0, left));
            timeout = timeout < 0 ? t : std::min(timeout, t);
        }
        int n = ::poll(fds.data(), fds.size(), timeout);
        if (n < 0 && errno != EINTR) throw SysError("poll()", errno);
        for (size_t i = 0; n > 0 && i < fds.size() && !done_; ++i)
            if (fds[i].revents) handlers[i](fds[i].revents);
        conns_.remove_if([](const Conn& c) { return c.dead; });
        if (done_) break;

        // The life ends once the init has exited and its output is read (or the drain is over:
        // a process outside a pid namespace may hold the pipes open).
        if (life_active_ && init_exited_ && (!outputs_open() || Clock::now() >= exited_at_ + kDrain)) end_life();
        if (done_) break;
        if (restart_at_ && Clock::now() >= *restart_at_) {
            restart_at_.reset();
            narrate::note("shim", "restart policy " + opts_.restart + ": delete, create, start again (restart " +
                                      std::to_string(st_.restart_count) + ")");
            try {
                rt_.run({"delete", "--force", opts_.id});
                create_life();
                start_life();
            } catch (const Error& e) {
                st_.error = e.message();
                narrate::warn("restart failed: " + e.line());
                if (life_active_ && init_ > 0 && !init_exited_) {
                    rt_.run({"kill", opts_.id, "KILL"});
                    ::waitpid(init_, &init_status_, 0);
                }
                life_active_ = false;
                init_ = 0;
                out_.reset(), err_.reset(), in_.reset(), master_.reset();
                finish();
            }
        }
    }
    // Connections accepted but not read yet: what they ask is answered from the final state
    // (closing them unread would reset them).
    accept_client();
    for (auto& c : conns_) {
        if (c.kind != Conn::request || c.dead) continue;
        char buf[4096];
        ssize_t n;
        pollfd p{c.fd.get(), POLLIN, 0};
        while (c.in.find('\n') == std::string::npos && ::poll(&p, 1, 200) == 1 &&
               (n = ::read(c.fd.get(), buf, sizeof buf)) > 0)
            c.in.append(buf, static_cast<size_t>(n));
        auto req = json::parse(c.in.substr(0, c.in.find('\n')), nullptr, false);
        std::string op = req.is_object() ? req.value("op", "") : "";
        json reply = {{"ok", false}, {"error", "the shim is exiting: the container has exited"}};
        if (op == "state") {
            reply = st_.to_json();
            reply["ok"] = true;
        } else if (op == "wait") {
            reply = {{"ok", true}, {"exit_code", st_.exit_code}, {"finished_at", st_.finished_at},
                     {"oom_killed", st_.oom_killed}, {"restarting", false}};
        } else if (op == "shutdown") {
            reply = {{"ok", true}};
        }
        send(c, reply, Conn::closing);
    }
    // The last replies (wait, shutdown) go out before the shim exits; a client that does not
    // read them within a second loses them.
    auto deadline = Clock::now() + std::chrono::seconds(1);
    for (auto& c : conns_) {
        int flags = ::fcntl(c.fd.get(), F_GETFL);
        ::fcntl(c.fd.get(), F_SETFL, flags & ~O_NONBLOCK);
        timeval tv{1, 0};
        ::setsockopt(c.fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (Clock::now() < deadline && !c.dead) on_client_writable(c);
    }
    conns_.clear();
}

}  // namespace

int serve(const std::string& dir, int ready_fd) {
    auto ready = [&](const json& j) {
        if (ready_fd < 0) return;
        std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        if (::write(ready_fd, line.data(), line.size()) < 0) narrate::warn("write(ready pipe) failed: the starter is gone");
        ::close(ready_fd);
        ready_fd = -1;
    };
    std::unique_ptr<Server> server;
    try {
        auto j = read_json(dir + "/shim.json");
        if (!j) throw Error("no readable JSON object in " + dir + "/shim.json");
        Options opts = Options::from_json(*j);
        server = std::make_unique<Server>(dir, opts);
        server->prepare();
        server->first_life();
    } catch (const Error& e) {
        narrate::error(e.line());
        if (server) {
            server->teardown();
            server->state().status = "exited";
            server->state().error = e.message();
            server->state().exit_code = e.exit_status();
            try {
                write_atomic(state_path(dir), server->state().to_json().dump() + "\n");
            } catch (...) {
            }
            server->release();
        }
        ready({{"ok", false}, {"error", e.message()}, {"exit_code", e.exit_status()}});
        return e.exit_status();
    }
    auto& st = server->state();
    ready({{"ok", true}, {"shim_pid", ::getpid()}, {"pid", st.pid}, {"status", st.status}, {"ip", st.ip}});
    try {
        server->loop();
    } catch (const std::exception& e) {
        narrate::error(std::string("shim: ") + e.what());
        server->teardown();
        server->state().status = "exited";
        server->state().error = e.what();
        try {
            write_atomic(state_path(dir), server->state().to_json().dump() + "\n");
        } catch (...) {
        }
        server->release();
        return exit_code::tool_failed;
    }
    return 0;
}

}  // namespace shim
