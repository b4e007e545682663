// images: `step07_full pull` of a multi-layer image (about 30 MB of gzip layers, made offline
// with umoci from the default image plus three layers of 8 MB of random bytes each) from a
// private docker-registry on 127.0.0.1, against `skopeo copy docker://... oci:...` + `umoci
// unpack` of the same image: the same bytes fetched, verified and unpacked. Each run starts from
// an empty store / an empty directory. The registry is started by the setup on a free loopback
// port (its own storage and config in the bench's directory, tests/step07/image/
// registry_process.hpp as the image tests start theirs) and stopped by pid in the teardown.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "bench.hpp"
#include "error.hpp"
// The image tests' private docker-registry (one copy of that code for both).
#include "../tests/step07/image/registry_process.hpp"

namespace bench {
namespace {

const std::string kDir = "/tmp/minibox-bench-images";

void run(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw Error("bench images: `" + cmd + "` failed");
}

// The registry process, started by the setup and stopped by the teardown.
struct Registry {
    int port = 0;
    std::unique_ptr<registry_process::Registry> process;
};

}  // namespace

std::vector<Comparison> images(const Env& env) {
    std::string registry = find_program("docker-registry"), skopeo = find_program("skopeo"), umoci = find_program("umoci");
    std::string sh = find_program("sh");
    auto reg = std::make_shared<Registry>();
    reg->port = registry_process::free_port();
    std::string host = "127.0.0.1:" + std::to_string(reg->port);
    std::string ref = host + "/bench/pull:1";

    Comparison c;
    c.name = "images pull vs skopeo+umoci";
    c.ours = Side{"ours step07_full pull (empty store each run)",
                  {sh, "-c", "rm -rf " + kDir + "/ours && MINIBOX_ROOT=" + kDir + "/ours " + env.bin_dir +
                                 "/step07_full pull -q " + ref + " >/dev/null"}};
    c.reference = Side{"skopeo copy docker:// oci: + umoci unpack",
                       {sh, "-c", "rm -rf " + kDir + "/ref && mkdir -p " + kDir + "/ref && " + skopeo +
                                      " --insecure-policy copy -q --src-tls-verify=false docker://" + ref + " oci:" + kDir +
                                      "/ref/l:1 >/dev/null && " + umoci + " unpack --image " + kDir + "/ref/l:1 " + kDir +
                                      "/ref/b >/dev/null"}};
    c.goal = 1.0;
    if (registry.empty()) c.skip = "no docker-registry (apt-get install docker-registry)";
    else if (skopeo.empty() || umoci.empty()) c.skip = "no skopeo or umoci (apt-get install skopeo umoci)";
    c.setup = [env, reg, registry, skopeo, umoci, ref] {
        run("rm -rf " + kDir + " && mkdir -p " + kDir);
        // The image, offline: busybox's rootfs, then three layers of random bytes.
        std::string L = kDir + "/layout";
        run(umoci + " init --layout " + L + " && " + umoci + " new --image " + L + ":1 && " + umoci + " insert --image " +
            L + ":1 " + env.rootfs + " /");
        for (int i = 0; i < 3; i++) {
            std::string d = kDir + "/data" + std::to_string(i);
            run("mkdir -p " + d + " && head -c 8000000 /dev/urandom > " + d + "/blob && " + umoci + " insert --image " +
                L + ":1 " + d + " /data" + std::to_string(i));
        }
        reg->process = std::make_unique<registry_process::Registry>(kDir + "/registry", reg->port, "", "", registry);
        run(skopeo + " --insecure-policy copy -q --dest-tls-verify=false oci:" + L + ":1 docker://" + ref);
        std::printf("  image: %s, 4 layers (busybox + 3 x 8 MB random), pulled from a private docker-registry\n", ref.c_str());
    };
    c.teardown = [reg] {
        reg->process.reset();  // SIGTERM by pid, waited for
        std::system(("rm -rf " + kDir).c_str());
    };
    return {c};
}

}  // namespace bench
