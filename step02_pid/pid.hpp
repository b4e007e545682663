// PID namespace: the command is PID 1 of a process tree of its own.
//
// The first process cloned with CLONE_NEWPID is PID 1 in the new namespace (its parent, outside,
// shows as PID 0). PID 1 has two duties no other process has: the kernel ignores signals it has
// no handler for, and it adopts and must reap every orphan. See pid_namespaces(7).
#pragma once

#include <sys/types.h>

#include "cli.hpp"
#include "launcher.hpp"

namespace pid {

struct Config {
    bool init = false;  // run a minimal init as PID 1, the command as its child
};

// Adds --init.
void add_options(CLI::App& app, Config& cfg);

class Layer : public launch::Layer {
public:
    explicit Layer(Config cfg) : cfg_(cfg) {}
    const char* name() const override { return "pid"; }
    int clone_flags() const override;
    void before_exec(launch::Context& ctx) override;

private:
    Config cfg_;
};

// The init loop: forward signals to `command`, reap every child, and when `command` ends
// return the status init should exit with (its exit status, or 128+N for signal N).
// Exposed for tests; runs in the process that is PID 1.
int supervise(pid_t command);

}  // namespace pid
