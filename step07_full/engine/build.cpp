// POST /build: the classic builder (what `DOCKER_BUILDKIT=0 docker build` sends). The body is
// the build context as a tar (plain or gzip); the answer is a 200 stream of JSON lines
// ({"stream": "Step 1/3 : FROM busybox\n"}, then {"aux": {"ID": ...}}), and a failure is the
// stream's last line ({"errorDetail": {...}, "error": ...}), which makes the CLI exit 1.
// The build itself is builder::build_from_tar, the same code as `step07_full build`, run in a
// minibox-engine-worker child (jobs.hpp: the engine does not link the builder's libraries).
//   moby's api/swagger.yaml, "ImageBuild"; memfd_create(2) for the body
#include <sys/mman.h>
#include <unistd.h>

#include <sstream>

#include "builder/build.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "jobs.hpp"
#include "router.hpp"
#include "trace.hpp"

namespace engine {
namespace {

using json = nlohmann::json;

// `t` is repeatable (-t a -t b): the query map keeps one value, so read them from the target.
std::vector<std::string> values_of(const std::string& target, const std::string& key) {
    std::vector<std::string> out;
    auto q = target.find('?');
    if (q == std::string::npos) return out;
    std::istringstream in(target.substr(q + 1));
    for (std::string pair; std::getline(in, pair, '&');) {
        auto eq = pair.find('=');
        if (eq != std::string::npos && percent_decode(pair.substr(0, eq)) == key) out.push_back(percent_decode(pair.substr(eq + 1)));
    }
    return out;
}

// buildargs and labels come as a JSON object of strings; a null value in buildargs means
// "take it from the client's environment", which the CLI has already done when it could.
std::map<std::string, std::string> string_map(const Ctx& c, const std::string& key) {
    std::map<std::string, std::string> out;
    std::string raw = c.q(key);
    if (raw.empty()) return out;
    json j;
    try {
        j = json::parse(raw);
    } catch (const json::exception& e) {
        throw bad_request("invalid " + key + " (JSON object expected): " + std::string(e.what()));
    }
    if (j.is_null()) return out;
    if (!j.is_object()) throw bad_request("invalid " + key + ": a JSON object expected");
    for (auto& [k, v] : j.items()) {
        if (v.is_string()) out[k] = v.get<std::string>();
        else if (!v.is_null()) throw bad_request("invalid " + key + ": the value of " + k + " is not a string");
    }
    return out;
}

builder::BuildOptions options(const Ctx& c) {
    if (!c.q("remote").empty()) throw bad_request("remote build contexts (git, URL) are not supported; send the context as a tar");
    builder::BuildOptions o;
    if (auto f = c.q("dockerfile"); !f.empty()) o.dockerfile = f;
    o.tags = values_of(std::string(c.req.target()), "t");
    o.build_args = string_map(c, "buildargs");
    o.labels = string_map(c, "labels");
    o.no_cache = c.flag("nocache");
    o.quiet = c.flag("q");
    o.target = c.q("target");
    // The CLI sends networkmode=default: the builder's RUN steps share the host's network (its
    // default here); --network none and bridge (a veth on the bridge, as Docker's) pass through.
    std::string net = c.q("networkmode", "default");
    if (net == "none" || net == "bridge") o.network = net;
    else if (net == "default" || net == "host") o.network = "host";
    else throw bad_request("network mode " + net + " is not supported for builds (default, host, bridge, none)");
    // rm / forcerm: the builder never keeps a step's container, whatever they say.
    return o;
}

void build(Ctx& c) {
    builder::BuildOptions o = options(c);  // bad parameters: a plain 400, before the stream
    // The body is in memory already; the builder reads the tar from a file descriptor: an
    // anonymous memory file holds it, as /images/load does.
    unique_fd mem(::memfd_create("docker-build-context", MFD_CLOEXEC));
    if (!mem) throw SysError("memfd_create(\"docker-build-context\", MFD_CLOEXEC)", errno);
    const std::string& body = c.req.body();
    for (size_t off = 0; off < body.size();) {
        ssize_t w = ::write(mem.get(), body.data() + off, body.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw SysError("write(memfd)", errno);
        off += static_cast<size_t>(w);
    }
    ::lseek(mem.get(), 0, SEEK_SET);

    trace::hop("engine -> builder", "build: the context unpacked, each Dockerfile step run or found in the cache");
    c.conn.begin_stream(http::status::ok, "application/json");
    bool client = true;  // once the client has gone, the build goes on (its steps clean up) unseen
    auto send = [&](const json& j) {
        if (client) client = c.conn.chunk(j.dump() + "\r\n");
    };
    try {
        builder::BuildResult r = jobs::build(o, mem.get(), [&](std::string_view text) {
            send({{"stream", std::string(text)}});
        });
        // docker build --iidfile and -q read the id from this message.
        send({{"id", "moby.image.id"}, {"aux", {{"ID", r.image_id}}}});
        for (auto& t : r.tags) events::publish("image", "tag", r.image_id, {{"name", t}});
    } catch (const std::exception& e) {
        int code = 1;
        if (auto* err = dynamic_cast<const Error*>(&e)) code = err->exit_status();
        std::string m = e.what();
        send({{"errorDetail", {{"code", code}, {"message", m}}}, {"error", m}});
    }
    c.conn.end_stream();
}

}  // namespace

void add_build_routes(Router& r) { r.add(http::verb::post, "/build", build); }

}  // namespace engine
