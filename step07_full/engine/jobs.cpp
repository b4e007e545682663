// The engine side of minibox-engine-worker: one child per job, its request in a memfd on fd 3,
// its data (an archive, a build context) on fd 0, its JSON lines read from a pipe on fd 1.
#include "jobs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "error.hpp"
#ifdef MINIBOX_ENGINE_CONTAINERS
#include "docker/errors.hpp"
#endif
#include "narrate.hpp"
#include "trace.hpp"
#include "unique_fd.hpp"

namespace engine::jobs {
namespace {

using json = nlohmann::json;

std::string worker_path() {
    if (const char* env = std::getenv("MINIBOX_ENGINE_WORKER"); env && *env) return env;
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    return self.substr(0, self.rfind('/') + 1) + "minibox-engine-worker";
}

unique_fd memfd_with(const std::string& text) {
    unique_fd fd(::memfd_create("minibox-job", MFD_CLOEXEC));
    if (!fd) throw SysError("memfd_create(\"minibox-job\")", errno);
    for (size_t off = 0; off < text.size();) {
        ssize_t w = ::write(fd.get(), text.data() + off, text.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw SysError("write(memfd)", errno);
        off += static_cast<size_t>(w);
    }
    ::lseek(fd.get(), 0, SEEK_SET);
    return fd;
}

// The worker's {"error": ..., "exit_code": N, "kind": ...} as the exception it was there.
[[noreturn]] void throw_reported(const std::string& message, int code, const std::string& kind) {
#ifdef MINIBOX_ENGINE_CONTAINERS
    if (kind == "not_found") throw docker::NotFound(message, code);
    if (kind == "conflict") throw docker::Conflict(message);
    if (kind == "bad_request") throw docker::BadRequest(message);
#else
    (void)kind;
#endif
    throw Error(message, code);
}

// Runs `minibox-engine-worker JOB` with the request on fd 3 and `in` on fd 0. With `out` >= 0
// the worker's stdout is `out` (save's tar, cp's) and its stderr comes here: JSON lines as
// below (cp's stat), any other line taken as its error in plain words (save's); otherwise
// each JSON line of its stdout goes to `line`. Throws the worker's error.
void run(const std::string& job, const json& request, int in, int out, const std::function<void(const json&)>& line) {
    std::string exe = worker_path();
    trace::hop("engine -> minibox-engine-worker", job + ": a child process with the registry and archive libraries");
    unique_fd req = memfd_with(request.dump());
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw SysError("pipe2()", errno);
    unique_fd rd(p[0]), wr(p[1]);
    unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork()", errno);
    if (pid == 0) {
        // dup2 clears FD_CLOEXEC: exactly these four descriptors cross the exec.
        ::dup2(in >= 0 ? in : null.get(), 0);
        ::dup2(out >= 0 ? out : wr.get(), 1);
        ::dup2(out >= 0 ? wr.get() : STDERR_FILENO, 2);
        ::dup2(req.get(), 3);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::execl(exe.c_str(), exe.c_str(), job.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    wr.reset();
    std::string buf, error, error_kind, last_stderr;
    int error_code = 0;
    char chunk[16384];
    for (;;) {
        ssize_t n = ::read(rd.get(), chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf.append(chunk, static_cast<size_t>(n));
        for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1)) {
            std::string text = buf.substr(0, nl);
            auto j = json::parse(text, nullptr, false);
            if (!j.is_object()) {
                if (out >= 0 && !text.empty()) last_stderr = text;  // save's error, in plain words
                continue;
            }
            if (j.contains("error")) {
                error = j.value("error", "");
                error_code = j.value("exit_code", 1);
                error_kind = j.value("kind", "");
            } else if (line) {
                line(j);
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && error.empty() && last_stderr.empty())
        throw Error("cannot run " + exe, exit_code::tool_failed).with_hint("build the minibox-engine-worker target");
    if (!error.empty()) throw_reported(error, error_code ? error_code : 1, error_kind);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (!last_stderr.empty()) throw Error(last_stderr, WIFEXITED(status) ? WEXITSTATUS(status) : 1);
        throw Error("minibox-engine-worker " + job + " failed (status " + std::to_string(status) + ")");
    }
}

json registry_json(const images::RegistryOptions& o) {
    json j = {{"platform", o.platform},
              {"insecure_registries", o.insecure_registries},
              {"docker_config", o.docker_config},
              {"certs_dir", o.certs_dir},
              {"parallel", o.parallel},
              {"chunk_size", o.chunk_size}};
    if (o.credentials)
        j["credentials"] = {{"username", o.credentials->username},
                            {"password", o.credentials->password},
                            {"identity_token", o.credentials->identity_token}};
    return j;
}

void progress_of(const json& j, const images::ProgressFn& progress) {
    if (!progress || !j.contains("progress")) return;
    const json& p = j["progress"];
    images::ProgressEvent e;
    e.kind = static_cast<images::ProgressEvent::Kind>(p.value("kind", 0));
    e.id = p.value("id", "");
    e.current = p.value("current", std::uint64_t{0});
    e.total = p.value("total", std::uint64_t{0});
    e.message = p.value("message", "");
    progress(e);
}

}  // namespace

void pull(const std::string& ref, const images::RegistryOptions& opts, const images::ProgressFn& progress) {
    run("pull", {{"ref", ref}, {"registry", registry_json(opts)}}, -1, -1, [&](const json& j) { progress_of(j, progress); });
}

std::string push(const std::string& ref, const images::RegistryOptions& opts, const images::ProgressFn& progress) {
    std::string digest;
    run("push", {{"ref", ref}, {"registry", registry_json(opts)}}, -1, -1, [&](const json& j) {
        progress_of(j, progress);
        if (j.contains("digest")) digest = j.value("digest", "");
    });
    return digest;
}

std::vector<std::string> load(int fd) {
    std::vector<std::string> loaded;
    run("load", json::object(), fd, -1, [&](const json& j) {
        if (j.contains("loaded")) loaded.push_back(j.value("loaded", ""));
    });
    return loaded;
}

void save(const std::vector<std::string>& refs, int out) { run("save", {{"refs", refs}}, -1, out, {}); }

builder::BuildResult build(const builder::BuildOptions& o, int fd, const std::function<void(std::string_view)>& text) {
    json req = {{"dockerfile", o.dockerfile}, {"tags", o.tags},     {"build_args", o.build_args}, {"no_cache", o.no_cache},
                {"quiet", o.quiet},           {"target", o.target}, {"network", o.network},       {"labels", o.labels}};
    builder::BuildResult r;
    run("build", req, fd, -1, [&](const json& j) {
        if (j.contains("stream") && text) text(j.value("stream", ""));
        if (j.contains("result")) {
            const json& res = j["result"];
            r.image_id = res.value("image_id", "");
            r.tags = res.value("tags", std::vector<std::string>{});
            r.steps = res.value("steps", 0);
            r.cached = res.value("cached", 0);
        }
    });
    return r;
}

json cp_stat(const std::string& container, const std::string& path) {
    json stat;
    run("cp-stat", {{"container", container}, {"path", path}}, -1, -1, [&](const json& j) {
        if (j.contains("stat")) stat = j["stat"];
    });
    return stat;
}

json cp_get(const std::string& container, const std::string& path, int out) {
    json stat;
    run("cp-get", {{"container", container}, {"path", path}}, -1, out, [&](const json& j) {
        if (j.contains("stat")) stat = j["stat"];
    });
    return stat;
}

void cp_put(const std::string& container, const std::string& dir, int in) {
    run("cp-put", {{"container", container}, {"path", dir}}, in, -1, {});
}

}  // namespace engine::jobs
