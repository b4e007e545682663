// .dockerignore: which files of the build context the build never sees.
//
// No kernel here: Docker's rules (moby/patternmatcher, "dockerignore" in the docker build
// reference). One pattern a line; "#" lines are comments; a pattern is cleaned like a path
// (leading "/" and "./" dropped, "a//b" -> "a/b"); "*" and "?" never cross a "/", "**" matches any
// number of directories, "[a-z]" a class, "\" escapes; "!" makes an exception. The LAST pattern
// that matches a path decides, and a path is also excluded when one of its parent directories is.
#pragma once

#include <regex>
#include <string>
#include <vector>

namespace builder {

class Ignore {
public:
    Ignore() = default;
    // From the text of a .dockerignore file. Throws Error for a malformed pattern ("[a-").
    static Ignore parse(const std::string& text);
    // From CONTEXT/.dockerignore (none: nothing is ignored).
    static Ignore load(const std::string& context_dir);

    // `path` relative to the context root, "/"-separated ("src/a.c").
    bool excluded(const std::string& path) const;
    // True when an exception ("!") could re-include something below the excluded directory
    // `dir`: the walk must then descend into it.
    bool may_reinclude_below(const std::string& dir) const;
    bool empty() const { return patterns_.empty(); }

private:
    struct Pattern {
        std::string text;     // cleaned
        std::regex re;        // its translation
        bool exception = false;
    };
    std::vector<Pattern> patterns_;
    bool matches(const Pattern& p, const std::string& path) const;
};

// "./a//b/../c/" -> "a/c" (Go's filepath.Clean, then without a leading "/").
std::string clean_path(const std::string& p);

}  // namespace builder
