// The docs harness: the workshop's ```console blocks are tests.
//
// Format (see workshop/README.md, "How the chapters are tested"):
//   - a line starting with "$ " is a command; a command line ending in "\" continues on the next
//     line (a leading "> " on that line is dropped, as a shell prints it);
//   - the lines after a command, up to the next "$ " line or the end of the block, are its
//     expected output, stdout and stderr merged;
//   - "..." inside a line matches any text; a line that is exactly "..." matches any number of
//     lines, none included;
//   - a last expected line "[exit N]" means the command must exit N; otherwise it must exit 0;
//   - a command with no expected lines (or only "[exit N]") is checked for its exit status only.
// Trailing whitespace and trailing empty lines are ignored on both sides.
//
// Each command runs as `bash -c COMMAND` in a fresh temporary directory, with PATH=<bin>:$PATH,
// stdin from /dev/null, and a time limit.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace docs {

struct Command {
    std::string file;                   // the chapter, as given
    int line = 0;                       // 1-based line of the "$ " in the chapter
    std::string text;                   // what bash -c runs (continuations joined by "\\\n")
    std::vector<std::string> expected;  // expected output lines, "[exit N]" removed
    int exit = 0;                       // the exit status it must end with
    bool check_output = false;          // false when no output line was given
};

// Every command of every ```console block of `markdown`.
std::vector<Command> parse(const std::string& markdown, const std::string& file);

// One expected line against one actual line: "..." inside `pattern` matches any text.
bool line_matches(const std::string& pattern, const std::string& line);

struct Match {
    bool ok = true;
    // Where matching got furthest before it failed (0-based; -1 when past the end).
    int expected_line = -1;
    int actual_line = -1;
};

// Expected lines against actual lines; a line that is exactly "..." matches any number of lines.
Match match(const std::vector<std::string>& expected, const std::vector<std::string>& actual);

// The lines of `output`, trailing whitespace and trailing empty lines removed.
std::vector<std::string> lines_of(const std::string& output);

struct Outcome {
    int status = -1;        // exit status, 128+N for signal N
    std::string output;     // stdout and stderr, merged
    bool timed_out = false;
    std::string problem;    // what the command left behind (processes, files it could not remove)
};

// Runs `command` with bash -c in a fresh temporary directory with `bin_dir` first in PATH.
Outcome execute(const std::string& command, const std::string& bin_dir, std::chrono::seconds timeout);

// Runs one command and compares; returns true when it passed. A failure is described on `log`:
// file:line, the command, expected vs actual.
bool check(const Command& cmd, const std::string& bin_dir, std::chrono::seconds timeout, std::ostream& log);

// The report of a failed command (exposed for the unit tests).
std::string report(const Command& cmd, const Outcome& out);

}  // namespace docs
