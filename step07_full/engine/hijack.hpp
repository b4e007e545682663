// The hijacked connection of attach and exec: after "101 UPGRADED" the HTTP connection is a
// plain byte stream both ways. The engine joins it to the shim's attach socket and copies:
// client -> shim is the container's stdin (the client's half-close, shutdown(2) SHUT_WR, closes
// stdin), shim -> client is its output, raw for a tty, else in Docker's stdcopy frames (an
// 8-byte header [stream, 0, 0, 0, length big-endian 32] per chunk; stream 1 stdout, 2 stderr).
//   man 2 poll, man 2 shutdown; moby's pkg/stdcopy
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace engine::hijack {

// Copies until the shim's side ends (the container's output closed, or its exit), or the
// client goes away. `early` goes to the shim first (stdin the client sent with the request).
// `forward_stdin` false: whatever the client sends is dropped (attach without stdin).
void pump(int client, int shim, const std::string& early, bool forward_stdin);

// One stdcopy frame: the header and `data` (stream 1 stdout, 2 stderr, 3 system error).
std::string frame(std::uint8_t stream, std::string_view data);

}  // namespace engine::hijack
