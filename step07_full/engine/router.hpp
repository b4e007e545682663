// The router: method + path pattern -> handler. Paths come with or without a version prefix
// ("/v1.41/containers/json" or "/containers/json"); the prefix is checked (1.12 .. 1.41, as
// dockerd 20.10 accepts) and stripped, and the handler sees the version the client asked for.
// Patterns name their parameters: "/containers/{id}/start". Image names hold slashes, so
// "{name*}" matches across them ("/images/localhost:5000/x/tag" -> name=localhost:5000/x).
// An unknown path or method answers 404 {"message": "page not found"}, as dockerd does.
#pragma once

#include <functional>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "conn.hpp"

namespace engine {

struct Ctx {
    Request& req;
    Conn& conn;
    Query query;
    std::map<std::string, std::string> params;
    std::string version = "1.41";  // the API version in the path (or 1.41)
    std::string path;              // without the version prefix and the query

    const std::string& param(const std::string& name) const { return params.at(name); }
    std::string q(const std::string& key, const std::string& fallback = "") const {
        auto it = query.find(key);
        return it == query.end() ? fallback : it->second;
    }
    bool flag(const std::string& key, bool fallback = false) const { return query_bool(query, key, fallback); }
    // The body as JSON; an empty body is `{}`; malformed JSON is a 400 naming the parse error.
    nlohmann::json json_body() const;
    // Version comparison: at_least("1.40").
    bool at_least(const std::string& v) const;
};

using Handler = std::function<void(Ctx&)>;

class Router {
public:
    void add(http::verb method, const std::string& pattern, Handler h);
    // Finds the route and runs it; any exception becomes Docker's JSON error. Never throws.
    void dispatch(Request& req, Conn& conn) const;

private:
    struct Route {
        http::verb method;
        std::regex re;
        std::vector<std::string> names;
        Handler handler;
    };
    std::vector<Route> routes_;
};

// Every area adds its routes (system.cpp, containers.cpp, exec.cpp, images.cpp).
void add_system_routes(Router& r);
void add_container_routes(Router& r);
void add_exec_routes(Router& r);
void add_image_routes(Router& r);
void add_build_routes(Router& r);  // build.cpp: POST /build
// Live-restore (containers.cpp): at start, find the containers whose shims live on and watch
// them again (their die events, auto-remove), as dockerd --live-restore does.
void restore_containers();

// "1.41" < "1.9"? Numeric per part.
int compare_versions(const std::string& a, const std::string& b);

}  // namespace engine
