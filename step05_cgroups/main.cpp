// step05_cgroups: step04 plus a cgroup: limits on memory, swap, CPU time and weight, CPUs, pids.
//
//   step05_cgroups [--hostname NAME] [--init] [--rootfs DIR] [--read-only] [-v HOST:CONTAINER[:ro]]...
//                  [--network bridge|none|host] [-p HOSTPORT:CONTAINERPORT[/tcp]]... [--bridge NAME]
//                  [--subnet CIDR] [-m|--memory SIZE] [--memory-swap SIZE] [--cpus N] [--cpu-shares N]
//                  [--cpuset-cpus LIST] [--pids-limit N] [--stats] [--join-late]
//                  [--explain] [--step] [--] COMMAND [ARG...]
//   step05_cgroups --remove-bridge [--bridge NAME]
#include "cgroup.hpp"
#include "cli.hpp"
#include "launcher.hpp"
#include "mnt.hpp"
#include "net.hpp"
#include "pid.hpp"
#include "uts.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Run COMMAND in new namespaces wired to the host, in a cgroup of its own with limits.", "step05_cgroups"};
    cli::Common common;
    uts::Config uts_cfg;
    pid::Config pid_cfg;
    mnt::Config mnt_cfg;
    net::Config net_cfg;
    cgroup::Config cgroup_cfg;
    cli::add_common(app, common);
    uts::add_options(app, uts_cfg);
    pid::add_options(app, pid_cfg);
    mnt::add_options(app, mnt_cfg);
    net::add_options(app, net_cfg);
    cgroup::add_options(app, cgroup_cfg);
    if (auto status = cli::parse(app, argc, argv, common)) return *status;

    return cli::guarded([&] {
        cgroup::Layer cgroup_layer{cgroup_cfg};  // detects the layout, checks the limits against it
        uts::Layer uts_layer{uts_cfg};
        pid::Layer pid_layer{pid_cfg};
        mnt::Layer mnt_layer{mnt_cfg};
        net::Layer net_layer{net_cfg, uts_cfg.hostname};
        return launch::run({&uts_layer, &pid_layer, &mnt_layer, &net_layer, &cgroup_layer},
                           launch::for_command(common.command));
    });
}
