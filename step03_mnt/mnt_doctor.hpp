// step03's entries in `minibox doctor` and `minibox cleanup`: can this machine make a mount
// namespace and pivot_root in it; which mounts did a --no-private run that died leave on the host?
// (Kept apart from mnt.hpp, the module's header a learner re-implements.)
#pragma once

#include <vector>

#include "doctor.hpp"

namespace mnt {

// "mnt": unshare(CLONE_NEWNS) + MS_PRIVATE + pivot_root(".", ".") in a throwaway child;
// "mount-api": open_tree(OPEN_TREE_CLONE), which mnt::detach (for later steps) needs.
std::vector<doctor::Check> checks();
// The mounts a dead --no-private run propagated to the host (one leftover per mount point).
std::vector<doctor::Finder> finders();

}  // namespace mnt
