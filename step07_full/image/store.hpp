// The content-addressed image store: every blob named by the sha256 of its bytes, every layer
// unpacked once (by its diff id, the sha256 of the uncompressed tar) and shared by all images
// that list it, names pointing at images. See the OCI image spec (image-layout.md,
// manifest.md, config.md) and workshop/09-images.md.
//
//   root_dir()/store/blobs/sha256/<hex>        manifests, configs and (compressed) layer tars
//   root_dir()/store/layers/<diffid hex>/root  the unpacked layer: one overlay lowerdir
//   root_dir()/store/layers/<diffid hex>/layer.json  {diff_id, digest, size, media_type}
//   root_dir()/store/index.json                images (id -> manifest, config, layers) and tags
//   root_dir()/store/uses/<container id>       "sha256:<image id>": a container uses the image
//   root_dir()/store/tmp/                      downloads and unpacks in progress (never visible
//                                              under a final name until verified and complete)
//   root_dir()/store/lock                      flock(2) held while index.json is changed
//   root_dir()/store/locks/<diffid hex>        flock(2) held while that layer is unpacked;
//                                              unlinked by its holder when done (never left)
//
// Every final name appears by rename(2) (index.json too: written to a temporary file first), so
// a killed pull leaves at most files in tmp/ (reaped by the next store operation), and two
// concurrent pulls sharing a layer store and unpack it once (the second finds it done).
// step06's images (root_dir()/images/NAME, e.g. busybox from scripts/make-image.sh) keep
// working: find("busybox") falls back to them when the store has no such name.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image_store.hpp"  // step06: image::Image, image::Config
#include "reference.hpp"

namespace images {

struct Resolved {
    std::string id;                      // "sha256:<hex of the config blob>"
    std::vector<std::string> repo_tags;  // "localhost:5000/x:1", "busybox:latest" (familiar form)
    std::vector<std::string> repo_digests;  // "localhost:5000/x@sha256:..." (after pull/push)
    image::Image image;                  // step06's struct: layer dirs bottom first + Config
    nlohmann::json config;               // the whole OCI/Docker image config JSON
    std::uint64_t size = 0;              // unpacked bytes of all layers (what `images` shows)
    std::string created;                 // RFC 3339, from the config ("" when unknown)
    std::string manifest_digest;         // "sha256:..." of the stored manifest ("" for step06's)
    bool legacy = false;                 // a step06 image (images/NAME), not in the store
    std::string parent;                  // the image a build step or commit started from ("" else)
    // Untagged, and the parent of another image: a build's intermediate step (its cache).
    // `docker images` hides these unless -a, as docker does; `image prune` keeps them while
    // a child needs them.
    bool intermediate = false;
};

// A layer as the store keeps it.
struct LayerInfo {
    std::string digest;      // "sha256:..." of the blob as stored (compressed or not)
    std::string diff_id;     // "sha256:..." of the uncompressed tar (config's rootfs.diff_ids)
    std::uint64_t size = 0;  // bytes of the blob
    std::string media_type;  // "application/vnd.oci.image.layer.v1.tar+gzip", ...
};

// Progress of a pull, a push or a load, one event at a time. The CLI draws bars (or prints
// lines); the engine turns each into Docker's JSON progress message
// {"status": ..., "id": ..., "progressDetail": {"current", "total"}}.
struct ProgressEvent {
    enum class Kind {
        status,       // a line for the whole operation: message ("Pulling from library/x", "Digest: ..")
        waiting,      // id queued
        downloading,  // id: current of total bytes
        verifying,    // id: digest being checked
        download_complete,
        extracting,   // id: current of total bytes (compressed bytes read)
        pull_complete,
        exists,       // id: "Already exists" (pull) / "Layer already exists" (push)
        preparing,    // push: id
        pushing,      // push: current of total
        pushed,
    };
    Kind kind = Kind::status;
    std::string id;  // the layer's short id (12 hex of its digest), "" for status
    std::uint64_t current = 0;
    std::uint64_t total = 0;
    std::string message;  // Docker's words for the event ("Downloading", "Pull complete", ...)
};
using ProgressFn = std::function<void(const ProgressEvent&)>;

// Credentials for one registry (from ~/.docker/config.json, or given by the engine from the
// X-Registry-Auth header). Never printed, never logged.
struct Credentials {
    std::string username;
    std::string password;
    std::string identity_token;  // a refresh token (docker login with a token service)
};

struct RegistryOptions {
    std::string platform;                       // "linux/amd64", "linux/arm64/v8"; "" = this machine
    std::vector<std::string> insecure_registries;  // HOST[:PORT] allowed over plain http
    std::optional<Credentials> credentials;     // given: used instead of config.json's
    std::string docker_config;                  // "": $DOCKER_CONFIG/config.json or ~/.docker/config.json
    std::string certs_dir = "/etc/docker/certs.d";  // HOST[:PORT]/ca.crt added to the system CAs
    int parallel = 3;                           // layers fetched at the same time
    std::uint64_t chunk_size = 0;               // push: 0 = monolithic PUT, else PATCH chunks of this size
};

// Result of remove() and prune(), as docker prints them ("Untagged: x:1", "Deleted: sha256:..").
struct RemoveResult {
    std::vector<std::string> untagged;
    std::vector<std::string> deleted;  // image ids, then layer diff ids
    std::uint64_t reclaimed = 0;       // bytes freed
};

class Store {
public:
    // The store under `root` (state::root_dir() by default); created on first write.
    explicit Store(std::string root = "");

    const std::string& root() const { return root_; }           // root_dir()
    std::string dir() const { return root_ + "/store"; }         // root_dir()/store
    std::string blob_path(const std::string& digest) const;      // blobs/sha256/<hex>
    std::string layer_dir(const std::string& diff_id) const;     // layers/<hex>/root

    // `ref`: name[:tag] (any form parse_reference accepts: "busybox", "docker.io/library/busybox:latest",
    // "localhost:5000/x:1"), name@sha256:..., an image id ("sha256:<hex>") or a unique id prefix
    // (at least 1 hex digit, as docker). Falls back to step06's images/NAME. nullopt when unknown;
    // Error for an ambiguous prefix or a malformed reference.
    std::optional<Resolved> find(const std::string& ref) const;
    // Like find(), Error (exit 125, "No such image: REF") when unknown.
    Resolved get(const std::string& ref) const;
    // Every image once (the store's, then step06's), newest first.
    std::vector<Resolved> list() const;
    // target (NAME[:TAG]) now names the image `src` names (docker tag). Error when src is unknown.
    void tag(const std::string& src, const std::string& target);

    // For the builder and load: a layer tar (plain, gzip or zstd: any compression libarchive
    // reads) -> its blob stored once (copied), its diff id computed, unpacked once. The file at
    // `tar_path` is left as it is.
    LayerInfo add_layer(const std::string& tar_path);
    // An image from a config (the OCI/Docker config JSON; its rootfs.diff_ids are set from
    // `layers`, "created" set when absent) + its layers bottom first (each from add_layer or
    // already in the store) + an optional tag ("" for none). Writes the config and manifest
    // blobs (Docker schema 2 media types, as docker does), records the image, returns it.
    // `parent`: the image it was made from (a build's previous step, commit's image), recorded
    // as docker records it (inspect's Parent; an untagged parent is an intermediate image).
    Resolved add_image(nlohmann::json config, const std::vector<LayerInfo>& layers, const std::string& tag,
                       const std::string& parent = "");

    // `docker load`: a docker-archive tar (manifest.json + repositories) or an OCI-archive tar
    // (oci-layout + index.json) read from `fd`. Returns what docker prints: "Loaded image: x:1"
    // or "Loaded image ID: sha256:...", one per image.
    std::vector<std::string> load(int fd, const ProgressFn& progress = {});
    // `docker save`: the images named by `refs` as one docker-archive tar written to `fd`
    // (which also holds index.json + oci-layout, so it is an OCI archive too, as docker 25 does).
    // A step06 image (busybox) is saved as legacy.hpp writes it: its layers as tars.
    void save(const std::vector<std::string>& refs, int fd);

    // `docker rmi`: untags `ref`; when the image has no tag left (or ref is an id), deletes it and
    // every layer nothing else uses. Refused (Error, exit 1 wording "conflict: unable to remove
    // ...") while a container uses it, unless `force` (then only untagged). An id with several
    // tags needs `force`, as docker.
    RemoveResult remove(const std::string& ref, bool force = false);
    // `docker image prune [-a]`: untagged images that no other image has as parent and no
    // container uses, then their untagged parents that are left without children, and so on
    // (a tagged build's intermediate steps stay: they are its cache); with `all`, every image
    // no container uses.
    RemoveResult prune(bool all = false);

    // Which containers use an image: the front end calls hold() when it creates a container
    // from image `id` and release() when it removes it; remove() refuses a held image. Records
    // of containers whose dirs are gone are ignored by users().
    void hold(const std::string& image_id, const std::string& container_id);
    void release(const std::string& container_id);
    std::vector<std::string> users(const std::string& image_id) const;

    // Registry operations (registry.hpp holds the client). pull: resolves REF (a manifest list
    // or index -> the platform's manifest, as docker), fetches the config and the missing layers
    // in parallel, each verified by digest and size while streaming, unpacks each once, then
    // records and tags the image. Error on any failure with nothing new visible.
    Resolved pull(const std::string& ref, const RegistryOptions& opts = {}, const ProgressFn& progress = {});
    // push: the image `ref` names (its registry from the name) -> blobs the registry lacks,
    // then the manifest. Returns the manifest digest ("sha256:..."). `dest` (podman's
    // DESTINATION): push the image `ref` names as this NAME[:TAG] instead ("" = ref itself).
    // A step06 image (busybox) is pushed as legacy.hpp writes it: its layers as tars.
    std::string push(const std::string& ref, const RegistryOptions& opts = {}, const ProgressFn& progress = {},
                     const std::string& dest = "");

private:
    std::string root_;
};

}  // namespace images
