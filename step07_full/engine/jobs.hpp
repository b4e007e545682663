// The engine's jobs with the network and archive libraries: pull, push, load, save, build and
// docker cp's tars run in a child process, minibox-engine-worker (worker.cpp), which streams
// their progress back as JSON lines on a pipe. So the daemon itself never maps libcurl and its
// TLS stack, nor libarchive (about 50 shared libraries, 10 MiB of resident pages counted in
// every idle minute), and a crash in a layer's decompression is a failed request, not a dead
// engine.
//   fork(2), execve(2), pipe2(2), memfd_create(2); worker.cpp for the line protocol
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/build.hpp"
#include "image/store.hpp"

namespace engine::jobs {

// Each call runs one worker and returns when it has exited; a failure is thrown as the
// worker reported it (Error, with its message and exit status).
void pull(const std::string& ref, const images::RegistryOptions& opts, const images::ProgressFn& progress);
std::string push(const std::string& ref, const images::RegistryOptions& opts, const images::ProgressFn& progress);
// `fd`: the archive (a memfd at offset 0); returns the "Loaded image: x" lines.
std::vector<std::string> load(int fd);
// The docker-archive of `refs` written to `out`.
void save(const std::vector<std::string>& refs, int out);
// `fd`: the build context tar; `text` gets the builder's output as it comes.
builder::BuildResult build(const builder::BuildOptions& opts, int fd, const std::function<void(std::string_view)>& text);

// docker cp (archive.cpp), docker::Manager's stat_path, archive_path and extract_to in the
// worker: the path's stat as PathStat::to_json(); the same and its tar written to `out`; the
// tar on `in` (a memfd at offset 0) extracted into `dir`. The manager's typed errors come back
// typed (docker::NotFound, Conflict, BadRequest), so mapped() gives the same status codes.
nlohmann::json cp_stat(const std::string& container, const std::string& path);
nlohmann::json cp_get(const std::string& container, const std::string& path, int out);
void cp_put(const std::string& container, const std::string& dir, int in);

}  // namespace engine::jobs
