// Ownership of cgroups on the host: a record per container in the run directory, so that the
// next start (and `minibox cleanup`) finds what a killed tool left.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "cgroup.hpp"
#include "narrate.hpp"
#include "state.hpp"

namespace cgroup {

std::string write_record(const std::string& id, const std::vector<std::string>& dirs) {
    std::string path = state::run_dir() + "/cgroup-" + id;
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << state::Owner::self().str() << "\n";
        for (auto& d : dirs) f << d << "\n";
        if (!f.flush()) throw Error("cannot write " + tmp);
    }
    // Whole or not at all: a reader never sees a record without its owner line.
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw SysError("rename(\"" + tmp + "\")", errno);
    return path;
}

std::vector<DeadRecord> dead_records() {
    std::vector<DeadRecord> out;
    std::string dir = state::run_dir();
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (!name.starts_with("cgroup-") || name.ends_with(".lock") || name.ends_with(".tmp")) continue;
        std::string path = dir + "/" + name;
        auto owner = state::record_owner(path);
        if (!owner || owner->alive()) continue;
        DeadRecord r{path, owner->str(), {}};
        std::ifstream f(path);
        std::string line;
        std::getline(f, line);  // the owner
        while (std::getline(f, line))
            if (!line.empty()) r.dirs.push_back(line);
        out.push_back(std::move(r));
    }
    ::closedir(d);
    return out;
}

std::vector<std::string> reap_dead() {
    std::vector<std::string> removed;
    for (auto& r : dead_records()) {
        bool all = true;
        for (auto& dir : r.dirs) {
            try {
                narrate::note("cgroup", "owner " + r.owner + " is dead: removing its cgroup " + dir);
                remove_dir(dir);
                removed.push_back(dir);
            } catch (const Error& e) {
                narrate::warn("cannot remove a dead container's cgroup: " + e.line());
                all = false;
            }
        }
        if (all) ::unlink(r.record.c_str());
    }
    return removed;
}

}  // namespace cgroup
