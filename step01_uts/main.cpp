// step01_uts: run a command with a hostname of its own.
//
//   step01_uts [--hostname NAME] [--explain] [--step] [--] COMMAND [ARG...]
#include "cli.hpp"
#include "launcher.hpp"
#include "uts.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Run COMMAND in a new UTS namespace, with a hostname of its own.", "step01_uts"};
    cli::Common common;
    uts::Config uts_cfg;
    cli::add_common(app, common);
    uts::add_options(app, uts_cfg);
    if (auto status = cli::parse(app, argc, argv, common)) return *status;

    return cli::guarded([&] {
        uts::Layer uts_layer{uts_cfg};
        return launch::run({&uts_layer}, launch::for_command(common.command));
    });
}
