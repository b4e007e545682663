// The volume area of the Engine API: docker volume create/ls/inspect/rm/prune -> docker::Volumes
// (the store the front end's `step07_full volume` uses too). A volume is a directory under the
// data root that containers bind-mount; the kernel's part is the runtime's mount(2) MS_BIND.
//   moby's api/swagger.yaml, tag "Volume"
#include "areas.hpp"
#include "docker/filters.hpp"
#include "docker/volumes.hpp"
#include "errors.hpp"
#include "router.hpp"
#include "streams.hpp"
#include "system.hpp"
#include "trace.hpp"

namespace engine {
namespace {

docker::Volumes store() { return docker::Volumes(manager().roots()); }

void list(Ctx& c) {
    // filters: name (substring), dangling (no container), label (KEY or KEY=VALUE), driver.
    nlohmann::json filters = query_json(c, "filters");
    auto fs = mapped([&] { return docker::filters_from_json(filters); });
    auto vols = store();
    nlohmann::json out = nlohmann::json::array();
    for (auto& v : mapped([&] { return vols.list(); })) {
        bool ok = true;
        for (auto& [key, values] : fs) {
            if (values.empty()) continue;
            bool any = false;
            for (auto& w : values) {
                if (key == "name") any = any || v.name.find(w) != std::string::npos;
                else if (key == "driver") any = any || w == "local";
                else if (key == "dangling") any = any || ((w == "true" || w == "1") == vols.users(v.name).empty());
                else if (key == "label") {
                    auto eq = w.find('=');
                    auto it = v.labels.find(w.substr(0, eq));
                    any = any || (it != v.labels.end() && (eq == std::string::npos || it->second == w.substr(eq + 1)));
                } else throw bad_request("Invalid filter '" + key + "'");
            }
            ok = ok && any;
        }
        if (ok) out.push_back(v.to_json());
    }
    c.conn.send_json(http::status::ok, {{"Volumes", out}, {"Warnings", nullptr}});
}

void create(Ctx& c) {
    auto body = c.json_body();
    std::string driver = body.value("Driver", "local");
    if (!driver.empty() && driver != "local") throw not_found("error looking up volume plugin " + driver + ": plugin \"" + driver + "\" not found");
    std::map<std::string, std::string> labels;
    if (body.contains("Labels") && body["Labels"].is_object())
        for (auto& [k, v] : body["Labels"].items())
            if (v.is_string()) labels[k] = v.get<std::string>();
    std::string name = body.contains("Name") && body["Name"].is_string() ? body["Name"].get<std::string>() : "";
    trace::hop("engine -> docker::Volumes", "create " + (name.empty() ? std::string("(a generated name)") : name) + ": a directory under the data root");
    auto v = mapped([&] { return store().create(name, labels); });
    c.conn.send_json(http::status::created, v.to_json());
}

void inspect(Ctx& c) {
    auto vols = store();
    auto v = vols.find(c.param("name"));
    if (!v) throw not_found("get " + c.param("name") + ": no such volume");
    c.conn.send_json(http::status::ok, v->to_json(static_cast<int>(vols.users(v->name).size())));
}

void remove(Ctx& c) {
    trace::hop("engine -> docker::Volumes", "remove " + c.param("name"));
    mapped([&] {
        store().remove(c.param("name"), c.flag("force"));
        return 0;
    });
    c.conn.send_empty(http::status::no_content);
}

void prune(Ctx& c) {
    auto r = mapped([&] { return store().prune(); });
    nlohmann::json names = r.deleted.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.deleted);
    c.conn.send_json(http::status::ok, {{"VolumesDeleted", names}, {"SpaceReclaimed", r.space_reclaimed}});
}

}  // namespace

void add_volume_routes(Router& r) {
    using V = http::verb;
    system::hooks().volumes = [] {
        auto vols = store();
        nlohmann::json out = nlohmann::json::array();
        for (auto& v : vols.list()) out.push_back(v.to_json(static_cast<int>(vols.users(v.name).size())));
        return out;
    };
    r.add(V::get, "/volumes", list);
    r.add(V::post, "/volumes/create", create);
    r.add(V::post, "/volumes/prune", prune);
    r.add(V::get, "/volumes/{name}", inspect);
    r.add(V::delete_, "/volumes/{name}", remove);
}

}  // namespace engine
