// Docker's error shape: every failed API call answers {"message": "..."} with the status the
// CLI branches on: 400 bad parameters, 404 no such container / image / endpoint, 409 conflict
// (a name in use, removing a running container), 500 anything else. The CLI prints the message
// as "Error response from daemon: <message>" and, for 404 on inspect, tries the next kind.
//   moby's api/swagger.yaml, "ErrorResponse"; the CLI's errdefs (IsNotFound, IsConflict)
#pragma once

#include <string>

#include "error.hpp"

namespace engine {

// Thrown by handlers; the router turns it into the response.
class ApiError : public Error {
public:
    ApiError(int status, std::string message) : Error(std::move(message)), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

inline ApiError bad_request(std::string m) { return ApiError(400, std::move(m)); }
inline ApiError not_found(std::string m) { return ApiError(404, std::move(m)); }
inline ApiError conflict(std::string m) { return ApiError(409, std::move(m)); }
inline ApiError not_modified() { return ApiError(304, ""); }

// The status for an Error thrown by another module: its type when it says (ApiError and the
// manager's typed errors), else what its message says in Docker's own words ("No such
// container" 404, "is already in use" 409, ...), else 500.
int status_for(const std::exception& e);
// The message to send: e.what(), with the words the CLI looks for added where it needs them.
std::string message_for(const std::exception& e);

}  // namespace engine
