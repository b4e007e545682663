// `minibox cleanup` for the shim: dead shims' records (run_dir()/shims/ID) and what they name
// (the runtime's container, the netns mount, the lease). For tools/minibox.cpp's list:
//   append(all, shim::finders());
#pragma once

#include <vector>

#include "doctor.hpp"

namespace shim {

std::vector<doctor::Finder> finders();

}  // namespace shim
