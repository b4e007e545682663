// `ps --filter KEY=VALUE` (the front end) and `GET /containers/json?filters={...}` (the engine):
// one reading of Docker's container filters for both, so the two answer alike.
//
// Docker's rules (daemon/list.go): values of one key are alternatives (any may match), keys all
// have to match; id and name are unanchored regular expressions (name against "/NAME"), label
// is KEY or KEY=VALUE and every label given must match, status one of Docker's seven states,
// exited an exit code (only exited containers), ancestor an image reference or id prefix,
// before/since a container created before/after the one named. Nothing here touches the host.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "manager.hpp"

namespace docker {

// key -> the values given for it (in order).
using Filters = std::map<std::string, std::vector<std::string>>;

// "-f KEY=VALUE" flags -> Filters; BadRequest "bad format of filter (expected name=value)".
Filters filters_from_flags(const std::vector<std::string>& flags);
// The API's filters JSON: {"name": ["x"]} or the older {"name": {"x": true}}.
Filters filters_from_json(const nlohmann::json& j);
// The Filters as the API's JSON ({"name": {"x": true}}, what the docker CLI sends).
nlohmann::json filters_to_json(const Filters& f);
// Refuses an unknown key ("Invalid filter 'KEY'"), a bad status or exit code, as dockerd.
void check_filters(const Filters& f);
// Whether the list needs stopped containers too (status, exited: docker ps -f status=exited
// shows them without -a).
bool filters_need_all(const Filters& f);
// Whether `s` passes. `all` is the whole list (before/since name a container of it).
bool matches(const Filters& f, const Summary& s, const std::vector<Summary>& all);
// What `ps` shows: of `every` (Manager::list(true)), the rows that pass, in order; without
// `all` (and without a status/exited filter) the running ones only. check_filters() first.
std::vector<Summary> apply_filters(const Filters& f, const std::vector<Summary>& every, bool all);

}  // namespace docker
