// The console: a pseudo-terminal whose master end goes to the engine, not to the runtime.
//
// With process.terminal, the container's stdio is the slave side of a new pty (opened in the
// container's own devpts instance, so the pty belongs to the container), made its controlling
// terminal (setsid + TIOCSCTTY). The master is sent to the engine over the unix socket given by
// --console-socket, as SCM_RIGHTS ancillary data (the protocol runc defined, which conmon and
// containerd's shim speak): the runtime can then exit while the engine holds the terminal.
// See pty(7), unix(7) (SCM_RIGHTS), tty_ioctl(4).
#pragma once

#include <string>

#include "unique_fd.hpp"

namespace console {

// Host side, before clone: connect to the engine's socket (AF_UNIX, SOCK_STREAM).
unique_fd connect(const std::string& socket_path);
// Child side, after the mounts (the container's /dev/ptmx): a new pty of size h x w (0 = leave),
// its master sent over `socket`, the slave made the controlling terminal and dup'ed onto 0, 1, 2.
void setup(int socket, unsigned height, unsigned width);
// Receiving side (tests, and our own `run -t`): accept one connection on a listening socket and
// return the master fd it carries.
unique_fd receive_master(int listening_socket);
// A listening unix socket at `path` (for tests and `run -t`).
unique_fd listen_at(const std::string& path);
// Send / receive one fd over a connected unix socket.
void send_fd(int socket, int fd, const std::string& name);
unique_fd recv_fd(int socket);

}  // namespace console
