// The Dockerfile: a text file of instructions, one per logical line, read the way Docker's
// classic builder reads it (moby/buildkit frontend/dockerfile/parser and shell/lex.go).
//
// No kernel here: this is the front of `build`. A line is "KEYWORD arguments"; the escape
// character (\ by default, or ` with a "# escape=`" directive at the top) at the end of a line
// continues it; "#" starts a comment line; RUN, CMD, ENTRYPOINT, SHELL, COPY and ADD take a JSON
// array (the exec form) or plain text (the shell form). Variables ($VAR, ${VAR}, ${VAR:-x},
// ${VAR:+x}) are replaced at build time, per instruction, from ENV and ARG (expand()).
// Every fault is reported as "Dockerfile:LINE:COLUMN: what" (ParseError).
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace builder {

// A fault at a place in the Dockerfile (1-based line and column).
class ParseError : public std::runtime_error {
public:
    ParseError(int line, int column, const std::string& what);
    int line() const { return line_; }
    int column() const { return column_; }
    const std::string& reason() const { return reason_; }

private:
    int line_, column_;
    std::string reason_;
};

// Where a piece of text came from.
struct Pos {
    int line = 1, column = 1;
};

// One argument word as written (quotes and escapes kept: expand() removes them), with its place.
struct Word {
    std::string raw;
    Pos pos;
};

struct Instruction {
    std::string keyword;   // upper case: "RUN"
    std::string original;  // "RUN echo hi" as written, continuations joined (Step N/M : ...)
    Pos pos;               // of the keyword
    // --name=value flags in front of the arguments (COPY --chown=1:1, --from=x; FROM --platform)
    std::map<std::string, Word> flags;
    bool json = false;              // exec form: args are the array's strings, not expanded
    std::vector<Word> args;         // shell form of RUN/CMD/ENTRYPOINT: one word, the whole text
                                    // ONBUILD: one word, the trigger as written ("RUN echo hi")
                                    // HEALTHCHECK: "CMD" or "NONE", then CMD's command (json
                                    // says which form)
    // ENV, LABEL, ARG: name/value pairs (ARG: value empty and has_value false when no default)
    struct Pair {
        Word key, value;
        bool has_value = true;
    };
    std::vector<Pair> pairs;
};

struct Dockerfile {
    char escape = '\\';
    std::vector<Instruction> instructions;
    std::vector<std::string> warnings;  // "Dockerfile:3: empty continuation line", ...
};

// Parses `text`. Throws ParseError for an unknown instruction, a missing argument, a bad flag,
// an unterminated quote or ${...}, an instruction before FROM (other than ARG), a bad escape
// directive. `name` is used in messages ("Dockerfile", "-f" value).
Dockerfile parse(const std::string& text);

// One instruction alone (an ONBUILD trigger as stored in an image: "RUN echo hi"); positions
// are within `text` (line 1). Throws ParseError.
Instruction parse_instruction(const std::string& text, char escape = '\\');

// Go's time.ParseDuration ("30s", "1m30s", "500ms", "0"), as HEALTHCHECK's flags take it:
// nanoseconds, or nullopt with `why` set.
std::optional<long long> parse_duration(const std::string& text, std::string& why);

// Variables for expand(): name -> value.
using Env = std::map<std::string, std::string>;

// The shell-like processing Docker applies to the arguments of ADD COPY ENV EXPOSE FROM LABEL
// USER WORKDIR ARG: quotes removed ('...' literal, "..." with $ expanded), the escape character
// taken away, $VAR ${VAR} ${VAR:-default} ${VAR-default} ${VAR:+alt} ${VAR+alt} replaced (an
// unset variable is ""). Throws ParseError at the word's place for bad syntax.
std::string expand(const Word& w, const Env& env, char escape = '\\');
// The same, then split into words at unquoted blanks (COPY a b c /dst, EXPOSE 80 443).
std::vector<std::string> expand_words(const Word& w, const Env& env, char escape = '\\');

// "K=V" lines of an image config's Env -> Env, and back (sorted as they were: `order` kept).
Env env_from_list(const std::vector<std::string>& list);

}  // namespace builder
