// The docker command lines of step07_full: each command parses its flags and calls one or
// more docker::Manager operations; the printing follows docker's CLI (columns, messages, exit
// codes: 125 for the tool, 126/127 from the container's start, else the container's status).
#include "cli.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <iostream>
#include <map>
#include <optional>

#include "errors.hpp"
#include "filters.hpp"
#include "flags.hpp"
#include "format.hpp"
#include "internal.hpp"
#include "lifecycle.hpp"
#include "manager.hpp"
#include "narrate.hpp"
#include "record.hpp"
#include "shim/client.hpp"
#include "state.hpp"
#include "volumes.hpp"

namespace docker_cli {
namespace {

using json = nlohmann::json;
using docker::BadRequest;
using docker::Manager;

// ---- claiming ------------------------------------------------------------------------------

// Our own global flags may come before the command; any other option there is runc's (--root,
// --log, --log-format, --systemd-cgroup: engines always pass one of them).
std::optional<int> command_index(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--explain" || a == "--step") continue;
        if (a.starts_with("-")) return std::nullopt;
        return i;
    }
    return std::nullopt;
}

// The first positional word after the command, skipping the values of the options named.
std::string first_positional(int argc, char** argv, int from, std::initializer_list<const char*> with_value) {
    for (int i = from; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") return i + 1 < argc ? argv[i + 1] : "";
        if (!a.starts_with("-") || a == "-") return a;
        if (a.find('=') != std::string::npos) continue;
        for (auto* v : with_value)
            if (a == v) {
                ++i;
                break;
            }
    }
    return "";
}

bool is_ours(const std::string& ref) {
    if (ref.empty()) return false;
    try {
        // Reading only: the records directory under root_dir() (run_dir() would mkdir).
        docker::Records(state::root_dir() + "/docker").resolve(ref);
        return true;
    } catch (const docker::NotFound&) {
        return false;
    } catch (const BadRequest&) {
        return true;  // an ambiguous prefix of our ids: ours to report
    } catch (const std::exception&) {
        return false;
    }
}

const std::map<std::string, std::string> kAlways = {
    {"logs", ""}, {"stop", ""},  {"rm", ""},      {"wait", ""},    {"inspect", ""}, {"top", ""},       {"stats", ""},
    {"unpause", ""}, {"rename", ""}, {"restart", ""}, {"container", ""}, {"port", ""}, {"cleanup", ""}, {"volume", ""}};

// ---- small helpers -------------------------------------------------------------------------

int fail(const Error& e) {
    narrate::error(e.line());
    return e.exit_status();
}

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> values;
    std::map<std::string, bool> flags;
};

// A small docker-like option parser for the simple commands: `spec` maps each spelling to its
// canonical name, with a trailing '=' for an option that takes a value ("-t=" "--time=").
// Options end at the first positional when `stop_at_positional` (exec's COMMAND has its own).
Args parse(const std::vector<std::string>& args, const std::map<std::string, std::string>& spec, const std::string& cmd,
           bool stop_at_positional = false) {
    Args out;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
            break;
        }
        if (a.size() < 2 || a[0] != '-') {
            if (stop_at_positional) {
                out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i), args.end());
                break;
            }
            out.positional.push_back(a);
            continue;
        }
        std::vector<std::string> parts;
        std::string attached;
        bool has_attached = false;
        if (a.starts_with("--")) {
            std::string name = a;
            if (auto eq = a.find('='); eq != std::string::npos) {
                name = a.substr(0, eq);
                attached = a.substr(eq + 1);
                has_attached = true;
            }
            parts.push_back(name);
        } else {
            for (size_t k = 1; k < a.size(); ++k) {
                std::string s = std::string("-") + a[k];
                auto it = spec.find(s + "=");
                if (it != spec.end() && k + 1 < a.size()) {
                    parts.push_back(s);
                    attached = a.substr(k + 1);
                    if (attached.starts_with("=")) attached = attached.substr(1);
                    has_attached = true;
                    break;
                }
                parts.push_back(s);
            }
        }
        for (auto& p : parts) {
            if (auto it = spec.find(p + "="); it != spec.end()) {
                std::string v;
                if (has_attached) v = attached;
                else if (i + 1 < args.size()) v = args[++i];
                else throw BadRequest("flag needs an argument: " + p);
                out.values[it->second].push_back(v);
            } else if (auto it2 = spec.find(p); it2 != spec.end()) {
                out.flags[it2->second] = !(has_attached && attached == "false");
            } else {
                throw BadRequest("unknown flag: " + p + "\nSee 'step07_full " + cmd + " --help'.");
            }
        }
    }
    return out;
}

std::string last(const Args& a, const std::string& k, const std::string& dflt = "") {
    auto it = a.values.find(k);
    return it == a.values.end() || it->second.empty() ? dflt : it->second.back();
}
bool flag(const Args& a, const std::string& k) {
    auto it = a.flags.find(k);
    return it != a.flags.end() && it->second;
}

void need(const Args& a, size_t n, const std::string& cmd, const std::string& usage) {
    if (a.positional.size() < n)
        throw BadRequest("\"step07_full " + cmd + "\" requires at least " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") +
                         ".\nUsage:  step07_full " + cmd + " " + usage);
}

// Each container of the list in turn, as docker does: errors printed, the others still done,
// exit 1 if any failed (docker's exit status for a per-container failure).
int each(const std::vector<std::string>& refs, const std::function<void(const std::string&)>& f, bool echo = true) {
    int status = 0;
    for (auto& ref : refs) {
        try {
            f(ref);
            if (echo) std::printf("%s\n", ref.c_str());
            std::fflush(stdout);
        } catch (const Error& e) {
            narrate::error(e.line());
            status = 1;
        }
    }
    return status;
}

// ---- the terminal --------------------------------------------------------------------------

class RawTerminal {
public:
    explicit RawTerminal(bool want) {
        if (!want || !::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) < 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) active_ = true;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

std::optional<winsize> terminal_size() {
    winsize ws{};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws;
    if (::isatty(STDIN_FILENO) && ::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws;
    return std::nullopt;
}

bool write_all(int fd, const char* data, size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        data += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// Copies the attach stream to our stdout/stderr (raw with a tty, stdcopy frames without) and
// our stdin to it, until the container's output ends. Signals: SIGWINCH resizes the pty;
// without a tty, SIGINT/SIGTERM/SIGHUP/SIGQUIT are passed on to the container (docker's
// --sig-proxy), with a tty they arrive as bytes on the terminal anyway.
void pump(Manager& m, const std::string& id, int sock, bool tty, bool with_stdin) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
    sigset_t old;
    ::pthread_sigmask(SIG_BLOCK, &set, &old);
    unique_fd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
    bool in_open = with_stdin;
    std::string frame_buf;
    for (;;) {
        pollfd fds[3] = {{sock, POLLIN, 0}, {in_open ? STDIN_FILENO : -1, POLLIN, 0}, {sfd.get(), POLLIN, 0}};
        int n = ::poll(fds, 3, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[2].revents & POLLIN) {
            signalfd_siginfo si{};
            if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
                try {
                    if (si.ssi_signo == SIGWINCH) {
                        if (auto ws = terminal_size(); ws && tty) m.resize(id, ws->ws_row, ws->ws_col);
                    } else if (!tty) {
                        m.kill(id, std::to_string(si.ssi_signo));
                    }
                } catch (const Error&) {
                }
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[16384];
            ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
            if (r > 0) {
                write_all(sock, buf, static_cast<size_t>(r));
            } else if (r == 0 || errno != EINTR) {
                in_open = false;
                ::shutdown(sock, SHUT_WR);
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[32768];
            ssize_t r = ::read(sock, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            if (tty) {
                write_all(STDOUT_FILENO, buf, static_cast<size_t>(r));
                continue;
            }
            frame_buf.append(buf, static_cast<size_t>(r));
            while (frame_buf.size() >= 8) {
                auto len = (static_cast<uint32_t>(static_cast<unsigned char>(frame_buf[4])) << 24) |
                           (static_cast<uint32_t>(static_cast<unsigned char>(frame_buf[5])) << 16) |
                           (static_cast<uint32_t>(static_cast<unsigned char>(frame_buf[6])) << 8) |
                           static_cast<uint32_t>(static_cast<unsigned char>(frame_buf[7]));
                if (frame_buf.size() < 8 + len) break;
                int out = frame_buf[0] == 2 ? STDERR_FILENO : STDOUT_FILENO;
                write_all(out, frame_buf.data() + 8, len);
                frame_buf.erase(0, 8 + len);
            }
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// ---- run -----------------------------------------------------------------------------------

// Foreground run goes through the shim too, attached before start: the container's output
// also lands in its log (logs, inspect and restart policies work the same as for -d), and the
// CLI can die without taking the container with it (as with docker; podman's conmon alike).
int attached_start(Manager& m, const std::string& id, bool tty, bool in) {
    // The signals pump() takes through a signalfd are blocked before any thread exists (the
    // waiting thread below inherits the mask; an unblocked thread would die of SIGINT).
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    unique_fd sock = m.attach(id, {in, true, true});
    // The exit code is asked for before start, on a connection of its own: it arrives even when
    // the container's exit command (--rm) removes it right after. (Detached: if start fails,
    // nobody waits for that thread.)
    auto promise = std::make_shared<std::promise<int>>();
    std::future<int> exit_code = promise->get_future();
    std::thread([roots = m.roots(), id, promise] {
        try {
            Manager w(roots);
            promise->set_value(w.wait(id, docker::WaitCondition::next_exit));
        } catch (...) {
            promise->set_exception(std::current_exception());
        }
    }).detach();
    RawTerminal raw(tty && in);
    m.start(id);
    pump(m, id, sock.get(), tty, in);
    return exit_code.get();
}

int cmd_run(const std::vector<std::string>& args) {
    bool help = false;
    docker::RunOptions o = docker::parse_run_flags(args, &help);
    if (help) {
        std::fputs(docker::run_usage().c_str(), stdout);
        return 0;
    }
    Manager m;
    if (o.dry_run) {
        std::printf("%s\n", m.dry_run(o).dump(2).c_str());
        return 0;
    }
    if (o.tty && o.interactive && !::isatty(STDIN_FILENO))
        throw BadRequest("the input device is not a TTY - drop -t, or run from a terminal");
    std::string id = m.create(o);
    if (o.detach) {
        try {
            m.start(id);
        } catch (const Error&) {
            if (o.auto_remove) m.remove(id, true);
            throw;
        }
        std::printf("%s\n", id.c_str());
        return 0;
    }
    int code;
    try {
        code = attached_start(m, id, o.tty, o.interactive);
    } catch (const Error&) {
        if (o.auto_remove) {
            try {
                m.remove(id, true);
            } catch (const Error&) {
            }
        }
        throw;
    }
    if (o.auto_remove) {
        try {
            m.remove(id, true);
        } catch (const docker::NotFound&) {
            // its exit command was faster
        }
    }
    return code;
}

// ---- ps ------------------------------------------------------------------------------------

// One rendered table line ("a\tb\tc") -> its cells, for tabulate().
std::vector<std::string> split_cells(const std::string& line) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t t; (t = line.find('\t', start)) != std::string::npos; start = t + 1) out.push_back(line.substr(start, t - start));
    out.push_back(line.substr(start));
    return out;
}

json ps_row(const docker::Summary& s, bool no_trunc) {
    std::string ports;
    for (auto& p : s.ports) {
        if (!ports.empty()) ports += ", ";
        ports += "0.0.0.0:" + std::to_string(p.host_port) + "->" + std::to_string(p.container_port) + "/" + p.proto;
    }
    std::string labels;
    for (auto& [k, v] : s.labels) labels += (labels.empty() ? "" : ",") + k + "=" + v;
    std::string cmd = "\"" + s.command + "\"";
    if (!no_trunc && s.command.size() > 20) cmd = "\"" + s.command.substr(0, 19) + "…\"";
    return {{"ID", no_trunc ? s.id : s.id.substr(0, 12)},
            {"Names", s.name},
            {"Image", s.image},
            {"Command", cmd},
            {"CreatedAt", s.created},
            {"RunningFor", docker::detail::human_duration(::time(nullptr) - s.created) + " ago"},
            {"Status", s.status},
            {"State", s.state},
            {"Ports", ports},
            {"Labels", labels},
            {"LabelMap", s.labels},  // for {{.Label "KEY"}}
            {"Networks", ""},
            {"Mounts", ""},
            {"Size", ""}};
}

int cmd_ps(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-a", "all"}, {"--all", "all"}, {"-q", "quiet"}, {"--quiet", "quiet"}, {"--no-trunc", "no-trunc"},
                          {"--format=", "format"}, {"-n=", "last"}, {"--last=", "last"}, {"-l", "latest"}, {"--latest", "latest"},
                          {"-s", "size"}, {"--size", "size"}, {"-f=", "filter"}, {"--filter=", "filter"}},
                   "ps");
    if (!a.positional.empty()) throw BadRequest("\"step07_full ps\" accepts no arguments.");
    Manager m;
    bool all = flag(a, "all") || flag(a, "latest") || !last(a, "last").empty();
    auto fit = a.values.find("filter");
    docker::Filters filters = docker::filters_from_flags(fit == a.values.end() ? std::vector<std::string>{} : fit->second);
    docker::check_filters(filters);  // before anything is read: a bad filter is the caller's error
    auto rows = docker::apply_filters(filters, m.list(true), all);
    if (flag(a, "latest") && rows.size() > 1) rows.resize(1);
    if (auto n = last(a, "last"); !n.empty() && std::stoul(n) < rows.size()) rows.resize(std::stoul(n));
    bool no_trunc = flag(a, "no-trunc");
    if (flag(a, "quiet")) {
        for (auto& r : rows) std::printf("%s\n", no_trunc ? r.id.c_str() : r.id.substr(0, 12).c_str());
        return 0;
    }
    std::string tmpl = last(a, "format", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}");
    bool table = docker::format::is_table(tmpl);
    if (!table) {
        for (auto& r : rows) std::printf("%s\n", docker::format::render(tmpl, ps_row(r, no_trunc)).c_str());
        return 0;
    }
    std::vector<std::vector<std::string>> cells;
    cells.push_back(split_cells(docker::format::header(tmpl)));
    for (auto& r : rows) cells.push_back(split_cells(docker::format::render(tmpl, ps_row(r, no_trunc))));
    std::fputs(docker::format::tabulate(cells).c_str(), stdout);
    return 0;
}

// ---- logs, inspect, top, stats, port ------------------------------------------------------------

int cmd_logs(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-f", "follow"}, {"--follow", "follow"}, {"-t", "timestamps"}, {"--timestamps", "timestamps"},
                          {"-n=", "tail"}, {"--tail=", "tail"}, {"--details", "details"}},
                   "logs");
    need(a, 1, "logs", "[OPTIONS] CONTAINER");
    if (a.positional.size() > 1) throw BadRequest("\"step07_full logs\" requires exactly 1 argument.");
    docker::LogOptions lo;
    lo.follow = flag(a, "follow");
    lo.timestamps = flag(a, "timestamps");
    std::string tail = last(a, "tail", "all");
    if (tail != "all") {
        if (tail.empty() || tail.find_first_not_of("0123456789") != std::string::npos)
            throw BadRequest("invalid value for \"tail\": " + tail);
        lo.tail = std::stoul(tail);
    }
    Manager m;
    m.logs(a.positional[0], lo, [&](docker::Stream s, std::string_view line, std::string_view time) {
        FILE* out = s == docker::Stream::err ? stderr : stdout;
        if (lo.timestamps) std::fprintf(out, "%.*s ", static_cast<int>(time.size()), time.data());
        std::fwrite(line.data(), 1, line.size(), out);
        std::fflush(out);
        return !std::ferror(out);
    });
    return 0;
}

int cmd_inspect(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-f=", "format"}, {"--format=", "format"}, {"-s", "size"}, {"--size", "size"}, {"--type=", "type"}}, "inspect");
    need(a, 1, "inspect", "[OPTIONS] NAME|ID [NAME|ID...]");
    Manager m;
    std::string tmpl = last(a, "format");
    json all = json::array();
    int status = 0;
    for (auto& ref : a.positional) {
        try {
            json j = m.inspect(ref);
            if (!tmpl.empty()) std::printf("%s\n", docker::format::render(tmpl, j).c_str());
            else all.push_back(j);
        } catch (const docker::NotFound&) {
            narrate::error("Error: No such object: " + ref);
            status = 1;
        }
    }
    if (tmpl.empty()) std::printf("%s\n", all.dump(4).c_str());
    return status;
}

int cmd_top(const std::vector<std::string>& args) {
    auto a = parse(args, {}, "top", true);
    need(a, 1, "top", "CONTAINER [ps OPTIONS]");
    Manager m;
    auto t = m.top(a.positional[0]);
    std::vector<std::vector<std::string>> rows = {t.titles};
    for (auto& p : t.processes) rows.push_back(p);
    std::fputs(docker::format::tabulate(rows).c_str(), stdout);
    return 0;
}

int cmd_stats(const std::vector<std::string>& args) {
    auto a = parse(args, {{"--no-stream", "no-stream"}, {"-a", "all"}, {"--all", "all"}, {"--no-trunc", "no-trunc"}, {"--format=", "format"}}, "stats");
    Manager m;
    // One table of samples; without --no-stream, a new one each second (the screen cleared
    // first on a terminal, as docker stats does) until interrupted or nothing runs.
    auto table = [&](int& status) {
        std::vector<std::string> refs = a.positional;
        if (refs.empty())
            for (auto& s : m.list(flag(a, "all"))) refs.push_back(s.id);
        std::vector<std::vector<std::string>> rows = {{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}};
        for (auto& ref : refs) {
            try {
                json s = m.stats(ref);
                auto& cpu = s["cpu_stats"];
                auto& pre = s["precpu_stats"];
                double cpu_delta = cpu["cpu_usage"].value("total_usage", 0.0) - pre["cpu_usage"].value("total_usage", 0.0);
                double sys_delta = cpu.value("system_cpu_usage", 0.0) - pre.value("system_cpu_usage", 0.0);
                double cpu_pct = sys_delta > 0 && cpu_delta > 0 ? cpu_delta / sys_delta * cpu.value("online_cpus", 1.0) * 100.0 : 0.0;
                double usage = s["memory_stats"].value("usage", 0.0), limit = s["memory_stats"].value("limit", 0.0);
                double rx = 0, tx = 0;
                if (s.contains("networks"))
                    for (auto& [k, v] : s["networks"].items()) {
                        rx += v.value("rx_bytes", 0.0);
                        tx += v.value("tx_bytes", 0.0);
                    }
                char cpu_s[32], mem_pct[32];
                std::snprintf(cpu_s, sizeof cpu_s, "%.2f%%", cpu_pct);
                std::snprintf(mem_pct, sizeof mem_pct, "%.2f%%", limit > 0 ? usage / limit * 100.0 : 0.0);
                std::string id = s.value("id", "");
                std::string name = s.value("name", "");
                if (name.starts_with("/")) name = name.substr(1);
                rows.push_back({flag(a, "no-trunc") ? id : id.substr(0, 12), name, cpu_s,
                                docker::format::bytes_size(usage) + " / " + docker::format::bytes_size(limit), mem_pct,
                                docker::format::human_size(rx) + " / " + docker::format::human_size(tx), "0B / 0B",
                                std::to_string(s["pids_stats"].value("current", 0))});
            } catch (const Error& e) {
                narrate::error(e.line());
                status = 1;
            }
        }
        return docker::format::tabulate(rows);
    };
    int status = 0;
    if (flag(a, "no-stream")) {
        std::fputs(table(status).c_str(), stdout);
        return status;
    }
    bool tty = ::isatty(STDOUT_FILENO);
    for (;;) {
        auto t0 = std::chrono::steady_clock::now();
        int st = 0;
        std::string text = table(st);
        std::printf("%s%s", tty ? "\033[2J\033[H" : "", text.c_str());
        if (std::fflush(stdout) != 0 || std::ferror(stdout)) return 0;  // the reader went away
        if (st != 0 && !a.positional.empty()) return st;               // a named container is gone
        std::this_thread::sleep_until(t0 + std::chrono::seconds(1));
    }
}

int cmd_port(const std::vector<std::string>& args) {
    auto a = parse(args, {}, "port");
    need(a, 1, "port", "CONTAINER [PRIVATE_PORT[/PROTO]]");
    Manager m;
    json j = m.inspect(a.positional[0]);
    std::string want = a.positional.size() > 1 ? a.positional[1] : "";
    if (!want.empty() && want.find('/') == std::string::npos) want += "/tcp";
    bool any = false;
    for (auto& [key, binds] : j["NetworkSettings"]["Ports"].items()) {
        if (!want.empty() && key != want) continue;
        for (auto& b : binds) {
            std::string line = b.value("HostIp", "0.0.0.0") + ":" + b.value("HostPort", "");
            if (want.empty()) std::printf("%s -> %s\n", key.c_str(), line.c_str());
            else std::printf("%s\n", line.c_str());
            any = true;
        }
    }
    if (!want.empty() && !any) throw Error("No public port '" + want + "' published for " + a.positional[0], 1);
    return 0;
}

// ---- exec, start, stop, kill, ... ---------------------------------------------------------------

int cmd_exec(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-i", "interactive"}, {"--interactive", "interactive"}, {"-t", "tty"}, {"--tty", "tty"},
                          {"-d", "detach"}, {"--detach", "detach"}, {"-e=", "env"}, {"--env=", "env"}, {"--env-file=", "env-file"},
                          {"-w=", "workdir"}, {"--workdir=", "workdir"}, {"-u=", "user"}, {"--user=", "user"},
                          {"--privileged", "privileged"}},
                   "exec", true);
    need(a, 2, "exec", "[OPTIONS] CONTAINER COMMAND [ARG...]");
    docker::ExecOptions xo;
    xo.cmd.assign(a.positional.begin() + 1, a.positional.end());
    if (auto it = a.values.find("env-file"); it != a.values.end())
        for (auto& f : it->second)
            for (auto& e : docker::read_env_file(f)) xo.env.push_back(e);
    if (auto it = a.values.find("env"); it != a.values.end())
        for (auto& e : it->second) {
            if (e.find('=') != std::string::npos) xo.env.push_back(e);
            else if (const char* v = std::getenv(e.c_str())) xo.env.push_back(e + "=" + v);
        }
    xo.workdir = last(a, "workdir");
    xo.user = last(a, "user");
    xo.tty = flag(a, "tty");
    xo.open_stdin = flag(a, "interactive");
    xo.detach = flag(a, "detach");
    xo.privileged = flag(a, "privileged");
    if (xo.tty && xo.open_stdin && !::isatty(STDIN_FILENO)) throw BadRequest("the input device is not a TTY");
    Manager m;
    RawTerminal raw(xo.tty && xo.open_stdin && !xo.detach);
    docker::ExecStdio io{STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, [](int master) {
                             if (auto ws = terminal_size()) ::ioctl(master, TIOCSWINSZ, &*ws);
                         }};
    return m.exec(a.positional[0], xo, io);
}

int cmd_start(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-a", "attach"}, {"--attach", "attach"}, {"-i", "interactive"}, {"--interactive", "interactive"}}, "start");
    need(a, 1, "start", "[OPTIONS] CONTAINER [CONTAINER...]");
    Manager m;
    if (flag(a, "attach") || flag(a, "interactive")) {
        if (a.positional.size() != 1) throw BadRequest("you cannot start and attach multiple containers at once");
        std::string id = m.resolve(a.positional[0]);
        json j = m.inspect(id);
        return attached_start(m, id, j["Config"].value("Tty", false), flag(a, "interactive"));
    }
    return each(a.positional, [&](const std::string& ref) { m.start(ref); });
}

int cmd_stop(const std::vector<std::string>& args, bool restart) {
    auto a = parse(args, {{"-t=", "time"}, {"--time=", "time"}}, restart ? "restart" : "stop");
    need(a, 1, restart ? "restart" : "stop", "[OPTIONS] CONTAINER [CONTAINER...]");
    std::optional<int> t;
    if (auto v = last(a, "time"); !v.empty()) {
        if (v.find_first_not_of("-0123456789") != std::string::npos) throw BadRequest("invalid argument \"" + v + "\" for \"-t, --time\" flag");
        t = std::stoi(v);
    }
    Manager m;
    return each(a.positional, [&](const std::string& ref) { restart ? m.restart(ref, t) : m.stop(ref, t); });
}

int cmd_kill(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-s=", "signal"}, {"--signal=", "signal"}}, "kill");
    need(a, 1, "kill", "[OPTIONS] CONTAINER [CONTAINER...]");
    std::string sig = last(a, "signal", "KILL");
    if (lifecycle::parse_signal(sig) == 0) throw BadRequest("Invalid signal: " + sig);
    Manager m;
    return each(a.positional, [&](const std::string& ref) { m.kill(ref, sig); });
}

int cmd_rm(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-f", "force"}, {"--force", "force"}, {"-v", "volumes"}, {"--volumes", "volumes"}}, "rm");
    need(a, 1, "rm", "[OPTIONS] CONTAINER [CONTAINER...]");
    Manager m;
    return each(a.positional, [&](const std::string& ref) { m.remove(ref, flag(a, "force"), flag(a, "volumes")); });
}

int cmd_wait(const std::vector<std::string>& args) {
    auto a = parse(args, {}, "wait");
    need(a, 1, "wait", "CONTAINER [CONTAINER...]");
    Manager m;
    return each(a.positional, [&](const std::string& ref) { std::printf("%d\n", m.wait(ref)); }, false);
}

int cmd_simple(const std::string& cmd, const std::vector<std::string>& args) {
    auto a = parse(args, {}, cmd);
    need(a, 1, cmd, "CONTAINER [CONTAINER...]");
    Manager m;
    return each(a.positional, [&](const std::string& ref) {
        if (cmd == "pause") m.pause(ref);
        else m.unpause(ref);
    });
}

int cmd_rename(const std::vector<std::string>& args) {
    auto a = parse(args, {}, "rename");
    if (a.positional.size() != 2) throw BadRequest("\"step07_full rename\" requires exactly 2 arguments.\nUsage:  step07_full rename CONTAINER NEW_NAME");
    Manager m;
    m.rename(a.positional[0], a.positional[1]);
    return 0;
}

int cmd_prune(const std::vector<std::string>& args) {
    auto a = parse(args, {{"-f", "force"}, {"--force", "force"}}, "container prune");
    if (!flag(a, "force")) {
        std::printf("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        std::fflush(stdout);
        std::string answer;
        if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y")) return 0;
    }
    Manager m;
    auto r = m.prune();
    if (!r.deleted.empty()) {
        std::printf("Deleted Containers:\n");
        for (auto& id : r.deleted) std::printf("%s\n", id.c_str());
        std::printf("\n");
    }
    std::printf("Total reclaimed space: %s\n", docker::format::human_size(static_cast<double>(r.space_reclaimed)).c_str());
    return 0;
}

// docker volume ls|create|rm|inspect|prune (volumes.hpp): the store under the data root.
int cmd_volume(const std::vector<std::string>& rest) {
    std::string usage = "Usage:  step07_full volume COMMAND (create, ls, inspect, rm, prune)";
    if (rest.empty()) throw BadRequest(usage);
    std::string sub = rest.front();
    std::vector<std::string> args(rest.begin() + 1, rest.end());
    Manager m;
    docker::Volumes vols(m.roots());
    if (sub == "create") {
        auto a = parse(args, {{"-l=", "label"}, {"--label=", "label"}, {"-d=", "driver"}, {"--driver=", "driver"},
                              {"--name=", "name"}},
                       "volume create");
        if (auto d = last(a, "driver", "local"); d != "local") throw BadRequest("error looking up volume plugin " + d + ": plugin \"" + d + "\" not found");
        std::string name = last(a, "name", a.positional.empty() ? "" : a.positional[0]);
        std::map<std::string, std::string> labels;
        if (auto it = a.values.find("label"); it != a.values.end())
            for (auto& l : it->second) labels[l.substr(0, l.find('='))] = l.find('=') == std::string::npos ? "" : l.substr(l.find('=') + 1);
        std::printf("%s\n", vols.create(name, labels).name.c_str());
        return 0;
    }
    if (sub == "ls" || sub == "list") {
        auto a = parse(args, {{"-q", "quiet"}, {"--quiet", "quiet"}, {"--format=", "format"}}, "volume ls");
        std::string tmpl = last(a, "format", flag(a, "quiet") ? "{{.Name}}" : "table {{.Driver}}\t{{.Name}}");
        std::vector<std::vector<std::string>> rows;
        bool table = docker::format::is_table(tmpl);
        // docker's own title for the name column here is "VOLUME NAME".
        // (is_table() has taken "table " off the template.)
        if (table) rows.push_back(tmpl == "{{.Driver}}\t{{.Name}}" ? std::vector<std::string>{"DRIVER", "VOLUME NAME"}
                                                                   : split_cells(docker::format::header(tmpl)));
        for (auto& v : vols.list()) {
            json row = {{"Driver", "local"}, {"Name", v.name}, {"Mountpoint", v.mountpoint}, {"Scope", "local"}, {"CreatedAt", v.created}};
            std::string line = docker::format::render(tmpl, row);
            if (table) rows.push_back(split_cells(line));
            else std::printf("%s\n", line.c_str());
        }
        if (table) std::fputs(docker::format::tabulate(rows).c_str(), stdout);
        return 0;
    }
    if (sub == "inspect") {
        auto a = parse(args, {{"-f=", "format"}, {"--format=", "format"}}, "volume inspect");
        need(a, 1, "volume inspect", "[OPTIONS] VOLUME [VOLUME...]");
        json all = json::array();
        int status = 0;
        for (auto& n : a.positional) {
            auto v = vols.find(n);
            if (!v) {
                narrate::error("Error: No such volume: " + n);
                status = 1;
                continue;
            }
            if (auto f = last(a, "format"); !f.empty()) std::printf("%s\n", docker::format::render(f, v->to_json()).c_str());
            else all.push_back(v->to_json());
        }
        if (last(a, "format").empty()) std::printf("%s\n", all.dump(4).c_str());
        return status;
    }
    if (sub == "rm" || sub == "remove") {
        auto a = parse(args, {{"-f", "force"}, {"--force", "force"}}, "volume rm");
        need(a, 1, "volume rm", "[OPTIONS] VOLUME [VOLUME...]");
        return each(a.positional, [&](const std::string& n) { vols.remove(n, flag(a, "force")); });
    }
    if (sub == "prune") {
        auto a = parse(args, {{"-f", "force"}, {"--force", "force"}}, "volume prune");
        if (!flag(a, "force")) {
            std::printf("WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ");
            std::fflush(stdout);
            std::string answer;
            if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y")) return 0;
        }
        auto r = vols.prune();
        if (!r.deleted.empty()) {
            std::printf("Deleted Volumes:\n");
            for (auto& n : r.deleted) std::printf("%s\n", n.c_str());
            std::printf("\n");
        }
        std::printf("Total reclaimed space: %s\n", docker::format::human_size(static_cast<double>(r.space_reclaimed)).c_str());
        return 0;
    }
    throw BadRequest("unknown command: volume " + sub + "\n" + usage);
}

int cmd_cleanup(const std::vector<std::string>& args) {
    // The shim's exit command: after the container's life is over.
    auto a = parse(args, {{"--data-root=", "data"}, {"--exec-root=", "exec"}}, "container cleanup");
    need(a, 1, "container cleanup", "CONTAINER");
    Manager m(docker::Roots{last(a, "data"), last(a, "exec")});
    m.cleanup(a.positional[0]);
    return 0;
}

int dispatch(const std::string& cmd, const std::vector<std::string>& rest) {
    if (cmd == "run") return cmd_run(rest);
    if (cmd == "ps") return cmd_ps(rest);
    if (cmd == "logs") return cmd_logs(rest);
    if (cmd == "inspect") return cmd_inspect(rest);
    if (cmd == "top") return cmd_top(rest);
    if (cmd == "stats") return cmd_stats(rest);
    if (cmd == "port") return cmd_port(rest);
    if (cmd == "exec") return cmd_exec(rest);
    if (cmd == "start") return cmd_start(rest);
    if (cmd == "stop") return cmd_stop(rest, false);
    if (cmd == "restart") return cmd_stop(rest, true);
    if (cmd == "kill") return cmd_kill(rest);
    if (cmd == "rm") return cmd_rm(rest);
    if (cmd == "wait") return cmd_wait(rest);
    if (cmd == "pause" || cmd == "unpause") return cmd_simple(cmd, rest);
    if (cmd == "rename") return cmd_rename(rest);
    if (cmd == "cleanup") return cmd_cleanup(rest);
    if (cmd == "volume") return cmd_volume(rest);
    if (cmd == "container") {
        if (rest.empty()) throw BadRequest("Usage:  step07_full container COMMAND (ls, run, start, stop, rm, prune, inspect, logs, ...)");
        std::string sub = rest.front();
        std::vector<std::string> tail(rest.begin() + 1, rest.end());
        if (sub == "prune") return cmd_prune(tail);
        if (sub == "ls" || sub == "list") return cmd_ps(tail);
        if (sub == "remove") return cmd_rm(tail);
        return dispatch(sub, tail);
    }
    throw BadRequest("unknown command: " + cmd);
}

}  // namespace

bool claims(int argc, char** argv) {
    auto ci = command_index(argc, argv);
    if (!ci) return false;
    std::string cmd = argv[*ci];
    int from = *ci + 1;
    if (kAlways.count(cmd)) return true;
    if (cmd == "run") {
        for (int i = from; i < argc; ++i) {
            std::string a = argv[i];
            if (a == "-b" || a == "--bundle" || a.starts_with("--bundle=")) return false;
            if (!a.starts_with("-")) break;  // IMAGE: the rest is the container's command
        }
        return true;
    }
    if (cmd == "ps") {
        // docker ps takes no positional; runc's `ps [--format F] ID` does.
        return first_positional(argc, argv, from, {"--format", "-f", "-n", "--last", "--filter"}).empty();
    }
    if (cmd == "exec" || cmd == "kill" || cmd == "start" || cmd == "pause") {
        std::string ref = first_positional(argc, argv, from,
                                           {"-e", "--env", "-w", "--workdir", "-u", "--user", "--env-file", "--detach-keys",
                                            "-s", "--signal", "-p", "--process", "--pid-file", "--console-socket", "--cwd", "-c",
                                            "--cap", "--preserve-fds", "--apparmor", "--process-label"});
        return is_ours(ref);
    }
    return false;
}

int main(int argc, char** argv) {
    auto ci = command_index(argc, argv);
    if (!ci) return exit_code::tool_failed;
    for (int i = 1; i < *ci; ++i) {
        std::string a = argv[i];
        if (a == "--explain") narrate::set_mode(narrate::Mode::explain);
        if (a == "--step") {
            if (!::isatty(STDIN_FILENO)) {
                narrate::error("--step waits for Enter between operations and needs a terminal on stdin");
                return exit_code::tool_failed;
            }
            narrate::set_mode(narrate::Mode::step);
        }
    }
    std::vector<std::string> rest(argv + *ci + 1, argv + argc);
    // The shim and the runtime it runs are children: they get a pipe that must not kill us.
    ::signal(SIGPIPE, SIG_IGN);
    try {
        return dispatch(argv[*ci], rest);
    } catch (const Error& e) {
        return fail(e);
    } catch (const std::exception& e) {
        narrate::error(e.what());
        return exit_code::tool_failed;
    }
}

}  // namespace docker_cli
