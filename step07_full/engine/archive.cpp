// docker cp through the Engine API: HEAD /containers/{id}/archive?path=P (the path's stat, in
// the header X-Docker-Container-Path-Stat: base64 of a JSON object), GET (the same header and a
// tar of P), PUT ?path=DIR (the body, a tar, extracted into the directory DIR). The work is
// docker::Manager's (docker/archive.cpp: openat2 RESOLVE_IN_ROOT inside the overlay's root),
// done in minibox-engine-worker (jobs.hpp): libarchive, and the libxml2 and ICU it loads, are
// then never mapped by the daemon (1.9 MiB resident in every idle minute, for a rare command).
//   moby's api/swagger.yaml: ContainerArchiveInfo, ContainerArchive, PutContainerArchive
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "areas.hpp"
#include "errors.hpp"
#include "jobs.hpp"
#include "router.hpp"
#include "trace.hpp"
#include "unique_fd.hpp"

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

// A memfd for the worker: put's body in, get's tar out (the file a tar is read from, written to).
unique_fd memfd(const char* name) {
    unique_fd fd(::memfd_create(name, MFD_CLOEXEC));
    if (!fd) throw ApiError(500, std::string("memfd_create: ") + std::strerror(errno));
    return fd;
}

void head(Ctx& c) {
    auto st = mapped([&] { return jobs::cp_stat(c.param("id"), path_of(c)); });
    c.conn.add_header("X-Docker-Container-Path-Stat", base64(st.dump()));
    c.conn.send_empty(http::status::ok);
}

void get(Ctx& c) {
    std::string path = path_of(c);
    trace::hop("engine -> docker::archive_path", "a tar of " + path + " from the container's root (the overlay's merged dir)");
    unique_fd out = memfd("minibox-cp-get");
    auto st = mapped([&] { return jobs::cp_get(c.param("id"), path, out.get()); });
    std::string tar;
    char buf[1 << 16];
    for (off_t off = 0;;) {
        ssize_t n = ::pread(out.get(), buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ApiError(500, std::string("read(the tar): ") + std::strerror(errno));
        if (n == 0) break;
        tar.append(buf, static_cast<size_t>(n));
        off += n;
    }
    c.conn.add_header("X-Docker-Container-Path-Stat", base64(st.dump()));
    c.conn.send_text(http::status::ok, std::move(tar), "application/x-tar");
}

void put(Ctx& c) {
    std::string dir = path_of(c);
    std::string id = mapped([&] { return manager().resolve(c.param("id")); });
    // The body to a memfd, the worker's fd 0 (step06's unpacker reads archives from files).
    unique_fd in = memfd("minibox-cp-put");
    const std::string& body = c.req.body();
    for (size_t off = 0; off < body.size();) {
        ssize_t w = ::write(in.get(), body.data() + off, body.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw ApiError(500, std::string("write(memfd): ") + std::strerror(errno));
        off += static_cast<size_t>(w);
    }
    ::lseek(in.get(), 0, SEEK_SET);
    trace::hop("engine -> docker::extract_to", "the tar into " + dir + " of " + id.substr(0, 12) + " (entries checked, none may leave it)");
    mapped([&] {
        jobs::cp_put(id, dir, in.get());
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
