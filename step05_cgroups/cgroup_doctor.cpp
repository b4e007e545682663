#include "cgroup_doctor.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "cgroup.hpp"

namespace cgroup {

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
        return out;
    }};
}

}  // namespace cgroup
