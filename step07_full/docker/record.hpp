// Container records: what the front end remembers about a container between commands, in
// <data>/containers/<64 hex>/config.v2.json (the name dockerd gives its own). Written whole
// (temporary file, rename), so a reader never sees half of one. Names and ids: 64 hex digits
// from getrandom(2), 12 shown; a unique name; any unique prefix of the id names it too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle.hpp"
#include "options.hpp"

namespace docker {

struct Record {
    std::string id;       // 64 hex
    std::string name;     // without "/"
    std::string created;  // RFC 3339 nano
    std::string image_ref, image_id;
    RunOptions opts;
    Process process;      // what create decided (args, env, cwd, uid/gid, hostname)
    nlohmann::json image_config;  // the image's "config" object ({} for step06's images)
    std::string stop_signal;      // the image's StopSignal or --stop-signal ("" = SIGTERM)
    // While create runs: its "pid:start"; a record whose creator is dead and never finished
    // is a leftover (the CLI was killed half-way) and is removed by the next command.
    std::string creator;
    bool complete = false;
    // The last state seen from the shim, kept for when the shim's directory is gone (reboot,
    // /run cleared): the container is then "exited" with these values.
    nlohmann::json last_state = nlohmann::json::object();
    bool manually_stopped = false;
    bool removal_in_progress = false;
};

nlohmann::json to_json(const RunOptions& o);
RunOptions options_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Record& r);
Record record_from_json(const nlohmann::json& j);

class Records {
public:
    explicit Records(std::string data_dir);  // <data>
    std::string dir() const { return dir_ + "/containers"; }
    std::string dir(const std::string& id) const { return dir() + "/" + id; }

    std::vector<std::string> ids() const;  // every record directory's name (64 hex)
    std::optional<Record> load(const std::string& id) const;  // nullopt: no (readable) record
    void save(const Record& r) const;                           // atomic

    // name or id prefix -> id (Docker's order: exact id, exact name, unique id prefix).
    // NotFound "No such container: REF"; BadRequest for an ambiguous prefix.
    std::string resolve(const std::string& ref) const;
    // The id of the record named `name`, or "".
    std::string by_name(const std::string& name) const;

private:
    std::string dir_;
};

// 64 lowercase hex digits from getrandom(2).
std::string new_id();
// Docker's generated names: "<adjective>_<scientist>".
std::string random_name();

// An exclusive flock(2) on a file, held until destruction (mkdir -p of its directory first).
class FileLock {
public:
    explicit FileLock(const std::string& path);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace docker
