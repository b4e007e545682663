// Command-line plumbing every step shares: --explain, --step, and the COMMAND [ARG...] tail.
// Each step's own options are added by its module (uts::add_options, pid::add_options, ...),
// so step N's main() is step N-1's main() plus one line.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cli {

struct Common {
    bool explain = false;
    bool step = false;
    std::string step_layers;  // --step: "all"; --step=net,cgroup: those layers only
    std::vector<std::string> command;
};

// Adds --explain, --step[=LAYER,...] and the COMMAND [ARG...] positional (everything after the first
// positional, or after "--", belongs to the command, options included).
void add_common(CLI::App& app, Common& common);

// Parses argv. Returns an exit status when main() should stop here (0 for --help; 125 with one
// line on stderr for bad input); std::nullopt when the container should be started.
// Also sets the narration mode, and refuses --step without a terminal on stdin.
std::optional<int> parse(CLI::App& app, int argc, char** argv, Common& common);
// Only the CLI11 part, for tools without a container tail (minibox, step06's `image`):
// 0 after --help, 125 with one line for bad input, std::nullopt when parsed.
std::optional<int> parse_args(CLI::App& app, int argc, char** argv);
// The part of parse() after CLI11 has parsed: for a tool whose command tail belongs to a
// subcommand (`step06_overlay run ...`), called with that subcommand once it was parsed.
// Without `command_required` an empty tail is fine (step06: the image has a default command).
std::optional<int> finish(CLI::App& app, Common& common, bool command_required = true);

// An option may stand for an action instead of a container run (step04's --remove-bridge): its
// callback calls set_action() while the command line is parsed, and parse() then runs the
// action (guarded, after the narration mode is set) and returns its status; no COMMAND needed.
void set_action(std::function<int()> action);

// Runs `body`, turning any Error that escapes into one line on stderr and its exit status.
int guarded(const std::function<int()>& body);

}  // namespace cli
