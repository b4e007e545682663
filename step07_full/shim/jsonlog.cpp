#include "jsonlog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "narrate.hpp"
#include "util.hpp"

namespace shim {
namespace {

constexpr size_t kMaxLine = 16 * 1024;

int index_of(const char* stream) { return std::strcmp(stream, "stderr") == 0 ? 1 : 0; }

}  // namespace

JsonLog::JsonLog(const std::string& path) {
    fd_.reset(static_cast<int>(narrate::sys(
        {"shim", "open(\"" + path + "\", O_WRONLY|O_APPEND|O_CREAT, 0640)",
         "the container's output in Docker's json-file format, what `logs` reads", "tail -f " + path},
        [&] { return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640); })));
}

void JsonLog::emit(const char* stream, std::string_view line) {
    // Invalid UTF-8 (a binary's output) is replaced, never a reason to lose the line.
    nlohmann::json j = {{"log", std::string(line)}, {"stream", stream}, {"time", now_rfc3339()}};
    std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    // One write per record: a concurrent reader sees whole lines (O_APPEND writes are atomic
    // with respect to the file offset).
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd_.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            narrate::warn(std::string("json log: write: ") + std::strerror(errno));
            return;
        }
        done += static_cast<size_t>(n);
    }
}

void JsonLog::write(const char* stream, std::string_view data) {
    std::string& pending = pending_[index_of(stream)];
    pending.append(data);
    size_t start = 0;
    for (;;) {
        size_t nl = pending.find('\n', start);
        if (nl == std::string::npos) break;
        emit(stream, std::string_view(pending).substr(start, nl + 1 - start));
        start = nl + 1;
    }
    pending.erase(0, start);
    while (pending.size() >= kMaxLine) {
        emit(stream, std::string_view(pending).substr(0, kMaxLine));
        pending.erase(0, kMaxLine);
    }
}

void JsonLog::flush(const char* stream) {
    std::string& pending = pending_[index_of(stream)];
    if (!pending.empty()) emit(stream, pending);
    pending.clear();
}

void JsonLog::flush_all() {
    flush("stdout");
    flush("stderr");
}

}  // namespace shim
