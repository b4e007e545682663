#include "trace.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace engine::trace {
namespace {

std::atomic<bool> g_on{false};

spdlog::logger& logger() {
    // _mt: the connection threads write concurrently; one line each, never interleaved.
    static auto lg = [] {
        auto l = spdlog::stderr_color_mt("engine-trace");
        l->set_pattern("%v");
        return l;
    }();
    return *lg;
}

}  // namespace

void enable(bool on) {
    g_on = on;
    if (on) logger();
}
bool enabled() { return g_on; }

void request(std::string_view method, std::string_view target) {
    if (!g_on) return;
    logger().info("[api] {} {}", method, target);
}

void api(std::string_view method, std::string_view target, int status, long ms) {
    if (!g_on) return;
    // HEAD /_ping comes before every command: its answer is not worth a second line.
    if (method == "HEAD" && target == "/_ping") return;
    logger().info("[api] {} {} {}  ({} ms)", status, method, target, ms);
}

void hop(std::string_view from_to, std::string_view what) {
    if (!g_on) return;
    logger().info("[hop] {}: {}", from_to, what);
}

void note(std::string_view text) {
    if (!g_on) return;
    logger().info("[engine] {}", text);
}

}  // namespace engine::trace
