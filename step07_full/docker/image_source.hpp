// Which image a container is made from: images::Store (step07_full/image, the content-addressed
// store with registries) when it is built in, else step06's image::Store (images/NAME, busybox).
// Both end in step06's image::Image: the layer directories, bottom first, that overlayfs stacks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image_store.hpp"

namespace docker {

struct SourceImage {
    std::string id;                // "sha256:..." ("" for a step06 image)
    std::string ref;               // as the user named it
    std::vector<std::string> repo_tags;
    image::Image image;            // layers bottom first + Env/Cmd/Entrypoint/WorkingDir
    nlohmann::json config;         // the whole image config ({} for a step06 image)
    std::string stop_signal;       // config.config.StopSignal ("" = none)
    std::string user;              // config.config.User
    std::vector<std::string> exposed;  // "80/tcp"
};

// nullopt when no image has that name.
std::optional<SourceImage> find_image(const std::string& ref);
// The image's record of a container using it (images::Store::hold/release; nothing for step06).
void hold_image(const SourceImage& img, const std::string& container_id);
void release_image(const std::string& container_id);

}  // namespace docker
