// step06_overlay: the previous steps plus images: a store, `image import`, and an overlayfs
// root per container, so the image is never written and every container starts fresh.
//
//   step06_overlay [--root DIR] run [--hostname NAME] [--init] [--read-only] [-v HOST:CONTAINER[:ro]]...
//                  [--network bridge|none|host] [-p HOSTPORT:CONTAINERPORT[/tcp]]... [--bridge NAME]
//                  [--subnet CIDR] [-m|--memory SIZE] [--memory-swap SIZE] [--cpus N] [--cpu-shares N]
//                  [--cpuset-cpus LIST] [--pids-limit N] [--stats] [--join-late]
//                  [--keep] [--explain] [--step] IMAGE [--] [COMMAND [ARG...]]
//   step06_overlay [--root DIR] image ls
//   step06_overlay [--root DIR] image import TARBALL|OCI-LAYOUT-DIR NAME
//   step06_overlay [--root DIR] image rm NAME
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cgroup.hpp"
#include "cli.hpp"
#include "image_store.hpp"
#include "import.hpp"  // kDefaultMaxSize
#include "import_cli.hpp"
#include "limits.hpp"
#include "launcher.hpp"
#include "mnt.hpp"
#include "net.hpp"
#include "narrate.hpp"
#include "overlay.hpp"
#include "pid.hpp"
#include "state.hpp"
#include "uts.hpp"

namespace {

// The run tail is IMAGE [--] [COMMAND [ARG...]]: cli::finish() reads it from the `run`
// subcommand (a command is optional: the image has a default), then IMAGE is taken off it.
std::optional<int> finish_run(CLI::App& run, cli::Common& common, overlay::Config& overlay_cfg) {
    if (auto status = cli::finish(run, common, false)) return status;
    if (auto why = overlay::take_image(common.command, overlay_cfg)) {
        narrate::error(*why);
        return exit_code::tool_failed;
    }
    return std::nullopt;
}

int image_ls() {
    image::Store store;
    std::printf("%-24s %6s %10s\n", "NAME", "LAYERS", "SIZE");
    for (auto& img : store.list()) {
        std::uint64_t size = 0;
        for (auto& l : img.layers) size += image::tree_size(l);
        std::printf("%-24s %6zu %10s\n", img.name.c_str(), img.layers.size(), image::human_size(size).c_str());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Run containers from images: read-only layers under a copy-on-write overlay.", "step06_overlay"};
    app.require_subcommand(1);
    std::string root;
    app.add_option("--root", root, "the image store (default: $MINIBOX_ROOT, else " MINIBOX_ROOT_DEFAULT ")");

    CLI::App* run = app.add_subcommand("run", "run COMMAND (default: the image's) in a container of IMAGE");
    cli::Common common;
    uts::Config uts_cfg;
    pid::Config pid_cfg;
    mnt::Config mnt_cfg;
    net::Config net_cfg;
    cgroup::Config cgroup_cfg;
    overlay::Config overlay_cfg;
    cli::add_common(*run, common);
    uts::add_options(*run, uts_cfg);
    pid::add_options(*run, pid_cfg);
    mnt::add_options(*run, mnt_cfg);
    net::add_options(*run, net_cfg);
    cgroup::add_options(*run, cgroup_cfg);
    overlay::add_options(*run, overlay_cfg);
    // The root comes from IMAGE now: step03's --rootfs has no place here.
    run->remove_option(run->get_option("--rootfs"));
    run->footer("IMAGE [--] [COMMAND [ARG...]]: a container of IMAGE runs COMMAND, or else the image's\n"
                "Entrypoint/Cmd; put -- before a COMMAND that starts with '-'.");

    CLI::App* images = app.add_subcommand("image", "the image store: ls, import, rm");
    images->require_subcommand(1);
    CLI::App* ls = images->add_subcommand("ls", "list the images: name, layers, size");
    std::string source, name;
    auto check_name = [](const std::string& n) {
        std::string why;
        return image::valid_name(n, why) ? std::string() : why;
    };
    CLI::App* import = images->add_subcommand("import", "import a tarball (docker export) or an OCI image layout");
    import->add_option("SOURCE", source, "a tar file (plain or compressed) or an OCI layout directory")->required();
    import->add_option("NAME", name, "the new image's name")->required()->check(check_name);
    std::uint64_t max_size = image::kDefaultMaxSize;
    import->add_option_function<std::string>(
              "--max-size", [&max_size](const std::string& s) { max_size = s == "0" ? 0 : cgroup::parse_size(s); },
              "refuse an image whose files add up to more than SIZE (apparent size; default 4g; 0: no limit)")
        ->type_name("SIZE")
        ->check([](const std::string& s) -> std::string {
            if (s == "0") return {};
            try {
                cgroup::parse_size(s);
            } catch (const Error& e) {
                return "--max-size: " + e.message();
            }
            return {};
        });
    CLI::App* rm = images->add_subcommand("rm", "remove an image (refused while a container uses it)");
    rm->add_option("NAME", name, "the image to remove")->required();

    if (auto stop = cli::parse_args(app, argc, argv)) return *stop;
    if (!root.empty()) ::setenv("MINIBOX_ROOT", root.c_str(), 1);

    if (ls->parsed()) return cli::guarded(image_ls);
    if (import->parsed())  // in the companion executable: see import_cli.hpp
        return cli::guarded([&] { return image::run_import(source, name, max_size, argv); });
    if (rm->parsed())
        return cli::guarded([&] {
            image::Store().remove(name);
            std::printf("removed %s\n", name.c_str());
            return 0;
        });

    if (auto status = finish_run(*run, common, overlay_cfg)) return *status;
    return cli::guarded([&] {
        cgroup::Layer cgroup_layer{cgroup_cfg};  // detects the layout, checks the limits against it
        image::Store store;
        image::Image img = store.get(overlay_cfg.image);
        auto command = image::command_for(img.config, common.command);
        if (command.empty())
            throw Error("image " + img.name + " has no default command (no Entrypoint, no Cmd): give one after IMAGE");
        launch::Context ctx = launch::for_command(command);
        ctx.env = image::env_for(img.config, ctx.env);
        ctx.id = state::new_container_id();

        // The overlay comes first: its merged directory is the root every later layer builds on.
        overlay::Layer overlay_layer{overlay_cfg, img, store, ctx.id};
        mnt_cfg.rootfs = overlay_layer.merged();
        mnt_cfg.root_is_private = true;  // mount points go to the container's upper directory
        uts::Layer uts_layer{uts_cfg};
        pid::Layer pid_layer{pid_cfg};
        mnt::Layer mnt_layer{mnt_cfg};
        net::Layer net_layer{net_cfg, uts_cfg.hostname};
        return launch::run({&overlay_layer, &uts_layer, &pid_layer, &mnt_layer, &net_layer, &cgroup_layer}, ctx);
    });
}
