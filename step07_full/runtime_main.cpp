// step07_full: an OCI runtime. The command line runc, crun and youki accept, so that podman,
// containerd and dockerd can use it in their place; every command is a function of
// lifecycle.hpp (or exec.hpp), this file only parses. main.cpp calls it (and so does
// frontend_main.cpp, for the runc lines no front end claims).
//
//   step07_full [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] COMMAND
//     spec [--bundle B] [--userns] [-- ARGS]    write a config.json: what `docker run` would
//     create [--bundle B] [--pid-file P] [--console-socket S] [--no-pivot] [--no-new-keyring]
//            [--preserve-fds N] ID
//     start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID | pause ID | resume ID
//     ps [--format table|json] ID | list [--format table|json] [-q] | update --resources F ID
//     exec [--process F | ...] ID [COMMAND...] | run [--bundle B] [--detach] ID | features
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "container.hpp"
#include "error.hpp"
#include "exec.hpp"
#include "files.hpp"
#include "lifecycle.hpp"
#include "narrate.hpp"
#include "spec.hpp"

#include "runtime_main.hpp"

namespace {

struct Logging {
    std::string file;
    std::string format = "text";
};

// containerd's shim and conmon read the runtime's errors from --log (the last line with
// "level":"error" when --log-format json). Every error also goes to stderr.
void log_error(const Logging& log, const std::string& msg) {
    if (log.file.empty()) return;
    std::ofstream out(log.file, std::ios::app);
    if (log.format == "json") {
        out << nlohmann::json{{"level", "error"}, {"msg", msg}, {"time", container::now_rfc3339()}}.dump() << "\n";
    } else {
        out << container::now_rfc3339() << " error: " << msg << "\n";
    }
}

int guarded(const Logging& log, const std::function<int()>& body) {
    try {
        return body();
    } catch (const Error& e) {
        narrate::error(e.line());
        log_error(log, e.line());
        return e.exit_status();
    } catch (const std::exception& e) {
        narrate::error(e.what());
        log_error(log, e.what());
        return exit_code::tool_failed;
    }
}

}  // namespace

int runtime_main(int argc, char** argv) {
    narrate::set_program("step07_full");
    CLI::App app{"An OCI runtime: runs the containers of OCI bundles, as runc does.", "step07_full"};
    app.require_subcommand(1);
    app.fallthrough();  // global options are accepted after the command too
    lifecycle::Global g;
    Logging log;
    bool explain = false, step = false, debug = false;
    std::string log_level;
    app.add_option("--root", g.root, "the state directory (default /run/minibox/runtime)");
    app.add_option("--log", log.file, "append errors to FILE");
    app.add_option("--log-format", log.format, "text or json")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--systemd-cgroup", g.systemd_cgroup, "cgroupsPath is slice:prefix:name");
    app.add_flag("--debug", debug, "accepted for runc compatibility");
    app.add_option("--log-level", log_level, "accepted for runc compatibility");
    app.add_flag("--explain", explain, "narrate every kernel operation");
    app.add_flag("--step", step, "pause before every kernel operation (needs a terminal)");
    app.set_version_flag("--version,-v",
                         "step07_full version 0.7.0\nspec: 1.1.0\nlibseccomp: 2.5.4");

    std::string id;
    auto with_id = [&](CLI::App* cmd) { cmd->add_option("ID", id, "the container's id")->required(); };

    lifecycle::CreateOptions copts;
    auto create_options = [&](CLI::App* cmd) {
        cmd->add_option("--bundle,-b", copts.bundle, "the bundle directory (default .)");
        cmd->add_option("--pid-file", copts.pid_file, "write the init's pid there");
        cmd->add_option("--console-socket", copts.console_socket, "unix socket that receives the pty master");
        cmd->add_flag("--no-pivot", copts.no_pivot, "MS_MOVE + chroot instead of pivot_root");
        cmd->add_flag("--no-new-keyring", copts.no_new_keyring, "keep the caller's session keyring");
        cmd->add_option("--preserve-fds", copts.preserve_fds, "pass fds 3..3+N-1 to the container")->check(CLI::NonNegativeNumber);
        with_id(cmd);
    };

    CLI::App* spec_cmd = app.add_subcommand("spec", "write a config.json with Docker's defaults");
    std::string spec_bundle = ".";
    bool spec_userns = false, spec_rootless = false;
    std::vector<std::string> spec_args;
    spec_cmd->add_option("--bundle,-b", spec_bundle, "where to write config.json");
    spec_cmd->add_flag("--userns", spec_userns, "map root inside to an unprivileged host range");
    spec_cmd->add_flag("--rootless", spec_rootless, "same as --userns");
    spec_cmd->add_option("ARGS", spec_args, "the process (default: sh)");

    CLI::App* create = app.add_subcommand("create", "create a container: its init waits for start");
    create_options(create);
    CLI::App* run = app.add_subcommand("run", "create, start and wait");
    bool detach = false;
    create_options(run);
    run->add_flag("--detach,-d", detach, "return after start");
    CLI::App* start = app.add_subcommand("start", "start a created container");
    with_id(start);
    CLI::App* state = app.add_subcommand("state", "the container's state, as JSON");
    with_id(state);
    CLI::App* kill = app.add_subcommand("kill", "send a signal (default TERM)");
    bool all = false;
    std::string signal = "TERM";
    kill->add_flag("--all,-a", all, "to every process of the container");
    with_id(kill);
    kill->add_option("SIGNAL", signal, "name or number");
    CLI::App* del = app.add_subcommand("delete", "delete a stopped (or created) container");
    bool force = false;
    del->add_flag("--force,-f", force, "kill it first if it runs");
    with_id(del);
    CLI::App* pause = app.add_subcommand("pause", "freeze every process of the container");
    with_id(pause);
    CLI::App* resume = app.add_subcommand("resume", "thaw a paused container");
    with_id(resume);
    CLI::App* ps = app.add_subcommand("ps", "the container's processes");
    std::string format = "table";
    ps->add_option("--format,-f", format, "table or json");
    with_id(ps);
    ps->allow_extras();  // runc passes `ps` options after --
    CLI::App* list = app.add_subcommand("list", "the containers under --root");
    bool quiet = false;
    list->add_option("--format,-f", format, "table or json");
    list->add_flag("--quiet,-q", quiet, "ids only");
    CLI::App* update = app.add_subcommand("update", "change a container's resources");
    std::string resources_file;
    update->add_option("--resources,-r", resources_file, "a linux.resources JSON file, or - for stdin")->required();
    with_id(update);
    CLI::App* features = app.add_subcommand("features", "what this runtime supports, as JSON");

    CLI::App* exec_cmd = app.add_subcommand("exec", "run a new process in a running container");
    exec::Options xo;
    std::string process_file, cwd, user;
    std::vector<std::string> envs, caps;
    bool tty = false, no_new_privs = false;
    exec_cmd->add_option("--process,-p", process_file, "a process JSON (runtime-spec process object)");
    exec_cmd->add_flag("--detach,-d", xo.detach, "return once it runs");
    exec_cmd->add_option("--pid-file", xo.pid_file, "write its pid there");
    exec_cmd->add_option("--console-socket", xo.console_socket, "unix socket that receives the pty master");
    exec_cmd->add_flag("--tty,-t", tty, "allocate a pty");
    exec_cmd->add_option("--env,-e", envs, "K=V")->allow_extra_args(false);
    exec_cmd->add_option("--cwd", cwd, "working directory");
    exec_cmd->add_option("--user,-u", user, "UID[:GID]");
    exec_cmd->add_option("--cap,-c", caps, "a capability to add")->allow_extra_args(false);
    exec_cmd->add_flag("--no-new-privs", no_new_privs, "set no_new_privs");
    exec_cmd->add_option("--preserve-fds", xo.preserve_fds, "pass fds 3..3+N-1")->check(CLI::NonNegativeNumber);
    exec_cmd->prefix_command();  // ID, then the command with its own options
    exec_cmd->fallthrough(false);  // an option after the ID belongs to the command

    if (auto stop = cli::parse_args(app, argc, argv)) {
        // The engine reads the reason from --log: say at least that the command line was refused.
        if (*stop != 0) log_error(log, "step07_full: invalid command line (see its stderr)");
        return *stop;
    }
    if (step && !::isatty(STDIN_FILENO)) {
        narrate::error("--step waits for Enter between operations and needs a terminal on stdin");
        return exit_code::tool_failed;
    }
    narrate::set_mode(step ? narrate::Mode::step : explain ? narrate::Mode::explain : narrate::Mode::quiet);

    return guarded(log, [&]() -> int {
        if (spec_cmd->parsed()) return lifecycle::write_spec(spec_bundle, spec_userns || spec_rootless, spec_args);
        if (create->parsed()) return lifecycle::create(g, id, copts);
        if (run->parsed()) return lifecycle::run(g, id, copts, detach);
        if (start->parsed()) return lifecycle::start(g, id);
        if (state->parsed()) return lifecycle::state(g, id);
        if (kill->parsed()) return lifecycle::kill(g, id, signal, all);
        if (del->parsed()) return lifecycle::remove(g, id, force);
        if (pause->parsed()) return lifecycle::pause(g, id);
        if (resume->parsed()) return lifecycle::resume(g, id);
        if (ps->parsed()) return lifecycle::ps(g, id, format);
        if (list->parsed()) return lifecycle::list(g, format, quiet);
        if (update->parsed()) return lifecycle::update(g, id, resources_file);
        if (features->parsed()) return lifecycle::features();
        if (exec_cmd->parsed()) {
            std::vector<std::string> rest = exec_cmd->remaining();
            if (rest.empty()) throw Error("exec: no container id given", 1);
            std::string xid = rest.front();
            rest.erase(rest.begin());
            if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
            container::Store store(g.root);
            container::State st = store.load(xid);
            spec::Spec s = spec::load(st.bundle);
            if (!process_file.empty()) {
                nlohmann::json pj;
                try {
                    pj = nlohmann::json::parse(files::read(process_file));
                } catch (const nlohmann::json::exception& e) {
                    throw Error("--process " + process_file + ": not JSON: " + e.what());
                }
                xo.process = spec::parse_process(pj, "process");
            } else {
                if (rest.empty()) throw Error("exec: no command given (or --process FILE)", 1);
                xo.process = exec::from_command_line(s.process, rest, envs, cwd, user, tty, caps, no_new_privs);
            }
            auto st_now = container::status(st, store);
            if (st_now != container::Status::running && st_now != container::Status::created)
                throw Error("cannot exec in a " + std::string(container::status_name(st_now)) + " container", 1);
            return exec::run(st, s, xo);
        }
        return exit_code::tool_failed;
    });
}
