#include "image_source.hpp"

#include "error.hpp"
#include "narrate.hpp"
#include "state.hpp"

#ifdef MINIBOX_DOCKER_WITH_IMAGES
#include "image/store.hpp"
#endif

namespace docker {
namespace {

void fill_from_config(SourceImage& s) {
    if (!s.config.is_object()) return;
    auto c = s.config.find("config");
    if (c == s.config.end() || !c->is_object()) return;
    if (auto x = c->find("StopSignal"); x != c->end() && x->is_string()) s.stop_signal = *x;
    if (auto x = c->find("User"); x != c->end() && x->is_string()) s.user = *x;
    if (auto x = c->find("ExposedPorts"); x != c->end() && x->is_object())
        for (auto& [k, v] : x->items()) s.exposed.push_back(k);
}

}  // namespace

std::optional<SourceImage> find_image(const std::string& ref) {
#ifdef MINIBOX_DOCKER_WITH_IMAGES
    images::Store store;
    auto r = store.find(ref);
    if (!r) return std::nullopt;
    SourceImage s;
    s.id = r->id;
    s.ref = ref;
    s.repo_tags = r->repo_tags;
    s.image = r->image;
    s.config = r->config;
    fill_from_config(s);
    return s;
#else
    // step06's store: NAME, or NAME:latest.
    std::string name = ref;
    if (name.ends_with(":latest")) name.resize(name.size() - 7);
    std::string why;
    if (!image::valid_name(name, why)) return std::nullopt;
    image::Store store;
    if (!store.exists(name)) return std::nullopt;
    SourceImage s;
    s.ref = ref;
    s.image = store.get(name);
    s.repo_tags = {name + ":latest"};
    s.config = nlohmann::json::object();
    fill_from_config(s);
    return s;
#endif
}

void hold_image(const SourceImage& img, const std::string& container_id) {
#ifdef MINIBOX_DOCKER_WITH_IMAGES
    // A step06 image (legacy) has no entry to hold; the store refuses nothing else here.
    try {
        if (!img.id.empty()) images::Store().hold(img.id, container_id);
    } catch (const Error& e) {
        narrate::warn("image " + img.ref + ": " + e.line());
    }
#else
    (void)img;
    (void)container_id;
#endif
}

void release_image(const std::string& container_id) {
#ifdef MINIBOX_DOCKER_WITH_IMAGES
    try {
        images::Store().release(container_id);
    } catch (const Error&) {
    }
#else
    (void)container_id;
#endif
}

}  // namespace docker
