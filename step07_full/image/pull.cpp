// `pull`: reference -> manifest (or index -> the platform's manifest) -> config -> layers, each
// blob checked against its digest and size while it streams in, before anything uses it. A
// layer the store already has (by diff id) is not fetched again; a verified blob left by an
// interrupted pull is reused. Nothing gets a final name before it is verified and complete.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mutex>

#include "digest.hpp"
#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"
#include "platform.hpp"
#include "registry.hpp"
#include "store.hpp"
#include "store_internal.hpp"
#include "unique_fd.hpp"

namespace images {
namespace {

using registry::Client;
using registry::Request;
using registry::Response;

const char* kAccept =
    "Accept: application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

std::string registry_error(const Response& r) {
    // {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "..."}]} (distribution spec, "Error Codes")
    try {
        auto j = nlohmann::json::parse(r.body);
        if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty())
            return j["errors"][0].value("code", "") + ": " + j["errors"][0].value("message", "");
    } catch (const nlohmann::json::exception&) {
    }
    return "HTTP " + std::to_string(r.status);
}

struct Manifest {
    std::string bytes, digest, media_type;
    nlohmann::json j;
};

Manifest fetch_manifest(Client& c, const std::string& reference) {
    Request req;
    req.url = c.repo_url("/manifests/" + reference);
    req.headers = {kAccept};
    req.body_limit = 4 << 20;
    Response r = c.send(req);
    narrate::note("image", "GET " + req.url + " -> " + std::to_string(r.status));
    if (r.status == 404)
        throw Error("manifest for " + c.ref().familiar_name() + ":" + reference + " not found: " + registry_error(r), 1);
    if (r.status == 401 || r.status == 403)
        throw Error("pull access denied for " + c.ref().familiar_name() + ": " + registry_error(r))
            .with_hint("the repository does not exist or needs `docker login` (an auths entry in ~/.docker/config.json)");
    if (r.status != 200) throw Error("GET " + req.url + ": " + registry_error(r));
    Manifest m;
    m.bytes = r.body;
    m.digest = sha256_of(m.bytes);
    // A manifest fetched by digest must hash to it; by tag, the registry's Docker-Content-Digest must agree.
    if (reference.rfind("sha256:", 0) == 0 && m.digest != reference)
        throw Error("manifest " + reference + ": digest mismatch (the bytes hash to " + m.digest + ")");
    if (auto h = r.header("docker-content-digest"); !h.empty() && h.rfind("sha256:", 0) == 0 && h != m.digest)
        throw Error("manifest " + reference + ": the registry says " + h + " but the bytes hash to " + m.digest);
    try {
        m.j = nlohmann::json::parse(m.bytes);
    } catch (const nlohmann::json::exception& e) {
        throw Error("manifest " + reference + ": not valid JSON");
    }
    m.media_type = m.j.value("mediaType", "");
    if (m.media_type.empty()) {
        std::string ct = r.header("content-type");
        m.media_type = ct.substr(0, ct.find(';'));
    }
    if (m.media_type.empty() && m.j.contains("manifests")) m.media_type = detail::kOciIndex;
    if (m.media_type.empty()) m.media_type = detail::kOciManifest;
    return m;
}

// Streams one blob into tmp/, hashing and counting as it comes; only a verified file is renamed
// to blobs/sha256/<hex>.
void fetch_blob(Store& s, Client& c, const std::string& digest, std::int64_t size, const std::atomic<bool>& stop,
                const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
    if (detail::has_blob(s, digest)) return;
    std::string tmp = detail::make_tmp(s, "pull");
    std::string file = tmp + "/blob";
    try {
        unique_fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (fd.get() < 0) throw SysError("open(\"" + file + "\", O_CREAT|O_EXCL)", errno);
        Sha256 h;
        std::uint64_t got = 0;
        std::string why;
        Request req;
        req.url = c.repo_url("/blobs/" + digest);
        req.sink = [&](const char* data, std::size_t n) {
            if (stop) {
                why = "cancelled";
                return false;
            }
            got += n;
            if (size >= 0 && got > static_cast<std::uint64_t>(size)) {
                why = "more bytes than the " + std::to_string(size) + " its descriptor says";
                return false;
            }
            h.update(data, n);
            for (std::size_t off = 0; off < n;) {
                ssize_t w = ::write(fd.get(), data + off, n - off);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) {
                    why = std::string("write: ") + std::strerror(errno);
                    return false;
                }
                off += static_cast<std::size_t>(w);
            }
            return true;
        };
        req.progress = [&](std::uint64_t now, std::uint64_t) {
            if (progress) progress(now, size >= 0 ? static_cast<std::uint64_t>(size) : 0);
        };
        Response r;
        try {
            r = c.send(req);
        } catch (Error& e) {
            if (!why.empty()) throw Error("blob " + digest + ": " + why);
            throw;
        }
        if (r.status == 404) throw Error("blob " + digest + " is missing from the registry: " + registry_error(r));
        if (r.status != 200) throw Error("GET blob " + digest + ": " + registry_error(r));
        if (size >= 0 && got != static_cast<std::uint64_t>(size))
            throw Error("blob " + digest + ": size mismatch (" + std::to_string(got) + " bytes, expected " +
                        std::to_string(size) + ")");
        std::string computed = h.digest();
        if (computed != digest) throw Error("blob " + digest + ": digest mismatch (the bytes hash to " + computed + ")");
        narrate::note("image", "GET " + req.url + " -> " + std::to_string(r.status) + " (" + std::to_string(got) +
                                   " bytes, sha256 verified while they arrived)");
        narrate::sys({"image", "fsync(blob)", "the verified blob is on disk before it gets its name", ""},
                     [&] { return ::fsync(fd.get()); });
        detail::commit_blob(s, file, digest);
        ::rmdir(tmp.c_str());
    } catch (...) {
        ::unlink(file.c_str());
        ::rmdir(tmp.c_str());
        throw;
    }
}

std::string read_blob(const Store& s, const std::string& digest) { return files::read(s.blob_path(digest)); }

bool foreign(const std::string& media_type) {
    return media_type.find("foreign") != std::string::npos || media_type.find("nondistributable") != std::string::npos;
}

}  // namespace

Resolved Store::pull(const std::string& ref_text, const RegistryOptions& opts, const ProgressFn& progress_in) {
    Reference ref = parse_reference(ref_text);
    Platform want = opts.platform.empty() ? host_platform() : parse_platform(opts.platform);
    std::mutex progress_mu;
    auto progress = [&](ProgressEvent e) {
        if (!progress_in) return;
        std::lock_guard<std::mutex> l(progress_mu);
        progress_in(e);
    };
    auto status = [&](const std::string& msg) { progress({ProgressEvent::Kind::status, "", 0, 0, msg}); };
    detail::prepare(*this);
    Client c(ref, opts, "pull");
    status((ref.digest.empty() ? ref.tag : ref.digest) + ": Pulling from " + ref.familiar_name());
    Manifest m = fetch_manifest(c, ref.reference());
    std::string top_digest = m.digest;
    if (m.media_type == detail::kOciIndex || m.media_type == detail::kDockerList || m.j.contains("manifests")) {
        auto chosen = choose_manifest(m.j, want);
        narrate::note("image", "the index lists " + std::to_string(m.j["manifests"].size()) + " manifests; " +
                                   want.str() + " is " + chosen);
        m = fetch_manifest(c, chosen);
    }
    if (m.j.value("schemaVersion", 0) != 2 || !m.j.contains("config") || !m.j.contains("layers") || !m.j["layers"].is_array())
        throw Error("manifest " + m.digest + ": not a schema 2 image manifest (" + m.media_type + ")");
    const auto& cdesc = m.j["config"];
    std::string config_digest = cdesc.value("digest", "");
    hex_of(config_digest);
    std::vector<LayerInfo> layers;
    for (const auto& l : m.j["layers"]) {
        LayerInfo li;
        li.digest = l.value("digest", "");
        li.size = l.value("size", std::uint64_t{0});
        li.media_type = l.value("mediaType", "");
        hex_of(li.digest);
        if (foreign(li.media_type) || l.contains("urls"))
            throw Error("layer " + li.digest + " is a foreign layer (" + li.media_type +
                        "): its bytes are not in the registry, and minibox does not fetch them from elsewhere");
        layers.push_back(li);
    }
    // The config first: it names the layers' diff ids (the unpacked layers' names).
    fetch_blob(*this, c, config_digest, cdesc.value("size", std::int64_t{-1}), std::atomic<bool>{false}, {});
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(read_blob(*this, config_digest));
    } catch (const nlohmann::json::exception&) {
        throw Error("config " + config_digest + ": not valid JSON");
    }
    auto diff_ids = config.contains("rootfs") ? config["rootfs"].value("diff_ids", nlohmann::json::array()) : nlohmann::json::array();
    if (diff_ids.size() != layers.size())
        throw Error("image " + config_digest + ": the manifest lists " + std::to_string(layers.size()) +
                    " layers but the config " + std::to_string(diff_ids.size()) + " diff ids");
    for (std::size_t i = 0; i < layers.size(); i++) layers[i].diff_id = diff_ids[i].get<std::string>();
    bool up_to_date = find(config_digest).has_value();

    std::vector<registry::Job> jobs;
    for (auto& l : layers) {
        std::string id = short_id(l.digest);
        // The same tar may have come before compressed otherwise (zstd vs gzip): the unpacked
        // layer is shared, but the blob the manifest names is still fetched (push and save need it).
        if (detail::has_layer(*this, l.diff_id) && detail::has_blob(*this, l.digest)) {
            progress({ProgressEvent::Kind::exists, id, 0, 0, "Already exists"});
            continue;
        }
        progress({ProgressEvent::Kind::waiting, id, 0, l.size, "Pulling fs layer"});
        jobs.push_back([this, &c, &l, id, &progress](const std::atomic<bool>& stop) {
            fetch_blob(*this, c, l.digest, static_cast<std::int64_t>(l.size), stop, [&](std::uint64_t now, std::uint64_t total) {
                progress({ProgressEvent::Kind::downloading, id, now, total, "Downloading"});
            });
            progress({ProgressEvent::Kind::verifying, id, 0, 0, "Verifying Checksum"});
            progress({ProgressEvent::Kind::download_complete, id, 0, 0, "Download complete"});
            if (stop) return;
            // The config names the layer by its uncompressed digest: check that too, so an
            // unpacked directory's name always matches its content.
            std::string blob = blob_path(l.digest);
            std::string diff = compression_of(blob).empty() ? l.digest : diff_id_of(blob);
            if (diff != l.diff_id) {
                ::unlink(blob_path(l.digest).c_str());
                throw Error("layer " + l.digest + ": its uncompressed bytes hash to " + diff + ", the config says " + l.diff_id);
            }
            progress({ProgressEvent::Kind::extracting, id, l.size, l.size, "Extracting"});
            detail::ensure_layer(*this, l);
            progress({ProgressEvent::Kind::pull_complete, id, 0, 0, "Pull complete"});
        });
    }
    registry::run_parallel(opts.parallel, std::move(jobs));
    std::vector<std::string> tags;
    if (!ref.tag.empty()) tags.push_back(ref.name() + ":" + ref.tag);
    // The stored manifest is the one the layers came from; the repo digest names what was asked
    // for (the index's digest when an index was pulled), as docker records it.
    if (!detail::has_blob(*this, m.digest)) detail::put_blob(*this, m.bytes);
    Resolved r = detail::record(*this, config_digest, m.digest, m.media_type, layers, tags, ref.name() + "@" + top_digest);
    status("Digest: " + top_digest);
    status(up_to_date ? "Status: Image is up to date for " + ref.familiar()
                      : "Status: Downloaded newer image for " + (ref.tag.empty() ? ref.familiar_name() + "@" + ref.digest : ref.familiar()));
    return r;
}

}  // namespace images
