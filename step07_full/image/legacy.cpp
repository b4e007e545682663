// A step06 image (root_dir()/images/NAME: layer directories, no tars, no digests, e.g. the
// default busybox made by scripts/setup.sh) given the shape of a store image for `save` and
// `push`: each layer directory written as a layer tar (the builder's layer writer: overlayfs's
// whiteouts, char devices 0/0 and the opaque xattr, become .wh. entries, as in a commit), its
// digest and diff id computed while writing, then a config naming those diff ids and a
// manifest. All in a temporary directory of the store, removed afterwards: the step06 image
// itself is not changed and nothing is added to the store.
//
// The digests are stable (entries in name order, the files' own times, gzip without a time),
// so two saves of an unchanged image give the same image id. That id is the config's digest,
// which `images` cannot show for a step06 image without writing its layers (it shows the
// digest of a description instead): a saved busybox, loaded, has a different id than listed.
#include <sys/stat.h>
#include <unistd.h>

#include "builder/layer.hpp"  // the layer writer (minibox_builder_core)
#include "digest.hpp"
#include "error.hpp"
#include "files.hpp"
#include "legacy.hpp"
#include "narrate.hpp"
#include "store_internal.hpp"
#include "unpack.hpp"

namespace images::detail {

Materialized::~Materialized() {
    if (dir.empty()) return;
    try {
        image::remove_tree(dir);
    } catch (const Error&) {
    }
}

std::string Materialized::file_of(const std::string& digest) const {
    auto it = files.find(digest);
    return it == files.end() ? "" : it->second;
}

std::unique_ptr<Materialized> materialize(const Store& s, const Resolved& legacy) {
    if (!legacy.legacy) throw Error("materialize: " + legacy.id + " is not a step06 image");
    prepare(s);
    auto m = std::make_unique<Materialized>();
    m->dir = make_tmp(s, "step06");
    nlohmann::json config = legacy.config;
    config.erase("minibox_step06_image");
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}};
    config["history"] = nlohmann::json::array();
    for (std::size_t i = 0; i < legacy.image.layers.size(); i++) {
        const std::string& dir = legacy.image.layers[i];
        std::string out = m->dir + "/layer" + std::to_string(i) + ".tar.gz";
        narrate::note("image", "step06 image " + legacy.image.name + ": its layer directory " + dir +
                                   " written as a layer tar (digests computed while writing)");
        builder::LayerTar t = builder::write_layer(dir, out);
        LayerInfo l;
        l.digest = t.digest;
        l.diff_id = t.diff_id;
        l.size = t.size;
        l.media_type = layer_media_type("gzip", false);
        m->files[l.digest] = out;
        m->layers.push_back(l);
        config["rootfs"]["diff_ids"].push_back(l.diff_id);
        nlohmann::json h{{"created_by", "step06 image " + legacy.image.name + " (" + dir + ")"}};
        if (!legacy.created.empty()) h["created"] = legacy.created;
        config["history"].push_back(h);
    }
    m->config_bytes = config.dump();
    m->config_digest = sha256_of(m->config_bytes);
    m->files[m->config_digest] = m->dir + "/config.json";
    files::write(m->dir + "/config.json", m->config_bytes);
    auto [manifest, type] = make_manifest(m->config_bytes, m->layers);
    m->manifest_bytes = manifest;
    m->manifest_type = type;
    m->manifest_digest = sha256_of(manifest);
    m->files[m->manifest_digest] = m->dir + "/manifest.json";
    files::write(m->dir + "/manifest.json", manifest);
    return m;
}

}  // namespace images::detail
