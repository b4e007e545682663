// step04_net: step03 plus a network namespace wired to the host: a veth on a bridge, NAT, published ports.
//
//   step04_net [--hostname NAME] [--init] [--rootfs DIR] [--read-only] [-v HOST:CONTAINER[:ro]]...
//              [--network bridge|none|host] [-p HOSTPORT:CONTAINERPORT[/tcp]]... [--bridge NAME]
//              [--subnet CIDR] [--explain] [--step] [--] COMMAND [ARG...]
//   step04_net --remove-bridge [--bridge NAME]
#include "cli.hpp"
#include "launcher.hpp"
#include "mnt.hpp"
#include "net.hpp"
#include "pid.hpp"
#include "uts.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Run COMMAND in new UTS, PID, mount and network namespaces, wired to the host.", "step04_net"};
    cli::Common common;
    uts::Config uts_cfg;
    pid::Config pid_cfg;
    mnt::Config mnt_cfg;
    net::Config net_cfg;
    cli::add_common(app, common);
    uts::add_options(app, uts_cfg);
    pid::add_options(app, pid_cfg);
    mnt::add_options(app, mnt_cfg);
    net::add_options(app, net_cfg);
    if (auto status = cli::parse(app, argc, argv, common)) return *status;

    return cli::guarded([&] {
        uts::Layer uts_layer{uts_cfg};
        pid::Layer pid_layer{pid_cfg};
        mnt::Layer mnt_layer{mnt_cfg};
        net::Layer net_layer{net_cfg, uts_cfg.hostname};
        return launch::run({&uts_layer, &pid_layer, &mnt_layer, &net_layer}, launch::for_command(common.command));
    });
}
