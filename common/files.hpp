// Whole-file helpers for the kernel's text interfaces (/proc, /sys, cgroup files) and the
// tool's own small state files. One place, so that every step reads and writes them alike.
#pragma once

#include <fcntl.h>

#include <string>
#include <string_view>

namespace files {

// The whole file; "" when it cannot be read (for /proc and /sys, absent is a normal answer).
std::string read(const std::string& path);
// The first line without its newline; "" when absent.
std::string read_line(const std::string& path);

// One write(2) of `text`, as kernel files want it (a value split over two writes is two
// values). Returns 0, or -1 with errno set: the shape narrate::sys expects of its lambda.
long write_once(const std::string& path, std::string_view text, int flags = O_WRONLY | O_CLOEXEC);

// Creates or truncates `path` (0644) with `text`; throws SysError naming the path.
void write(const std::string& path, const std::string& text);

}  // namespace files
