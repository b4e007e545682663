// Builds an OCI image layout by hand: blobs named by their sha256, a manifest, an index.
#pragma once

#include <sys/stat.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oci.hpp"
#include "tar_helper.hpp"

namespace ocitest {

struct Blob {
    std::string digest;
    long size = 0;
};

// Moves `file` into DIR/blobs/sha256/<its digest>.
inline Blob add_blob_file(const std::string& layout, const std::string& file) {
    ::mkdir((layout + "/blobs").c_str(), 0755);
    ::mkdir((layout + "/blobs/sha256").c_str(), 0755);
    std::string hex = image::sha256_file(file);
    struct stat st {};
    ::stat(file.c_str(), &st);
    std::rename(file.c_str(), (layout + "/blobs/sha256/" + hex).c_str());
    return {"sha256:" + hex, static_cast<long>(st.st_size)};
}

inline Blob add_blob(const std::string& layout, const std::string& text) {
    std::string tmp = layout + "/.blob.tmp";
    tartest::write_text(tmp, text);
    return add_blob_file(layout, tmp);
}

// A layout at `dir` (created) with one layer per tarball (bottom first) and `config`.
inline nlohmann::json make_layout(const std::string& dir, const std::vector<std::string>& tarballs,
                                  const nlohmann::json& config, bool gzip_type = false) {
    ::mkdir(dir.c_str(), 0755);
    tartest::write_text(dir + "/oci-layout", R"({"imageLayoutVersion": "1.0.0"})");
    nlohmann::json cfg = {{"architecture", "amd64"}, {"os", "linux"}, {"config", config},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}}};
    Blob c = add_blob(dir, cfg.dump());
    nlohmann::json layers = nlohmann::json::array();
    for (auto& t : tarballs) {
        Blob b = add_blob_file(dir, t);
        layers.push_back({{"mediaType", gzip_type ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                                  : "application/vnd.oci.image.layer.v1.tar"},
                          {"digest", b.digest},
                          {"size", b.size}});
    }
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                               {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                           {"digest", c.digest}, {"size", c.size}}},
                               {"layers", layers}};
    Blob m = add_blob(dir, manifest.dump());
    nlohmann::json index = {{"schemaVersion", 2},
                            {"manifests", {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                            {"digest", m.digest}, {"size", m.size}}}}};
    tartest::write_text(dir + "/index.json", index.dump());
    return manifest;
}

}  // namespace ocitest
