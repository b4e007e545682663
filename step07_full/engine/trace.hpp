// --trace: each API call and each hop (engine -> shim -> runtime) printed as it happens, so a
// learner watches the seed's flow live:
//   [api] POST /v1.41/containers/create?name=web
//   [api] 201 POST /v1.41/containers/create?name=web  (14 ms)
//   [hop] engine -> docker::create: bundle, config.json, shim under the exec root
// Thread-safe (one spdlog logger shared by the connection threads), quiet without --trace.
#pragma once

#include <string_view>

namespace engine::trace {

void enable(bool on);
bool enabled();
// A request as it arrives (the order a learner wants to see: attach and wait come before
// start), and its outcome when it is answered.
void request(std::string_view method, std::string_view target);
void api(std::string_view method, std::string_view target, int status, long ms);
// A hop to another process or module: "engine -> shim", what and why.
void hop(std::string_view from_to, std::string_view what);
// Anything else the engine does that a learner should see (live-restore, an event).
void note(std::string_view text);

}  // namespace engine::trace
