#include "cgroup_doctor.hpp"

#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "cgroup.hpp"
#include "error.hpp"
#include "state.hpp"

namespace cgroup {
namespace {

// The child directories of a cgroup directory (its control files are regular files).
std::vector<std::string> subdirs(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (e->d_type == DT_DIR && name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
    return out;
}

}  // namespace

std::vector<doctor::Check> checks() {
    return {
        {"cgroup-layout",
         [] {
             Host h = detect();
             if (h.layout == Layout::none) {
                 return doctor::CheckResult::fail("no cgroup filesystem at /sys/fs/cgroup",
                                                  "mount -t cgroup2 none /sys/fs/cgroup");
             }
             std::string detail = layout_name(h.layout);
             if (h.layout == Layout::hybrid) detail += "; step05 uses the v1 hierarchies";
             return doctor::CheckResult::ok(detail);
         }},
        {"cgroup-controllers",
         [] {
             Host h = detect();
             std::string have, missing;
             for (const char* c : {"memory", "cpu", "cpuset", "pids"}) {
                 (h.controllers.count(c) ? have : missing) += std::string(have.empty() && h.controllers.count(c) ? "" : " ") + c;
             }
             if (missing.empty()) return doctor::CheckResult::ok("memory cpu cpuset pids");
             std::string fix = h.uses_v2()
                 ? fmt::format("delegate them from the root: echo '+memory +cpu +cpuset +pids' > {}/cgroup.subtree_control", h.v2)
                 : std::string("mount the v1 hierarchies (mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids)");
             return doctor::CheckResult::warn(fmt::format("have:{}; missing:{} (their options fail with exit 125)",
                                                          have.empty() ? " none" : " " + have, missing), fix);
         }},
    };
}

std::vector<doctor::Finder> finders() {
    return {[] {
        std::vector<doctor::Leftover> out;
        for (auto& r : dead_records()) {
            for (auto& dir : r.dirs) {
                if (::access(dir.c_str(), F_OK) != 0) continue;  // only the record is left: the generic finder's
                out.push_back({"cgroup", dir + " (owner " + r.owner + " is dead)", [dir] { remove_dir(dir); }});
            }
        }
        // The project's parent with no container left in it (a tool killed between its rmdirs,
        // or an older version): nothing of ours may stay on a host with no container running.
        Host h = detect();
        std::vector<std::string> roots;
        if (h.uses_v2()) roots.push_back(h.v2);
        for (auto& [controller, mount] : h.v1) roots.push_back(mount);
        std::sort(roots.begin(), roots.end());
        roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
        for (auto& root : roots) {
            std::string parent = root + "/" + kParent;
            if (::access(parent.c_str(), F_OK) != 0 || !subdirs(parent).empty()) continue;
            out.push_back({"cgroup", parent + " (the project's parent, empty)", [parent] {
                               state::Lock lock("cgroup");  // a start may be creating its child now
                               if (::rmdir(parent.c_str()) != 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
                                   throw SysError("rmdir(" + parent + ")", errno);
                           }});
        }
        return out;
    }};
}

}  // namespace cgroup
