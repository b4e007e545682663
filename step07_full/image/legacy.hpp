// A step06 image as blobs, for `save` and `push` (see legacy.cpp): its layer directories
// written as layer tars (whiteouts as .wh. entries), a config naming their diff ids, a
// manifest; every file named by its digest, in a temporary directory removed with the object.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store.hpp"

namespace images::detail {

struct Materialized {
    std::string dir;  // store/tmp/<owner>.step06.XXXXXX
    std::string config_bytes, config_digest;
    std::string manifest_bytes, manifest_digest, manifest_type;
    std::vector<LayerInfo> layers;             // bottom first
    std::map<std::string, std::string> files;  // digest -> file (layers, config, manifest)
    std::string file_of(const std::string& digest) const;  // "" when not one of them
    ~Materialized();
};

std::unique_ptr<Materialized> materialize(const Store& s, const Resolved& legacy);

}  // namespace images::detail
