#include "filters.hpp"

#include <regex>
#include <set>

namespace docker {
namespace {

const std::set<std::string> kKeys = {"ancestor", "before", "exited", "id", "label", "name", "since", "status"};
// Docker's other keys: valid for dockerd, not kept by our records.
const std::set<std::string> kUnsupported = {"expose", "health", "isolation", "is-task", "network", "publish", "volume"};
const std::set<std::string> kStates = {"created", "restarting", "running", "removing", "paused", "exited", "dead"};

// An unanchored regular expression, as Docker's filters.Args.Match; a value that is not one
// (e.g. "a[") is compared as plain text.
bool regex_match(const std::string& pattern, const std::string& text) {
    if (text.find(pattern) != std::string::npos) return true;
    try {
        return std::regex_search(text, std::regex(pattern, std::regex::ECMAScript));
    } catch (const std::regex_error&) {
        return false;
    }
}

bool is_int(const std::string& s) {
    if (s.empty() || s.size() > 10) return false;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

// An image reference as docker writes it: "busybox" is "busybox:latest".
std::string with_tag(const std::string& ref) {
    if (ref.find('@') != std::string::npos) return ref;
    auto slash = ref.rfind('/');
    auto colon = ref.rfind(':');
    if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return ref + ":latest";
    return ref;
}

bool ancestor_matches(const std::string& want, const Summary& s) {
    if (with_tag(want) == with_tag(s.image)) return true;
    std::string hex = s.image_id.starts_with("sha256:") ? s.image_id.substr(7) : s.image_id;
    std::string w = want.starts_with("sha256:") ? want.substr(7) : want;
    return !hex.empty() && w.size() >= 3 && hex.starts_with(w);
}

// before/since: the container named (name, id or id prefix) of the list.
const Summary& named(const std::string& ref, const std::vector<Summary>& all) {
    for (auto& c : all)
        if (c.name == ref || c.id == ref) return c;
    for (auto& c : all)
        if (ref.size() >= 3 && c.id.starts_with(ref)) return c;
    throw NotFound("No such container: " + ref);
}

// Creation order: the nanosecond times when both have one (containers made in one second).
bool created_before(const Summary& a, const Summary& b) {
    if (!a.created_at.empty() && !b.created_at.empty()) return a.created_at < b.created_at;
    return a.created < b.created;
}

bool one_matches(const std::string& key, const std::string& v, const Summary& s, const std::vector<Summary>& all) {
    if (key == "id") return regex_match(v, s.id);
    if (key == "name") return regex_match(v, "/" + s.name);
    if (key == "status") return s.state == v;
    if (key == "exited") return s.state == "exited" && !s.foreign && std::to_string(s.exit_code) == v;
    if (key == "ancestor") return ancestor_matches(v, s);
    if (key == "before") return created_before(s, named(v, all));
    if (key == "since") return created_before(named(v, all), s);
    if (key == "label") {
        auto eq = v.find('=');
        auto it = s.labels.find(v.substr(0, eq));
        return it != s.labels.end() && (eq == std::string::npos || it->second == v.substr(eq + 1));
    }
    return false;
}

}  // namespace

Filters filters_from_flags(const std::vector<std::string>& flags) {
    Filters f;
    for (auto& a : flags) {
        auto eq = a.find('=');
        if (eq == std::string::npos || eq == 0) throw BadRequest("bad format of filter (expected name=value)");
        std::string key = a.substr(0, eq);
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        f[key].push_back(a.substr(eq + 1));
    }
    return f;
}

Filters filters_from_json(const nlohmann::json& j) {
    Filters f;
    if (j.is_null()) return f;
    if (!j.is_object()) throw BadRequest("invalid filter: the filters are not a JSON object");
    for (auto& [k, v] : j.items()) {
        auto& out = f[k];
        if (v.is_array()) {
            for (auto& s : v)
                if (s.is_string()) out.push_back(s.get<std::string>());
        } else if (v.is_object()) {
            for (auto& [value, on] : v.items())
                if (!on.is_boolean() || on.get<bool>()) out.push_back(value);
        } else {
            throw BadRequest("invalid filter: the values of '" + k + "' are neither a list nor an object");
        }
    }
    return f;
}

nlohmann::json filters_to_json(const Filters& f) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [k, vs] : f)
        for (auto& v : vs) j[k][v] = true;
    return j;
}

void check_filters(const Filters& f) {
    for (auto& [key, values] : f) {
        if (kUnsupported.count(key)) throw BadRequest("filter '" + key + "' is not supported here (the records keep no " + key + ")");
        if (!kKeys.count(key)) throw BadRequest("Invalid filter '" + key + "'");
        for (auto& v : values) {
            if (key == "status" && !kStates.count(v)) throw BadRequest("Unrecognised filter value for status: " + v);
            if (key == "exited" && !is_int(v)) throw BadRequest("Invalid filter 'exited=" + v + "'");
        }
    }
}

bool filters_need_all(const Filters& f) {
    return f.count("exited") > 0 || (f.count("status") > 0 && !f.at("status").empty());
}

bool matches(const Filters& f, const Summary& s, const std::vector<Summary>& all) {
    for (auto& [key, values] : f) {
        if (values.empty()) continue;
        bool ok = false;
        if (key == "label") {
            // Every label given must be there (Docker's MatchKVList).
            ok = true;
            for (auto& v : values) ok = ok && one_matches(key, v, s, all);
        } else {
            for (auto& v : values) ok = ok || one_matches(key, v, s, all);
        }
        if (!ok) return false;
    }
    return true;
}

std::vector<Summary> apply_filters(const Filters& f, const std::vector<Summary>& every, bool all) {
    check_filters(f);
    all = all || filters_need_all(f);
    std::vector<Summary> out;
    for (auto& s : every) {
        bool up = s.state == "running" || s.state == "paused" || s.state == "restarting";
        if ((all || up) && matches(f, s, every)) out.push_back(s);
    }
    return out;
}

}  // namespace docker
