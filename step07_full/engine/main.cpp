// minibox-engine: the daemon behind `docker` (DOCKER_HOST=unix:///run/minibox/engine.sock).
// It serves the Docker Engine API 1.41 on a unix socket, turns each call into the same
// docker::manager operation `step07_full run/ps/logs/...` uses, and leaves every container to
// its shim: stopping (or killing) the engine stops no container, and the next engine finds them.
//   docker -> minibox-engine -> minibox-shim -> step07_full -> kernel
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "narrate.hpp"
#include "router.hpp"
#include "server.hpp"
#include "state.hpp"
#include "system.hpp"
#include "trace.hpp"

namespace {

int g_stop_fd = -1;

void on_signal(int) {
    char c = 1;
    [[maybe_unused]] auto n = ::write(g_stop_fd, &c, 1);
}

std::string self_dir() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? "" : p.parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
    // One thread per connection and one per watched container, each of which would get a malloc
    // arena of its own (up to 8 per core) whose pages stay resident after the thread ends; the
    // engine's threads mostly wait, so two arenas are plenty. mallopt(3)
    ::mallopt(M_ARENA_MAX, 2);
    narrate::set_program("minibox-engine");
    CLI::App app{"minibox-engine: the Docker Engine API (1.41) on a unix socket, over minibox-shim and step07_full"};
    std::vector<std::string> hosts;
    std::string data_root, exec_root;
    bool trace_on = false, explain = false;
    app.add_option("-H,--host", hosts,
                   "where to listen: unix://PATH (default unix:///run/minibox/engine.sock), tcp://127.0.0.1:PORT "
                   "(only when given; whoever reaches it is root here); repeatable");
    app.add_option("--data-root", data_root, "images and container records (default $MINIBOX_ROOT or /var/lib/minibox)");
    app.add_option("--exec-root", exec_root, "bundles, shim sockets, runtime state (default $MINIBOX_RUN or /run/minibox)");
    app.add_flag("--trace", trace_on, "print each API call and each hop (engine -> shim -> runtime) as it happens");
    app.add_flag("--explain", explain, "--trace, and every kernel operation the engine makes itself");
    if (auto rc = cli::parse_args(app, argc, argv)) return *rc;

    int rc = cli::guarded([&] {
        if (hosts.empty()) hosts.push_back("unix:///run/minibox/engine.sock");
        engine::check_hosts(hosts);  // every address checked before anything is made
        if (explain) narrate::set_mode(narrate::Mode::explain);
        engine::trace::enable(trace_on || explain);
        // The other modules find their roots in the environment (state::root_dir, run_dir), and
        // so do the shims and runtimes the engine starts.
        if (!data_root.empty()) ::setenv("MINIBOX_ROOT", std::filesystem::absolute(data_root).c_str(), 1);
        if (!exec_root.empty()) ::setenv("MINIBOX_RUN", std::filesystem::absolute(exec_root).c_str(), 1);
        // The shim and the runtime next to us come first on PATH (build/bin, or the install dir).
        std::string dir = self_dir();
        if (!dir.empty()) {
            const char* path = ::getenv("PATH");
            ::setenv("PATH", (dir + ":" + (path ? path : "/usr/sbin:/usr/bin:/sbin:/bin")).c_str(), 1);
        }
        auto& cfg = engine::system::config();
        cfg.data_root = state::root_dir();
        cfg.exec_root = state::run_dir();
        cfg.runtime = dir.empty() ? "step07_full" : dir + "/step07_full";

        engine::Router router;
        engine::add_system_routes(router);
#ifdef MINIBOX_ENGINE_CONTAINERS
        engine::add_container_routes(router);
        engine::add_exec_routes(router);
#endif
#ifdef MINIBOX_ENGINE_IMAGES
        engine::add_image_routes(router);
#endif
#ifdef MINIBOX_ENGINE_BUILD
        engine::add_build_routes(router);
#endif
        std::vector<engine::Listener> listeners;
        for (auto& h : hosts) listeners.push_back(engine::listen_on(h));
        engine::Server server(std::move(listeners), router);

        // A client that leaves mid-stream must not kill the engine (EPIPE instead of SIGPIPE);
        // SIGTERM and SIGINT end the accept loop, and the containers stay with their shims.
        ::signal(SIGPIPE, SIG_IGN);
        g_stop_fd = server.stop_fd();
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        ::sigaction(SIGTERM, &sa, nullptr);
        ::sigaction(SIGINT, &sa, nullptr);

#ifdef MINIBOX_ENGINE_CONTAINERS
        engine::restore_containers();
#endif
        for (auto& h : hosts) engine::trace::note("API listening on " + h);
        std::fprintf(stderr, "minibox-engine: API listening on %s\n", hosts.front().c_str());
        server.run();
        engine::trace::note("stopping: the containers stay with their shims (live-restore)");
        return 0;
    });
    // The connection threads may still be in a read or a wait; exit(3)'s destructors would pull
    // the manager and the event bus from under them. The sockets are unlinked by now.
    std::fflush(nullptr);
    ::_exit(rc);
}
