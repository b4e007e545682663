// What the container and exec areas share: the one docker::Manager the engine calls (the same
// class `step07_full run/ps/logs/...` uses, so there is no second implementation), and the
// watchers that turn a container's exit into a "die" event (and --rm into its removal).
#pragma once

#include <string>

#include "docker/manager.hpp"

namespace engine {

docker::Manager& manager();
// Watches a started container until it stops: publishes "die" with its exit code, removes it
// when it was created with AutoRemove (--rm). At most one watcher per container.
void watch(const std::string& id);
// Runs `f`, turning the docker module's typed errors into the engine's ApiError (status codes).
template <class F>
auto mapped(F&& f) -> decltype(f());
[[noreturn]] void rethrow_mapped();

template <class F>
auto mapped(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (...) {
        rethrow_mapped();
    }
}

}  // namespace engine
