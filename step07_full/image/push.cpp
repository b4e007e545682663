// `push`: the blobs first (each layer and the config: HEAD to ask whether the registry has it,
// else POST an upload and PUT it, whole or in PATCH chunks), the manifest last, byte for byte
// as stored, so its digest is the same on both sides and a pull gets the very same image.
#include <sys/stat.h>

#include "digest.hpp"
#include "error.hpp"
#include "files.hpp"
#include "legacy.hpp"
#include "narrate.hpp"
#include "registry.hpp"
#include "store.hpp"
#include "store_internal.hpp"

namespace images {
namespace {

using registry::Client;
using registry::Request;
using registry::Response;

std::string absolute(const Client& c, const std::string& location) {
    if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
    return c.base() + location;
}

std::string with_query(const std::string& url, const std::string& kv) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

// Returns true when the registry mounted the blob from repository `from` (same registry): no
// bytes sent. Otherwise uploads it.
bool upload_blob(Client& c, const std::string& file, const std::string& digest, std::uint64_t size,
                 std::uint64_t chunk, const std::string& from,
                 const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
    Request start;
    start.method = "POST";
    start.url = c.repo_url("/blobs/uploads/");
    // A cross-repository mount: the registry links the blob it has under `from` (201), or
    // answers with an ordinary upload session (202) when it cannot.
    if (!from.empty()) start.url += "?mount=" + digest + "&from=" + from;
    Response r = c.send(start);
    narrate::note("image", "POST " + start.url + " -> " + std::to_string(r.status) +
                               (r.status == 201 ? " (mounted, no bytes sent)" : " (an upload session)"));
    if (r.status == 201 && !from.empty()) return true;
    if (r.status == 401 || r.status == 403)
        throw Error("push to " + c.ref().name() + " denied (" + std::to_string(r.status) + ")")
            .with_hint("log in: an auths entry in ~/.docker/config.json");
    if (r.status != 202) throw Error("POST " + start.url + ": HTTP " + std::to_string(r.status) + " " + r.body);
    std::string location = absolute(c, r.header("location"));
    if (chunk > 0) {
        for (std::uint64_t off = 0; off < size; off += chunk) {
            Request p;
            p.method = "PATCH";
            p.url = location;
            p.has_body = true;
            p.upload_file = file;
            p.upload_offset = off;
            p.upload_size = std::min(chunk, size - off);
            p.headers = {"Content-Type: application/octet-stream",
                         "Content-Range: " + std::to_string(off) + "-" + std::to_string(off + p.upload_size - 1)};
            p.progress = [&, off](std::uint64_t now, std::uint64_t) {
                if (progress) progress(off + now, size);
            };
            Response pr = c.send(p);
            if (pr.status != 202) throw Error("PATCH " + location + ": HTTP " + std::to_string(pr.status) + " " + pr.body);
            location = absolute(c, pr.header("location"));
        }
        Request fin;
        fin.method = "PUT";
        fin.url = with_query(location, "digest=" + digest);
        fin.has_body = true;  // empty: every byte went in the chunks
        fin.headers = {"Content-Type: application/octet-stream"};
        Response fr = c.send(fin);
        if (fr.status != 201) throw Error("PUT " + digest + ": HTTP " + std::to_string(fr.status) + " " + fr.body);
        return false;
    }
    Request put;
    put.method = "PUT";
    put.url = with_query(location, "digest=" + digest);
    put.has_body = true;
    put.upload_file = file;
    put.upload_size = size;
    put.headers = {"Content-Type: application/octet-stream"};
    put.progress = progress;
    Response pr = c.send(put);
    if (pr.status != 201) throw Error("PUT " + digest + ": HTTP " + std::to_string(pr.status) + " " + pr.body);
    return false;
}

}  // namespace

std::string Store::push(const std::string& ref_text, const RegistryOptions& opts, const ProgressFn& progress_in,
                        const std::string& dest) {
    Reference ref = parse_reference(dest.empty() ? ref_text : dest);
    if (!ref.digest.empty()) throw Error("push " + (dest.empty() ? ref_text : dest) + ": push a tag, not a digest");
    Resolved img = get(ref_text);
    // A step06 image: its layers written as tars in a temporary directory (legacy.hpp).
    std::unique_ptr<detail::Materialized> made;
    if (img.legacy) made = detail::materialize(*this, img);
    auto file_of = [&](const std::string& digest) { return made ? made->file_of(digest) : blob_path(digest); };
    std::mutex mu;
    auto progress = [&](ProgressEvent e) {
        if (!progress_in) return;
        std::lock_guard<std::mutex> l(mu);
        progress_in(e);
    };
    progress({ProgressEvent::Kind::status, "", 0, 0, "The push refers to repository [" + ref.familiar_name() + "]"});
    auto index = detail::read_index(*this);
    std::vector<LayerInfo> blobs;
    std::string config_digest = made ? made->config_digest : img.id;
    std::string manifest_digest = made ? made->manifest_digest : img.manifest_digest;
    std::string manifest_type = made ? made->manifest_type
                                     : index["images"][img.id].value("manifest_type", std::string(detail::kDockerManifest));
    if (made) blobs = made->layers;
    else
        for (const auto& l : index["images"][img.id]["layers"])
            blobs.push_back({l.value("digest", ""), l.value("diff_id", ""), l.value("size", std::uint64_t{0}), l.value("media_type", "")});
    struct stat st {};
    ::stat(file_of(config_digest).c_str(), &st);
    blobs.push_back({config_digest, config_digest, static_cast<std::uint64_t>(st.st_size), "config"});

    // Another repository of the same registry that has this image (from its repo digests):
    // its blobs can be mounted instead of sent again.
    std::string mount_from;
    for (const auto& d : img.repo_digests) {
        try {
            Reference other = parse_reference(d);
            if (other.domain == ref.domain && other.path != ref.path) mount_from = other.path;
        } catch (const Error&) {
        }
    }
    Client c(ref, opts, "pull,push");
    std::vector<registry::Job> jobs;
    for (const auto& b : blobs) {
        bool is_config = b.media_type == "config";
        std::string id = short_id(b.digest);
        if (!is_config) progress({ProgressEvent::Kind::preparing, id, 0, 0, "Preparing"});
        jobs.push_back([&, b, id, is_config](const std::atomic<bool>& stop) {
            if (stop) return;
            Request head;
            head.method = "HEAD";
            head.url = c.repo_url("/blobs/" + b.digest);
            Response h = c.send(head);
            narrate::note("image", "HEAD " + head.url + " -> " + std::to_string(h.status));
            if (h.status == 200) {
                if (!is_config) progress({ProgressEvent::Kind::exists, id, 0, 0, "Layer already exists"});
                return;
            }
            bool mounted = upload_blob(c, file_of(b.digest), b.digest, b.size, opts.chunk_size, mount_from,
                                       [&](std::uint64_t now, std::uint64_t total) {
                                           if (!is_config) progress({ProgressEvent::Kind::pushing, id, now, total, "Pushing"});
                                       });
            if (!is_config)
                progress({ProgressEvent::Kind::pushed, id, 0, 0, mounted ? "Mounted from " + mount_from : "Pushed"});
        });
    }
    registry::run_parallel(opts.parallel, std::move(jobs));

    std::string manifest = files::read(file_of(manifest_digest));
    if (manifest.empty()) throw Error("image " + img.id + ": its manifest blob is missing");
    Request put;
    put.method = "PUT";
    put.url = c.repo_url("/manifests/" + ref.tag);
    put.has_body = true;
    put.upload_data = manifest;
    put.headers = {"Content-Type: " + manifest_type};
    Response r = c.send(put);
    narrate::note("image", "PUT " + put.url + " -> " + std::to_string(r.status) + " (the manifest, last)");
    if (r.status != 201) throw Error("PUT manifest " + ref.familiar() + ": HTTP " + std::to_string(r.status) + " " + r.body);
    std::string digest = manifest_digest;
    if (auto h = r.header("docker-content-digest"); !h.empty() && h != digest)
        throw Error("the registry stored the manifest as " + h + ", not " + digest);
    if (!made) {  // a step06 image has no record in the index to keep its repo digest
        detail::StoreLock lock(dir() + "/lock");
        auto idx = detail::read_index(*this);
        auto& rd = idx["images"][img.id]["repo_digests"];
        std::string name = ref.name() + "@" + digest;
        if (!rd.is_array()) rd = nlohmann::json::array();
        if (std::find(rd.begin(), rd.end(), name) == rd.end()) rd.push_back(name);
        detail::write_index(*this, idx);
    }
    progress({ProgressEvent::Kind::status, "", 0, 0,
              ref.tag + ": digest: " + digest + " size: " + std::to_string(manifest.size())});
    return digest;
}

}  // namespace images
