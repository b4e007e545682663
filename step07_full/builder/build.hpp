// `build`: a Dockerfile -> an image, as Docker's classic builder does it: every instruction is
// one step on top of the previous step's image; RUN runs a container (runner.hpp) and keeps its
// upper directory as a layer (layer.hpp), COPY/ADD write into a fresh upper directory, the others
// change only the config. Each step's result is an image in the store (untagged), found again by
// the cache (cache.hpp) when parent, instruction and copied files are the same.
// Used by `step07_full build` (cli.cpp) and the engine's POST /build (the classic builder,
// DOCKER_BUILDKIT=0): both get Docker's text ("Step 1/3 : FROM busybox", " ---> Using cache (CACHED)").
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runner.hpp"

namespace builder {

struct BuildOptions {
    // The Dockerfile: a path (relative ones are relative to the context, as POST /build's
    // `dockerfile` parameter is; the CLI makes -f absolute first). Default CONTEXT/Dockerfile.
    std::string dockerfile = "Dockerfile";
    std::vector<std::string> tags;                   // -t NAME[:TAG], checked before anything runs
    std::map<std::string, std::string> build_args;   // --build-arg K=V
    bool no_cache = false;                           // --no-cache
    bool quiet = false;                              // -q: only the image id at the end
    std::string target;                              // --target STAGE: stop after it
    std::string network = "host";                    // host (the default here), none, bridge (runner.hpp)
    std::map<std::string, std::string> labels;       // --label K=V (on the final image)
};

struct BuildResult {
    std::string image_id;           // "sha256:<hex>"
    std::vector<std::string> tags;  // as tagged ("x:latest")
    int steps = 0;                  // instructions run or found in the cache
    int cached = 0;                 // of which from the cache
};

// Builds from the directory `context`. Writes Docker's progress text to `out` (chunks, with
// newlines; the output of RUN steps as it comes). Throws Error: a malformed Dockerfile
// (Dockerfile:LINE:COLUMN), a missing base image or source, a RUN that failed ("The command
// '/bin/sh -c exit 3' returned a non-zero code: 3", exit status the command's). Whatever fails,
// no container, mount or step directory is left behind.
BuildResult build(const BuildOptions& opts, const std::string& context, const OutputSink& out);

// The same from a build context sent as a tar stream (POST /build's body: plain or gzip),
// read from `fd` into a temporary directory that is removed afterwards.
BuildResult build_from_tar(const BuildOptions& opts, int fd, const OutputSink& out);

}  // namespace builder
