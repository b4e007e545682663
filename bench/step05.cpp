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
    std::string dirs;
    if (host.uses_v2()) {
        dirs = host.v2 + "/minibox/bench-$$";
    } else {
        std::set<std::string> seen;
        for (const char* c : {"memory", "cpu", "cpuacct", "pids"}) {
            auto it = host.v1.find(c);
            if (it != host.v1.end() && seen.insert(it->second).second) dirs += " " + it->second + "/minibox/bench-$$";
        }
    }
    std::string sh = find_program("sh");
    mkdir.ours = {"sh -c 'mkdir CGROUP-DIRS && rmdir CGROUP-DIRS'",
                  {sh, "-c", "mkdir" + dirs + " && rmdir" + dirs}};
    mkdir.reference = {"sh -c 'mkdir /tmp/... && rmdir /tmp/...'",
                       {sh, "-c", "mkdir /tmp/minibox-bench-$$ && rmdir /tmp/minibox-bench-$$"}};
    mkdir.goal = 20;  // a report, not a target: cgroup directories cost what the kernel makes them cost
    if (host.layout == cgroup::Layout::none || dirs.empty()) mkdir.skip = "no cgroup hierarchy";
    // The project's parent must exist (the first container start makes it).
    mkdir.setup = [env] {
        std::string cmd = env.bin_dir + "/step05_cgroups --network none true >/dev/null 2>&1";
        (void)!std::system(cmd.c_str());
    };
    return {limits, mkdir};
}

}  // namespace bench
