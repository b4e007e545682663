// What build and commit keep of an image while they add to it: its id, its whole config JSON,
// its layers as the store names them (LayerInfo) and where they are unpacked (overlay lowers).
// A step06 image (busybox from scripts/make-image.sh: a bare rootfs, no layer tar) is turned
// into one stored layer the first time something is built on it, then found in the cache.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/store.hpp"

namespace builder {

struct ImageState {
    std::string id;          // "sha256:..." ("" for scratch)
    nlohmann::json config;   // the OCI/Docker image config
    std::vector<images::LayerInfo> layers;
    std::vector<std::string> dirs;  // unpacked layers, bottom first
};

// An empty image (FROM scratch).
ImageState scratch();
ImageState state_of(images::Store& store, const images::Resolved& r);

// The upper directory -> a layer in the store (the tar is written to a temporary file first).
images::LayerInfo store_upper(images::Store& store, const std::string& upper);

// Appends to config["history"] and sets "created" (what `docker history` shows).
void add_history(nlohmann::json& config, const std::string& created_by, bool empty_layer, const std::string& comment = "");

// Stores the image: config + layers, untagged; the state then names the new image.
void commit_state(images::Store& store, ImageState& st);

std::string short_id(const std::string& id);  // "sha256:abc..." -> 12 hex
std::string now_rfc3339();

}  // namespace builder
