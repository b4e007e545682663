// OCI hooks: programs the engine asks the runtime to run at fixed points of the lifecycle,
// each given the container's state (JSON) on stdin. Docker's networking is one
// (libnetwork-setkey, a prestart hook); podman's and CRI-O's OCI hooks are others.
//
//   prestart, createRuntime   runtime namespace, after the container's namespaces exist,
//                             before pivot_root                       (create)
//   createContainer           in the container's namespaces, before pivot_root (create)
//   startContainer            in the container, before the user's process execs (start)
//   poststart                 runtime namespace, after the process started (start)
//   poststop                  runtime namespace, after the container is deleted (delete)
// A failing hook (exit != 0, or past its timeout: SIGKILL) fails the operation, except
// poststart and poststop, whose failures are warnings. See runtime-spec config.md#posix-platform-hooks.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spec.hpp"

namespace hooks {

// Runs each hook in order with `state` on stdin. `kind` names them in messages
// ("prestart"). Throws Error on the first failure (the caller decides if that is fatal).
void run_all(const std::vector<spec::Hook>& list, const nlohmann::json& state, const std::string& kind);

}  // namespace hooks
