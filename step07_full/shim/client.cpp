#include "client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "error.hpp"
#include "files.hpp"
#include "state.hpp"
#include "util.hpp"

namespace shim {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// shim.json

json Options::to_json() const {
    return {{"id", id},
            {"runtime", runtime},
            {"runtime_root", runtime_root},
            {"tty", tty},
            {"open_stdin", open_stdin},
            {"stdin_once", stdin_once},
            {"log_path", log_path},
            {"restart", restart},
            {"start", start},
            {"height", height},
            {"width", width},
            {"exit_command", exit_command},
            {"network",
             {{"mode", network.mode},
              {"ports", network.ports},
              {"hostname", network.hostname},
              {"bridge", network.bridge},
              {"subnet", network.subnet}}}};
}

namespace {

void check_known(const json& j, std::initializer_list<const char*> known, const std::string& where) {
    for (auto& [k, v] : j.items()) {
        bool ok = false;
        for (auto* n : known) ok = ok || k == n;
        if (!ok) throw Error(where + ": unknown field \"" + k + "\"");
    }
}

template <class T>
void get(const json& j, const char* key, T& out, const std::string& where) {
    if (!j.contains(key)) return;
    try {
        out = j.at(key).get<T>();
    } catch (const json::exception&) {
        throw Error(where + ": field \"" + key + "\" has the wrong type");
    }
}

bool valid_restart(const std::string& r) {
    if (r == "no" || r == "always" || r == "unless-stopped" || r == "on-failure") return true;
    if (r.rfind("on-failure:", 0) != 0) return false;
    std::string n = r.substr(11);
    return !n.empty() && n.size() < 9 && n.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

Options Options::from_json(const json& j) {
    if (!j.is_object()) throw Error("shim.json: not a JSON object");
    check_known(j, {"id", "runtime", "runtime_root", "tty", "open_stdin", "stdin_once", "log_path", "restart", "start",
                    "height", "width", "exit_command", "network"},
                "shim.json");
    Options o;
    get(j, "id", o.id, "shim.json");
    get(j, "runtime", o.runtime, "shim.json");
    get(j, "runtime_root", o.runtime_root, "shim.json");
    get(j, "tty", o.tty, "shim.json");
    get(j, "open_stdin", o.open_stdin, "shim.json");
    get(j, "stdin_once", o.stdin_once, "shim.json");
    get(j, "log_path", o.log_path, "shim.json");
    get(j, "restart", o.restart, "shim.json");
    get(j, "start", o.start, "shim.json");
    get(j, "height", o.height, "shim.json");
    get(j, "width", o.width, "shim.json");
    get(j, "exit_command", o.exit_command, "shim.json");
    if (j.contains("network")) {
        const json& n = j["network"];
        if (!n.is_object()) throw Error("shim.json: \"network\" is not an object");
        check_known(n, {"mode", "ports", "hostname", "bridge", "subnet"}, "shim.json network");
        get(n, "mode", o.network.mode, "shim.json network");
        get(n, "ports", o.network.ports, "shim.json network");
        get(n, "hostname", o.network.hostname, "shim.json network");
        get(n, "bridge", o.network.bridge, "shim.json network");
        get(n, "subnet", o.network.subnet, "shim.json network");
    }
    if (o.id.empty() || o.id.size() > 128 || o.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != std::string::npos || o.id[0] == '.')
        throw Error("shim.json: \"id\" must be 1-128 of [A-Za-z0-9_.-], got \"" + o.id + "\"");
    if (o.runtime.empty() || o.runtime[0] != '/') throw Error("shim.json: \"runtime\" must be an absolute path");
    if (o.runtime_root.empty() || o.runtime_root[0] != '/')
        throw Error("shim.json: \"runtime_root\" must be an absolute path");
    if (!valid_restart(o.restart))
        throw Error("shim.json: invalid restart policy \"" + o.restart + "\" (no, on-failure[:N], always, unless-stopped)");
    if (o.network.mode != "none" && o.network.mode != "bridge" && o.network.mode != "host")
        throw Error("shim.json: network mode \"" + o.network.mode + "\" (none, bridge or host)");
    if (!o.network.ports.empty() && o.network.mode != "bridge")
        throw Error("shim.json: published ports need network mode bridge");
    if (!o.exit_command.empty() && (o.exit_command[0].empty() || o.exit_command[0][0] != '/'))
        throw Error("shim.json: \"exit_command\" must start with an absolute path");
    if (o.stdin_once && !o.open_stdin) throw Error("shim.json: stdin_once needs open_stdin");
    return o;
}

std::string socket_path(const std::string& dir) { return dir + "/shim.sock"; }
std::string state_path(const std::string& dir) { return dir + "/state.json"; }
std::string netns_path(const std::string& dir) { return dir + "/netns"; }
std::string log_path(const std::string& dir) { return dir + "/json.log"; }

std::string default_executable() {
    if (const char* env = std::getenv("MINIBOX_SHIM"); env && *env) return env;
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        std::string self(buf, static_cast<size_t>(n));
        std::string beside = self.substr(0, self.rfind('/') + 1) + "minibox-shim";
        if (::access(beside.c_str(), X_OK) == 0) return beside;
        // Tests live in build/tests, the binaries in build/bin.
        std::string bin = self.substr(0, self.rfind('/')) + "/../bin/minibox-shim";
        if (::access(bin.c_str(), X_OK) == 0) return bin;
    }
    return "minibox-shim";
}

// ---------------------------------------------------------------------------------------------
// Starting a shim

Ready spawn(const std::string& dir, const Options& opts, bool explain, const std::string& executable) {
    Options::from_json(opts.to_json());  // the shim would refuse it: refuse it here, with its words
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw Error("shim: no container directory " + dir);
    write_atomic(dir + "/shim.json", opts.to_json().dump(2) + "\n", 0600);

    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw SysError("pipe2()", errno);
    unique_fd rd(p[0]), wr(p[1]);
    std::vector<std::string> argv = {executable};
    if (explain) argv.push_back("--explain");
    argv.insert(argv.end(), {"--ready-fd", "3", dir});
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork()", errno);
    if (pid == 0) {
        ::dup2(wr.get(), 3);  // dup2 clears FD_CLOEXEC: the one descriptor the shim inherits
        int null = ::open("/dev/null", O_RDWR);
        for (int i = 0; i < 3; ++i) ::dup2(null, i);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (executable.find('/') == std::string::npos) ::execvp(args[0], args.data());
        else ::execv(args[0], args.data());
        ::_exit(127);
    }
    wr.reset();
    // The shim's first process exits as soon as it has forked (the double fork): reap it.
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        throw Error("shim: cannot run " + executable, exit_code::tool_failed)
            .with_hint("build minibox-shim, or set $MINIBOX_SHIM to its path");

    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw Error("shim: not ready after 120 s (see " + dir + "/shim.log)");
        pollfd pfd{rd.get(), POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw SysError("poll(ready pipe)", errno);
        if (r == 0) continue;
        char buf[512];
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        line.append(buf, static_cast<size_t>(n));
        if (line.find('\n') != std::string::npos) break;
    }
    auto j = json::parse(line.substr(0, line.find('\n')), nullptr, false);
    if (!j.is_object()) {
        std::string log = files::read(dir + "/shim.log");
        while (!log.empty() && log.back() == '\n') log.pop_back();
        std::string last = log.substr(log.rfind('\n') == std::string::npos ? 0 : log.rfind('\n') + 1);
        throw Error("shim exited before it was ready" + (last.empty() ? std::string() : ": " + last));
    }
    if (!j.value("ok", false)) throw Error(j.value("error", "shim failed"), j.value("exit_code", 125));
    Ready r;
    r.shim_pid = j.value("shim_pid", 0);
    r.pid = j.value("pid", 0);
    r.status = j.value("status", "");
    r.ip = j.value("ip", "");
    return r;
}

// ---------------------------------------------------------------------------------------------
// State

State State::from_json(const json& j) {
    State s;
    s.status = j.value("status", "");
    s.pid = j.value("pid", 0);
    s.shim_pid = j.value("shim_pid", 0);
    s.exit_code = j.value("exit_code", 0);
    s.oom_killed = j.value("oom_killed", false);
    s.started_at = j.value("started_at", std::string(zero_time));
    s.finished_at = j.value("finished_at", std::string(zero_time));
    s.restart_count = j.value("restart_count", 0);
    s.ip = j.value("ip", "");
    if (j.contains("ports") && j["ports"].is_array()) s.ports = j["ports"].get<std::vector<std::string>>();
    s.error = j.value("error", "");
    return s;
}

json State::to_json() const {
    return {{"status", status},       {"pid", pid},
            {"shim_pid", shim_pid},   {"exit_code", exit_code},
            {"oom_killed", oom_killed}, {"started_at", started_at},
            {"finished_at", finished_at}, {"restart_count", restart_count},
            {"ip", ip},               {"ports", ports},
            {"error", error}};
}

bool alive(const std::string& dir) {
    auto owner = state::Owner::parse(files::read_line(dir + "/owner"));
    return owner && owner->alive();
}

std::optional<State> read_state(const std::string& dir) {
    auto j = read_json(state_path(dir));
    if (!j) return std::nullopt;
    State s = State::from_json(*j);
    s.shim_alive = alive(dir);
    if (!s.shim_alive && s.status != "exited") {
        // The shim was killed (or is a record of a crashed one): nobody holds the container's
        // exit status any more. Docker reports such a container as exited with 255.
        s.status = "exited";
        s.exit_code = 255;
        s.pid = 0;
        if (s.finished_at == zero_time) s.finished_at = now_rfc3339();
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// Requests

Client::Client(std::string dir) : dir_(std::move(dir)) {}

unique_fd Client::connect() const {
    int fd = unix_connect(socket_path(dir_));
    if (fd < 0) {
        int err = errno;
        throw Error("cannot reach the shim at " + socket_path(dir_) + ": " + std::strerror(err), exit_code::tool_failed, err)
            .with_hint(alive(dir_) ? "the shim is alive but refuses connections" : "the shim is not running");
    }
    return unique_fd(fd);
}

namespace {

void send_all(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("send(shim socket)", errno);
        done += static_cast<size_t>(n);
    }
}

// One line, read a byte at a time: what follows it (an attach stream) stays in the socket.
std::optional<std::string> read_line(int fd) {
    std::string line;
    for (;;) {
        char c;
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("read(shim socket)", errno);
        if (n == 0) return std::nullopt;
        if (c == '\n') return line;
        line += c;
        if (line.size() > (1u << 20)) throw Error("shim: reply line too long");
    }
}

json exchange(int fd, const json& req) {
    send_all(fd, req.dump() + "\n");
    auto line = read_line(fd);
    if (!line) throw Error("shim: the connection closed before the reply to \"" + req.value("op", "") + "\"");
    auto j = json::parse(*line, nullptr, false);
    if (!j.is_object()) throw Error("shim: malformed reply: " + *line);
    if (!j.value("ok", false)) throw Error(j.value("error", "shim: request failed"), exit_code::tool_failed);
    return j;
}

}  // namespace

json Client::request(const json& req) const {
    unique_fd fd = connect();
    return exchange(fd.get(), req);
}

State Client::state() const {
    State s = State::from_json(request({{"op", "state"}}));
    s.shim_alive = true;
    return s;
}

pid_t Client::start() const { return request({{"op", "start"}}).value("pid", 0); }

void Client::kill(int signal, bool restart) const {
    json req = {{"op", "kill"}, {"signal", signal}};
    if (restart) req["restart"] = true;
    request(req);
}

namespace {
thread_local int t_cleaning = 0;
}

CleaningWaiter::CleaningWaiter() { ++t_cleaning; }
CleaningWaiter::~CleaningWaiter() { --t_cleaning; }

Exit Client::wait() const {
    // The shim may be ending right now (a connection still in its backlog is reset when it
    // closes the socket): once no live shim owns DIR, state.json holds the final answer.
    auto from_state = [&]() -> std::optional<Exit> {
        for (int i = 0; i < 1000 && alive(dir_); ++i) ::usleep(10000);
        auto s = read_state(dir_);
        if (!s || s->status != "exited") return std::nullopt;
        return Exit{s->exit_code, s->finished_at, s->oom_killed, false};
    };
    int fd = unix_connect(socket_path(dir_));
    if (fd < 0) {
        if (auto e = from_state()) return *e;
        connect();  // throws the reason
    }
    unique_fd conn(fd);
    json j;
    try {
        json req = {{"op", "wait"}};
        if (t_cleaning > 0) req["cleanup"] = true;
        j = exchange(conn.get(), req);
    } catch (const Error&) {
        if (auto e = from_state()) return *e;
        throw;
    }
    return Exit{j.value("exit_code", 0), j.value("finished_at", ""), j.value("oom_killed", false),
                j.value("restarting", false)};
}

void Client::resize(unsigned height, unsigned width) const {
    request({{"op", "resize"}, {"height", height}, {"width", width}});
}

unique_fd Client::attach(bool in, bool out, bool err, bool* tty) const {
    unique_fd fd = connect();
    json j = exchange(fd.get(), {{"op", "attach"}, {"stdin", in}, {"stdout", out}, {"stderr", err}});
    if (tty) *tty = j.value("tty", false);
    return fd;
}

void Client::shutdown() const {
    // Its reply comes after the cleanup; a shim that is ending anyway may close first: either
    // way, this returns once no live shim owns DIR (everything it made is gone then).
    try {
        request({{"op", "shutdown"}});
    } catch (const Error&) {
        if (!alive(dir_)) return;
        for (int i = 0; i < 3000 && alive(dir_); ++i) ::usleep(10000);
        if (alive(dir_)) throw;
        return;
    }
    for (int i = 0; i < 3000 && alive(dir_); ++i) ::usleep(10000);
}

// ---------------------------------------------------------------------------------------------
// stdcopy

bool write_frame(int fd, Stream stream, const char* data, std::size_t size) {
    unsigned char header[8] = {static_cast<unsigned char>(stream), 0, 0, 0,
                               static_cast<unsigned char>(size >> 24), static_cast<unsigned char>(size >> 16),
                               static_cast<unsigned char>(size >> 8), static_cast<unsigned char>(size)};
    std::string frame(reinterpret_cast<char*>(header), 8);
    frame.append(data, size);
    size_t done = 0;
    while (done < frame.size()) {
        ssize_t n = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ENOTSOCK) n = ::write(fd, frame.data() + done, frame.size() - done);
        if (n < 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

namespace {
// false at EOF before the first byte; throws on EOF in the middle.
bool read_exact(int fd, char* buf, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::read(fd, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("read(stdcopy stream)", errno);
        if (n == 0) {
            if (done == 0) return false;
            throw Error("stdcopy: stream ended inside a frame");
        }
        done += static_cast<size_t>(n);
    }
    return true;
}
}  // namespace

bool read_frame(int fd, Stream& stream, std::string& data) {
    unsigned char h[8];
    if (!read_exact(fd, reinterpret_cast<char*>(h), 8)) return false;
    if (h[0] > 2 || h[1] || h[2] || h[3]) throw Error("stdcopy: bad frame header");
    stream = static_cast<Stream>(h[0]);
    size_t len = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | size_t{h[7]};
    data.resize(len);
    if (len && !read_exact(fd, data.data(), len)) throw Error("stdcopy: stream ended inside a frame");
    return true;
}

}  // namespace shim
