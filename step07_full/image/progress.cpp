#include "progress.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <vector>

namespace images {

std::string docker_size(std::uint64_t bytes) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
    return buf;
}

namespace {

struct Printer {
    std::FILE* out;
    bool tty;
    std::vector<std::string> order;  // ids, in the order they appeared
    std::map<std::string, std::string> line;
    std::map<std::string, std::string> last_plain;
    std::map<std::string, std::chrono::steady_clock::time_point> started;
    int drawn = 0;  // lines of the block drawn so far
    std::chrono::steady_clock::time_point last_draw{};

    std::string bar(const ProgressEvent& e) {
        if (e.total == 0) return e.message;
        int width = 50, filled = static_cast<int>(width * std::min<double>(1.0, double(e.current) / double(e.total)));
        std::string b = "[";
        for (int i = 0; i < width; i++) b += i < filled ? (i + 1 == filled ? '>' : '=') : ' ';
        b += "]";
        auto& t0 = started[e.id];
        auto now = std::chrono::steady_clock::now();
        if (t0.time_since_epoch().count() == 0) t0 = now;
        double secs = std::chrono::duration<double>(now - t0).count();
        std::string rate = secs > 0.2 ? "  " + docker_size(static_cast<std::uint64_t>(double(e.current) / secs)) + "/s" : "";
        return e.message + " " + b + "  " + docker_size(e.current) + "/" + docker_size(e.total) + rate;
    }

    void redraw() {
        if (drawn > 0) std::fprintf(out, "\033[%dA", drawn);
        for (const auto& id : order) std::fprintf(out, "\033[2K\r%s: %s\n", id.c_str(), line[id].c_str());
        drawn = static_cast<int>(order.size());
        std::fflush(out);
    }

    void operator()(const ProgressEvent& e) {
        if (e.id.empty()) {
            // A line for the whole operation: below the block on a terminal (the block is done).
            if (tty) drawn = 0, order.clear(), line.clear();
            std::fprintf(out, "%s\n", e.message.c_str());
            std::fflush(out);
            return;
        }
        bool moving = e.kind == ProgressEvent::Kind::downloading || e.kind == ProgressEvent::Kind::pushing ||
                      e.kind == ProgressEvent::Kind::extracting;
        if (!tty) {
            // Plain: each change of state once, never the byte counts.
            if (last_plain[e.id] == e.message) return;
            last_plain[e.id] = e.message;
            std::fprintf(out, "%s: %s\n", e.id.c_str(), e.message.c_str());
            std::fflush(out);
            return;
        }
        bool fresh = !line.count(e.id);
        if (fresh) order.push_back(e.id);
        line[e.id] = moving ? bar(e) : e.message;
        // Bytes arrive thousands of times a second on a fast link: redraw at most 10 times.
        auto now = std::chrono::steady_clock::now();
        if (moving && !fresh && now - last_draw < std::chrono::milliseconds(100)) return;
        last_draw = now;
        redraw();
    }
};

}  // namespace

ProgressFn make_printer(std::FILE* out, bool tty) {
    auto p = std::make_shared<Printer>();
    p->out = out;
    p->tty = tty;
    return [p](const ProgressEvent& e) { (*p)(e); };
}

}  // namespace images
