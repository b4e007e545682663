// The exec area: POST /containers/{id}/exec makes an exec instance (nothing runs yet),
// POST /exec/{id}/start runs it on the hijacked connection (`step07_full exec` under the hood:
// setns into the container), GET /exec/{id}/json tells its exit code (the CLI asks right after
// the stream ends), POST /exec/{id}/resize sets its terminal's size.
// Without a tty the process's stdout and stderr are two pipes the engine frames as stdcopy
// (stream 1, 2); with one, the pty's bytes pass raw.
//   moby's api/swagger.yaml, tag "Exec"; man 2 pipe2, man 2 ioctl_tty (TIOCSWINSZ)
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "areas.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "hijack.hpp"
#include "router.hpp"
#include "state.hpp"
#include "trace.hpp"

namespace engine {
namespace {

struct ExecInstance {
    std::string id;
    std::string container;  // 64 hex
    docker::ExecOptions opts;
    bool attach_stdin = false, attach_stdout = true, attach_stderr = true;
    std::mutex mu;
    bool started = false, running = false;
    int exit_code = 0;
    bool exited = false;
    int pty_master = -1;  // valid while running with a tty
    unsigned height = 0, width = 0;
    std::chrono::steady_clock::time_point finished{};  // when it exited
};

std::mutex g_mu;
std::map<std::string, std::shared_ptr<ExecInstance>> g_execs;

// How long a finished exec stays inspectable (the CLI asks for its exit code right after the
// stream ends; scripts may ask later). dockerd keeps them with the container; we keep a
// finished one this long at most, and none past its container's removal.
std::chrono::seconds exec_ttl() {
    static const long ttl = [] {
        const char* e = std::getenv("MINIBOX_ENGINE_EXEC_TTL");  // seconds; tests make it short
        long v = e && *e ? std::atol(e) : 0;
        return v > 0 ? v : 300L;
    }();
    return std::chrono::seconds(ttl);
}

void finished(ExecInstance& e, int code) {  // with e.mu held
    e.exit_code = code;
    e.exited = true;
    e.running = false;
    e.pty_master = -1;
    e.finished = std::chrono::steady_clock::now();
}

bool expired(ExecInstance& e, std::chrono::steady_clock::time_point now) {
    std::lock_guard el(e.mu);
    return e.exited && now - e.finished > exec_ttl();
}

// Forgets the finished execs older than the TTL, and those of containers removed behind the
// engine's back (the shim's exit command removes --rm containers too). On every exec create.
void sweep() {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lk(g_mu);
    for (auto it = g_execs.begin(); it != g_execs.end();) {
        bool gone = expired(*it->second, now) || !manager().exists(it->second->container);
        it = gone ? g_execs.erase(it) : std::next(it);
    }
}

std::shared_ptr<ExecInstance> find(const std::string& id) {
    std::lock_guard lk(g_mu);
    auto it = g_execs.find(id);
    if (it == g_execs.end()) throw not_found("No such exec instance: " + id);
    return it->second;
}

std::string new_exec_id() {
    // 64 hex, as dockerd's exec ids: four of state's 12-hex ids would do, but 16 hex per draw.
    std::string id;
    while (id.size() < 64) id += state::new_container_id();
    return id.substr(0, 64);
}

void set_winsize(int fd, unsigned h, unsigned w) {
    if (fd < 0 || h == 0 || w == 0) return;
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(h);
    ws.ws_col = static_cast<unsigned short>(w);
    ::ioctl(fd, TIOCSWINSZ, &ws);
}

void create(Ctx& c) {
    auto body = c.json_body();
    std::string cid = mapped([&] { return manager().resolve(c.param("id")); });
    auto info = mapped([&] { return manager().inspect(cid); });
    const auto& st = info["State"];
    if (st.value("Paused", false)) throw conflict("Container " + cid + " is paused, unpause the container before exec");
    if (!st.value("Running", false)) throw conflict("Container " + cid + " is not running");
    sweep();
    auto e = std::make_shared<ExecInstance>();
    e->id = new_exec_id();
    e->container = cid;
    if (!body.contains("Cmd") || !body["Cmd"].is_array() || body["Cmd"].empty())
        throw bad_request("No exec command specified");
    for (auto& a : body["Cmd"]) e->opts.cmd.push_back(a.get<std::string>());
    if (body.contains("Env") && body["Env"].is_array())
        for (auto& a : body["Env"]) e->opts.env.push_back(a.get<std::string>());
    e->opts.workdir = body.value("WorkingDir", "");
    e->opts.user = body.value("User", "");
    e->opts.tty = body.value("Tty", false);
    e->opts.privileged = body.value("Privileged", false);
    e->attach_stdin = body.value("AttachStdin", false);
    e->attach_stdout = body.value("AttachStdout", false);
    e->attach_stderr = body.value("AttachStderr", false);
    e->opts.open_stdin = e->attach_stdin;
    {
        std::lock_guard lk(g_mu);
        g_execs[e->id] = e;
    }
    events::publish("container", "exec_create: " + e->opts.cmd.front(), cid);
    c.conn.send_json(http::status::created, {{"Id", e->id}});
}

// Runs the exec on the hijacked connection `client`; returns when its output has ended.
void run_attached(ExecInstance& e, int client, const std::string& early) {
    auto pipe = [](int fds[2]) { check(::pipe2(fds, O_CLOEXEC), "pipe2(O_CLOEXEC)"); };
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    pipe(out);
    if (!e.opts.tty) pipe(err);
    if (e.attach_stdin) pipe(in);
    unique_fd in_w(in[1]), out_r(out[0]), err_r(err[0]);
    // The process side: owned by the runner thread, closed when exec() returns.
    int pin = in[0], pout = out[1], perr = err[1];
    std::atomic<bool> done{false};
    int done_pipe[2];
    check(::pipe2(done_pipe, O_CLOEXEC), "pipe2(O_CLOEXEC)");
    unique_fd done_r(done_pipe[0]), done_w(done_pipe[1]);
    ExecInstance* ep = &e;
    std::thread runner([ep, pin, pout, perr, &done, &done_w] {
        docker::ExecStdio io{pin, pout, perr, [ep](int master) {
                                 std::lock_guard lk(ep->mu);
                                 ep->pty_master = master;
                                 set_winsize(master, ep->height, ep->width);
                             }};
        int code = 126;
        try {
            code = manager().exec(ep->container, ep->opts, io);
        } catch (const std::exception& ex) {
            std::string msg = std::string(ex.what()) + "\n";
            if (perr >= 0) (void)::write(perr, msg.data(), msg.size());
            else if (pout >= 0) (void)::write(pout, msg.data(), msg.size());
        }
        {
            std::lock_guard lk(ep->mu);
            finished(*ep, code);
        }
        for (int fd : {pin, pout, perr})
            if (fd >= 0) ::close(fd);
        done = true;
        char x = 1;
        (void)::write(done_w.get(), &x, 1);
    });
    if (!early.empty() && in_w) (void)::write(in_w.get(), early.data(), early.size());
    bool client_open = true;
    char buf[32 * 1024];
    auto send_all = [&](const std::string& data) {
        size_t off = 0;
        while (off < data.size()) {
            ssize_t w = ::send(client, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return false;
            off += static_cast<size_t>(w);
        }
        return true;
    };
    bool client_ok = true;
    std::string first_err;  // the start of stderr: the runtime's own message when exec failed
    for (;;) {
        if (!out_r && !err_r) break;
        pollfd fds[4] = {{out_r ? out_r.get() : -1, POLLIN, 0},
                         {err_r ? err_r.get() : -1, POLLIN, 0},
                         {client_open ? client : -1, POLLIN, 0},
                         {done_r.get(), POLLIN, 0}};
        // Once the process is gone, what is left in the pipes is drained; a background child
        // still holding them does not keep the stream open (dockerd ends it at the exit too).
        int n = ::poll(fds, 4, done ? 100 : -1);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 && done) break;
        for (int i = 0; i < 2; ++i) {
            unique_fd& fd = i == 0 ? out_r : err_r;
            if (!fd || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = ::read(fd.get(), buf, sizeof buf);
            if (r <= 0) {
                fd.reset();
                continue;
            }
            std::string data(buf, static_cast<size_t>(r));
            if (i == 1 && first_err.size() < 64) first_err += data.substr(0, 64 - first_err.size());
            if (!e.opts.tty) data = hijack::frame(static_cast<std::uint8_t>(i + 1), data);
            if (client_ok && !send_all(data)) client_ok = false;
        }
        if (client_open && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = ::read(client, buf, sizeof buf);
            if (r <= 0) {
                client_open = false;
                in_w.reset();  // the client's half-close: the process's stdin ends
            } else if (in_w) {
                if (::write(in_w.get(), buf, static_cast<size_t>(r)) < 0) in_w.reset();
            }
        }
        if (fds[3].revents & POLLIN) {
            char x;
            (void)::read(done_r.get(), &x, 1);
        }
    }
    runner.join();
    // dockerd reports an exec whose process could not be started (no such command, not
    // executable) as exit code 126, whatever the runtime said; ours says so on the process's
    // stderr before any byte of the command's own.
    {
        std::lock_guard lk(e.mu);
        if ((e.exit_code == 127 || e.exit_code == 126) && first_err.rfind("step07_full: exec", 0) == 0) e.exit_code = 126;
    }
    ::shutdown(client, SHUT_WR);
}

void start(Ctx& c) {
    auto e = find(c.param("id"));
    auto body = c.json_body();
    bool detach = body.value("Detach", false);
    {
        std::lock_guard lk(e->mu);
        if (e->started) throw conflict("Error: Exec command " + e->id + " has already run");
        e->started = true;
        e->running = true;
    }
    if (body.contains("Tty") && body["Tty"].is_boolean()) e->opts.tty = body["Tty"].get<bool>();
    trace::hop("engine -> step07_full exec", "a process in container " + e->container.substr(0, 12) +
                                                 ": setns into its namespaces and cgroup");
    if (detach) {
        // Not the runtime's --detach: the exec runs to its end on a thread of ours (stdio
        // /dev/null), so it stays Running (and in ExecIDs) while its process lives and its exit
        // code is known after, as dockerd reports a detached exec.
        auto ep = e;
        std::thread([ep] {
            int code = 126;
            try {
                code = manager().exec(ep->container, ep->opts, {});
            } catch (const std::exception&) {
            }
            std::lock_guard lk(ep->mu);
            finished(*ep, code);
        }).detach();
        c.conn.send_empty(http::status::ok);
        return;
    }
    std::string early;
    unique_fd client = c.conn.hijack(c.req, e->opts.tty ? "application/vnd.docker.raw-stream"
                                                         : "application/vnd.docker.raw-stream", early);
    run_attached(*e, client.get(), early);
}

void inspect(Ctx& c) {
    auto e = find(c.param("id"));
    std::lock_guard lk(e->mu);
    nlohmann::json args = nlohmann::json::array();
    for (size_t i = 1; i < e->opts.cmd.size(); ++i) args.push_back(e->opts.cmd[i]);
    c.conn.send_json(http::status::ok,
                     {{"ID", e->id},
                      {"Running", e->running},
                      {"ExitCode", e->exited ? nlohmann::json(e->exit_code) : nlohmann::json(nullptr)},
                      {"ProcessConfig",
                       {{"tty", e->opts.tty}, {"entrypoint", e->opts.cmd.front()}, {"arguments", args},
                        {"privileged", e->opts.privileged}, {"user", e->opts.user}}},
                      {"OpenStdin", e->attach_stdin},
                      {"OpenStderr", e->attach_stderr},
                      {"OpenStdout", e->attach_stdout},
                      {"CanRemove", false},
                      {"ContainerID", e->container},
                      {"DetachKeys", ""},
                      {"Pid", 0}});
}

void resize(Ctx& c) {
    auto e = find(c.param("id"));
    unsigned h = static_cast<unsigned>(std::atoi(c.q("h", "0").c_str()));
    unsigned w = static_cast<unsigned>(std::atoi(c.q("w", "0").c_str()));
    std::lock_guard lk(e->mu);
    e->height = h;
    e->width = w;
    set_winsize(e->pty_master, h, w);
    c.conn.send_empty(http::status::ok);
}

}  // namespace

// The container is removed: its execs go with it (containers.cpp calls this on "destroy").
void forget_execs(const std::string& container) {
    std::lock_guard lk(g_mu);
    for (auto it = g_execs.begin(); it != g_execs.end();)
        it = it->second->container == container ? g_execs.erase(it) : std::next(it);
}

// The ids of the container's execs still running (inspect's ExecIDs).
std::vector<std::string> exec_ids(const std::string& container) {
    std::vector<std::string> out;
    std::lock_guard lk(g_mu);
    for (auto& [id, e] : g_execs) {
        if (e->container != container) continue;
        std::lock_guard el(e->mu);
        if (e->running) out.push_back(id);
    }
    return out;
}

void add_exec_routes(Router& r) {
    using V = http::verb;
    r.add(V::post, "/containers/{id}/exec", create);
    r.add(V::post, "/exec/{id}/start", start);
    r.add(V::get, "/exec/{id}/json", inspect);
    r.add(V::post, "/exec/{id}/resize", resize);
}

}  // namespace engine
