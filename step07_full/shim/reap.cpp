// Dead shims: a shim killed by SIGKILL cannot undo anything. What it made is named by two
// records (run_dir()/shims/ID and DIR/owner, both "pid:start" of the shim), so whoever comes
// next (another shim starting, `minibox cleanup`, the engine) undoes it: the runtime's
// container (its init is killed: it lost its parent and its stdio), the netns mount, step04's
// lease with its veth and ports. See common/state.hpp.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <fstream>

#include "client.hpp"
#include "doctor.hpp"
#include "files.hpp"
#include "narrate.hpp"
#include "runtime.hpp"
#include "shim_doctor.hpp"
#include "state.hpp"
#include "util.hpp"

namespace shim {
namespace {

// The network part, in a child: `minibox-shim --reap-network DIR` (reap_net.hpp says why).
void reap_network_in_child(const std::string& dir) {
    std::string exe = default_executable();
    narrate::note("shim", "the dead shim's network (netns mount, lease, veth, ports): " + exe + " --reap-network " + dir);
    std::vector<char*> args = {exe.data(), const_cast<char*>("--reap-network"), const_cast<char*>(dir.c_str()), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork()", errno);
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(exe + " --reap-network " + dir + " failed (status " + std::to_string(status) + ")")
            .with_hint("build minibox-shim, or set $MINIBOX_SHIM to its path; `minibox-shim --reap` retries");
}

void (*g_network_reaper)(const std::string&) = reap_network_in_child;

struct Record {
    std::string path, id, dir;
    std::optional<state::Owner> owner;
};

std::vector<Record> records() {
    std::vector<Record> out;
    std::string dir = state::run_dir() + "/shims";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == ".." || name.ends_with(".tmp")) continue;
        Record r;
        r.path = dir + "/" + name;
        r.id = name;
        std::ifstream f(r.path);
        std::string line;
        std::getline(f, line);
        r.owner = state::Owner::parse(line);
        std::getline(f, r.dir);
        out.push_back(r);
    }
    ::closedir(d);
    return out;
}

bool dead(const Record& r) { return !(r.owner && r.owner->alive()) && !(r.dir.size() && alive(r.dir)); }

void reap_one(const Record& r) {
    std::vector<std::string> reap_exit_command;
    narrate::note("shim", "reaping the leftovers of dead shim " + (r.owner ? r.owner->str() : "?") + " for " + r.dir);
    if (!r.dir.empty()) {
        if (auto j = read_json(r.dir + "/shim.json")) {
            try {
                Options o = Options::from_json(*j);
                Runtime rt{o.runtime, o.runtime_root, ""};
                rt.run({"delete", "--force", o.id});  // kills the orphaned init, removes its cgroup
                g_network_reaper(r.dir);              // netns mount, lease, veth, ports (reap_net.hpp)
                reap_exit_command = o.exit_command;
            } catch (const std::exception& e) {
                narrate::warn("reaping " + r.dir + ": " + e.what());
            }
        }
        if (auto j = read_json(state_path(r.dir))) {
            State s = State::from_json(*j);
            if (s.status != "exited") {
                s.status = "exited";
                s.exit_code = 255;  // the exit status died with the shim
                s.finished_at = now_rfc3339();
                s.error = "the shim was killed";
            }
            s.pid = 0;
            try {
                write_atomic(state_path(r.dir), s.to_json().dump() + "\n");
            } catch (const std::exception& e) {
                narrate::warn(e.what());
            }
        }
        for (auto* f : {"/owner", "/shim.sock", "/console.sock", "/init.pid"}) ::unlink((r.dir + f).c_str());
    }
    ::unlink(r.path.c_str());
    spawn_detached(reap_exit_command);  // the front end's cleanup, as after a normal end
}

}  // namespace

void set_network_reaper(void (*reaper)(const std::string&)) { g_network_reaper = reaper; }

std::vector<std::string> reap_dead() {
    std::vector<std::string> reaped;
    auto all = records();
    bool any = false;
    for (auto& r : all) any = any || dead(r);
    if (!any) return reaped;  // no lock file made when there is nothing to do
    state::Lock lock("shims");
    for (auto& r : records()) {
        if (!dead(r)) continue;
        reap_one(r);
        reaped.push_back(r.id);
    }
    return reaped;
}

std::vector<doctor::Finder> finders() {
    return {[] {
        std::vector<doctor::Leftover> out;
        for (auto& r : records()) {
            if (!dead(r)) continue;
            out.push_back({"shim", r.dir + " (container " + r.id + ", its shim " + (r.owner ? r.owner->str() : "?") + " is gone)",
                           [r] {
                               state::Lock lock("shims");
                               reap_one(r);
                           }});
        }
        return out;
    }};
}

}  // namespace shim
