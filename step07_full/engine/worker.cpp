// minibox-engine-worker: the engine's pull, push, load, save, build and docker cp, one job per
// process. The engine (jobs.cpp) starts it for a request and relays what it prints; it links
// the image store's registry client (libcurl, OpenSSL) and archive code (libarchive) so that
// the daemon does not: an idle engine keeps only its own pages.
//
//   minibox-engine-worker pull|push|load|save|build|cp-stat|cp-get|cp-put
//     fd 3: the request, one JSON object (credentials travel here, never in argv)
//     fd 0: load's archive, build's context tar, cp-put's tar
//     fd 1: JSON lines {"progress": {...}}, {"stream": "..."}, {"loaded": "..."}, {"digest": ".."},
//           {"result": {...}}, {"stat": {...}}, last {"error": "...", "exit_code": N, "kind": K}
//           on failure (K: not_found, conflict, bad_request for docker::Manager's typed errors);
//           save: the docker-archive itself (its error is then the last line on fd 2, plain);
//           cp-get: the tar itself (its JSON lines, the stat first, then on fd 2)
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "builder/build.hpp"
#ifdef MINIBOX_WORKER_CP
#include "docker/errors.hpp"
#include "docker/manager.hpp"
#endif
#include "error.hpp"
#include "files.hpp"
#include "image/store.hpp"
#include "narrate.hpp"

namespace {

using json = nlohmann::json;

int g_lines_fd = STDOUT_FILENO;  // where the JSON lines go: fd 2 when fd 1 carries a tar

void emit(const json& j) {
    std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    for (size_t off = 0; off < line.size();) {
        ssize_t w = ::write(g_lines_fd, line.data() + off, line.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw SysError("write(the engine's pipe)", errno);
        off += static_cast<size_t>(w);
    }
}

json read_request() {
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(3, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(3);
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) throw Error("minibox-engine-worker: fd 3 holds no JSON request (it is started by minibox-engine)");
    return j;
}

images::RegistryOptions registry_options(const json& j) {
    images::RegistryOptions o;
    o.platform = j.value("platform", "");
    o.insecure_registries = j.value("insecure_registries", std::vector<std::string>{});
    o.docker_config = j.value("docker_config", "");
    o.certs_dir = j.value("certs_dir", o.certs_dir);
    o.parallel = j.value("parallel", o.parallel);
    o.chunk_size = j.value("chunk_size", o.chunk_size);
    if (j.contains("credentials")) {
        const json& c = j["credentials"];
        o.credentials = images::Credentials{c.value("username", ""), c.value("password", ""), c.value("identity_token", "")};
    }
    return o;
}

void progress(const images::ProgressEvent& e) {
    emit({{"progress",
           {{"kind", static_cast<int>(e.kind)}, {"id", e.id}, {"current", e.current}, {"total", e.total}, {"message", e.message}}}});
}

#ifdef MINIBOX_WORKER_CP
void write_all(int fd, const std::string& bytes) {
    for (size_t off = 0; off < bytes.size();) {
        ssize_t w = ::write(fd, bytes.data() + off, bytes.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw SysError("write(the tar)", errno);
        off += static_cast<size_t>(w);
    }
}

// docker cp: the manager's archive functions, with the roots the engine gave us in the
// environment (MINIBOX_ROOT, MINIBOX_RUN), as the daemon's own manager has them.
bool cp_job(const std::string& what, const json& req) {
    docker::Manager m;
    std::string id = req.value("container", ""), path = req.value("path", "");
    if (what == "cp-stat") {
        emit({{"stat", m.stat_path(id, path).to_json()}});
    } else if (what == "cp-get") {
        docker::PathStat st;
        std::string tar = m.archive_path(id, path, &st);
        emit({{"stat", st.to_json()}});
        write_all(STDOUT_FILENO, tar);
    } else if (what == "cp-put") {
        // fd 0 is the engine's memfd: libarchive opens it again by name, from its start.
        m.extract_to(id, path, "/proc/self/fd/0");
    } else {
        return false;
    }
    return true;
}

const char* kind_of(const std::exception& e) {
    if (dynamic_cast<const docker::NotFound*>(&e)) return "not_found";
    if (dynamic_cast<const docker::Conflict*>(&e)) return "conflict";
    if (dynamic_cast<const docker::BadRequest*>(&e)) return "bad_request";
    return "";
}
#else
bool cp_job(const std::string&, const json&) { return false; }
const char* kind_of(const std::exception&) { return ""; }
#endif

int job(const std::string& what) {
    json req = read_request();
    if (what.rfind("cp-", 0) == 0 && cp_job(what, req)) return 0;
    images::Store store;
    if (what == "pull") {
        store.pull(req.value("ref", ""), registry_options(req.value("registry", json::object())), progress);
    } else if (what == "push") {
        std::string digest = store.push(req.value("ref", ""), registry_options(req.value("registry", json::object())), progress);
        emit({{"digest", digest}});
    } else if (what == "load") {
        for (auto& line : store.load(STDIN_FILENO)) emit({{"loaded", line}});
    } else if (what == "save") {
        store.save(req.value("refs", std::vector<std::string>{}), STDOUT_FILENO);
    } else if (what == "build") {
        builder::BuildOptions o;
        o.dockerfile = req.value("dockerfile", o.dockerfile);
        o.tags = req.value("tags", std::vector<std::string>{});
        o.build_args = req.value("build_args", std::map<std::string, std::string>{});
        o.labels = req.value("labels", std::map<std::string, std::string>{});
        o.no_cache = req.value("no_cache", false);
        o.quiet = req.value("quiet", false);
        o.target = req.value("target", "");
        o.network = req.value("network", o.network);
        auto r = builder::build_from_tar(o, STDIN_FILENO, [](std::string_view text) { emit({{"stream", std::string(text)}}); });
        emit({{"result", {{"image_id", r.image_id}, {"tags", r.tags}, {"steps", r.steps}, {"cached", r.cached}}}});
    } else {
        throw Error("minibox-engine-worker: unknown job \"" + what + "\" (pull, push, load, save, build, cp-stat, cp-get, cp-put)");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    narrate::set_program("minibox-engine-worker");
    if (argc != 2) {
        std::fprintf(stderr, "usage: minibox-engine-worker pull|push|load|save|build|cp-stat|cp-get|cp-put (started by minibox-engine)\n");
        return exit_code::tool_failed;
    }
    std::string what = argv[1];
    if (what == "cp-get") g_lines_fd = STDERR_FILENO;
    try {
        return job(what);
    } catch (const std::exception& e) {
        int code = 1;
        if (auto* err = dynamic_cast<const Error*>(&e)) code = err->exit_status();
        if (what == "save") {
            std::fprintf(stderr, "%s\n", e.what());
        } else {
            try {
                json err = {{"error", e.what()}, {"exit_code", code}};
                if (*kind_of(e)) err["kind"] = kind_of(e);
                emit(err);
            } catch (const std::exception&) {
            }
        }
        return code ? code : 1;
    }
}
