// The docker module's errors, typed so that the engine maps them to HTTP status codes without
// reading their text, and the CLI to docker's exit codes. All are common/error.hpp's Error.
#pragma once

#include <string>
#include <utility>

#include "error.hpp"

namespace docker {

// Typed errors, so the engine maps them to HTTP status codes without reading the text:
// NotFound -> 404 (exit 1 in the CLI), Conflict -> 409, BadRequest -> 400 (both exit 125).
// Any other Error is the tool's own failure (500, exit 125).
// Exit 1 for a container (docker's), 125 for an image `run` cannot find (docker run's).
struct NotFound : Error {
    explicit NotFound(std::string m, int exit = 1) : Error(std::move(m), exit) {}
};
struct Conflict : Error {
    explicit Conflict(std::string m) : Error(std::move(m), exit_code::tool_failed) {}
};
struct BadRequest : Error {
    explicit BadRequest(std::string m) : Error(std::move(m), exit_code::tool_failed) {}
};

}  // namespace docker
