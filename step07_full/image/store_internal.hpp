// What store.cpp, pull.cpp, push.cpp and archive.cpp share: the index file, the store's lock,
// temporary directories that are reaped when their owner dies, and the two steps that make a
// blob or a layer visible (rename(2) of a verified, complete file or directory).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store.hpp"

namespace images::detail {

inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kDockerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar";

// An exclusive flock(2) on a lock file: store/lock while the index changes, locks/<hex> while
// a layer is made. A per-layer lock file is removed when done (remove_when_done): unlinked only
// while held, and every taker checks, once it holds the lock, that the file it locked is still
// the one at the path (same device and inode); if not (the holder unlinked it, maybe someone
// made a new one), it opens the path again. So a file is never removed under a waiter's feet
// and two takers never hold two different files of the same name.
class StoreLock {
public:
    explicit StoreLock(const std::string& path, bool remove_when_done = false);
    ~StoreLock();
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;
    // Takes the lock only if it is free; nullptr when someone holds it.
    static std::unique_ptr<StoreLock> try_take(const std::string& path, bool remove_when_done = false);

private:
    StoreLock() = default;
    bool take(const std::string& path, bool wait);
    int fd_ = -1;
    std::string path_;
    bool remove_ = false;
};

// Creates store/{blobs/sha256,layers,tmp,uses} and reaps the tmp/ entries of dead owners.
void prepare(const Store& s);
// A fresh directory store/tmp/<pid>.<start>.<what>.XXXXXX (its owner in its name).
std::string make_tmp(const Store& s, const std::string& what);

// index.json: {"images": {ID: {"manifest": DIGEST, "manifest_type": T, "layers": [...],
// "repo_digests": [...]}}, "tags": {"docker.io/library/x:1": ID}}. Read without the lock (it is
// only ever replaced by rename); write only with it.
nlohmann::json read_index(const Store& s);
void write_index(const Store& s, const nlohmann::json& index);

// Moves the verified file `tmp_file` to blobs/sha256/<hex of digest>; returns the final path.
std::string commit_blob(const Store& s, const std::string& tmp_file, const std::string& digest);
// Writes `bytes` as a blob (named by their digest); returns the digest.
std::string put_blob(const Store& s, const std::string& bytes);
bool has_blob(const Store& s, const std::string& digest);

// The layer for `l` (its blob already stored): unpacked once, under a per-layer lock, into
// tmp/ and renamed to layers/<hex>; a second caller waits, then finds it there. (layers.cpp:
// the one place that unpacks, so store.cpp, all the engine links of the store, needs no libarchive.)
void ensure_layer(const Store& s, const LayerInfo& l);
bool has_layer(const Store& s, const std::string& diff_id);

// The media type of a layer blob by its compression, for a Docker (docker=true) or OCI manifest.
std::string layer_media_type(const std::string& compression, bool docker);

// Records an image whose config and manifest blobs (and layers) are stored; tags it (each
// tag a full "name:tag" or familiar form). Under the lock; checks every layer is still there.
Resolved record(const Store& s, const std::string& config_digest, const std::string& manifest_digest,
                const std::string& manifest_type, const std::vector<LayerInfo>& layers,
                const std::vector<std::string>& tags, const std::string& repo_digest, const std::string& parent = "");

// A manifest for `layers` + config bytes: Docker schema 2 when every layer is gzip, else OCI.
// Returns {manifest bytes, media type}.
std::pair<std::string, std::string> make_manifest(const std::string& config_bytes, const std::vector<LayerInfo>& layers);

// "name:tag" in canonical form for a tag the user wrote ("x" -> "docker.io/library/x:latest").
std::string canonical_tag(const std::string& text);

}  // namespace images::detail
