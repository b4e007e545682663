// What the areas' handlers share beyond one response: Docker's JSON streams (pull, push and
// load progress, stats, wait: a 200 with a chunked body of JSON objects, one per chunk) and the
// JSON-valued query parameters (filters={"status":["exited"]}).
//   moby's api/swagger.yaml (the progress and stats streams); RFC 9112 7.1 (chunked)
#pragma once

#include <nlohmann/json.hpp>

#include <exception>
#include <string>
#include <string_view>

#include "conn.hpp"
#include "errors.hpp"
#include "router.hpp"

namespace engine {

// Begins the stream and runs `produce(send)`: send(j) writes one object and `sep`, and returns
// false once the client has gone (the producer then stops). An exception from `produce` after
// the 200 is written as the stream's last object, {"errorDetail": {"message": m}, "error": m}
// (how dockerd reports a pull or load that failed once begun); then the stream ends.
template <class F>
void json_stream(Conn& conn, F&& produce, std::string_view sep = "\r\n") {
    conn.begin_stream(http::status::ok, "application/json");
    bool client = true;
    auto send = [&](const nlohmann::json& j) {
        if (client) client = conn.chunk(j.dump() + std::string(sep));
        return client;
    };
    try {
        produce(send);
    } catch (const std::exception& e) {
        send({{"errorDetail", {{"message", e.what()}}}, {"error", e.what()}});
    }
    conn.end_stream();
}

// A query parameter holding JSON ("" or absent: an empty object); 400 "invalid KEY: ..." when
// it does not parse.
inline nlohmann::json query_json(const Ctx& c, const std::string& key) {
    std::string v = c.q(key);
    if (v.empty()) return nlohmann::json::object();
    try {
        return nlohmann::json::parse(v);
    } catch (const std::exception& e) {
        throw bad_request("invalid " + key + ": " + e.what());
    }
}

}  // namespace engine
