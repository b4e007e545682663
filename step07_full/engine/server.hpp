// The listening side: one socket per -H (unix://PATH, the default /run/minibox/engine.sock, or
// tcp://127.0.0.1:PORT only when asked), an accept loop over all of them, and one thread per
// connection that reads requests (HTTP/1.1 keep-alive: many per connection) and dispatches them.
// A long call (a follow, a wait, a hijacked attach) blocks only its own thread.
// The unix socket is root-equivalent, as Docker's is: mode 0660, group `minibox` when it exists.
//   man 7 unix, man 2 socket, man 2 bind, man 2 listen, man 2 accept4, man 2 chown
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "router.hpp"
#include "unique_fd.hpp"

namespace engine {

struct Listener {
    std::string address;  // as given: unix:///run/minibox/engine.sock, tcp://127.0.0.1:2375
    std::string path;     // the unix socket's path ("" for tcp), unlinked at the end
    unique_fd fd;
};

// Parses and checks every -H before any socket is made (a bad one leaves nothing behind).
// Throws Error naming the address.
void check_hosts(const std::vector<std::string>& hosts);
// Binds and listens. A unix path already answered by another daemon is an Error; a stale
// socket file (nobody listening) is replaced.
Listener listen_on(const std::string& host);

class Server {
public:
    Server(std::vector<Listener> listeners, const Router& router);
    ~Server();  // unlinks the unix sockets
    // Accepts until stop() (async-signal-safe: a write to a pipe).
    void run();
    void stop();
    // File descriptor to write one byte to for stop() from a signal handler.
    int stop_fd() const { return wake_[1].get(); }

private:
    void serve(unique_fd fd);

    std::vector<Listener> listeners_;
    const Router& router_;
    unique_fd wake_[2];
    std::atomic<int> active_{0};
};

}  // namespace engine
