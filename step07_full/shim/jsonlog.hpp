// Docker's json-file log driver: every line the container writes becomes one JSON object,
//   {"log":"hello\n","stream":"stdout","time":"2026-12-01T12:00:00.123456789Z"}
// appended to the log file (O_APPEND: `logs -f` readers tail it while it grows). A line is
// written when its newline arrives; a chunk without one waits, up to 16 KiB (then it is written
// as a partial line, as Docker does), or until the stream ends. See open(2) O_APPEND.
#pragma once

#include <string>
#include <string_view>

#include "unique_fd.hpp"

namespace shim {

class JsonLog {
public:
    explicit JsonLog(const std::string& path);  // creates it (0640) or appends to it
    // Output of one stream ("stdout" or "stderr").
    void write(const char* stream, std::string_view data);
    // End of a stream (or of the container): what waits without a newline is written.
    void flush(const char* stream);
    void flush_all();

private:
    void emit(const char* stream, std::string_view line);
    unique_fd fd_;
    std::string pending_[2];  // stdout, stderr
};

}  // namespace shim
