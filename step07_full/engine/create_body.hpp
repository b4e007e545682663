// POST /containers/create: Docker's body (Config + HostConfig + NetworkingConfig, as the CLI
// sends it for `docker create/run`) -> docker::RunOptions, the struct `step07_full run`'s flags
// fill too. Fields we cannot honour are refused with 400 rather than silently dropped.
//   moby's api/swagger.yaml: ContainerConfig, HostConfig, NetworkingConfig
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "docker/options.hpp"

namespace engine {

// Throws ApiError 400 naming the field for a malformed or unsupported one.
docker::RunOptions options_from_create(const nlohmann::json& body, const std::string& name);

}  // namespace engine
