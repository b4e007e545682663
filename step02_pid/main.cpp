// step02_pid: step01 plus a PID namespace; the command is PID 1.
//
//   step02_pid [--hostname NAME] [--init] [--explain] [--step] [--] COMMAND [ARG...]
#include "cli.hpp"
#include "launcher.hpp"
#include "pid.hpp"
#include "uts.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Run COMMAND as PID 1 of new UTS and PID namespaces.", "step02_pid"};
    cli::Common common;
    uts::Config uts_cfg;
    pid::Config pid_cfg;
    cli::add_common(app, common);
    uts::add_options(app, uts_cfg);
    pid::add_options(app, pid_cfg);
    if (auto status = cli::parse(app, argc, argv, common)) return *status;

    return cli::guarded([&] {
        uts::Layer uts_layer{uts_cfg};
        pid::Layer pid_layer{pid_cfg};
        return launch::run({&uts_layer, &pid_layer}, launch::for_command(common.command));
    });
}
