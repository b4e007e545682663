// Shared by backend.cpp, v1.cpp and v2.cpp: not part of the module's interface.
#pragma once

#include <string>
#include <vector>

#include "backend.hpp"

namespace cgroup::detail {

bool exists(const std::string& path);
// Narrated: open(path, O_WRONLY|O_TRUNC), write(value). Throws SysError with a hint.
void write_file(const std::string& dir, const std::string& file, const std::string& value, const std::string& why);
// Narrated mkdir; with may_exist an existing directory is fine (the shared parent).
void make_dir(const std::string& path, bool may_exist, const std::string& why);
// The pids in dir/cgroup.procs.
std::vector<pid_t> procs(const std::string& dir);

}  // namespace cgroup::detail
