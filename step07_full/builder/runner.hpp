// One build step's root and container: an overlay of the parent image's layers with a fresh
// upper directory, and (for RUN) a container of our own runtime on it.
//
// mount("overlay", MERGED, "overlay", 0, "lowerdir=...,upperdir=UPPER,workdir=WORK") as in
// step06: what RUN writes and what COPY puts there lands in UPPER, which becomes the step's
// layer (layer.hpp). RUN is `step07_full --root <step>/runtime run --bundle <step>/bundle ID`:
// the runtime's own command line, as an engine drives runc (config.json from spec::default_spec,
// no terminal, the network of --network: host, none or bridge). See mount(2), overlayfs(5).
//
// Step directories live in root_dir()/builder/containers/<id>/{owner,upper,work,merged,...}:
// step06's layout, so a build killed half-way is reaped by the next one (overlay::reap_leftovers).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace builder {

using OutputSink = std::function<void(std::string_view)>;

class StepRoot {
public:
    // `lowers`: layer directories, bottom first (none: an empty root, FROM scratch).
    explicit StepRoot(const std::vector<std::string>& lowers);
    ~StepRoot();  // unmounts and removes everything, also after errors
    StepRoot(const StepRoot&) = delete;
    StepRoot& operator=(const StepRoot&) = delete;

    const std::string& id() const { return id_; }  // 12 hex, "Running in ID"
    const std::string& dir() const { return dir_; }
    const std::string& merged() const { return merged_; }
    const std::string& upper() const { return upper_; }
    // The upper directory is final once unmounted (before it is turned into a layer).
    void unmount();
    bool upper_empty() const;

private:
    std::string id_, dir_, upper_, work_, merged_;
    bool mounted_ = false;
};

struct RunSpec {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    std::string user;          // "", "name", "uid", "name:group", "uid:gid"
    // host: the host's network namespace (the default here: a build needs no bridge, address or
    // NAT rule on the host); none: a namespace of its own with only lo; bridge (Docker's default):
    // a namespace wired by the shim's code (shim/netns.hpp: step04's bridge, veth pair and
    // address lease), made before the step and removed after it.
    std::string network = "host";
};

// Runs `spec` in a container on `root` (mounted), streaming stdout and stderr to `out`.
// Returns the exit status (128+N for a signal). The runtime's state is in the step's dir and the
// container is deleted before this returns.
int run_container(const StepRoot& root, const RunSpec& spec, const OutputSink& out);

// "nobody" / "1000:users" / "0" -> uid and gid, names from the root's /etc/passwd and
// /etc/group (read beneath `root`). Error "unable to find user X: no matching entries in passwd
// file" as Docker says.
struct Ids {
    unsigned uid = 0, gid = 0;
};
Ids resolve_user(const std::string& root, const std::string& user);

// A file inside `root`, read with openat2(RESOLVE_IN_ROOT): "" when absent.
std::string read_in_root(const std::string& root, const std::string& path);
// mkdir -p of `path` (absolute inside the container) beneath `root`, each component resolved
// with RESOLVE_IN_ROOT (a symlink in the image can never lead out); returns an O_DIRECTORY fd.
int mkdirs_in_root(const std::string& root, const std::string& path, unsigned uid = 0, unsigned gid = 0);

// Removes what killed builds left (step dirs of dead owners).
void reap_dead_steps();

// The step07_full executable: $MINIBOX_STEP07_FULL, else next to this executable.
std::string runtime_path();

}  // namespace builder
