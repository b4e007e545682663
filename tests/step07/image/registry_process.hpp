// A private docker-registry (Debian's docker-registry package, the distribution project's
// registry): its config and storage in a directory of the caller's, listening on 127.0.0.1:PORT,
// started with fork + exec and stopped by pid (SIGTERM, waitpid). Shared by the image tests
// (tests/step07/image/images_integration_test.cpp) and the bench (bench/images.cpp), which
// include this header by its path. Header-only, no test framework: errors are
// std::runtime_error. Callers put it in a network namespace of their own when they can.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace registry_process {

// A port nothing listens on now (the kernel's choice for an ephemeral bind).
inline int free_port() {
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

inline bool port_open(int port) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    return ok;
}

class Registry {
public:
    // `dir`: config.yml, storage/ and log go there (made if missing). `extra_yaml`: more
    // top-level sections (auth:, and http's tls: indented under http as "  tls: ...").
    Registry(std::string dir, int port, const std::string& http_extra = "", const std::string& extra_yaml = "",
             const std::string& program = "/usr/bin/docker-registry")
        : dir_(std::move(dir)), port_(port) {
        for (std::size_t k = 1; k != std::string::npos;) {
            k = (dir_ + "/storage").find('/', k + 1);
            std::string part = (dir_ + "/storage").substr(0, k);
            if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) throw std::runtime_error("mkdir " + part);
        }
        std::ofstream(dir_ + "/config.yml") << "version: 0.1\n"
                                               "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                                               "storage:\n  filesystem:\n    rootdirectory: " + dir_ + "/storage\n"
                                               "  delete:\n    enabled: true\n"
                                               "http:\n  addr: 127.0.0.1:" + std::to_string(port) + "\n" + http_extra + extra_yaml;
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            int log = ::open((dir_ + "/log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(log, 1);
            ::dup2(log, 2);
            ::execl(program.c_str(), "docker-registry", "serve", (dir_ + "/config.yml").c_str(), nullptr);
            ::_exit(127);
        }
        for (int i = 0; i < 200 && !port_open(port); i++) ::usleep(25000);
        if (!port_open(port)) {
            std::stringstream log;
            log << std::ifstream(dir_ + "/log").rdbuf();
            stop();
            throw std::runtime_error("docker-registry did not start on port " + std::to_string(port) + ": " + log.str());
        }
    }
    ~Registry() { stop(); }
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    int port() const { return port_; }
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    const std::string& dir() const { return dir_; }
    // Where the registry keeps blobs (storage driver "filesystem").
    std::string storage() const { return dir_ + "/storage/docker/registry/v2"; }

private:
    std::string dir_;
    int port_;
    pid_t pid_ = -1;
};

}  // namespace registry_process
