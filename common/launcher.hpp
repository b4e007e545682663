// The launcher: one launch sequence that every step shares.
//
//   parent (host side)                         child (inside the new namespaces)
//   ------------------                         ---------------------------------
//   prepare_host()     per layer, in order
//   clone(flags of every layer) ------------>  waits for "go" on the sync socket
//   join_child()       per layer, in order
//   "go" ----------------------------------->  setup_inside()  per layer, in order
//                                              before_exec()   per layer, in order
//   read the sync socket:                      execve(COMMAND)  (closes the socket)
//     a message = the child failed, EOF = exec'd
//   wait, forwarding SIGINT/SIGTERM/SIGHUP/...
//   cleanup()          per layer, in reverse order, on every path
//
// A step adds one Layer; its main() lists the layers of every step up to its own.
// See clone(2), and workshop/01-uts.md for the walk through this file.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace launch {

// What the layers share about this one container.
struct Context {
    std::vector<std::string> argv;  // the command and its arguments
    std::vector<std::string> env;   // its environment; layers may add to it before exec
    pid_t pid = -1;                 // the container's first process, as the host sees it
    int sync_fd = -1;               // child side: the socket to the parent; closed by execve
    std::string id;                 // the container's id (12 hex digits); run() makes one if empty
    // A cgroup2 directory (an fd, O_PATH is enough) a layer's prepare_host sets: the child is
    // then born in it (clone3 with CLONE_INTO_CGROUP) instead of being moved there by
    // join_child, which costs the kernel an RCU grace period. The launcher sets it back to -1
    // when the kernel cannot (before Linux 5.7): then the layer moves the child itself.
    int cgroup_fd = -1;
};

class Layer {
public:
    virtual ~Layer() = default;
    virtual const char* name() const = 0;

    // The CLONE_NEW* flags this layer needs.
    virtual int clone_flags() const { return 0; }
    // Parent, before clone: create host-side resources (cgroup, veth, overlay, ...).
    virtual void prepare_host(Context&) {}
    // Parent, after clone, before the child goes on: act on the child from outside.
    virtual void join_child(Context&) {}
    // Child, after "go": configure the inside (hostname, mounts, ...).
    virtual void setup_inside(Context&) {}
    // Child, after every layer's setup_inside, right before execve.
    virtual void before_exec(Context&) {}
    // Parent, on every path (also after errors half-way): undo what prepare/join did.
    // Called in reverse order, for every layer, so it must cope with "nothing was done".
    virtual void cleanup(Context&) noexcept {}
};

// Run the whole sequence; returns the tool's exit status: the container's status, 128+N when
// it was killed by signal N, 125/126/127 when the tool or the exec failed (the reason is
// printed as one line on stderr).
int run(const std::vector<Layer*>& layers, Context ctx);

// The OCI split of run() in two (an engine's `create` then `start`): create() runs the sequence
// up to the command's execve and stops there.
//
//   parent                                     child
//   prepare_host, clone, join_child, "go" -->  setup_inside (every layer)
//                                              the command is looked up (127/126 now, not later)
//   on_ready(ctx): record the container  <---  "ready"
//   "commit" ------------------------------->  PR_SET_PDEATHSIG cleared: it may outlive us now
//   return the pid                       <---  "detached"
//                                              gate(ctx): blocks until `start`
//                                              before_exec (every layer), execve
//
// Until "detached" the child still dies with the tool, and any failure undoes everything as in
// run(). After it, nothing is cleaned up here: the container's host resources now belong to it,
// and whoever deletes it undoes them (step07's `delete`). When the caller exits, the child is
// re-parented to the nearest subreaper (conmon, containerd's shim) or to init.
struct CreateHooks {
    std::function<void(Context&)> on_ready;  // parent side; throwing aborts the create
    std::function<void(Context&)> gate;      // child side; returns when the container may run
};
pid_t create(const std::vector<Layer*>& layers, Context& ctx, const CreateHooks& hooks);

// Finds argv[0] as execvp(3) would, but in the PATH of `env` (the container's, not the tool's),
// and tells "not found" (Error exit 127) from "found but cannot run" (126). Called in the
// container's root before execve, so that a missing command is reported before a container is
// recorded (as runc does). step07's `exec` uses it too.
std::string find_command(const std::vector<std::string>& argv, const std::vector<std::string>& env);
// execve(path, argv, env); on failure throws Error 127 (ENOENT: also a script whose interpreter
// is missing) or 126.
[[noreturn]] void exec_command(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                               const std::string& path);

// The environment a container starts with unless a layer says otherwise: a fixed PATH,
// HOME, and TERM passed through from the tool's own environment.
std::vector<std::string> default_env();

// A Context for running `argv` with default_env().
Context for_command(std::vector<std::string> argv);

}  // namespace launch
