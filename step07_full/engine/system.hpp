// The system area: /_ping (what the CLI asks first, to learn the API version to speak),
// /version, /info, /events (a stream of JSON objects), /system/df. The counts and sizes come
// from the container and image areas through these hooks, so this file needs neither module.
//   moby's api/swagger.yaml: SystemPing, SystemVersion, SystemInfo, SystemEvents, SystemDataUsage
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace engine::system {

struct Hooks {
    // ContainerSummary objects (with SizeRw, SizeRootFs) for ps-like counts and df.
    std::function<nlohmann::json()> containers;
    // ImageSummary objects.
    std::function<nlohmann::json()> images;
    // Volume objects with UsageData (system df's "Local Volumes").
    std::function<nlohmann::json()> volumes;
};
Hooks& hooks();

// What /info reports about the engine's configuration.
struct Config {
    std::string data_root;  // images and container records ($MINIBOX_ROOT)
    std::string exec_root;  // bundles, shim sockets ($MINIBOX_RUN)
    std::string runtime;    // the OCI runtime the shims run: step07_full
    bool live_restore = true;
};
Config& config();

// Unix seconds (with fractions) from Docker's --since/--until forms: "1700000000.5",
// "2024-01-01T00:00:00Z" (RFC 3339). Throws ApiError 400 for anything else.
double parse_time(const std::string& s);

}  // namespace engine::system
