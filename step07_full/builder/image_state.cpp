#include "image_state.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "cache.hpp"
#include "container.hpp"
#include "error.hpp"
#include "files.hpp"
#include "layer.hpp"
#include "narrate.hpp"
#include "state.hpp"

namespace builder {

namespace {

std::optional<images::LayerInfo> stored_layer(const images::Store& store, const std::string& diff_id) {
    std::string dir = store.layer_dir(diff_id);
    std::string meta = files::read(dir.substr(0, dir.rfind('/')) + "/layer.json");
    if (meta.empty()) return std::nullopt;
    try {
        auto j = nlohmann::json::parse(meta);
        images::LayerInfo l;
        l.diff_id = j.value("diff_id", diff_id);
        l.digest = j.value("digest", "");
        l.size = j.value("size", std::uint64_t{0});
        l.media_type = j.value("media_type", "");
        return l;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

// A temporary file name beside the store's data (same file system as the blobs).
std::string temp_file(const std::string& what) {
    std::string dir = state::root_dir() + "/builder/tmp";
    std::string cur;
    for (size_t k = 1; k != std::string::npos;) {
        k = dir.find('/', k + 1);
        cur = dir.substr(0, k);
        if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) throw SysError("mkdir(\"" + cur + "\")", errno);
    }
    return dir + "/" + what + "-" + state::new_container_id();
}

}  // namespace

std::string short_id(const std::string& id) {
    std::string h = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
    return h.substr(0, 12);
}

std::string now_rfc3339() { return container::now_rfc3339(); }

ImageState scratch() {
    ImageState s;
    s.config = {{"architecture", "amd64"},
                {"os", "linux"},
                {"config", nlohmann::json::object()},
                {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}},
                {"history", nlohmann::json::array()}};
    return s;
}

images::LayerInfo store_upper(images::Store& store, const std::string& upper) {
    std::string tmp = temp_file("layer") + ".tar.gz";
    try {
        LayerTar t = write_layer(upper, tmp);
        images::LayerInfo l = store.add_layer(tmp);
        ::unlink(tmp.c_str());
        return l;
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
}

ImageState state_of(images::Store& store, const images::Resolved& r) {
    ImageState s;
    s.id = r.id;
    s.config = r.config;
    if (!s.config.contains("config") || !s.config["config"].is_object()) s.config["config"] = nlohmann::json::object();
    if (!s.config.contains("history") || !s.config["history"].is_array()) s.config["history"] = nlohmann::json::array();
    if (r.legacy) {
        // step06's image: each layer directory once as a stored layer, remembered by the cache
        s.config.erase("minibox_step06_image");
        Cache cache(state::root_dir() + "/builder/cache");
        for (const auto& dir : r.image.layers) {
            struct stat st {};
            if (::stat(dir.c_str(), &st) != 0) throw SysError("stat(\"" + dir + "\")", errno);
            std::string key = cache_key("legacy", dir + " " + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
                                                      " " + std::to_string(st.st_ctim.tv_sec));
            std::optional<images::LayerInfo> l;
            if (auto diff = cache.get(key)) l = stored_layer(store, *diff);
            if (!l) {
                narrate::note("builder", "step06 image " + r.image.name + ": its directory " + dir + " becomes a stored layer (once)");
                l = store_upper(store, dir);
                cache.put(key, l->diff_id);
            }
            s.layers.push_back(*l);
            s.dirs.push_back(store.layer_dir(l->diff_id));
            s.config["history"].push_back({{"created", r.created}, {"created_by", "step06 image " + r.image.name}});
        }
        // an id for the converted image: it is stored when the first step commits
        return s;
    }
    if (s.config.contains("rootfs") && s.config["rootfs"].contains("diff_ids")) {
        for (const auto& d : s.config["rootfs"]["diff_ids"]) {
            auto l = stored_layer(store, d.get<std::string>());
            if (!l) throw Error("image " + short_id(r.id) + ": layer " + d.get<std::string>() + " is missing from the store");
            s.layers.push_back(*l);
            s.dirs.push_back(store.layer_dir(l->diff_id));
        }
    }
    return s;
}

void add_history(nlohmann::json& config, const std::string& created_by, bool empty_layer, const std::string& comment) {
    std::string now = now_rfc3339();
    config["created"] = now;
    nlohmann::json h{{"created", now}, {"created_by", created_by}};
    if (!comment.empty()) h["comment"] = comment;
    if (empty_layer) h["empty_layer"] = true;
    if (!config.contains("history") || !config["history"].is_array()) config["history"] = nlohmann::json::array();
    config["history"].push_back(h);
}

void commit_state(images::Store& store, ImageState& st) {
    // The step it was made on is its parent (docker's intermediate images: untagged parents,
    // hidden by `images` without -a); a step06 base is not in the store, so no parent then.
    auto from = st.id.empty() ? std::nullopt : store.find(st.id);
    std::string parent = from && !from->legacy ? st.id : "";
    images::Resolved r = store.add_image(st.config, st.layers, "", parent);
    st.id = r.id;
    st.config = r.config;
    st.dirs.clear();
    for (const auto& l : st.layers) st.dirs.push_back(store.layer_dir(l.diff_id));
}

}  // namespace builder
