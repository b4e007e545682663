// Platforms: an index (OCI image index, Docker manifest list) names one manifest per
// os/architecture[/variant], and the client picks one, as docker does (containerd's
// "platforms" matcher): same os, same architecture (normalised: x86_64 -> amd64, aarch64 ->
// arm64), and the variant equal once defaults are applied (arm64 -> v8, arm -> v7); an arm
// machine also runs lower arm variants. The first match in the index's order wins.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace images {

struct Platform {
    std::string os, architecture, variant;
    std::string str() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }
};

// This machine (uname(2)'s machine, normalised).
Platform host_platform();
// "linux/amd64", "linux/arm64/v8", "linux/arm/v7"; Error when malformed.
Platform parse_platform(const std::string& text);
// Normalised form: architecture aliases, the default variant.
Platform normalize(Platform p);
bool matches(const Platform& want, const Platform& have);
// The digest of the manifest for `want` in an index; Error (docker's words: "no matching
// manifest for linux/amd64 in the manifest list entries") when there is none.
std::string choose_manifest(const nlohmann::json& index, const Platform& want);

}  // namespace images
