// Showing a pull or a push as docker does: on a terminal one line per layer, redrawn in place
// (ANSI "cursor up" ESC[nA and "erase line" ESC[2K, see console_codes(4)) with a bar, bytes of
// total and the rate; otherwise one plain line per change of state (no bars in a log file).
#pragma once

#include <cstdio>

#include "store.hpp"

namespace images {

// A progress callback that draws on `out`; `tty` chooses bars or plain lines.
ProgressFn make_printer(std::FILE* out, bool tty);

// "3.2MB/10.5MB" as docker writes sizes (decimal units).
std::string docker_size(std::uint64_t bytes);

}  // namespace images
