// The engine's event bus: what `docker events` shows (container create, start, die, destroy,
// ... and image pull, tag, delete). Handlers publish; each GET /events subscriber reads the
// events after its own position. The last 1024 events are kept for `--since`.
//   moby's api/swagger.yaml, "EventMessage"; dockerd's daemon/events/events.go
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace engine::events {

struct Event {
    std::uint64_t seq = 0;
    std::int64_t time_nano = 0;
    nlohmann::json json;  // Docker's EventMessage
};

// type "container" / "image" / "network"; action "create", "start", "die", ...; attributes
// ("name", "image", "exitCode").
void publish(const std::string& type, const std::string& action, const std::string& id,
             std::map<std::string, std::string> attributes = {});

// Events with seq > after, waiting up to `timeout` for one to come.
std::vector<Event> after(std::uint64_t after, std::chrono::milliseconds timeout);
// The seq of the newest event (0 when none).
std::uint64_t last_seq();
// Events kept, oldest first (for --since).
std::vector<Event> history();

// Docker's event filters ({"type":["container"],"event":["die"],"container":["web"]}); true
// when `e` passes them all.
bool matches(const nlohmann::json& filters, const Event& e);

}  // namespace engine::events
