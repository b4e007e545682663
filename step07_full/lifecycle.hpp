// The OCI lifecycle, as runc's command line offers it: create, start, state, kill, delete,
// pause, resume, ps, list, update, run. Each command is one function; main.cpp only parses.
//
//   create   bundle -> layers -> launch::create(): the init waits at the exec fifo   "created"
//   start    open the fifo: the init goes on, drops its privileges and execs         "running"
//   kill     a signal to the init (or, --all, to every process of its cgroup)
//   delete   the init gone: its cgroup removed, its state forgotten                  (no state)
//
// Errors about a container (no such id, wrong status) exit 1, as runc's do; errors in the
// bundle or of the kernel exit 125 (the tool failed).
#pragma once

#include <string>
#include <vector>

namespace lifecycle {

struct Global {
    std::string root;           // --root: the state directory ("" = /run/minibox/runtime)
    bool systemd_cgroup = false;
};

struct CreateOptions {
    std::string bundle = ".";
    std::string pid_file;
    std::string console_socket;
    bool no_pivot = false;
    bool no_new_keyring = false;
    int preserve_fds = 0;
};

int create(const Global& g, const std::string& id, const CreateOptions& opts);
int start(const Global& g, const std::string& id);
// create + start + wait, in one process (the tool is the container's parent; nothing waits at
// a fifo). With `detach`: create + start, then return.
int run(const Global& g, const std::string& id, const CreateOptions& opts, bool detach);
int state(const Global& g, const std::string& id);
int kill(const Global& g, const std::string& id, const std::string& signal, bool all);
int remove(const Global& g, const std::string& id, bool force);
int pause(const Global& g, const std::string& id);
int resume(const Global& g, const std::string& id);
int ps(const Global& g, const std::string& id, const std::string& format);
int list(const Global& g, const std::string& format, bool quiet);
int update(const Global& g, const std::string& id, const std::string& resources_file);
int features();
// `spec`: writes config.json into `bundle` (refuses to overwrite one).
int write_spec(const std::string& bundle, bool userns, const std::vector<std::string>& args);

// "TERM", "SIGTERM", "15" -> 15; 0 when unknown.
int parse_signal(const std::string& text);

}  // namespace lifecycle
