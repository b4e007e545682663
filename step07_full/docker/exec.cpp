// docker exec and attach: a new process in a running container through the runtime's own exec
// (`step07_full --root R exec ID CMD`: setns into the init's namespaces, its cgroup, its
// capabilities, seccomp and no_new_privs), and the container's stdio through its shim.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "bundle.hpp"
#include "console.hpp"
#include "image_source.hpp"
#include "internal.hpp"
#include "manager.hpp"
#include "narrate.hpp"
#include "shim/client.hpp"
#include "spec.hpp"

namespace docker {
namespace {

// Copies between two fds until `from` ends; false when `to` is gone.
bool copy_some(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += w;
    }
    return true;
}

}  // namespace

int Manager::exec(const std::string& ref, const ExecOptions& opts, const ExecStdio& stdio) {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    auto l = detail::live(roots_, *r);
    if (l.status == "paused") throw Conflict("Container " + id + " is paused, unpause the container before exec");
    if (!l.running() || l.status == "restarting") throw Conflict("Container " + id + " is not running");
    if (opts.cmd.empty()) throw BadRequest("No exec command specified");
    auto p = detail::paths(roots_, id);

    std::vector<std::string> args = {detail::runtime_binary(), "--root", p.runtime_root, "exec"};
    for (auto& e : opts.env) {
        if (e.find('=') == std::string::npos || e.front() == '=') throw BadRequest("invalid environment variable: " + e);
        args.insert(args.end(), {"--env", e});
    }
    if (!opts.workdir.empty()) {
        if (opts.workdir.front() != '/') throw BadRequest("the working directory '" + opts.workdir + "' is invalid, it needs to be an absolute path");
        args.insert(args.end(), {"--cwd", opts.workdir});
    }
    if (!opts.user.empty()) {
        auto img = find_image(r->image_id.empty() ? r->image_ref : r->image_id);
        UserIds u = resolve_user(opts.user, img ? img->image.layers : std::vector<std::string>{});
        args.insert(args.end(), {"--user", std::to_string(u.uid) + ":" + std::to_string(u.gid)});
    }
    if (opts.privileged)
        for (int n = 0; n <= spec::last_capability(); ++n) args.insert(args.end(), {"--cap", spec::capability_name(n)});
    std::string console_path;
    unique_fd listener;
    if (opts.tty) {
        console_path = p.shim + "/exec-" + new_id().substr(0, 8) + ".sock";
        listener = console::listen_at(console_path);
        args.insert(args.end(), {"--tty", "--console-socket", console_path});
    }
    if (opts.detach) args.push_back("--detach");
    args.push_back(id);
    args.insert(args.end(), opts.cmd.begin(), opts.cmd.end());
    narrate::note("docker", "exec: " + detail::quote_command(args));

    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        ::close(null);
        if (!console_path.empty()) ::unlink(console_path.c_str());
        throw SysError("fork()", e);
    }
    if (pid == 0) {
        int in = opts.tty || opts.detach || !opts.open_stdin || stdio.in < 0 ? null : stdio.in;
        int out = opts.tty || opts.detach || stdio.out < 0 ? null : stdio.out;
        int err = opts.tty || opts.detach || stdio.err < 0 ? null : stdio.err;
        // dup2 in an order that never overwrites a source still needed.
        int fds[3] = {::fcntl(in, F_DUPFD_CLOEXEC, 3), ::fcntl(out, F_DUPFD_CLOEXEC, 3), ::fcntl(err, F_DUPFD_CLOEXEC, 3)};
        for (int i = 0; i < 3; ++i) ::dup2(fds[i], i);
        ::execv(cargv[0], cargv.data());
        _exit(127);
    }
    ::close(null);
    int status = 0;
    if (opts.tty) {
        // The runtime sends the pty master over the console socket, then (not detached) waits
        // for the process; we copy between the caller's fds and the master meanwhile.
        unique_fd master;
        try {
            pollfd pf{listener.get(), POLLIN, 0};
            for (;;) {
                int n = ::poll(&pf, 1, 200);
                if (n > 0) break;
                int st = 0;
                if (::waitpid(pid, &st, WNOHANG) == pid) {
                    ::unlink(console_path.c_str());
                    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                }
            }
            master = console::receive_master(listener.get());
        } catch (...) {
            ::unlink(console_path.c_str());
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw;
        }
        ::unlink(console_path.c_str());
        listener.reset();
        if (stdio.on_pty) stdio.on_pty(master.get());
        if (!opts.detach) {
            bool in_open = opts.open_stdin && stdio.in >= 0;
            for (;;) {
                pollfd fds[2] = {{master.get(), POLLIN, 0}, {in_open ? stdio.in : -1, POLLIN, 0}};
                int n = ::poll(fds, 2, 200);
                if (n < 0 && errno != EINTR) break;
                if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                    if (!copy_some(master.get(), stdio.out >= 0 ? stdio.out : master.get())) break;
                }
                if (in_open && (fds[1].revents & (POLLIN | POLLHUP))) {
                    if (!copy_some(stdio.in, master.get())) {
                        in_open = false;
                        char eot = 4;  // a pty has no half-close: the terminal's EOF
                        (void)::write(master.get(), &eot, 1);
                    }
                }
            }
        }
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

unique_fd Manager::attach(const std::string& ref, const AttachOptions& opts) {
    Records records(roots_.data);
    std::string id = records.resolve(ref);
    auto r = records.load(id);
    if (!r) throw NotFound("No such container: " + ref);
    auto p = detail::paths(roots_, id);
    auto l = detail::live(roots_, *r);
    if (!l.shim_alive) throw Conflict("You cannot attach to a stopped container, start it first");
    if (l.status == "paused") throw Conflict("You cannot attach to a paused container, unpause it first");
    return shim::Client(p.shim).attach(opts.in, opts.out, opts.err);
}

}  // namespace docker
