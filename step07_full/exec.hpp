// `exec`: a new process in a running container.
//
// The process joins what the init made: every namespace (setns(2) through /proc/PID/ns/*, the
// user namespace first), the cgroup (cgroup.procs), the root (the mount namespace's root and
// the process's cwd); then it gets the privileges its process object asks for (security::apply)
// and execs. A new process in a PID namespace must be forked after setns(CLONE_NEWPID), so the
// runtime forks twice, as runc's nsexec does. See setns(2), nsenter(1).
#pragma once

#include <string>
#include <vector>

#include "container.hpp"
#include "spec.hpp"

namespace exec {

struct Options {
    spec::Process process;      // from --process FILE, or built from the command line
    bool detach = false;        // --detach: return once exec'd, the process re-parented to us
    std::string pid_file;       // --pid-file
    std::string console_socket; // --console-socket (with process.terminal)
    int preserve_fds = 0;
};

// The process object for `exec ID COMMAND...` with --env, --cwd, --user, --tty, --cap flags:
// the container's own process (config.json) with these changes.
spec::Process from_command_line(const spec::Process& base, const std::vector<std::string>& args,
                                const std::vector<std::string>& env, const std::string& cwd,
                                const std::string& user, bool tty, const std::vector<std::string>& caps,
                                bool no_new_privs);

// Runs it. Returns the exit status of the process (not detached) or 0 (detached).
// `spec` is the container's config.json, already parsed (for seccomp, apparmor, the cgroup).
int run(const container::State& st, const spec::Spec& spec, const Options& opts);

}  // namespace exec
