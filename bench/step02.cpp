// step02: UTS and PID namespaces. The reference forks as ours must: the first process of a new
// PID namespace is a child, never the caller itself.
#include "bench.hpp"

namespace bench {

std::vector<Comparison> step02(const Env& env) {
    Comparison c;
    c.name = "step02 pid";
    c.ours = {"step02_pid -- /bin/true", {env.bin_dir + "/step02_pid", "--", "/bin/true"}};
    std::string unshare = find_program("unshare");
    c.reference = {"unshare --uts --pid --fork /bin/true", {unshare, "--uts", "--pid", "--fork", "/bin/true"}};
    if (unshare.empty()) c.skip = "no unshare(1) (package util-linux)";
    return {c};
}

}  // namespace bench
