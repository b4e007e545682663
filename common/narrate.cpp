#include "narrate.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace narrate {
namespace {

Mode g_mode = Mode::quiet;
pid_t g_pid = -1;
std::string g_program = "minibox";
std::vector<std::string> g_step_layers;  // empty: --step pauses in every layer
std::string g_netns_prefix;              // "ip netns exec lab04 " when the tool runs in one
int g_pane_fd = -1;                      // $MINIBOX_HOST_PANE: the demo's host pane reads it

// Every layer of steps 01-07, for checking --step=LAYER (a typo would never pause).
constexpr const char* kLayers[] = {"launch", "uts",    "pid",     "mnt",     "net",   "cgroup",
                                   "overlay", "image", "userns",  "ns",      "process",
                                   "console", "devices", "exec",  "hooks",   "seccomp"};

// One logger per layer, all writing to stderr without timestamps: "[uts] ...".
std::shared_ptr<spdlog::logger> logger_for(std::string_view layer) {
    std::string name(layer);
    if (auto existing = spdlog::get(name)) return existing;
    auto lg = spdlog::stderr_color_st(name);
    lg->set_pattern("%^[%n]%$ %v");
    return lg;
}

std::string with_pid(std::string text) {
    const std::string key = "{pid}";
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos)) {
        text.replace(pos, key.size(), std::to_string(g_pid));
    }
    return text;
}

// The width lines are wrapped to: the terminal's when stderr is one (a half-width tmux pane is
// 80 columns or fewer), otherwise none (logs and the workshop's transcripts keep one line).
size_t wrap_width() {
    if (!::isatty(STDERR_FILENO)) return 0;
    winsize ws{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
    return 80;
}

// Prints `text` under `layer`, wrapped at spaces; continuation lines are indented by `indent`.
void print(std::string_view layer, const std::string& text, size_t indent = 6) {
    auto lg = logger_for(layer);
    size_t width = wrap_width();
    size_t room = width > layer.size() + 3 + indent + 20 ? width - (layer.size() + 3) : 0;  // "[uts] "
    if (room == 0 || text.size() <= room) {
        lg->info("{}", text);
        return;
    }
    std::string rest = text, pad(indent, ' ');
    bool first = true;
    while (!rest.empty()) {
        size_t avail = first ? room : room - indent;
        if (rest.size() <= avail) {
            lg->info("{}{}", first ? "" : pad, rest);
            break;
        }
        size_t cut = rest.rfind(' ', avail);
        if (cut == std::string::npos || cut < avail / 3) cut = avail;  // a long path: cut it
        lg->info("{}{}", first ? "" : pad, rest.substr(0, cut));
        rest = rest.substr(cut);
        while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
        first = false;
    }
}

bool pauses_in(std::string_view layer) {
    if (g_mode != Mode::step) return false;
    if (g_step_layers.empty()) return true;
    for (auto& l : g_step_layers)
        if (l == layer) return true;
    return false;
}

// An observe text is "COMMAND   # what it shows after the operation"; the comment describes
// the state after the call, so the pause (before it) shows the command alone.
std::pair<std::string, std::string> split_comment(const std::string& observe) {
    auto pos = observe.find(" # ");
    if (pos == std::string::npos) return {observe, ""};
    std::string cmd = observe.substr(0, pos);
    while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
    return {cmd, observe.substr(pos + 3)};
}

bool is_network_command(std::string_view layer, const std::string& cmd) {
    if (layer == "net") return true;
    for (const char* word : {"ip ", "nft ", "ss ", "sysctl net", "ping ", "wget ", "nc "}) {
        auto pos = cmd.find(word);
        if (pos != std::string::npos && (pos == 0 || cmd[pos - 1] == ' ' || cmd[pos - 1] == ';')) return true;
    }
    return false;
}

// The command as it must be typed in a host terminal: with {pid} filled in and, when the tool
// runs in another network namespace than the host's (`ip netns exec lab04 step04_net ...`),
// entered into that namespace, or it would show the real host's interfaces and rules.
std::string host_command(std::string_view layer, const std::string& cmd) {
    std::string c = with_pid(cmd);
    if (g_netns_prefix.empty() || !is_network_command(layer, c)) return c;
    if (c.find_first_of(";|&>") == std::string::npos) return g_netns_prefix + c;
    std::string quoted;
    for (char ch : c) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return g_netns_prefix + "sh -c '" + quoted + "'";
}

// How to enter the tool's network namespace from the host, or "" when it is the host's.
std::string find_netns_prefix() {
    struct stat self {};
    if (::stat("/proc/self/ns/net", &self) != 0) return "";
    // `ip netns add NAME` bind-mounts the namespace on /run/netns/NAME.
    if (DIR* d = ::opendir("/run/netns")) {
        std::string found;
        while (dirent* e = ::readdir(d)) {
            struct stat st {};
            std::string path = std::string("/run/netns/") + e->d_name;
            if (e->d_name[0] != '.' && ::stat(path.c_str(), &st) == 0 && st.st_ino == self.st_ino &&
                st.st_dev == self.st_dev) {
                found = e->d_name;
                break;
            }
        }
        ::closedir(d);
        if (!found.empty()) return "ip netns exec " + found + " ";
    }
    // An unnamed one (`unshare -n`): entered by the tool's pid. PID 1's may be unreadable (then
    // the tool is taken to run in the host's).
    struct stat init {};
    if (::stat("/proc/1/ns/net", &init) != 0) return "";
    if (self.st_ino == init.st_ino && self.st_dev == init.st_dev) return "";
    return "nsenter -t " + std::to_string(::getpid()) + " -n ";
}

// The demo's host pane (workshop/instructor/host-pane.sh) runs what --step prints: one line
// per command, "before|after <TAB> layer <TAB> call <TAB> command <TAB> comment".
void to_pane(const char* when, const Op& op, const std::string& cmd, const std::string& comment) {
    if (g_pane_fd < 0) return;
    std::string line = std::string(when) + "\t" + std::string(op.layer) + "\t" + op.call + "\t" + cmd + "\t" +
                       comment + "\n";
    for (auto& ch : line.substr(0, line.size() - 1))
        if (ch == '\n') ch = ' ';
    (void)!::write(g_pane_fd, line.data(), line.size());
}

}  // namespace

void set_mode(Mode m) {
    g_mode = m;
    if (m != Mode::step) return;
    g_netns_prefix = find_netns_prefix();
    if (const char* pane = std::getenv("MINIBOX_HOST_PANE"); pane && *pane && g_pane_fd < 0) {
        // Inherited by the child (it narrates its own setup); closed by its execve.
        g_pane_fd = ::open(pane, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    }
}
Mode mode() { return g_mode; }
void set_container_pid(pid_t pid) { g_pid = pid; }

void set_step_layers(std::string_view csv) {
    std::vector<std::string> layers;
    for (size_t start = 0; start <= csv.size();) {
        size_t end = csv.find(',', start);
        if (end == std::string_view::npos) end = csv.size();
        std::string layer(csv.substr(start, end - start));
        start = end + 1;
        if (layer.empty() || layer == "all") continue;
        bool known = false;
        std::string list;
        for (const char* k : kLayers) {
            known = known || layer == k;
            list += (list.empty() ? "" : ", ") + std::string(k);
        }
        if (!known) throw Error("--step=" + std::string(csv) + ": no layer named " + layer + " (layers: " + list + ")");
        layers.push_back(layer);
    }
    g_step_layers = std::move(layers);
}

void before(const Op& op) {
    if (!pauses_in(op.layer)) return;
    auto [cmd, comment] = split_comment(op.observe);
    print(op.layer, "next: " + op.call);
    print(op.layer, "      " + op.why);
    if (!cmd.empty()) {
        std::string shown = host_command(op.layer, cmd);
        print(op.layer, "      host, before: " + shown);
        to_pane("before", op, shown, "");
    }
    print(op.layer, "      press Enter to continue");
    // Read up to the end of the line, straight from fd 0 (no stdio buffering: the same
    // terminal is read by the container afterwards).
    for (char c = 0; c != '\n';) {
        ssize_t n = ::read(STDIN_FILENO, &c, 1);
        if (n == 0) throw Error("--step: end of input while waiting for Enter");
        if (n < 0) {
            if (errno == EINTR) throw Error("--step: interrupted");
            throw SysError("read(stdin)", errno);
        }
    }
}

void after(const Op& op, std::string_view result) {
    // sys() calls this right after the failed call: errno is still the call's.
    int err = errno;
    if (g_mode == Mode::quiet) return;
    std::string shown(result);
    if (result == "-1" && err != 0) {
        const char* name = ::strerrorname_np(err);
        shown += std::string(" ") + (name ? name : "E?") + " (" + std::strerror(err) + ")";
    }
    print(op.layer, op.call + " = " + shown + "  - " + op.why);
    if (!pauses_in(op.layer) || result == "-1") return;
    auto [cmd, comment] = split_comment(op.observe);
    if (cmd.empty()) return;
    std::string shown_cmd = host_command(op.layer, cmd);
    print(op.layer, "      host, after: " + shown_cmd + (comment.empty() ? "" : "   # " + comment));
    to_pane("after", op, shown_cmd, comment);
}

void note(std::string_view layer, std::string_view text) {
    if (g_mode == Mode::quiet) return;
    print(layer, std::string(text));
}

void set_program(std::string_view name) { g_program = std::string(name); }

void error(std::string_view text) {
    auto lg = logger_for(g_program);
    lg->set_pattern("%n: %v");
    lg->error("{}", text);
}

void warn(std::string_view text) {
    auto lg = logger_for(g_program);
    lg->set_pattern("%n: warning: %v");
    lg->warn("{}", text);
}

}  // namespace narrate
