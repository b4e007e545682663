// minibox: the commands every step shares.
//
//   minibox doctor [CHECK...]     can this machine run the steps? (exit 1 when a check fails)
//   minibox cleanup [--remove]    what did the toolkit leave on the host? (--remove: remove it)
//
// Each step contributes its own checks and finders; this file only lists them, one line per
// step. A new step adds its line where its "// stepNN:" marker is, and links its library in
// tools/CMakeLists.txt.
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "cgroup_doctor.hpp"
#include "doctor.hpp"
#include "host_checks.hpp"
#include "files.hpp"
#include "image_store.hpp"
#include "state.hpp"
#include "mnt_doctor.hpp"
#include "shim_doctor.hpp"
#include "narrate.hpp"
#include "net_doctor.hpp"
#include "overlay_doctor.hpp"
#include "pid_doctor.hpp"
#include "uts_doctor.hpp"

namespace {

template <class T>
void append(std::vector<T>& to, std::vector<T> more) {
    for (auto& x : more) to.push_back(std::move(x));
}

// In step order: what the machine offers first, then what each step tries.
std::vector<doctor::Check> all_checks() {
    std::vector<doctor::Check> all;
    append(all, host_checks::checks());
    append(all, uts::checks());  // step01
    append(all, pid::checks());  // step02
    append(all, mnt::checks());  // step03
    append(all, net::checks());  // step04
    append(all, cgroup::checks());  // step05
    append(all, overlay::checks());  // step06
    // step07: append(all, <module>::checks());
    return all;
}

// As another user than root, a step's probe the kernel refuses (EPERM, EACCES) tells nothing
// about the machine: its fix ("modprobe", "a newer kernel") would be wrong. Such a result says
// "not permitted, run as root" instead; and a check that could not look at all (forward: the
// ruleset can only be listed as root) is a warning, not an "ok" it cannot know.
bool refused(const std::string& detail) {
    for (const char* s : {"Operation not permitted", "Permission denied", "EPERM", "EACCES"})
        if (detail.find(s) != std::string::npos) return true;
    return false;
}

std::vector<doctor::Check> as_unprivileged(std::vector<doctor::Check> checks) {
    if (::geteuid() == 0) return checks;
    const std::string uid = std::to_string(::geteuid());
    const std::string fix = "run as root: sudo minibox doctor (or, as root, minibox doctor)";
    for (auto& c : checks) {
        if (c.name == "root") continue;
        if (c.name == "forward") {
            c.run = [uid, fix] {
                return doctor::CheckResult::warn("not checked: listing the nft ruleset needs root (uid " + uid + ")", fix);
            };
            continue;
        }
        c.run = [run = c.run, uid, fix] {
            auto r = run();
            if (r.status != doctor::Status::ok && refused(r.detail) && r.detail.find("not permitted as uid") == std::string::npos)
                r = doctor::CheckResult::fail(r.detail + ": not permitted as uid " + uid +
                                                  " (says nothing about whether the kernel has it)",
                                              fix);
            return r;
        };
    }
    return checks;
}

// step06's --keep leaves a container's directory (its upper layer) for a look from the host;
// the overlay finder rightly skips it while it is being looked at, but someone must be able to
// list and remove it: a "kept" line each, removed with --remove like any leftover.
std::vector<doctor::Leftover> kept_containers() {
    std::vector<doctor::Leftover> out;
    image::Store store;
    DIR* d = ::opendir(store.containers_dir().c_str());
    if (!d) return out;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.push_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
        std::string dir = store.containers_dir() + "/" + n;
        std::ifstream kept(dir + "/kept");
        std::string image;
        if (!kept || !std::getline(kept, image)) continue;
        out.push_back({"kept", dir + " (step06_overlay run --keep of image " + image + "; its changes are in upper/)",
                       [dir] { doctor::remove_tree(dir); }});
    }
    return out;
}

// step07's docker front end (step07_full run/ps/rm, minibox-engine): a container is a record in
// root_dir()/docker/containers/ID (with its overlay's upper, work and merged/) and, while its
// shim lives, the shim's directory run_dir()/docker/ID[:12] (owner, socket, netns). What can be
// left: a record a killed `run` never finished (creator dead), a container whose shim was
// killed (owner file naming a dead process: its init, cgroup, netns and lease are still there),
// and stopped containers (docker keeps them until `rm`). All three are removed the way the
// front end removes a container, `step07_full rm -f ID`: it knows the shim's and the runtime's
// parts (the half-made record, which has no shim, is removed here directly).
std::string sibling_tool(const std::string& name) {
    char buf[PATH_MAX] = {};
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    return self.empty() ? name : self.substr(0, self.rfind('/') + 1) + name;
}

void docker_rm(const std::string& id) {
    std::string tool = sibling_tool("step07_full");
    pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork()", errno);
    if (pid == 0) {
        ::execl(tool.c_str(), tool.c_str(), "rm", "-f", id.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(tool + " rm -f " + id + " failed (exit " + std::to_string(WEXITSTATUS(status)) + ")");
}

std::vector<doctor::Leftover> docker_containers() {
    std::vector<doctor::Leftover> out;
    std::string records = state::root_dir() + "/docker/containers";
    const char* run_env = std::getenv("MINIBOX_RUN");
    std::string exec = std::string(run_env && *run_env ? run_env : "/run/minibox") + "/docker";
    DIR* d = ::opendir(records.c_str());
    if (!d) return out;
    std::vector<std::string> ids;
    while (dirent* e = ::readdir(d))
        if (std::strlen(e->d_name) == 64) ids.push_back(e->d_name);
    ::closedir(d);
    std::sort(ids.begin(), ids.end());
    for (auto& id : ids) {
        std::string dir = records + "/" + id;
        nlohmann::json rec;
        try {
            rec = nlohmann::json::parse(files::read(dir + "/config.v2.json"));
        } catch (const nlohmann::json::exception&) {
            rec = nlohmann::json::object();
        }
        std::string name = rec.value("Name", std::string("/?"));
        auto shim_owner = state::Owner::parse(files::read_line(exec + "/" + id.substr(0, 12) + "/owner"));
        if (!rec.value("Complete", false)) {
            auto creator = state::Owner::parse(rec.value("Creator", std::string()));
            if (creator && creator->alive()) continue;
            struct stat st {};
            if (::stat(dir.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime < 10) continue;  // being made
            out.push_back({"docker", dir + " (a container a killed `run` left half-made)", [dir, shim_owner] {
                               if (shim_owner && shim_owner->alive()) throw Error("its shim still runs: step07_full rm -f");
                               std::string merged = dir + "/merged";
                               ::umount2(merged.c_str(), MNT_DETACH);
                               doctor::remove_tree(dir);
                           }});
            continue;
        }
        if (shim_owner && shim_owner->alive()) continue;  // running (or created) under its shim
        std::string why = shim_owner ? "its shim " + shim_owner->str() + " was killed; the container's init, cgroup and network may remain"
                                     : "stopped; docker keeps it until rm";
        out.push_back({"docker", "container " + id.substr(0, 12) + " " + name + " (" + why + ")", [id] { docker_rm(id); }});
    }
    return out;
}

// Newest step first, as the launcher cleans up in reverse order (an overlay is unmounted before
// its directories go); the generic run-dir records last, because a step's finder may read a
// record to learn which host resources it names. Steps 01 and 02 leave nothing on the host.
std::vector<doctor::Finder> all_finders() {
    std::vector<doctor::Finder> all;
    all.push_back(docker_containers);  // step07's docker front end (before the overlay's finder)
    append(all, shim::finders());  // step07's shims killed with their containers' host resources
    append(all, overlay::finders());  // step06
    all.push_back(kept_containers);  // step06 --keep
    append(all, cgroup::finders());  // step05
    append(all, net::finders());  // step04
    append(all, mnt::finders());  // step03
    all.push_back(doctor::stale_run_records);
    return all;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The commands every step shares: a preflight check and a cleanup.", "minibox"};
    app.require_subcommand(1);

    std::vector<std::string> only;
    auto* doctor_cmd = app.add_subcommand("doctor", "check that this machine can run every step; print the fix of each failure");
    doctor_cmd->add_option("CHECK", only, "run only these checks (by name, as printed)");

    bool remove = false;
    auto* cleanup_cmd = app.add_subcommand(
        "cleanup", "list what the toolkit left on the host (mounts, cgroups, links, state); --remove removes it");
    cleanup_cmd->add_flag("--remove", remove, "remove what is listed");

    if (auto stop = cli::parse_args(app, argc, argv)) return *stop;

    return cli::guarded([&] {
        if (doctor_cmd->parsed()) {
            auto checks = as_unprivileged(all_checks());
            if (!only.empty()) {
                std::vector<doctor::Check> chosen;
                for (auto& name : only) {
                    auto it = std::find_if(checks.begin(), checks.end(), [&](auto& c) { return c.name == name; });
                    if (it == checks.end()) {
                        std::string names;
                        for (auto& c : checks) names += " " + c.name;
                        throw Error("no check named \"" + name + "\"; there are:" + names);
                    }
                    chosen.push_back(*it);
                }
                checks = chosen;
            }
            return doctor::run_checks(checks, std::cout);
        }
        return doctor::run_cleanup(all_finders(), remove, std::cout, std::cerr);
    });
}
