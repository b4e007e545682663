// images: `step07_full pull` of a multi-layer image (about 30 MB of gzip layers, made offline
// with umoci from the default image plus three layers of 8 MB of random bytes each) from a
// private docker-registry on 127.0.0.1, against `skopeo copy docker://... oci:...` + `umoci
// unpack` of the same image: the same bytes fetched, verified and unpacked. Each run starts from
// an empty store / an empty directory. The registry is started by the setup on a free loopback
// port (its own storage and config in the bench's directory) and stopped by pid in the teardown.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "bench.hpp"
#include "error.hpp"

namespace bench {
namespace {

const std::string kDir = "/tmp/minibox-bench-images";

int free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(s);
    return ntohs(a.sin_port);
}

bool port_open(int port) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    return ok;
}

void run(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw Error("bench images: `" + cmd + "` failed");
}

struct Registry {
    int port = 0;
    pid_t pid = -1;
};

}  // namespace

std::vector<Comparison> images(const Env& env) {
    std::string registry = find_program("docker-registry"), skopeo = find_program("skopeo"), umoci = find_program("umoci");
    std::string sh = find_program("sh");
    auto reg = std::make_shared<Registry>();
    reg->port = free_port();
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
        run("rm -rf " + kDir + " && mkdir -p " + kDir + "/storage");
        // The image, offline: busybox's rootfs, then three layers of random bytes.
        std::string L = kDir + "/layout";
        run(umoci + " init --layout " + L + " && " + umoci + " new --image " + L + ":1 && " + umoci + " insert --image " +
            L + ":1 " + env.rootfs + " /");
        for (int i = 0; i < 3; i++) {
            std::string d = kDir + "/data" + std::to_string(i);
            run("mkdir -p " + d + " && head -c 8000000 /dev/urandom > " + d + "/blob && " + umoci + " insert --image " +
                L + ":1 " + d + " /data" + std::to_string(i));
        }
        std::ofstream(kDir + "/config.yml") << "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                                               "storage:\n  filesystem:\n    rootdirectory: " + kDir + "/storage\n"
                                               "http:\n  addr: 127.0.0.1:" + std::to_string(reg->port) + "\n";
        reg->pid = ::fork();
        if (reg->pid == 0) {
            int log = ::open((kDir + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            ::dup2(log, 1);
            ::dup2(log, 2);
            ::execl(registry.c_str(), "docker-registry", "serve", (kDir + "/config.yml").c_str(), nullptr);
            ::_exit(127);
        }
        for (int i = 0; i < 200 && !port_open(reg->port); i++) ::usleep(25000);
        run(skopeo + " --insecure-policy copy -q --dest-tls-verify=false oci:" + L + ":1 docker://" + ref);
        std::printf("  image: %s, 4 layers (busybox + 3 x 8 MB random), pulled from a private docker-registry\n", ref.c_str());
    };
    c.teardown = [reg] {
        if (reg->pid > 0) {
            ::kill(reg->pid, SIGTERM);
            ::waitpid(reg->pid, nullptr, 0);
            reg->pid = -1;
        }
        std::system(("rm -rf " + kDir).c_str());
    };
    return {c};
}

}  // namespace bench
