// `step07_full run`'s command line -> RunOptions, docker's flag names and spellings. Pure (no
// host access but reading --env-file and stat()ing -v/--device paths): unit-tested.
#pragma once

#include <string>
#include <vector>

#include "options.hpp"

namespace docker {

// args: everything after "run" ("-d", "--name", "x", "busybox", "sh", "-c", "..."). Options stop
// at IMAGE: the rest is the command with its own options. Throws BadRequest with one line
// (docker's wording where it has one); validate() is called on the result. `help` is set (and
// nothing else checked) for -h/--help... docker's -h is --hostname, so only --help.
RunOptions parse_run_flags(const std::vector<std::string>& args, bool* help = nullptr);
// The usage text of run.
std::string run_usage();

}  // namespace docker
