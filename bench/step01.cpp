// step01: a UTS namespace. Ours: clone(CLONE_NEWUTS) through the launcher, sethostname,
// execve. Reference: unshare(1) making the same namespace and forking the command.
#include "bench.hpp"

namespace bench {

std::vector<Comparison> step01(const Env& env) {
    Comparison c;
    c.name = "step01 uts";
    c.ours = {"step01_uts -- /bin/true", {env.bin_dir + "/step01_uts", "--", "/bin/true"}};
    std::string unshare = find_program("unshare");
    c.reference = {"unshare --uts --fork /bin/true", {unshare, "--uts", "--fork", "/bin/true"}};
    if (unshare.empty()) c.skip = "no unshare(1) (package util-linux)";
    return {c};
}

}  // namespace bench
