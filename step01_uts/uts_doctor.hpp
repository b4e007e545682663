// step01's entries in `minibox doctor`: can this machine make a UTS namespace and rename it?
// (Kept apart from uts.hpp, the module's header a learner re-implements.)
#pragma once

#include <vector>

#include "doctor.hpp"

namespace uts {

std::vector<doctor::Check> checks();

}  // namespace uts
