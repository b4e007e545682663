// step06's entries in `minibox doctor` and `minibox cleanup`: can this machine mount an overlay
// whose upper directory lives in the image store; which container directories and overlay
// mounts did a killed run leave, and which half-done imports? (Kept apart from overlay.hpp, the
// module's header a learner re-implements.)
#pragma once

#include <vector>

#include "doctor.hpp"

namespace overlay {

// "overlay": in a throwaway child's private mount namespace, an overlay with a lower, an upper
// and a work directory made in the store's own file system (where containers put theirs).
std::vector<doctor::Check> checks();
// Dead containers' directories (and their overlay mounts) under <store>/containers, and
// imports or removals that never finished under <store>/images.
std::vector<doctor::Finder> finders();

}  // namespace overlay
