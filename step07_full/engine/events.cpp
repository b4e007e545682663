#include "events.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

#include "trace.hpp"

namespace engine::events {
namespace {

std::mutex g_mu;
std::condition_variable g_cv;
std::deque<Event> g_log;
std::uint64_t g_seq = 0;
constexpr size_t kKeep = 1024;

}  // namespace

void publish(const std::string& type, const std::string& action, const std::string& id,
             std::map<std::string, std::string> attributes) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    std::int64_t nano = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
    nlohmann::json attrs = nlohmann::json::object();
    for (auto& [k, v] : attributes) attrs[k] = v;
    nlohmann::json j = {{"Type", type},
                        {"Action", action},
                        {"Actor", {{"ID", id}, {"Attributes", attrs}}},
                        {"scope", "local"},
                        {"time", nano / 1000000000},
                        {"timeNano", nano}};
    // The fields of the API before 1.22, which the CLI still reads for containers and images.
    if (type == "container" || type == "image") {
        j["status"] = action;
        j["id"] = id;
        if (attributes.count("image")) j["from"] = attributes["image"];
    }
    trace::note("event " + type + " " + action + " " + id.substr(0, 12));
    {
        std::lock_guard lk(g_mu);
        g_log.push_back({++g_seq, nano, std::move(j)});
        if (g_log.size() > kKeep) g_log.pop_front();
    }
    g_cv.notify_all();
}

std::vector<Event> after(std::uint64_t seq, std::chrono::milliseconds timeout) {
    std::unique_lock lk(g_mu);
    g_cv.wait_for(lk, timeout, [&] { return g_seq > seq; });
    std::vector<Event> out;
    for (auto& e : g_log)
        if (e.seq > seq) out.push_back(e);
    return out;
}

std::uint64_t last_seq() {
    std::lock_guard lk(g_mu);
    return g_seq;
}

std::vector<Event> history() {
    std::lock_guard lk(g_mu);
    return {g_log.begin(), g_log.end()};
}

namespace {

// A filter value list: ["a","b"] (API >= 1.22 sends {"a":true}).
std::vector<std::string> values(const nlohmann::json& v) {
    std::vector<std::string> out;
    if (v.is_array()) {
        for (auto& s : v)
            if (s.is_string()) out.push_back(s.get<std::string>());
    } else if (v.is_object()) {
        for (auto& [k, on] : v.items())
            if (!on.is_boolean() || on.get<bool>()) out.push_back(k);
    }
    return out;
}

}  // namespace

bool matches(const nlohmann::json& filters, const Event& e) {
    if (!filters.is_object()) return true;
    const auto& j = e.json;
    std::string id = j["Actor"]["ID"].get<std::string>();
    const auto& attrs = j["Actor"]["Attributes"];
    auto attr = [&](const char* k) { return attrs.contains(k) ? attrs[k].get<std::string>() : std::string(); };
    for (auto& [key, v] : filters.items()) {
        auto want = values(v);
        if (want.empty()) continue;
        bool ok = false;
        for (auto& w : want) {
            if (key == "type") ok |= j["Type"] == w;
            else if (key == "event") ok |= j["Action"] == w;
            else if (key == "container" || key == "image") {
                if ((key == "container") != (j["Type"] == "container") && key == "container") continue;
                ok |= id == w || (w.size() >= 3 && id.rfind(w, 0) == 0) || attr("name") == w ||
                      (key == "image" && attr("image") == w);
            } else if (key == "label") {
                auto eq = w.find('=');
                std::string k = w.substr(0, eq);
                ok |= attrs.contains(k) && (eq == std::string::npos || attr(k.c_str()) == w.substr(eq + 1));
            } else {
                ok = true;  // a filter we do not know narrows nothing
            }
        }
        if (!ok) return false;
    }
    return true;
}

}  // namespace engine::events
