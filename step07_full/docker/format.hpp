// The output shapes of docker's CLI: its Go-template --format (the subset the course uses:
// {{.Field}}, {{.A.B}}, {{json .X}}, {{index .X "key"}}, "table" headers, \t and \n), and its
// sizes ("1.5MiB" for memory, "1.2kB" for network I/O, go-units' two spellings).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace docker::format {

// Renders `tmpl` against `data` (a JSON object: ps rows use keys ID, Names, Image, Status, ...).
// A missing field renders "<no value>", as Go's templates do; a malformed template throws
// BadRequest ("template: :1: unexpected ...").
std::string render(const std::string& tmpl, const nlohmann::json& data);
// "table {{.ID}}\t{{.Names}}" -> true, and the template without "table ".
bool is_table(std::string& tmpl);
// The header of a table template: each {{.Field}} replaced by docker's column title
// (ID -> "CONTAINER ID", Names -> "NAMES", ...).
std::string header(const std::string& tmpl);
// go-units: BytesSize (binary, "1.5MiB") and HumanSize (decimal, "1.2kB").
std::string bytes_size(double bytes);
std::string human_size(double bytes);
// Pads columns separated by '\t' as docker's tabwriter does (3 spaces between columns).
std::string tabulate(const std::vector<std::vector<std::string>>& rows);

}  // namespace docker::format
