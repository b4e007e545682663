// The image area of the Engine API: /images/... -> images::Store (helper "images"' content-
// addressed store and registry client). Pull and push answer with Docker's JSON progress
// stream ({"status": "Downloading", "id": "<layer>", "progressDetail": {...}} per line), which
// the CLI draws as its progress bars; load answers {"stream": "Loaded image: x\n"}.
//   moby's api/swagger.yaml, tag "Image"; moby's pkg/jsonmessage
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <thread>

#include "errors.hpp"
#include "events.hpp"
#include "jobs.hpp"
#include "router.hpp"
#include "streams.hpp"
#include "image/store.hpp"
#include "system.hpp"
#include "trace.hpp"

namespace engine {
namespace {

using json = nlohmann::json;

std::int64_t unix_time(const std::string& rfc3339) {
    if (rfc3339.empty()) return 0;
    std::tm tm{};
    std::istringstream in(rfc3339);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    if (in.fail()) return 0;
    return static_cast<std::int64_t>(::timegm(&tm));
}

// Store errors: "No such image" and "conflict: unable to remove" in Docker's words.
template <class F>
auto store_call(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const ApiError&) {
        throw;
    } catch (const std::exception& e) {
        std::string m = e.what();
        if (m.find("No such image") != std::string::npos || m.find("not found") != std::string::npos)
            throw not_found(m);
        if (m.find("conflict") != std::string::npos) throw conflict(m);
        if (m.find("invalid reference") != std::string::npos || m.find("invalid") != std::string::npos)
            throw bad_request(m);
        throw;
    }
}

json summary(const images::Resolved& r) {
    json tags = r.repo_tags.empty() ? json::array({"<none>:<none>"}) : json(r.repo_tags);
    json labels = r.config.contains("config") && r.config["config"].contains("Labels") ? r.config["config"]["Labels"] : json(nullptr);
    return {{"Id", r.id},
            {"ParentId", ""},
            {"RepoTags", tags},
            {"RepoDigests", r.repo_digests},
            {"Created", unix_time(r.created)},
            {"Size", r.size},
            {"VirtualSize", r.size},
            {"SharedSize", -1},
            {"Labels", labels},
            {"Containers", -1}};
}

void list(Ctx& c) {
    images::Store store;
    json out = json::array();
    const bool all = c.flag("all");  // docker images -a
    for (auto& r : store_call([&] { return store.list(); })) {
        // A build's intermediate images (untagged parents of another image) are hidden, as
        // dockerd hides them, unless all=1; `step07_full images` does the same.
        if (r.intermediate && !all) continue;
        // docker images -f dangling=true / reference=busybox* are the common filters.
        out.push_back(summary(r));
    }
    c.conn.send_json(http::status::ok, out);
}

void inspect(Ctx& c) {
    images::Store store;
    auto r = store_call([&] { return store.get(c.param("name")); });
    json diff_ids = r.config.contains("rootfs") ? r.config["rootfs"].value("diff_ids", json::array()) : json::array();
    json cfg = r.config.value("config", json::object());
    c.conn.send_json(http::status::ok,
                     {{"Id", r.id},
                      {"RepoTags", r.repo_tags},
                      {"RepoDigests", r.repo_digests},
                      {"Parent", ""},
                      {"Comment", r.config.value("comment", "")},
                      {"Created", r.created.empty() ? "1970-01-01T00:00:00Z" : r.created},
                      {"Container", ""},
                      {"ContainerConfig", cfg},
                      {"DockerVersion", r.config.value("docker_version", "")},
                      {"Author", r.config.value("author", "")},
                      {"Config", cfg},
                      {"Architecture", r.config.value("architecture", "amd64")},
                      {"Os", r.config.value("os", "linux")},
                      {"Size", r.size},
                      {"VirtualSize", r.size},
                      {"GraphDriver", {{"Name", "overlay2"}, {"Data", {{"LowerDir", [&] {
                                                                           std::string s;
                                                                           for (auto& l : r.image.layers) s += (s.empty() ? "" : ":") + l;
                                                                           return s;
                                                                       }()}}}}},
                      {"RootFS", {{"Type", "layers"}, {"Layers", diff_ids}}},
                      {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}});
}

void tag(Ctx& c) {
    std::string repo = c.q("repo"), t = c.q("tag");
    if (repo.empty()) throw bad_request("repository name must have at least one component");
    std::string target = repo + (t.empty() ? "" : ":" + t);
    images::Store store;
    store_call([&] {
        store.tag(c.param("name"), target);
        return 0;
    });
    auto r = store.find(target);
    events::publish("image", "tag", r ? r->id : target, {{"name", target}});
    c.conn.send_empty(http::status::created);
}

void remove(Ctx& c) {
    images::Store store;
    auto res = store_call([&] { return store.remove(c.param("name"), c.flag("force")); });
    json out = json::array();
    for (auto& u : res.untagged) {
        out.push_back({{"Untagged", u}});
        events::publish("image", "untag", u, {{"name", u}});
    }
    for (auto& d : res.deleted) {
        out.push_back({{"Deleted", d}});
        events::publish("image", "delete", d, {{"name", d}});
    }
    c.conn.send_json(http::status::ok, out);
}

void prune(Ctx& c) {
    images::Store store;
    bool all = false;
    if (auto f = c.q("filters"); f.find("dangling") != std::string::npos && f.find("false") != std::string::npos) all = true;
    auto res = store_call([&] { return store.prune(all); });
    json deleted = json::array();
    for (auto& u : res.untagged) deleted.push_back({{"Untagged", u}});
    for (auto& d : res.deleted) deleted.push_back({{"Deleted", d}});
    c.conn.send_json(http::status::ok, {{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", res.reclaimed}});
}

void load(Ctx& c) {
    // The archive is the body; the store reads it from a file descriptor: an anonymous memory
    // file (memfd_create(2)) holds it, so nothing is written to disk twice.
    unique_fd mem(::memfd_create("docker-load", MFD_CLOEXEC));
    if (!mem) throw SysError("memfd_create(\"docker-load\", MFD_CLOEXEC)", errno);
    const std::string& body = c.req.body();
    for (size_t off = 0; off < body.size();) {
        ssize_t w = ::write(mem.get(), body.data() + off, body.size() - off);
        if (w <= 0) throw SysError("write(memfd)", errno);
        off += static_cast<size_t>(w);
    }
    ::lseek(mem.get(), 0, SEEK_SET);
    trace::hop("engine -> images::Store", "load (in minibox-engine-worker): the archive's layers unpacked once, the image recorded");
    auto loaded = store_call([&] { return jobs::load(mem.get()); });
    json_stream(
        c.conn,
        [&](auto& send) {
            for (auto& line : loaded) {
                send(json{{"stream", line + "\n"}});
                events::publish("image", "load", line.substr(line.find(": ") + 2));
            }
        },
        "\n");
}

// GET /images/get?names=a&names=b: the query has the key twice, so it is read here from the
// target rather than from the map.
std::vector<std::string> all_values(const std::string& target, const std::string& key) {
    std::vector<std::string> out;
    auto q = target.find('?');
    if (q == std::string::npos) return out;
    std::string rest = target.substr(q + 1);
    std::istringstream in(rest);
    for (std::string pair; std::getline(in, pair, '&');) {
        auto eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq)) == key && eq != std::string::npos) out.push_back(percent_decode(pair.substr(eq + 1)));
    }
    return out;
}

void save_refs(Ctx& c, const std::vector<std::string>& refs) {
    if (refs.empty()) throw bad_request("no image names given");
    images::Store store;
    for (auto& r : refs)
        if (!store_call([&] { return store.find(r); })) throw not_found("No such image: " + r);
    int p[2];
    check(::pipe2(p, O_CLOEXEC), "pipe2(O_CLOEXEC)");
    unique_fd rd(p[0]), wr(p[1]);
    std::string error;
    std::thread writer([&, w = std::move(wr)]() mutable {
        try {
            jobs::save(refs, w.get());
        } catch (const std::exception& e) {
            error = e.what();
        }
        w.reset();
    });
    c.conn.begin_stream(http::status::ok, "application/x-tar");
    char buf[64 * 1024];
    bool ok = true;
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (ok) ok = c.conn.chunk(std::string_view(buf, static_cast<size_t>(n)));
    }
    rd.reset();
    writer.join();
    if (error.empty()) c.conn.end_stream();
}

void save(Ctx& c) { save_refs(c, all_values(std::string(c.req.target()), "names")); }
void save_one(Ctx& c) { save_refs(c, {c.param("name")}); }

// Docker's JSON progress message for one store event.
json progress_json(const images::ProgressEvent& e) {
    using K = images::ProgressEvent::Kind;
    json j = {{"status", e.message}};
    if (!e.id.empty()) j["id"] = e.id;
    if ((e.kind == K::downloading || e.kind == K::extracting || e.kind == K::pushing) && e.total > 0) {
        j["progressDetail"] = {{"current", e.current}, {"total", e.total}};
        int width = 50, filled = static_cast<int>(width * e.current / e.total);
        std::string bar = "[" + std::string(static_cast<size_t>(std::max(0, filled - 1)), '=') + (filled > 0 ? ">" : "") +
                          std::string(static_cast<size_t>(width - std::max(filled, 0)), ' ') + "]";
        auto mb = [](std::uint64_t b) {
            char s[32];
            std::snprintf(s, sizeof s, "%.2fMB", static_cast<double>(b) / 1e6);
            return std::string(s);
        };
        j["progress"] = bar + " " + mb(e.current) + "/" + mb(e.total);
    } else if (!e.id.empty()) {
        j["progressDetail"] = json::object();
    }
    return j;
}

images::RegistryOptions registry_options(const Ctx& c) {
    images::RegistryOptions o;
    o.platform = c.q("platform");
    // X-Registry-Auth: base64url JSON {"username", "password", "identitytoken", "serveraddress"}.
    std::string auth(c.req["X-Registry-Auth"]);
    if (!auth.empty()) {
        std::string b64 = auth;
        for (auto& ch : b64) {
            if (ch == '-') ch = '+';
            if (ch == '_') ch = '/';
        }
        static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string out;
        unsigned val = 0;
        int bits = -8;
        for (char ch : b64) {
            auto pos = alphabet.find(ch);
            if (pos == std::string::npos) break;
            val = (val << 6) | static_cast<unsigned>(pos);
            bits += 6;
            if (bits >= 0) {
                out += static_cast<char>((val >> bits) & 0xff);
                bits -= 8;
            }
        }
        try {
            auto j = json::parse(out);
            images::Credentials cr;
            cr.username = j.value("username", "");
            cr.password = j.value("password", "");
            cr.identity_token = j.value("identitytoken", "");
            if (!cr.username.empty() || !cr.identity_token.empty()) o.credentials = cr;
        } catch (const std::exception&) {
            // an empty or "{}" header: no credentials
        }
    }
    return o;
}

// A registry operation streamed as progress; its failure is the stream's last message
// ({"errorDetail": {"message": ...}, "error": ...}), as dockerd sends it after the 200.
template <class F>
void progress_stream(Ctx& c, F&& op) {
    json_stream(c.conn, [&](auto& send) { op([&](const images::ProgressEvent& e) { send(progress_json(e)); }, send); });
}

void create(Ctx& c) {
    std::string from = c.q("fromImage");
    if (from.empty()) throw bad_request("fromSrc (docker import) is not supported; give fromImage");
    std::string t = c.q("tag");
    std::string ref = from;
    if (!t.empty()) ref += (t.rfind("sha256:", 0) == 0 ? "@" : ":") + t;
    auto opts = registry_options(c);
    trace::hop("engine -> registry", "pull " + ref + ": manifest, config, the missing layers");
    progress_stream(c, [&](const images::ProgressFn& p, auto&) {
        jobs::pull(ref, opts, p);
        events::publish("image", "pull", ref, {{"name", ref}});
    });
}

void push(Ctx& c) {
    std::string ref = c.param("name");
    if (!c.q("tag").empty()) ref += ":" + c.q("tag");
    auto opts = registry_options(c);
    images::Store store;
    if (!store_call([&] { return store.find(ref); })) throw not_found("No such image: " + ref);
    trace::hop("engine -> registry", "push " + ref + ": the blobs the registry lacks, then the manifest");
    progress_stream(c, [&](const images::ProgressFn& p, auto& send) {
        std::string digest = jobs::push(ref, opts, p);
        send(json{{"status", ref.substr(ref.rfind(':') + 1) + ": digest: " + digest}});
        events::publish("image", "push", ref, {{"name", ref}});
    });
}

}  // namespace

void add_image_routes(Router& r) {
    using V = http::verb;
    system::hooks().images = [] {
        images::Store store;
        json out = json::array();
        for (auto& i : store.list()) out.push_back(summary(i));
        return out;
    };
    r.add(V::get, "/images/json", list);
    r.add(V::post, "/images/load", load);
    r.add(V::get, "/images/get", save);
    r.add(V::post, "/images/create", create);
    r.add(V::post, "/images/prune", prune);
    r.add(V::get, "/images/{name*}/json", inspect);
    r.add(V::get, "/images/{name*}/get", save_one);
    r.add(V::post, "/images/{name*}/tag", tag);
    r.add(V::post, "/images/{name*}/push", push);
    r.add(V::delete_, "/images/{name*}", remove);
}

}  // namespace engine
