// step05: a cgroup per container. The first comparison sets a start with limits (memory, CPU
// quota, pids: a directory per v1 hierarchy, six file writes, the pid written to each, the
// directories removed at the end) against step04 doing the same start without any cgroup. The
// second isolates the kernel's part: mkdir + rmdir of a container's cgroup directories in every
// hierarchy the tool uses, against the same mkdir + rmdir in /tmp (the same shell around both:
// the difference of the medians is what creating and removing a cgroup costs on this host).
#include <unistd.h>

#include <cstdlib>

#include "backend.hpp"
#include "bench.hpp"

namespace bench {

std::vector<Comparison> step05(const Env& env) {
    Comparison limits;
    limits.name = "step05 cgroup limits";
    limits.ours = {"step05_cgroups --network none -m 64m --cpus 1 --pids-limit 100 -- /bin/true",
                   {env.bin_dir + "/step05_cgroups", "--network", "none", "-m", "64m", "--cpus", "1", "--pids-limit",
                    "100", "--", "/bin/true"}};
    limits.reference = {"step04_net --network none -- /bin/true",
                        {env.bin_dir + "/step04_net", "--network", "none", "--", "/bin/true"}};
    limits.goal = 1.5;

    Comparison mkdir;
    mkdir.name = "step05 cgroup mkdir+rmdir";
    cgroup::Host host = cgroup::detect();
    // What a lone container start does now: make the project's parent and its own directory in
    // each hierarchy, and remove both at the end (the last one out removes the parent).
    std::string parents, dirs;
    std::set<std::string> roots;
    if (host.uses_v2()) roots.insert(host.v2);
    for (const char* c : {"memory", "cpu", "cpuacct", "pids"}) {
        auto it = host.v1.find(c);
        if (!host.uses_v2() && it != host.v1.end()) roots.insert(it->second);
    }
    for (auto& root : roots) {
        parents += " " + root + "/minibox";
        dirs += " " + root + "/minibox/bench-$$";
    }
    std::string sh = find_program("sh");
    mkdir.ours = {"sh -c 'mkdir -p CGROUP-DIRS && rmdir CGROUP-DIRS PARENTS'",
                  {sh, "-c", "mkdir -p" + dirs + " && rmdir" + dirs + " && { rmdir" + parents + " 2>/dev/null; true; }"}};
    mkdir.reference = {"sh -c 'mkdir -p /tmp/.../c && rmdir /tmp/.../c /tmp/...'",
                       {sh, "-c", "mkdir -p /tmp/minibox-bench-$$/c && rmdir /tmp/minibox-bench-$$/c /tmp/minibox-bench-$$"}};
    mkdir.goal = 20;  // a report, not a target: cgroup directories cost what the kernel makes them cost
    if (host.layout == cgroup::Layout::none || dirs.empty()) mkdir.skip = "no cgroup hierarchy";
    return {limits, mkdir};
}

}  // namespace bench
