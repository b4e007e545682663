// step02's entries in `minibox doctor`: can this machine make a PID namespace with a PID 1?
// (Kept apart from pid.hpp, the module's header a learner re-implements.)
#pragma once

#include <vector>

#include "doctor.hpp"

namespace pid {

std::vector<doctor::Check> checks();

}  // namespace pid
