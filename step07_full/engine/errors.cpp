#include "errors.hpp"

namespace engine {

int status_for(const std::exception& e) {
    if (auto* api = dynamic_cast<const ApiError*>(&e)) return api->status();
    std::string m = e.what();
    auto has = [&](const char* s) { return m.find(s) != std::string::npos; };
    // The modules' typed errors are mapped where they are called (areas.hpp's mapped()); what
    // reaches here untyped is judged by Docker's own phrases only: a loose "not found" would
    // turn "executable file not found" into a 404, and the CLI would go and pull the image.
    if (has("No such container") || has("No such image") || has("No such exec")) return 404;
    if (has("is already in use") || has("You cannot remove")) return 409;
    if (auto* err = dynamic_cast<const Error*>(&e)) {
        // A command that cannot run (126) or is not there (127): dockerd answers 400 with the
        // runtime's message, and the CLI picks its exit code from that text.
        if (err->exit_status() == exit_code::cannot_execute || err->exit_status() == exit_code::not_found) return 400;
    }
    return 500;
}

std::string message_for(const std::exception& e) {
    std::string m = e.what();
    auto* err = dynamic_cast<const Error*>(&e);
    if (!err) return m;
    // `docker run` turns a failed start into 127 when the message says "executable file not
    // found" or "no such file or directory", 126 for "permission denied" (lower case: Go's
    // EACCES text); say it in those words whatever the runtime wrote.
    if (err->exit_status() == exit_code::not_found && m.find("executable file not found") == std::string::npos &&
        m.find("no such file or directory") == std::string::npos)
        m += ": executable file not found in $PATH";
    if (err->exit_status() == exit_code::cannot_execute && m.find("permission denied") == std::string::npos)
        m += ": permission denied";
    return m;
}

}  // namespace engine
