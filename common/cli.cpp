#include "cli.hpp"

#include <unistd.h>

#include "error.hpp"
#include "narrate.hpp"

namespace cli {
namespace {
std::function<int()> g_action;
}  // namespace

void set_action(std::function<int()> action) { g_action = std::move(action); }

void add_common(CLI::App& app, Common& common) {
    app.add_flag("--explain", common.explain,
                 "print one line per kernel operation: the call, its result and why");
    // A flag with an optional value: `--step` (every layer) or `--step=net,cgroup` (only those;
    // the other layers are explained). `--step net` would make "net" the command.
    app.add_flag("--step{all}", common.step_layers,
                 "pause before each kernel operation (needs a terminal) and show how to observe it "
                 "from the host; --step=LAYER[,LAYER] pauses only in those layers (uts, pid, mnt, "
                 "net, cgroup, overlay, image, launch) and explains the rest");
    // Everything from the first word that is not an option on (or after "--") is the command's,
    // options included: `step01_uts ls -l` passes -l to ls.
    app.prefix_command();
    app.footer("COMMAND [ARG...] is run in the container; put -- before it if it starts with '-'.");
    (void)common;
}

std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
    narrate::set_program(app.get_name());
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        narrate::error(e.what());
        return exit_code::tool_failed;
    }
    return std::nullopt;
}

std::optional<int> parse(CLI::App& app, int argc, char** argv, Common& common) {
    if (auto stop = parse_args(app, argc, argv)) return stop;
    return finish(app, common);
}

std::optional<int> finish(CLI::App& app, Common& common, bool command_required) {
    // prefix_command() leaves the command and its arguments in remaining().
    common.command = app.remaining();
    if (g_action) {
        if (!common.command.empty()) {
            narrate::error("unexpected " + common.command.front() + ": this option takes no COMMAND");
            return exit_code::tool_failed;
        }
        narrate::set_mode(common.explain ? narrate::Mode::explain : narrate::Mode::quiet);
        auto action = std::move(g_action);
        g_action = nullptr;
        return guarded(action);
    }
    if (!common.command.empty() && common.command.front() == "--") {
        common.command.erase(common.command.begin());
    } else if (!common.command.empty() && common.command.front().starts_with("-")) {
        narrate::error("unknown option " + common.command.front() + " (see --help; put -- before a command that starts with '-')");
        return exit_code::tool_failed;
    }
    if (common.command.empty() && command_required) {
        narrate::error("no command given; usage: " + app.get_name() + " [OPTIONS] [--] COMMAND [ARG...]");
        return exit_code::tool_failed;
    }
    common.step = common.step || !common.step_layers.empty();
    if (common.step) {
        try {
            narrate::set_step_layers(common.step_layers);
        } catch (const Error& e) {
            narrate::error(e.line());
            return exit_code::tool_failed;
        }
    }
    if (common.step && !::isatty(STDIN_FILENO)) {
        narrate::error("--step waits for Enter between operations and needs a terminal on stdin");
        return exit_code::tool_failed;
    }
    narrate::set_mode(common.step      ? narrate::Mode::step
                      : common.explain ? narrate::Mode::explain
                                       : narrate::Mode::quiet);
    return std::nullopt;
}

int guarded(const std::function<int()>& body) {
    try {
        return body();
    } catch (const Error& e) {
        narrate::error(e.line());
        return e.exit_status();
    } catch (const std::exception& e) {
        narrate::error(e.what());
        return exit_code::tool_failed;
    }
}

}  // namespace cli
