// `step07_full build` and `step07_full commit`: Docker's flags -> BuildOptions / CommitOptions.
#include "cli.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "build.hpp"
#include "common/cli.hpp"
#include "commit.hpp"
#include "error.hpp"
#include "narrate.hpp"

namespace builder_cli {

namespace {

// Repeatable options take one value per occurrence (docker's -t a -t b), never the positionals after.
int build_main(int argc, char** argv) {
    CLI::App app{"Build an image from a Dockerfile (Docker's classic builder)", "step07_full build"};
    builder::BuildOptions o;
    std::string file, context;
    std::vector<std::string> args, labels;
    bool explain = false;
    app.add_option("-f,--file", file, "the Dockerfile (default CONTEXT/Dockerfile)");
    app.add_option("-t,--tag", o.tags, "NAME[:TAG] (repeatable)")->allow_extra_args(false);
    app.add_option("--build-arg", args, "K=V, a value for an ARG (K alone: from the environment)")->allow_extra_args(false);
    app.add_flag("--no-cache", o.no_cache, "run every step, do not use the cache");
    app.add_flag("-q,--quiet", o.quiet, "print only the image id");
    app.add_option("--target", o.target, "the stage to build (its name from FROM ... AS NAME)");
    app.add_option("--network", o.network, "the network of RUN steps: host (the default here), none, or bridge (Docker's default: the shim's bridge, a leased address)");
    app.add_option("--label", labels, "K=V, a label of the final image")->allow_extra_args(false);
    bool rm = true, force_rm = false;
    app.add_flag("--rm", rm, "accepted (intermediate containers are always removed)");
    app.add_flag("--force-rm", force_rm, "accepted (intermediate containers are always removed)");
    app.add_flag("--explain", explain, "narrate every kernel operation");
    app.add_option("context", context, "the build context: a directory")->required();
    if (auto rc = cli::parse_args(app, argc, argv)) return *rc;
    if (explain) narrate::set_mode(narrate::Mode::explain);
    for (const auto& a : args) {
        auto eq = a.find('=');
        if (eq == std::string::npos) {
            if (const char* v = std::getenv(a.c_str())) o.build_args[a] = v;  // docker: taken from the environment
        } else {
            o.build_args[a.substr(0, eq)] = a.substr(eq + 1);
        }
    }
    for (const auto& l : labels) {
        auto eq = l.find('=');
        o.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
    }
    if (!file.empty()) {
        // docker resolves -f against the current directory, POST /build against the context
        if (file[0] != '/') {
            char cwd[4096];
            if (::getcwd(cwd, sizeof cwd)) file = std::string(cwd) + "/" + file;
        }
        o.dockerfile = file;
    }
    return cli::guarded([&] {
        builder::build(o, context, [](std::string_view s) {
            std::fwrite(s.data(), 1, s.size(), stdout);
            std::fflush(stdout);
        });
        return 0;
    });
}

int commit_main(int argc, char** argv) {
    CLI::App app{"Create a new image from a container's changes", "step07_full commit"};
    builder::CommitOptions o;
    bool pause = true, explain = false;
    app.add_option("-c,--change", o.changes, "a Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR")->allow_extra_args(false);
    app.add_option("-m,--message", o.message, "the commit message (history comment)");
    app.add_option("-a,--author", o.author, "the author");
    app.add_flag("-p,--pause", pause, "accepted (the container is not paused)");
    app.add_flag("--explain", explain, "narrate every kernel operation");
    app.add_option("container", o.container, "the container: name, id or id prefix")->required();
    app.add_option("repository", o.repo_tag, "NAME[:TAG] for the new image");
    if (auto rc = cli::parse_args(app, argc, argv)) return *rc;
    if (explain) narrate::set_mode(narrate::Mode::explain);
    return cli::guarded([&] {
        std::printf("%s\n", builder::commit(o).c_str());
        return 0;
    });
}

}  // namespace

bool claims(int argc, char** argv) {
    // the first word that is not a global option of the runtime's
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (a[0] == '-') {
            // the runtime's global options that take a value: skip it too (--root build create)
            for (const char* v : {"--root", "--log", "--log-format", "--log-level"}) {
                if (std::strcmp(a, v) == 0) ++i;
            }
            continue;
        }
        return std::strcmp(a, "build") == 0 || std::strcmp(a, "commit") == 0;
    }
    return false;
}

int main(int argc, char** argv) {
    // argv without the program and the global options before the command: the command's own line
    int i = 1;
    while (i < argc && argv[i][0] == '-') ++i;
    if (i >= argc) return exit_code::tool_failed;
    std::string word = argv[i];
    std::vector<char*> sub{argv[0]};
    for (int k = 0; k < argc; ++k) {
        if (k > i) sub.push_back(argv[k]);
        else if (k > 0 && k < i && std::strcmp(argv[k], "--explain") == 0) sub.push_back(argv[k]);
    }
    sub.push_back(nullptr);
    int n = static_cast<int>(sub.size()) - 1;
    return word == "build" ? build_main(n, sub.data()) : commit_main(n, sub.data());
}

}  // namespace builder_cli
