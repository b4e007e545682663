// overlayfs: one copy-on-write root per container over the image's read-only layers.
//
// mount("overlay", MERGED, "overlay", 0, "lowerdir=TOP:...:BOTTOM,upperdir=UPPER,workdir=WORK")
// shows the union of the layers at MERGED. Reads fall through to the highest layer that has
// the file; the first write copies it up into UPPER; a delete leaves a whiteout (a 0/0
// character device) in UPPER. WORK is overlayfs's scratch space (same file system as UPPER).
// The image's layers are never written. See overlayfs(5) (Documentation/filesystems/
// overlayfs.rst), mount(2), and workshop/06-overlay.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "image_store.hpp"
#include "launcher.hpp"

namespace overlay {

struct Config {
    std::string image;  // IMAGE: a name in the store
    bool keep = false;  // --keep: leave the upper directory (the container's changes) behind
};

// Adds --keep.
void add_options(CLI::App& app, Config& cfg);
// IMAGE is the first word of the run tail: moves it from `tail` into cfg.image (and drops a
// "--" right after it). Returns why when it is missing or not a valid name.
std::optional<std::string> take_image(std::vector<std::string>& tail, Config& cfg);

// The mount options for `lower` (bottom first, as an image lists its layers: overlayfs wants
// the top first), `upper` and `work`. Error when a path holds a character that the option
// syntax cannot carry (":" "," "\"), or when the whole string exceeds a page (what mount(2)
// copies). No root needed (unit-tested).
std::string mount_options(const std::vector<std::string>& lower, const std::string& upper, const std::string& work);

// True when the kernel has overlayfs's "volatile" option (Linux 5.10): no sync of the upper
// file system, not even at the last unmount (see overlay.cpp for the price).
bool kernel_has_volatile();

// One container's directories: <store>/containers/<id>/{owner,image,upper,work,merged}.
struct Paths {
    std::string dir, upper, work, merged;
    Paths(const image::Store& store, const std::string& id);
};

class Layer : public launch::Layer {
public:
    // `img` from store.get(cfg.image); `id` is the container's (launch::Context::id), known
    // before run() so that merged() can be given to the mnt layer as its rootfs.
    Layer(Config cfg, image::Image img, image::Store store, std::string id);
    const char* name() const override { return "overlay"; }
    // Where the container's root appears on the host (mnt::Config::rootfs).
    const std::string& merged() const { return paths_.merged; }

    void prepare_host(launch::Context& ctx) override;  // reap the dead, record, mkdir, mount
    void before_exec(launch::Context& ctx) override;   // chdir to the image's WorkingDir
    void cleanup(launch::Context& ctx) noexcept override;

private:
    Config cfg_;
    image::Image img_;
    image::Store store_;
    Paths paths_;
    bool created_ = false;
    bool mounted_ = false;
};

// What dead runs left in <store>/containers: directories whose owner is gone (a SIGKILLed
// tool). Kept upper layers (--keep) are not leftovers.
struct Leftover {
    std::string dir;
    std::string owner;  // "pid:start", or "" when the record was never written
    bool mounted = false;
};
std::vector<Leftover> find_leftovers(const image::Store& store);
// The overlay mounts of dead runs that used another store (MINIBOX_ROOT, --root): mounted on
// the host all the same, where no scan of `store` looks. Found in the mount table: an overlay
// on <other store>/containers/<id>/merged whose directory holds step06's owner record.
std::vector<Leftover> find_mounted_elsewhere(const image::Store& store);
// Unmounts and removes them; returns what was removed.
std::vector<Leftover> reap_leftovers(const image::Store& store);

// True when `path` is a mount point in this mount namespace (from /proc/self/mountinfo).
bool is_mount_point(const std::string& path);

}  // namespace overlay
