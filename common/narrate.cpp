#include "narrate.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <memory>

namespace narrate {
namespace {

Mode g_mode = Mode::quiet;
pid_t g_pid = -1;
std::string g_program = "minibox";

// One logger per layer, all writing to stderr without timestamps: "[uts] ...".
std::shared_ptr<spdlog::logger> logger_for(std::string_view layer) {
    std::string name(layer);
    if (auto existing = spdlog::get(name)) return existing;
    auto lg = spdlog::stderr_color_st(name);
    lg->set_pattern("%^[%n]%$ %v");
    return lg;
}

std::string with_pid(std::string text) {
    const std::string key = "{pid}";
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos)) {
        text.replace(pos, key.size(), std::to_string(g_pid));
    }
    return text;
}

}  // namespace

void set_mode(Mode m) { g_mode = m; }
Mode mode() { return g_mode; }
void set_container_pid(pid_t pid) { g_pid = pid; }

void before(const Op& op) {
    if (g_mode != Mode::step) return;
    auto lg = logger_for(op.layer);
    lg->info("next: {}", op.call);
    lg->info("      {}", op.why);
    if (!op.observe.empty()) lg->info("      on the host: {}", with_pid(op.observe));
    lg->info("      press Enter to continue");
    // Read up to the end of the line, straight from fd 0 (no stdio buffering: the same
    // terminal is read by the container afterwards).
    for (char c = 0; c != '\n';) {
        ssize_t n = ::read(STDIN_FILENO, &c, 1);
        if (n == 0) throw Error("--step: end of input while waiting for Enter");
        if (n < 0) {
            if (errno == EINTR) throw Error("--step: interrupted");
            throw SysError("read(stdin)", errno);
        }
    }
}

void after(const Op& op, std::string_view result) {
    if (g_mode == Mode::quiet) return;
    logger_for(op.layer)->info("{} = {}  - {}", op.call, result, op.why);
}

void note(std::string_view layer, std::string_view text) {
    if (g_mode == Mode::quiet) return;
    logger_for(layer)->info("{}", text);
}

void set_program(std::string_view name) { g_program = std::string(name); }

void error(std::string_view text) {
    auto lg = logger_for(g_program);
    lg->set_pattern("%n: %v");
    lg->error("{}", text);
}

void warn(std::string_view text) {
    auto lg = logger_for(g_program);
    lg->set_pattern("%n: warning: %v");
    lg->warn("{}", text);
}

}  // namespace narrate
