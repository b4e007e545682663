// COPY and ADD: files of the build context (or of another stage's root) into a step's root.
//
// Sources are names in the context, with Docker's wildcards (glob(3): * ? [..]) and never
// outside it ("COPY ../x" is refused); what .dockerignore excludes is not there. A directory's
// contents are copied (not the directory itself); several sources need a destination ending in
// "/"; files get 0:0 (or --chown's owner), keep their mode (or --chmod's) and mtime. ADD also
// unpacks a local tar archive (plain, gzip, bzip2, xz, zstd) into the destination directory,
// with step06's safe unpacker. Every destination is opened beneath the root with
// openat2(RESOLVE_IN_ROOT): a symlink in the image cannot make a COPY write outside it.
// See openat2(2), glob(7).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dockerignore.hpp"
#include "runner.hpp"

namespace builder {

struct Source {
    std::string host;  // absolute path to copy from
    std::string rel;   // its name relative to the context (or the other root), for .dockerignore
    bool dir = false;
};

// The sources `patterns` name in `base` (the context, or a mounted stage root when `ignore` is
// null). Error for a path outside, nothing matching, an excluded file.
std::vector<Source> resolve_sources(const std::string& base, const std::vector<std::string>& patterns, const Ignore* ignore,
                                    const std::string& instruction);

struct CopyOptions {
    std::optional<Ids> chown;     // default 0:0 (ADD's archives keep their owners)
    std::optional<unsigned> chmod;
    bool add = false;             // ADD: unpack archives
    const Ignore* ignore = nullptr;
};

// Copies into the mounted root `merged` at `dest` (absolute inside the container). Returns
// what the cache and the history say about it ("file:<hex> in /dst").
void copy_sources(const std::string& merged, const std::vector<Source>& srcs, const std::string& dest, const CopyOptions& opts,
                  const std::string& instruction);

// The destination as Docker resolves it: relative to WORKDIR, "/" kept at the end.
std::string dest_path(const std::string& workdir, const std::string& dest);

// True when `path` is an archive ADD unpacks.
bool is_archive(const std::string& path);

}  // namespace builder
