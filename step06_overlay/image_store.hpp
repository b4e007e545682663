// The image store: where images live on the host, and what an image is.
//
// An image is an ordered list of read-only layer directories (the bottom one first, as OCI
// lists them) plus a small JSON description with its default Env, Cmd, Entrypoint and
// WorkingDir. The store is one directory, state::root_dir()/images ($MINIBOX_ROOT or
// /var/lib/minibox), one sub-directory per image name:
//
//   images/NAME/image.json      {"layers": ["layers/0", "layers/1"], "config": {...}}
//   images/NAME/layers/0 ...    one directory per layer, bottom first
//   images/busybox/rootfs       a bare root file system (what scripts/make-image.sh makes):
//                               an image without image.json is one layer, "rootfs", whose
//                               default command is /bin/sh
//   images/.import-XXXXXX       an import in progress (renamed to NAME when it is complete)
//
// Containers record which image they use in root_dir()/containers/<id>/ (see overlay.hpp), so
// `image rm` can refuse an image that a running container still uses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace image {

// The part of an OCI image config that `run` uses (see the OCI image spec, config.md).
struct Config {
    std::vector<std::string> env;         // "KEY=VALUE"
    std::vector<std::string> cmd;         // default arguments (or the command)
    std::vector<std::string> entrypoint;  // the command, with cmd appended
    std::string working_dir;              // absolute path inside the container, or ""
    bool operator==(const Config&) const = default;
};

// From an OCI config's "config" object (or image.json's "config"); unknown keys are ignored,
// a key of the wrong type throws Error. Both spellings of null (absent, null) mean empty.
Config parse_config(const nlohmann::json& j);
nlohmann::json to_json(const Config& c);

struct Image {
    std::string name;
    std::string dir;                  // images/NAME
    std::vector<std::string> layers;  // absolute paths, bottom first
    Config config;
};

// Image names: 1-64 characters of [a-z0-9._-], starting with a letter or digit. Nothing that
// could escape the store (/ ..) nor the separators of overlayfs mount options (: ,).
bool valid_name(std::string_view name, std::string& why);

// The command a container of `img` runs: Entrypoint, then the given command or else Cmd.
// Empty when the image has neither and nothing was given.
std::vector<std::string> command_for(const Config& c, const std::vector<std::string>& given);
// `base` with the image's Env applied (a KEY in the image replaces the same KEY in base).
std::vector<std::string> env_for(const Config& c, std::vector<std::string> base);

class Store {
public:
    // The store under `root` (state::root_dir() by default).
    explicit Store(std::string root);
    Store();

    const std::string& root() const { return root_; }
    std::string images_dir() const { return root_ + "/images"; }
    std::string containers_dir() const { return root_ + "/containers"; }

    bool exists(const std::string& name) const;
    // Throws Error (exit 125) for an unknown name or an unreadable description.
    Image get(const std::string& name) const;
    // Every image, sorted by name (temporary and hidden entries skipped).
    std::vector<Image> list() const;
    // Ids of live containers that use `name` (from containers/<id>/{owner,image}).
    std::vector<std::string> users(const std::string& name) const;
    // Removes `name`: refused (Error) when unknown or in use. Atomic: the image is first renamed
    // to a hidden name, then deleted.
    void remove(const std::string& name) const;

private:
    std::string root_;
};

// Bytes used by the files of a layer (regular files and symlinks, each inode once).
std::uint64_t tree_size(const std::string& dir);
// "1.2 MB"
std::string human_size(std::uint64_t bytes);

// rm -rf that never follows a symlink and never crosses into another mount (a mount point
// inside is an error). Missing `path` is fine. Throws SysError.
void remove_tree(const std::string& path);

}  // namespace image
