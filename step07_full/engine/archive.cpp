// docker cp through the Engine API: HEAD /containers/{id}/archive?path=P (the path's stat, in
// the header X-Docker-Container-Path-Stat: base64 of a JSON object), GET (the same header and a
// tar of P), PUT ?path=DIR (the body, a tar, extracted into the directory DIR). The work is
// docker::Manager's (docker/archive.cpp: openat2 RESOLVE_IN_ROOT inside the overlay's root).
//   moby's api/swagger.yaml: ContainerArchiveInfo, ContainerArchive, PutContainerArchive
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "areas.hpp"
#include "errors.hpp"
#include "router.hpp"
#include "trace.hpp"

namespace engine {
namespace {

std::string base64(const std::string& in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                     static_cast<unsigned char>(in[i + 2]);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    }
    if (i + 1 == in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
    }
    return out;
}

std::string path_of(const Ctx& c) {
    std::string p = c.q("path");
    if (p.empty()) throw bad_request("path is required");
    return p;
}

void head(Ctx& c) {
    auto st = mapped([&] { return manager().stat_path(c.param("id"), path_of(c)); });
    c.conn.add_header("X-Docker-Container-Path-Stat", base64(st.to_json().dump()));
    c.conn.send_empty(http::status::ok);
}

void get(Ctx& c) {
    std::string path = path_of(c);
    trace::hop("engine -> docker::archive_path", "a tar of " + path + " from the container's root (the overlay's merged dir)");
    docker::PathStat st;
    std::string tar = mapped([&] { return manager().archive_path(c.param("id"), path, &st); });
    c.conn.add_header("X-Docker-Container-Path-Stat", base64(st.to_json().dump()));
    c.conn.send_text(http::status::ok, std::move(tar), "application/x-tar");
}

void put(Ctx& c) {
    std::string dir = path_of(c);
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    // The body to a file (step06's unpacker reads archives from files), removed at once.
    char tmp[] = "/tmp/minibox-cp-XXXXXX";
    int fd = ::mkstemp(tmp);
    if (fd < 0) throw ApiError(500, std::string("mkstemp: ") + std::strerror(errno));
    struct Remove {
        std::string path;
        ~Remove() { ::unlink(path.c_str()); }
    } remove{tmp};
    const std::string& body = c.req.body();
    for (size_t off = 0; off < body.size();) {
        ssize_t w = ::write(fd, body.data() + off, body.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            ::close(fd);
            throw ApiError(500, std::string("write: ") + std::strerror(errno));
        }
        off += static_cast<size_t>(w);
    }
    ::close(fd);
    trace::hop("engine -> docker::extract_to", "the tar into " + dir + " of " + id.substr(0, 12) + " (entries checked, none may leave it)");
    mapped([&] {
        manager().extract_to(id, dir, tmp);
        return 0;
    });
    c.conn.send_empty(http::status::ok);
}

}  // namespace

void add_archive_routes(Router& r) {
    using V = http::verb;
    r.add(V::head, "/containers/{id}/archive", head);
    r.add(V::get, "/containers/{id}/archive", get);
    r.add(V::put, "/containers/{id}/archive", put);
}

}  // namespace engine
