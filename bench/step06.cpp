// step06: images under overlayfs. Two questions.
//
// Start latency: ours mounts an overlay over the busybox image (and makes, then removes, the
// container's upper/work/merged directories) before doing everything step05 does; the
// reference is step05 itself, rooted in the same image as a plain directory. The difference of
// the medians is what a copy-on-write root costs per container.
//
// Import throughput: `image import` of a tarball (every entry checked, every directory opened
// with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), then renamed into the store) against
// `tar -x` of the same file into an empty directory. Both sides start by removing the previous
// run's result. MB/s = the tarball's size (in the label) / the median.
//
// Both run with --network none: the benchmark never touches the machine's network.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "bench.hpp"
#include "error.hpp"

namespace bench {
namespace {

std::string g_dir;  // the import comparison's scratch directory

}  // namespace

std::vector<Comparison> step06(const Env& env) {
    Comparison start;
    start.name = "step06 overlay start";
    start.ours = {"step06_overlay run --network none busybox /bin/true",
                  {env.bin_dir + "/step06_overlay", "run", "--network", "none", "busybox", "/bin/true"}};
    start.reference = {"step05_cgroups --network none --rootfs ROOTFS /bin/true",
                       {env.bin_dir + "/step05_cgroups", "--network", "none", "--rootfs", env.rootfs, "/bin/true"}};
    // Issue 13's goal. The overlay's share: four mkdir, the mount, its unmount (no sync of the
    // disk below with volatile, see overlay.cpp), removing the directories, the image lookup.
    start.goal = 1.5;

    Comparison import;
    std::string sh = find_program("sh"), tar = find_program("tar");
    const char* sources = "/usr/include/c++ /usr/include/linux /usr/include/x86_64-linux-gnu";
    import.name = "step06 import (a tar of /usr/include/{c++,linux,x86_64-linux-gnu})";
    g_dir = "/tmp/minibox-bench-step06";
    std::string tarball = g_dir + "/in.tar";
    import.ours = {"step06_overlay image import in.tar big",
                   {sh, "-c", "rm -rf " + g_dir + "/store && " + env.bin_dir + "/step06_overlay --root " + g_dir +
                                  "/store image import " + tarball + " big"}};
    import.reference = {"tar -xf in.tar -C out",
                        {sh, "-c", "rm -rf " + g_dir + "/out && mkdir " + g_dir + "/out && tar -xf " + tarball + " -C " +
                                       g_dir + "/out"}};
    import.goal = 2.0;
    if (sh.empty() || tar.empty()) import.skip = "no sh or tar";
    import.setup = [tarball, sources] {
        std::string cmd = "rm -rf " + g_dir + " && mkdir -p " + g_dir + " && tar -cf " + tarball + " " + sources +
                          " 2>/dev/null";
        if (std::system(cmd.c_str()) != 0) throw Error("could not make " + tarball);
        struct stat st {};
        ::stat(tarball.c_str(), &st);
        std::printf("  tarball: %.1f MB\n", static_cast<double>(st.st_size) / 1e6);
    };
    import.teardown = [] { (void)!std::system(("rm -rf " + g_dir).c_str()); };
    return {start, import};
}

}  // namespace bench
