#include "internal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>

#include "container.hpp"
#include "files.hpp"
#include "shim/client.hpp"
#include "state.hpp"

namespace docker::detail {

Roots defaults(Roots r) {
    if (r.data.empty()) r.data = state::root_dir() + "/docker";
    if (r.exec.empty()) r.exec = state::run_dir() + "/docker";
    return r;
}

Paths paths(const Roots& roots, const std::string& id) {
    Paths p;
    p.record = roots.data + "/containers/" + id;
    p.shim = roots.exec + "/" + id.substr(0, 12);
    p.bundle = p.shim + "/bundle";
    p.log = p.record + "/" + id + "-json.log";
    p.runtime_root = roots.exec + "/runtime";
    p.lock = roots.data + "/locks/" + id + ".lock";
    return p;
}

Live live(const Roots& roots, const Record& r) {
    Live l;
    auto p = paths(roots, r.id);
    std::optional<shim::State> st = shim::read_state(p.shim);
    if (!st && !r.last_state.empty()) {
        try {
            st = shim::State::from_json(r.last_state);
            st->shim_alive = false;
            if (st->status != "exited") {
                // Its shim's directory is gone (a reboot cleared /run): the exit was never seen.
                st->status = "exited";
                st->exit_code = 255;
            }
        } catch (const std::exception&) {
        }
    }
    if (!r.complete) {
        auto owner = state::Owner::parse(r.creator);
        l.status = owner && owner->alive() ? "created" : "dead";
        return l;
    }
    if (!st || st->status.empty()) return l;  // created, never run
    l.status = st->status;
    l.pid = st->pid;
    l.exit_code = st->exit_code;
    l.oom_killed = st->oom_killed;
    if (!st->started_at.empty()) l.started_at = st->started_at;
    if (!st->finished_at.empty()) l.finished_at = st->finished_at;
    l.error = st->error;
    l.restart_count = st->restart_count;
    l.ip = st->ip;
    l.shim_alive = st->shim_alive;
    if (l.status == "running") {
        // Paused is the runtime's (the freezer), not the shim's.
        try {
            container::Store rt(p.runtime_root);
            if (rt.exists(r.id)) {
                auto cs = rt.load(r.id);
                if (container::status(cs, rt) == container::Status::paused) l.status = "paused";
            }
        } catch (const std::exception&) {
        }
    }
    if (!l.running()) l.pid = 0;
    if (r.removal_in_progress && l.status != "running") l.status = "removing";
    return l;
}

std::string runtime_binary() {
    if (const char* e = std::getenv("MINIBOX_RUNTIME"); e && *e) return e;
    char buf[PATH_MAX] = {};
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        std::string self(buf, static_cast<size_t>(n));
        if (self.ends_with("/step07_full")) return self;
        std::string dir = self.substr(0, self.rfind('/'));
        struct stat st {};
        if (::stat((dir + "/step07_full").c_str(), &st) == 0) return dir + "/step07_full";
    }
    return "step07_full";
}

int run_runtime(const Paths& p, const std::vector<std::string>& args, std::string* err) {
    std::vector<std::string> argv = {runtime_binary(), "--root", p.runtime_root};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) throw SysError("pipe2", errno);
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        throw SysError("fork()", e);
    }
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(pipefd[1], 2);
        const std::string& bin = argv[0];
        if (bin.find('/') != std::string::npos) ::execv(bin.c_str(), cargv.data());
        else ::execvp(bin.c_str(), cargv.data());
        _exit(127);
    }
    ::close(pipefd[1]);
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(pipefd[0], buf, sizeof buf);
        if (n > 0) text.append(buf, static_cast<size_t>(n));
        else if (n < 0 && errno == EINTR) continue;
        else break;
    }
    ::close(pipefd[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    while (!text.empty() && text.back() == '\n') text.pop_back();
    if (auto nl = text.rfind('\n'); nl != std::string::npos) text = text.substr(nl + 1);
    if (err) *err = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::int64_t parse_time(const std::string& t) {
    if (t.size() < 19 || t.starts_with("0001-")) return 0;
    std::tm tm{};
    if (!::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
    return static_cast<std::int64_t>(::timegm(&tm));
}

std::string human_duration(std::int64_t s) {
    // github.com/docker/go-units HumanDuration
    auto n = [](std::int64_t v, const char* unit) { return std::to_string(v) + " " + unit + (v == 1 ? "" : "s"); };
    if (s < 1) return "Less than a second";
    if (s == 1) return "1 second";
    if (s < 60) return n(s, "second");
    std::int64_t m = s / 60;
    if (m == 1) return "About a minute";
    if (m < 60) return n(m, "minute");
    std::int64_t h = m / 60;
    if (h == 1) return "About an hour";
    if (h < 48) return n(h, "hour");
    if (h < 24 * 7 * 2) return n(h / 24, "day");
    if (h < 24 * 30 * 2) return n(h / 24 / 7, "week");
    if (h < 24 * 365 * 2) return n(h / 24 / 30, "month");
    return n(h / 24 / 365, "year");
}

std::string quote_command(const std::vector<std::string>& args) {
    std::string out;
    for (auto& a : args) {
        if (!out.empty()) out += ' ';
        bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`;&|<>*?()") == std::string::npos;
        if (plain) {
            out += a;
        } else {
            out += '\'';
            for (char c : a) {
                if (c == '\'') out += "'\\''";
                else out += c;
            }
            out += '\'';
        }
    }
    return out;
}

Record load_record(const Roots& roots, const std::string& ref, std::string& id) {
    Records records(roots.data);
    id = records.resolve(ref);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    return *r;
}

std::vector<std::string> dir_names(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.push_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace docker::detail
