// build: the layer cache. A second build of an unchanged Dockerfile against the first build of
// it (--no-cache, so every sample really runs every step): the second must find every step in
// the cache (parent image + instruction + the copied files' digest) and take at most 0.05x.
//
// The Dockerfile is a small, ordinary one: FROM busybox, two RUN steps that write a few MB,
// a COPY of the context (a few hundred files), ENV, WORKDIR, CMD. Both sides use the same
// private MINIBOX_ROOT (a copy of the default image), made by setup and removed by teardown.
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <unistd.h>

#include "bench.hpp"
#include "error.hpp"

namespace bench {
namespace {

const std::string kDir = "/tmp/minibox-bench-build";

}  // namespace

std::vector<Comparison> build(const Env& env) {
    std::string sh = find_program("sh");
    std::string ours = env.bin_dir + "/step07_full";
    auto side = [&](const std::string& label, const std::string& flags) {
        return Side{label, {sh, "-c", "MINIBOX_ROOT=" + kDir + "/root MINIBOX_RUN=" + kDir + "/run " + ours + " build " + flags +
                                          " -t bench-build " + kDir + "/ctx </dev/null"}};
    };
    Comparison c;
    c.name = "build: cached rebuild vs first build";
    c.ours = side("second build (every step cached)", "");
    c.reference = side("first build (build --no-cache)", "--no-cache");
    c.goal = 0.05;
    c.setup = [env, ours] {
        std::system(("rm -rf " + kDir).c_str());
        std::string cmd = "mkdir -p " + kDir + "/root/images/busybox " + kDir + "/run " + kDir + "/ctx/files && cp -a " + env.rootfs + " " +
                          kDir + "/root/images/busybox/rootfs && for i in $(seq 1 300); do echo file $i > " + kDir +
                          "/ctx/files/f$i.txt; done";
        if (std::system(cmd.c_str()) != 0) throw Error("build bench: could not make " + kDir);
        std::ofstream(kDir + "/ctx/Dockerfile") << "FROM busybox\n"
                                                   "ENV APP=/app\n"
                                                   "RUN mkdir -p /data && dd if=/dev/urandom of=/data/blob bs=1M count=4 2>/dev/null\n"
                                                   "WORKDIR $APP\n"
                                                   "COPY files/ ./files/\n"
                                                   "RUN ls files | wc -l > count.txt && cat files/* > all.txt\n"
                                                   "CMD [\"cat\", \"count.txt\"]\n";
        // the first build, so that the cached side finds everything from its first sample on
        std::string first = "MINIBOX_ROOT=" + kDir + "/root MINIBOX_RUN=" + kDir + "/run " + ours + " build -t bench-build " + kDir +
                            "/ctx >/dev/null";
        if (std::system(first.c_str()) != 0) throw Error("build bench: the first build failed");
    };
    c.teardown = [] {
        std::system(("for m in $(grep " + kDir + " /proc/self/mounts | cut -d' ' -f2); do umount -l $m; done; rm -rf " + kDir).c_str());
    };
    if (::geteuid() != 0) c.skip = "needs root (overlay mounts, containers)";
    return {c};
}

}  // namespace bench
