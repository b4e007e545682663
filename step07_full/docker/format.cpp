#include "format.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "errors.hpp"

namespace docker::format {
namespace {

using json = nlohmann::json;

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Go's fmt of a value: strings raw, maps as map[k:v ...], slices as [a b].
std::string go_value(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "<nil>";
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_float()) {
        std::ostringstream o;
        o << v.get<double>();
        return o.str();
    }
    if (v.is_number()) return v.dump();
    if (v.is_array()) {
        std::string out = "[";
        for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + go_value(v[i]);
        return out + "]";
    }
    std::string out = "map[";
    bool first = true;
    for (auto& [k, x] : v.items()) {  // nlohmann orders keys as Go's fmt does (sorted)
        out += (first ? "" : " ") + k + ":" + go_value(x);
        first = false;
    }
    return out + "]";
}

const json* lookup(const json& data, const std::string& path) {
    if (path == ".") return &data;
    if (path.empty() || path[0] != '.') return nullptr;
    const json* cur = &data;
    std::istringstream parts(path.substr(1));
    for (std::string part; std::getline(parts, part, '.');) {
        if (!cur->is_object()) return nullptr;
        auto it = cur->find(part);
        if (it == cur->end()) return nullptr;
        cur = &*it;
    }
    return cur;
}

std::vector<std::string> words(const std::string& expr) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (char c : expr) {
        if (c == '"') {
            quoted = !quoted;
            cur += c;
        } else if (!quoted && (c == ' ' || c == '\t')) {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (quoted) throw BadRequest("template: :1: unterminated quoted string");
    if (!cur.empty()) out.push_back(cur);
    return out;
}

std::string eval(const std::string& expr, const json& data) {
    auto w = words(expr);
    if (w.empty()) throw BadRequest("template: :1: missing value for command");
    auto value_of = [&](const std::string& path) -> const json* {
        if (path.empty() || path[0] != '.') throw BadRequest("template: :1: function \"" + path + "\" not defined");
        return lookup(data, path);
    };
    if (w[0] == "json") {
        if (w.size() != 2) throw BadRequest("template: :1: wrong number of args for json: want 1 got " + std::to_string(w.size() - 1));
        const json* v = value_of(w[1]);
        return v ? v->dump() : "null";
    }
    if (w[0] == "index") {
        if (w.size() != 3) throw BadRequest("template: :1: wrong number of args for index");
        const json* v = value_of(w[1]);
        std::string key = w[2];
        if (key.size() >= 2 && key.front() == '"') key = key.substr(1, key.size() - 2);
        if (!v) return "<no value>";
        if (v->is_object() && v->contains(key)) return go_value((*v)[key]);
        if (v->is_array() && !key.empty() && std::all_of(key.begin(), key.end(), ::isdigit) && std::stoul(key) < v->size())
            return go_value((*v)[std::stoul(key)]);
        return "<no value>";
    }
    if (w[0] == "upper" || w[0] == "lower") {
        if (w.size() != 2) throw BadRequest("template: :1: wrong number of args for " + w[0]);
        const json* v = value_of(w[1]);
        std::string s = v ? go_value(*v) : "<no value>";
        for (auto& c : s) c = static_cast<char>(w[0] == "upper" ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
        return s;
    }
    if (w[0] == ".Label" && w.size() == 2 && data.contains("LabelMap")) {
        // docker ps's {{.Label "KEY"}}: a method of its row, "" for a label the container lacks.
        std::string key = w[1];
        if (key.size() >= 2 && key.front() == '"') key = key.substr(1, key.size() - 2);
        const json& m = data["LabelMap"];
        return m.is_object() && m.contains(key) ? go_value(m[key]) : "";
    }
    if (w.size() != 1) throw BadRequest("template: :1: can't give argument to non-function " + w[0]);
    const json* v = value_of(w[0]);
    return v ? go_value(*v) : "<no value>";
}

}  // namespace

std::string render(const std::string& tmpl, const json& data) {
    std::string out;
    size_t i = 0;
    while (i < tmpl.size()) {
        size_t open = tmpl.find("{{", i);
        std::string lit = tmpl.substr(i, open == std::string::npos ? std::string::npos : open - i);
        // docker's CLI turns the two-character escapes \t and \n into tabs and newlines
        for (size_t k = 0; k < lit.size(); ++k) {
            if (lit[k] == '\\' && k + 1 < lit.size() && (lit[k + 1] == 't' || lit[k + 1] == 'n')) {
                out += lit[k + 1] == 't' ? '\t' : '\n';
                ++k;
            } else {
                out += lit[k];
            }
        }
        if (open == std::string::npos) break;
        size_t close = tmpl.find("}}", open + 2);
        if (close == std::string::npos) throw BadRequest("template: :1: unclosed action");
        std::string expr = trim(tmpl.substr(open + 2, close - open - 2));
        if (expr.starts_with("-")) expr = trim(expr.substr(1));
        if (expr.ends_with("-")) expr = trim(expr.substr(0, expr.size() - 1));
        out += eval(expr, data);
        i = close + 2;
    }
    return out;
}

bool is_table(std::string& tmpl) {
    std::string t = trim(tmpl);
    if (t == "table") {
        tmpl.clear();
        return true;
    }
    if (t.starts_with("table ")) {
        tmpl = t.substr(6);
        return true;
    }
    return false;
}

std::string header(const std::string& tmpl) {
    static const std::map<std::string, std::string> titles = {
        {"ID", "CONTAINER ID"}, {"Names", "NAMES"},       {"Image", "IMAGE"},   {"Command", "COMMAND"},
        {"CreatedAt", "CREATED AT"}, {"RunningFor", "CREATED"}, {"Status", "STATUS"}, {"Ports", "PORTS"},
        {"State", "STATE"},     {"Labels", "LABELS"},     {"Size", "SIZE"},     {"Networks", "NETWORKS"},
        {"Mounts", "MOUNTS"},   {"Name", "NAME"},         {"Container", "CONTAINER"}};
    std::string out;
    size_t i = 0;
    while (i < tmpl.size()) {
        size_t open = tmpl.find("{{", i);
        std::string lit = tmpl.substr(i, open == std::string::npos ? std::string::npos : open - i);
        for (size_t k = 0; k < lit.size(); ++k) {
            if (lit[k] == '\\' && k + 1 < lit.size() && lit[k + 1] == 't') {
                out += '\t';
                ++k;
            } else {
                out += lit[k];
            }
        }
        if (open == std::string::npos) break;
        size_t close = tmpl.find("}}", open + 2);
        if (close == std::string::npos) break;
        std::string expr = trim(tmpl.substr(open + 2, close - open - 2));
        std::string field = expr.starts_with(".") ? expr.substr(1) : expr;
        auto it = titles.find(field);
        if (it != titles.end()) {
            out += it->second;
        } else {
            for (auto& c : field) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            out += field;
        }
        i = close + 2;
    }
    return out;
}

namespace {
// b in steps of `base` with the unit names of that base (go-units' 4 significant digits).
std::string scaled(double b, double base, const char* const (&units)[6]) {
    int u = 0;
    while (b >= base && u < 5) {
        b /= base;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g%s", b, units[u]);
    return buf;
}
}  // namespace

std::string bytes_size(double b) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    return scaled(b, 1024, units);
}

std::string human_size(double b) {
    static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    return scaled(b, 1000, units);
}

std::string tabulate(const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> width;
    for (auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    std::string out;
    for (auto& r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

}  // namespace docker::format
