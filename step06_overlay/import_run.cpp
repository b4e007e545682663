// step06_overlay-import's half of import_cli.hpp: the import itself.
#include <cstdio>

#include "image_store.hpp"
#include "import.hpp"
#include "import_cli.hpp"

namespace image {

int run_import(const std::string& source, const std::string& name, std::uint64_t max_size, char**) {
    auto r = import_image(Store(), source, name, true, max_size);
    std::printf("imported %s: %zu layer%s, %s in %llu entries\n", name.c_str(), r.image.layers.size(),
                r.image.layers.size() == 1 ? "" : "s", human_size(r.bytes).c_str(),
                static_cast<unsigned long long>(r.entries));
    return 0;
}

}  // namespace image
