// `image import`: a tarball (as `docker export` makes: one layer) or an OCI image layout
// directory (one directory per layer) becomes an image in the store.
//
// Nothing partial ever appears under the image's name: everything is unpacked into
// images/.import-XXXXXX (with an owner record, so a killed import is reaped by the next one)
// and renamed to images/NAME with renameat2(RENAME_NOREPLACE) when complete. Any error removes
// the temporary directory. See unpack.hpp for the safety rules, oci.hpp for the layout.
#pragma once

#include <string>

#include "image_store.hpp"

namespace image {

struct ImportResult {
    Image image;
    std::uint64_t bytes = 0;  // file contents unpacked
    std::uint64_t entries = 0;
};

// Throws Error (exit 125), the store unchanged, for: an invalid or taken NAME, a missing or
// unreadable SOURCE, a corrupt or malicious archive, an OCI layout with a missing blob or a
// mismatching digest. `progress`: show bytes/entries on stderr (only when it is a terminal).
// `max_size`: the most the image's files may add up to, apparent size (see
// UnpackOptions::max_bytes); 0 for no limit.
inline constexpr std::uint64_t kDefaultMaxSize = 4ULL << 30;  // 4 GiB
ImportResult import_image(const Store& store, const std::string& source, const std::string& name, bool progress,
                          std::uint64_t max_size = kDefaultMaxSize);

// Removes the temporary import directories whose importer is dead; returns what was removed.
std::vector<std::string> reap_imports(const Store& store);

}  // namespace image
