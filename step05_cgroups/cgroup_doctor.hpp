// step05's entries in `minibox doctor` (the cgroup layout, the controllers the limits need) and
// `minibox cleanup` (cgroups of dead containers). Kept apart from cgroup.hpp.
#pragma once

#include <vector>

#include "doctor.hpp"

namespace cgroup {

std::vector<doctor::Check> checks();
std::vector<doctor::Finder> finders();

}  // namespace cgroup
