// Named volumes: directories the engine (or the front end) owns under its data root, that
// outlive the containers mounting them. The kernel gives nothing new here: a volume is a bind
// mount (mount(2) MS_BIND, made by the runtime from config.json's mounts) of a host directory,
// as -v HOST:PATH is; what Docker adds is the naming, the store and the first-use copy.
//
//   <data>/volumes/NAME/_data        the content (Docker's layout: /var/lib/docker/volumes)
//   <data>/volumes/NAME/volume.json  Name, CreatedAt, Labels, Anonymous
//
// -v NAME:/path uses (or creates) NAME; -v /path alone makes an anonymous volume (64 hex
// name) that `rm -v` and `run --rm` remove with their container, as Docker. On first use an
// empty volume gets a copy of what the image has at that path (Docker's copy-up), owners and
// modes kept. A volume in use by a container (any state) is not removed.
//   man 2 mount (MS_BIND), docker volume --help
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "manager.hpp"

namespace docker {

struct Volume {
    std::string name;
    std::string mountpoint;  // <data>/volumes/NAME/_data
    std::string created;     // RFC 3339
    std::map<std::string, std::string> labels;
    bool anonymous = false;
    // Docker's /volumes element: Name, Driver "local", Mountpoint, CreatedAt, Labels, Scope,
    // Options; with `users` >= 0 also UsageData {Size -1, RefCount}.
    nlohmann::json to_json(int users = -1) const;
};

class Volumes {
public:
    explicit Volumes(const Roots& roots);  // roots as Manager's (defaults filled in)

    // Creates NAME (a generated anonymous one when `name` is empty); an existing NAME is
    // returned as it is (docker volume create is idempotent). BadRequest for a bad name.
    Volume create(const std::string& name, const std::map<std::string, std::string>& labels = {},
                  bool anonymous = false);
    std::optional<Volume> find(const std::string& name) const;
    std::vector<Volume> list() const;
    // The ids of the containers whose records mount NAME.
    std::vector<std::string> users(const std::string& name) const;
    // NotFound "get NAME: no such volume"; Conflict "remove NAME: volume is in use - [ids]"
    // unless `force` (a volume is still never removed under a running container).
    void remove(const std::string& name, bool force = false);
    // Every volume no container uses: their names and the bytes they held. Docker 20.10 prunes
    // anonymous and named alike (`docker volume prune`).
    PruneResult prune();

    // For create: each VolumeBinding with a volume name (or none: anonymous) gets its host
    // path (the volume's _data), the volume made when missing. Each path of the image's
    // config.Volumes (Dockerfile VOLUME) no -v covers becomes an anonymous volume, as Docker.
    void attach(RunOptions& opts, const nlohmann::json& image_config = nlohmann::json::object());
    // After the root is mounted at `rootfs` (create): an empty, never-filled volume gets a copy
    // of the image's content at its path.
    void copy_up(const RunOptions& opts, const std::string& rootfs);
    // rm -v, run --rm: the container's anonymous volumes that no other container uses.
    void remove_anonymous(const RunOptions& opts, const std::string& container_id);

private:
    Roots roots_;
    std::string dir_;   // <data>/volumes
    std::string data_;  // <data>
};

}  // namespace docker
