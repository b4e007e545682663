#include "router.hpp"

#include <chrono>

#include "errors.hpp"
#include "trace.hpp"

namespace engine {

namespace {

constexpr const char* kMinVersion = "1.12";
constexpr const char* kMaxVersion = "1.41";

}  // namespace

int compare_versions(const std::string& a, const std::string& b) {
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        long x = 0, y = 0;
        while (i < a.size() && a[i] != '.') x = x * 10 + (a[i++] - '0');
        while (j < b.size() && b[j] != '.') y = y * 10 + (b[j++] - '0');
        if (x != y) return x < y ? -1 : 1;
        ++i, ++j;
    }
    return 0;
}

nlohmann::json Ctx::json_body() const {
    if (req.body().empty()) return nlohmann::json::object();
    try {
        return nlohmann::json::parse(req.body());
    } catch (const nlohmann::json::parse_error& e) {
        // dockerd's words for a body it cannot decode.
        throw bad_request(std::string("invalid JSON: ") + e.what());
    }
}

bool Ctx::at_least(const std::string& v) const { return compare_versions(version, v) >= 0; }

void Router::add(http::verb method, const std::string& pattern, Handler h) {
    std::string re = "^";
    std::vector<std::string> names;
    for (size_t i = 0; i < pattern.size();) {
        if (pattern[i] == '{') {
            size_t close = pattern.find('}', i);
            std::string name = pattern.substr(i + 1, close - i - 1);
            bool greedy = !name.empty() && name.back() == '*';
            if (greedy) name.pop_back();
            names.push_back(name);
            re += greedy ? "(.+)" : "([^/]+)";
            i = close + 1;
        } else {
            char c = pattern[i++];
            if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re += '\\';
            re += c;
        }
    }
    re += "$";
    routes_.push_back({method, std::regex(re), std::move(names), std::move(h)});
}

void Router::dispatch(Request& req, Conn& conn) const {
    auto t0 = std::chrono::steady_clock::now();
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    Ctx ctx{req, conn, parse_query(target), {}, kMaxVersion, ""};
    trace::request(std::string(req.method_string()), target);
    auto finish = [&] {
        long ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        trace::api(std::string(req.method_string()), target, conn.status_sent(), ms);
    };
    auto fail = [&](int status, const std::string& message) {
        if (conn.responded()) {  // a stream already under way: just end it
            conn.end_stream();
            return;
        }
        if (status == 304) {
            conn.send_empty(http::status::not_modified);
            return;
        }
        conn.send_json(static_cast<http::status>(status), {{"message", message}});
    };
    try {
        // "/v1.41/..." -> version 1.41, path "/...".
        static const std::regex versioned(R"(^/v([0-9]+\.[0-9]+)(/.*)$)");
        std::smatch m;
        if (std::regex_match(path, m, versioned)) {
            ctx.version = m[1];
            path = m[2];
            if (compare_versions(ctx.version, kMaxVersion) > 0)
                throw bad_request("client version " + ctx.version + " is too new. Maximum supported API version is " +
                                  kMaxVersion);
            if (compare_versions(ctx.version, kMinVersion) < 0)
                throw bad_request("client version " + ctx.version + " is too old. Minimum supported API version is " +
                                  kMinVersion + ", please upgrade your client to a newer version");
        }
        ctx.path = path;
        bool path_known = false;
        for (auto& r : routes_) {
            std::smatch pm;
            if (!std::regex_match(path, pm, r.re)) continue;
            path_known = true;
            if (r.method != req.method()) continue;
            for (size_t i = 0; i < r.names.size(); ++i) ctx.params[r.names[i]] = percent_decode(pm[i + 1].str());
            r.handler(ctx);
            if (!conn.responded()) conn.send_empty(http::status::no_content);
            finish();
            return;
        }
        // dockerd: an unknown route is a 404 "page not found"; a known path with the wrong
        // method too (its mux has no 405).
        (void)path_known;
        throw not_found("page not found");
    } catch (const std::exception& e) {
        fail(status_for(e), message_for(e));
    } catch (...) {
        fail(500, "internal error");
    }
    finish();
}

}  // namespace engine
