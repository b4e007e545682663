// step07: the runtime against the runtimes engines ship, on the same bundle. The bundle is the
// one `step07_full spec` writes (Docker's defaults: pid, net, ipc, uts, mount and cgroup
// namespaces, pivot_root, /proc /dev /sys /dev/pts /dev/shm /dev/mqueue /sys/fs/cgroup, the 14
// capabilities, masked and read-only paths, Docker's seccomp profile) running /bin/true; each
// runtime does `run` of it: create, start, wait, delete.
//
// crun refuses this machine's hybrid cgroup layout (a cgroup2 mount holding no controller at
// /sys/fs/cgroup/unified) unless run in a mount namespace where that mount is hidden; its side
// then pays for one unshare(1) + umount(8) more, which the label says.
//
// Each runtime keeps its --root for all its runs of a comparison. step07_full's first, untimed
// run compiles the seccomp filter and keeps it in <root>/.cache/seccomp; the timed runs load it,
// as every run of an engine after its first does. (Newer crun releases keep such a cache under
// their root's .cache/seccomp too; the crun 1.8.1 of Debian 12 leaves its root empty.)
//
// The memory check: `run` of echo under a 512 KiB memory limit (crun's documented figure; runc
// needs several MiB), once, reported as works / fails.
#include <linux/magic.h>
#include <sys/vfs.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bench.hpp"
#include "error.hpp"

namespace bench {
namespace {

const std::string kDir = "/tmp/minibox-bench-step07";
// Each runtime's --root: on tmpfs, where every engine keeps it (/run/docker/runtime-runc,
// /run/containerd/runc, podman's /run/crun). On a disk the runtimes' few state writes (a
// directory, state.json, a lock, a fifo) wait on the journal, which on a busy machine cost
// more than the containers themselves. Not every host has /run on tmpfs (the course VM's is
// the root's ext4, where the same runs took 5 ms (ours) and 10 ms (runc) longer under load):
// then /dev/shm, which is tmpfs wherever glibc's shm_open works.
bool on_tmpfs(const char* dir) {
    struct statfs st {};
    return ::statfs(dir, &st) == 0 && st.f_type == TMPFS_MAGIC;
}
const std::string kRun = std::string(on_tmpfs("/run") || !on_tmpfs("/dev/shm") ? "/run" : "/dev/shm") +
                         "/minibox-bench-step07";
std::string roots_line() {
    std::string parent = kRun.substr(0, kRun.rfind('/'));
    return "  each runtime's --root: under " + kRun + (on_tmpfs(parent.c_str()) ? " (tmpfs)" : " (NOT tmpfs)") + "\n";
}

// A bundle of `step07_full spec`, with the process and linux fields given.
std::string make_bundle(const Env& env, const std::string& name, const nlohmann::json& args,
                        const nlohmann::json& linux_extra) {
    std::string b = kDir + "/" + name;
    std::string cmd = "mkdir -p " + b + " && cp -a " + env.rootfs + " " + b + "/rootfs && " + env.bin_dir +
                      "/step07_full spec --bundle " + b;
    if (std::system(cmd.c_str()) != 0) throw Error("could not make the bundle " + b);
    std::ifstream in(b + "/config.json");
    nlohmann::json c = nlohmann::json::parse(in);
    c["process"]["terminal"] = false;
    c["process"]["args"] = args;
    c["linux"].update(linux_extra);
    std::ofstream(b + "/config.json") << c.dump(2);
    return b;
}

}  // namespace

std::vector<Comparison> step07(const Env& env) {
    std::string crun = find_program("crun"), runc = find_program("runc"), sh = find_program("sh");
    std::string unshare = find_program("unshare");
    std::string ours = env.bin_dir + "/step07_full";
    // Each comparison has a directory of its own (its bundle, each runtime's --root), made by its
    // setup and removed by its teardown.
    auto side = [&](const std::string& dir, const std::string& who, const std::string& label, const std::string& rt) {
        return Side{label, {sh, "-c", rt + " --root " + kRun + "/" + dir + "/state-" + who + " run --bundle " + kDir +
                                          "/" + dir + "/true bench07 </dev/null"}};
    };
    Comparison vs_crun;
    vs_crun.name = "step07 run vs crun";
    vs_crun.ours = side("crun", "ours", "ours step07_full run", ours);
    vs_crun.reference = side("crun", "crun", "crun run (in unshare -m, cgroup2 mount hidden)",
                             unshare + " -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec " + crun + " \"$@\"' crun");
    vs_crun.goal = 0.7;
    if (crun.empty()) vs_crun.skip = "no crun (apt-get install crun)";
    vs_crun.setup = [env] {
        std::system(("rm -rf " + kDir + "/crun " + kRun + "/crun").c_str());
        std::fputs(roots_line().c_str(), stdout);
        make_bundle(env, "crun/true", nlohmann::json::array({"/bin/true"}), nlohmann::json::object());
        // The memory check, once.
        std::string b = make_bundle(env, "crun/mem", nlohmann::json::array({"echo", "hi"}), {{"resources", {{"memory", {{"limit", 524288}}}}}});
        std::string cmd = env.bin_dir + "/step07_full --root " + kRun + "/state-mem run --bundle " + b +
                          " bench07mem >/dev/null 2>&1";
        std::printf("  memory check: step07_full run of echo under a 512 KiB memory limit: %s\n",
                    std::system(cmd.c_str()) == 0 ? "works" : "FAILS");
    };
    vs_crun.teardown = [] { std::system(("rm -rf " + kDir + "/crun " + kRun).c_str()); };
    Comparison vs_runc;
    vs_runc.name = "step07 run vs runc";
    vs_runc.ours = side("runc", "ours", "ours step07_full run", ours);
    vs_runc.reference = side("runc", "runc", "runc run", runc);
    vs_runc.goal = 0.25;
    if (runc.empty()) vs_runc.skip = "no runc (apt-get install runc)";
    vs_runc.setup = [env] {
        std::system(("rm -rf " + kDir + "/runc " + kRun + "/runc").c_str());
        std::fputs(roots_line().c_str(), stdout);
        make_bundle(env, "runc/true", nlohmann::json::array({"/bin/true"}), nlohmann::json::object());
    };
    vs_runc.teardown = [] { std::system(("rm -rf " + kDir + "/runc " + kRun).c_str()); };
    return {vs_crun, vs_runc};
}

}  // namespace bench
