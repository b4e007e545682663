// commit (see commit.hpp). The container is found through the front end's records, read as
// manager.hpp documents them (config.v2.json: Id, Name, Image, Config), without starting
// anything: a commit needs only the upper directory and the record.
#include "commit.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "dockerfile.hpp"
#include "error.hpp"
#include "files.hpp"
#include "image_state.hpp"
#include "meta.hpp"
#include "narrate.hpp"
#include "image/reference.hpp"
#include "state.hpp"
#include "image/store.hpp"

namespace builder {

namespace {

using json = nlohmann::json;

struct Record {
    std::string id, dir;
    json j;
};

// Docker's order: an exact id, then an exact name, then a unique id prefix.
Record find_container(const std::string& data, const std::string& ref) {
    std::string dir = data + "/containers";
    std::vector<Record> all;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.size() != 64) continue;
            std::string text = files::read(dir + "/" + n + "/config.v2.json");
            if (text.empty()) continue;
            try {
                all.push_back({n, dir + "/" + n, json::parse(text)});
            } catch (const json::exception&) {
            }
        }
        ::closedir(d);
    }
    for (const auto& r : all)
        if (r.id == ref) return r;
    std::string name = ref.starts_with("/") ? ref : "/" + ref;
    for (const auto& r : all)
        if (r.j.value("Name", "") == name) return r;
    std::vector<const Record*> hits;
    for (const auto& r : all)
        if (!ref.empty() && r.id.rfind(ref, 0) == 0) hits.push_back(&r);
    if (hits.size() == 1) return *hits[0];
    if (hits.size() > 1) throw Error("multiple IDs found with provided prefix: " + ref);
    throw Error("No such container: " + ref, 1);
}

}  // namespace

std::string commit(const CommitOptions& o) {
    // the changes and the name first: a bad one stores nothing
    std::vector<Instruction> changes;
    for (const auto& c : o.changes) {
        Dockerfile df;
        try {
            df = parse("FROM scratch\n" + c);
        } catch (const ParseError& e) {
            throw Error("invalid change \"" + c + "\": column " + std::to_string(e.column()) + ": " + e.reason());
        }
        if (df.instructions.size() != 2 || !is_meta(df.instructions[1].keyword)) {
            throw Error(c + " is not a valid change command");
        }
        changes.push_back(df.instructions[1]);
    }
    if (!o.repo_tag.empty()) (void)images::parse_reference(o.repo_tag);

    std::string data = o.data_root.empty() ? state::root_dir() + "/docker" : o.data_root;
    Record rec = find_container(data, o.container);
    std::string upper = rec.dir + "/upper";
    struct stat st;
    if (::stat(upper.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Error("container " + rec.id.substr(0, 12) + " has no upper directory at " + upper);
    }
    images::Store store;
    std::string image_ref = rec.j.value("Image", "");
    if (image_ref.empty() && rec.j.contains("Config")) image_ref = rec.j["Config"].value("Image", "");
    auto base = store.find(image_ref);
    if (!base && rec.j.contains("Config")) base = store.find(rec.j["Config"].value("Image", ""));
    if (!base) throw Error("commit: the image of container " + rec.id.substr(0, 12) + " (" + image_ref + ") is no longer in the store");
    ImageState img = state_of(store, *base);

    // The container's Config is the new image's (docker run busybox echo hi: Cmd ["echo","hi"])
    json& cc = img.config["config"];
    if (rec.j.contains("Config") && rec.j["Config"].is_object()) {
        for (const char* k : {"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal"}) {
            if (rec.j["Config"].contains(k)) cc[k] = rec.j["Config"][k];
        }
    }
    bool cmd_set = true;  // -c ENTRYPOINT keeps the container's CMD unless it was the image's
    Env env = env_from_list(strings_of(cc.value("Env", json::array())));
    for (const auto& ins : changes) {
        (void)apply_meta(img.config, ins, env, '\\', cmd_set);
        env = env_from_list(strings_of(img.config["config"].value("Env", json::array())));
    }
    if (!o.author.empty()) img.config["author"] = o.author;

    narrate::note("builder", "commit " + rec.id.substr(0, 12) + ": its upper directory " + upper + " becomes a layer");
    img.layers.push_back(store_upper(store, upper));
    // created_by: the container's command, as docker commit records it
    std::string cmd = rec.j.value("Path", "");
    if (rec.j.contains("Args"))
        for (const auto& a : strings_of(rec.j["Args"])) cmd += " " + a;
    add_history(img.config, cmd, false, o.message);
    auto from = img.id.empty() ? std::nullopt : store.find(img.id);
    std::string parent = from && !from->legacy ? img.id : "";  // docker commit's Parent
    images::Resolved r = store.add_image(img.config, img.layers, o.repo_tag, parent);
    return r.id;
}

}  // namespace builder
