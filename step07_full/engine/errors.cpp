#include "errors.hpp"

namespace engine {

int status_for(const std::exception& e) {
    if (auto* api = dynamic_cast<const ApiError*>(&e)) return api->status();
    std::string m = e.what();
    auto has = [&](const char* s) { return m.find(s) != std::string::npos; };
    // The manager and the store speak Docker's words; these are the phrases dockerd maps the
    // same way (daemon/errors.go: errNotFound, errConflict, errInvalidParameter).
    if (has("No such container") || has("No such image") || has("No such exec") || has("not found") ||
        has("No such object"))
        return 404;
    if (has("already in use") || has("is running") || has("is not running") || has("is paused") ||
        has("is not paused") || has("cannot remove") || has("You cannot remove") || has("conflict") ||
        has("Conflict"))
        return 409;
    if (has("invalid") || has("Invalid") || has("bad ") || has("must be") || has("unknown") || has("refused"))
        return 400;
    return 500;
}

}  // namespace engine
