// minibox-shim: one small process per container, between the engine and the container.
//
//   minibox-shim [--explain] --ready-fd N DIR     run the container of DIR (shim/protocol.md)
//   minibox-shim --reap                           undo what killed shims left behind
//   minibox-shim --reap-network DIR               the network part of that for one (reap_net.hpp:
//                                                 the engine's reaper runs it, so as not to map
//                                                 libnftables itself)
//   minibox-shim --send DIR JSON                  one request, its reply printed (for learners:
//                                                 after an attach, the stream, frames decoded)
//
// It detaches itself the classic daemon way, fork(2) + setsid(2) + fork(2): not the caller's
// child, no controlling terminal, so neither the engine's exit nor a hangup reaches it; then
// prctl(PR_SET_CHILD_SUBREAPER) makes it the parent of the container's init once the runtime
// exits. See daemon(7) ("SysV daemons"), setsid(2), prctl(2).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "client.hpp"
#include "error.hpp"
#include "narrate.hpp"
#include "reap_net.hpp"
#include "server.hpp"

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: minibox-shim [--explain] --ready-fd N DIR\n"
                 "       minibox-shim --reap\n"
                 "       minibox-shim --reap-network DIR\n"
                 "       minibox-shim --send DIR '{\"op\":\"state\"}'\n"
                 "DIR holds bundle/config.json and shim.json; see step07_full/shim/protocol.md\n");
    return exit_code::tool_failed;
}

// Only the ready pipe crosses into the shim: a descriptor leaked from the caller (an engine's
// listening socket, a test's pipe) would stay open for the container's whole life.
void close_inherited(int keep) {
    if (keep > 3) ::close_range(3, static_cast<unsigned>(keep - 1), 0);
    if (keep >= 3) ::close_range(static_cast<unsigned>(keep + 1), ~0u, 0);
    else ::close_range(3, ~0u, 0);
}

void detach(const std::string& dir) {
    narrate::note("shim", "fork(): the caller reaps this first child at once, so the shim is nobody's child");
    pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork()", errno);
    if (pid > 0) ::_exit(0);
    narrate::sys({"shim", "setsid()", "a session of its own: no controlling terminal, no SIGHUP when the caller's ends",
                  "ps -o pid,sid,tty,comm -p <shim>"},
                 [] { return ::setsid(); });
    narrate::note("shim", "fork() again: not a session leader, so opening a tty can never make it our terminal");
    pid = ::fork();
    if (pid < 0) throw SysError("fork()", errno);
    if (pid > 0) ::_exit(0);
    if (::chdir("/") < 0) ::_exit(exit_code::tool_failed);
    ::umask(022);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    std::string log = dir + "/shim.log";
    int err = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(err >= 0 ? err : null, 2);
    if (null > 2) ::close(null);
    if (err > 2) ::close(err);
    narrate::sys({"shim", "prctl(PR_SET_CHILD_SUBREAPER, 1)",
                  "orphans below the shim (the container's init, once the runtime exits) become its children",
                  "ps -ef --forest"},
                 [] { return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); });
}

// --send: the protocol by hand, one request. After an attach reply the stream follows: raw for a
// tty, else stdcopy frames, written to our stdout/stderr by their stream byte.
int send_request(const std::string& dir, const std::string& text) {
    auto req = nlohmann::json::parse(text, nullptr, false);
    if (!req.is_object()) throw Error("--send: not a JSON object: " + text);
    shim::Client client(dir);
    if (req.value("op", "") != "attach") {
        std::printf("%s\n", client.request(req).dump().c_str());
        return 0;
    }
    bool tty = false;
    unique_fd fd = client.attach(req.value("stdin", false), req.value("stdout", false), req.value("stderr", false), &tty);
    std::printf("{\"ok\":true,\"tty\":%s}\n", tty ? "true" : "false");
    std::fflush(stdout);
    ::shutdown(fd.get(), SHUT_WR);  // nothing to send: our half is closed
    shim::Stream s;
    std::string data;
    while (tty ? false : shim::read_frame(fd.get(), s, data)) {
        if (::write(s == shim::stderr_stream ? 2 : 1, data.data(), data.size()) < 0) return 1;
    }
    char buf[4096];
    ssize_t n;
    while (tty && (n = ::read(fd.get(), buf, sizeof buf)) > 0)
        if (::write(1, buf, static_cast<size_t>(n)) < 0) return 1;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    narrate::set_program("minibox-shim");
    shim::reap_network_in_process();  // we link step04's network code anyway
    int ready_fd = -1;
    std::string dir;
    bool reap = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--explain") {
            narrate::set_mode(narrate::Mode::explain);
        } else if (a == "--ready-fd" && i + 1 < argc) {
            char* end = nullptr;
            long n = std::strtol(argv[++i], &end, 10);
            if (!end || *end || n < 0 || n > INT_MAX || ::fcntl(static_cast<int>(n), F_GETFD) < 0) {
                narrate::error(std::string("--ready-fd ") + argv[i] + ": not an open descriptor");
                return exit_code::tool_failed;
            }
            ready_fd = static_cast<int>(n);
        } else if (a == "--reap") {
            reap = true;
        } else if (a == "--reap-network" && i + 1 < argc) {
            try {
                shim::reap_network(argv[i + 1]);
                return 0;
            } catch (const Error& e) {
                narrate::error(e.line());
                return e.exit_status();
            } catch (const std::exception& e) {
                narrate::error(std::string("--reap-network ") + argv[i + 1] + ": " + e.what());
                return exit_code::tool_failed;
            }
        } else if (a == "--send" && i + 2 < argc) {
            try {
                return send_request(argv[i + 1], argv[i + 2]);
            } catch (const Error& e) {
                narrate::error(e.line());
                return e.exit_status();
            }
        } else if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else if (!a.empty() && a[0] != '-' && dir.empty()) {
            dir = a;
        } else {
            return usage();
        }
    }
    try {
        if (reap) {
            for (auto& id : shim::reap_dead()) std::printf("reaped %s\n", id.c_str());
            return 0;
        }
        if (dir.empty()) return usage();
        char real[PATH_MAX];
        if (!::realpath(dir.c_str(), real)) throw SysError("realpath(\"" + dir + "\")", errno);
        dir = real;
        close_inherited(ready_fd);
        ::signal(SIGPIPE, SIG_IGN);  // a client gone mid-reply is an EPIPE, not our death
        detach(dir);
        return shim::serve(dir, ready_fd);
    } catch (const Error& e) {
        narrate::error(e.line());
        if (ready_fd >= 0) {
            std::string line = nlohmann::json{{"ok", false}, {"error", e.message()}, {"exit_code", e.exit_status()}}.dump() + "\n";
            if (::write(ready_fd, line.data(), line.size()) < 0) return e.exit_status();
        }
        return e.exit_status();
    }
}
