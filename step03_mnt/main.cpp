// step03_mnt: step02 plus a mount namespace; the command runs in an image, not in the host's tree.
//
//   step03_mnt [--hostname NAME] [--init] [--rootfs DIR] [--read-only] [-v HOST:CONTAINER[:ro]]...
//              [--explain] [--step] [--] COMMAND [ARG...]
#include "cli.hpp"
#include "launcher.hpp"
#include "mnt.hpp"
#include "pid.hpp"
#include "uts.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Run COMMAND in new UTS, PID and mount namespaces, with an image as its root.", "step03_mnt"};
    cli::Common common;
    uts::Config uts_cfg;
    pid::Config pid_cfg;
    mnt::Config mnt_cfg;
    cli::add_common(app, common);
    uts::add_options(app, uts_cfg);
    pid::add_options(app, pid_cfg);
    mnt::add_options(app, mnt_cfg);
    if (auto status = cli::parse(app, argc, argv, common)) return *status;

    return cli::guarded([&] {
        uts::Layer uts_layer{uts_cfg};
        pid::Layer pid_layer{pid_cfg};
        mnt::Layer mnt_layer{mnt_cfg};
        return launch::run({&uts_layer, &pid_layer, &mnt_layer}, launch::for_command(common.command));
    });
}
