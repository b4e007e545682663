// .dockerignore matching (see dockerignore.hpp): each pattern is translated once into a regular
// expression over the "/"-separated path, as moby's patternmatcher does.
#include "dockerignore.hpp"

#include <fstream>
#include <sstream>

#include "error.hpp"

namespace builder {

std::string clean_path(const std::string& p) {
    std::vector<std::string> parts;
    std::stringstream ss(p);
    std::string part;
    while (std::getline(ss, part, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (!parts.empty()) parts.pop_back();  // above the root stays at the root
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (const auto& x : parts) out += (out.empty() ? "" : "/") + x;
    return out;
}

namespace {

// "*" -> "[^/]*", "?" -> "[^/]", "**" -> ".*" ("**/" also matching nothing), "[...]" kept,
// "\x" -> a literal x, everything else literal.
std::string translate(const std::string& pat) {
    std::string re = "^";
    for (size_t i = 0; i < pat.size(); ++i) {
        char c = pat[i];
        if (c == '*') {
            if (i + 1 < pat.size() && pat[i + 1] == '*') {
                ++i;
                if (i + 1 < pat.size() && pat[i + 1] == '/') {
                    ++i;
                    re += "(.*/)?";  // "**/x" matches "x" too
                } else {
                    re += ".*";
                }
            } else {
                re += "[^/]*";
            }
        } else if (c == '?') {
            re += "[^/]";
        } else if (c == '[') {
            size_t close = pat.find(']', i + 1);
            if (close == std::string::npos) throw Error("syntax error in .dockerignore pattern \"" + pat + "\": missing ']'");
            std::string cls = pat.substr(i + 1, close - i - 1);
            if (!cls.empty() && cls[0] == '^') cls[0] = '^';
            if (!cls.empty() && cls[0] == '!') cls[0] = '^';
            re += "[" + cls + "]";
            i = close;
        } else if (c == '\\') {
            if (i + 1 >= pat.size()) throw Error("syntax error in .dockerignore pattern \"" + pat + "\": trailing \\");
            re += "\\";
            re += pat[++i];
        } else if (std::string(".+()|{}^$").find(c) != std::string::npos) {
            re += "\\";
            re += c;
        } else {
            re += c;
        }
    }
    return re + "$";
}

}  // namespace

Ignore Ignore::parse(const std::string& text) {
    Ignore ig;
    std::stringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty() && line[0] == '#') continue;
        size_t b = line.find_first_not_of(" \t");
        if (b == std::string::npos) continue;
        line = line.substr(b, line.find_last_not_of(" \t") - b + 1);
        Pattern p;
        if (line[0] == '!') {
            p.exception = true;
            line = line.substr(1);
            b = line.find_first_not_of(" \t");
            if (b == std::string::npos) throw Error(".dockerignore: illegal exclusion pattern: \"!\"");
            line = line.substr(b);
        }
        p.text = clean_path(line);
        if (p.text.empty()) continue;  // "/" or "." alone: Docker ignores it too
        try {
            p.re = std::regex(translate(p.text), std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error&) {
            throw Error(".dockerignore: bad pattern \"" + line + "\"");
        }
        ig.patterns_.push_back(std::move(p));
    }
    return ig;
}

Ignore Ignore::load(const std::string& context_dir) {
    std::ifstream in(context_dir + "/.dockerignore");
    if (!in) return {};
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str());
}

bool Ignore::matches(const Pattern& p, const std::string& path) const {
    const std::regex& re = p.re;
    if (std::regex_match(path, re)) return true;
    // a pattern that names a directory excludes everything below it
    for (size_t k = path.find('/'); k != std::string::npos; k = path.find('/', k + 1)) {
        if (std::regex_match(path.substr(0, k), re)) return true;
    }
    return false;
}

bool Ignore::excluded(const std::string& raw) const {
    std::string path = clean_path(raw);
    bool out = false;
    for (const auto& p : patterns_) {
        if (p.exception == !out) continue;  // cannot change the answer
        if (matches(p, path)) out = !p.exception;
    }
    return out;
}

bool Ignore::may_reinclude_below(const std::string& dir) const {
    std::string d = clean_path(dir);
    for (const auto& p : patterns_) {
        if (!p.exception) continue;
        // an exception pattern with a wildcard may match anything; else it must lie below dir
        if (p.text.find_first_of("*?[\\") != std::string::npos) return true;
        if (p.text.rfind(d + "/", 0) == 0) return true;
    }
    return false;
}

}  // namespace builder
