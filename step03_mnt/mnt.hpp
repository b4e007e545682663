// Mount namespace: a file system tree of the container's own, rooted in an image.
//
// A child cloned with CLONE_NEWNS gets a private copy of its parent's mount table. Made
// recursively private first (so no mount event flows back to the host), the copy is rebuilt
// around the image: /proc, /sys, /dev, /tmp and the volumes are mounted inside it, then
// pivot_root(2) makes it "/" and the host's tree is unmounted. See mount_namespaces(7),
// mount(2), pivot_root(2), and workshop/03-mnt.md.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "error.hpp"
#include "launcher.hpp"
#include "unique_fd.hpp"

namespace mnt {

// -v HOST:CONTAINER[:ro]: the host directory (or file) HOST appears at CONTAINER.
struct Volume {
    std::string host;       // absolute, on the host
    std::string container;  // absolute and normalized ("/data", never "/a/../data")
    bool read_only = false;
};

struct Config {
    // The image's root directory (made "/" inside). A later step may point it elsewhere (step06:
    // an overlay's merged directory) before constructing the Layer; it must exist when this
    // layer's prepare_host runs, so list the layer that makes it before this one.
    std::string rootfs;
    // The rootfs is this container's alone (step06: the overlay's merged directory, whose
    // writes land in the container's upper directory), so missing mount points may be made in
    // it. When false (steps 03-05: one image directory shared by every container) a run never
    // writes into it: a volume target missing from the image is refused (but under /tmp, the
    // container's own tmpfs), and so is an image without /proc, /sys, /dev or /tmp.
    bool root_is_private = false;
    bool read_only = false;       // --read-only: the root file system is mounted MS_RDONLY
    std::vector<Volume> volumes;  // -v, in order; later layers may add their own before run()
    // Teaching toggles: the classic mistakes, on purpose. Both print a warning.
    bool chroot_mode = false;  // --chroot: chroot(2) instead of pivot_root(2); the old root stays
    bool no_private = false;   // --no-private: skip mount("", "/", MS_REC|MS_PRIVATE)

    Config();  // rootfs = state::default_rootfs()
};

// Adds --rootfs DIR, --read-only, -v/--volume HOST:CONTAINER[:ro], --chroot, --no-private.
// Each value is checked as it is parsed: a bad one is one line and exit 125, before anything
// is created. (Whether a volume's container path escapes the root through the image's symlinks
// can only be known with the rootfs: Layer::prepare_host checks that, still before any mount.)
void add_options(CLI::App& app, Config& cfg);

// "HOST:CONTAINER[:ro|:rw]" -> Volume; on a bad spec, nullopt and `why` says what is wrong.
// HOST must exist (it is made absolute); CONTAINER must be absolute, must not climb above
// "/" with "..", and must not be /proc, /sys or /dev or under them (the kernel file systems
// this layer mounts: a volume there would hide or replace them). No root needed (unit-tested).
std::optional<Volume> parse_volume(std::string_view spec, std::string& why);

// "/a/./b//c/../d" -> "/a/b/d". nullopt when a ".." would climb above "/", or the path is
// not absolute.
std::optional<std::string> normalize(std::string_view path);

// ---------------------------------------------------------------------------------------------
// Resolving a path inside a root, safely.
//
// The image is not trusted: its symlinks may point anywhere ("/data -> ../../../../etc").
// resolve_in_root() walks `path` one component at a time from `root` with O_PATH|O_NOFOLLOW,
// as if `root` were "/": a symlink is read and followed by hand (an absolute target starts
// again at `root`), and ".." pops back to the directory we came from, never above `root`. A
// ".." that would climb above the root (in the path or in a symlink's target) is refused as an
// escape. openat2(RESOLVE_IN_ROOT) does the same walk in the kernel but silently stops ".." at
// the root; we want to refuse, not reinterpret, a path that tries to leave.

enum class Create { none, dir, file };  // what to make when the last component is missing

struct Resolved {
    unique_fd fd;          // O_PATH fd of the target; empty when it does not exist (Create::none)
    std::string path;      // the target as the container sees it, symlinks resolved: "/etc/x"
    bool exists = false;   // false: some component was missing (only with Create::none)
    bool is_dir = false;   // what the target is (when it exists)
};

// Throws Error (exit 125) on an escape, a symlink loop (40 links), a component that is not a
// directory, or a failing system call. With Create::dir/file, missing components are made
// (directories 0755, a last file 0644, empty).
Resolved resolve_in_root(int root, std::string_view path, Create create);

// ---------------------------------------------------------------------------------------------
// For later layers: putting one host file or directory into the container.
//
// After this layer's setup_inside the host's tree is gone, so a host path cannot be bound by
// name any more. Instead, on the host side (in prepare_host, any layer order) take a detached
// copy of it with the new mount API (open_tree(OPEN_TREE_CLONE): a mount that belongs to no
// namespace yet and shows up in no mount table), keep the fd, and in setup_inside (which runs
// after this layer's, in the container's root) attach it:
//
//   prepare_host:  hosts_ = mnt::detach("/run/minibox/<id>/hosts", /*read_only=*/true);
//   setup_inside:  mnt::attach(hosts_.get(), "/etc/hosts");
//
// The mount point is made inside the container's root if missing (resolved with
// resolve_in_root, so the image's symlinks cannot send it elsewhere), but only when the root
// is the container's own (Config::root_is_private) or the point is under /tmp: in a shared
// image a missing point is not made, attach() warns and returns false. The fd travels through
// clone() like any other; closing it (or the tool dying) frees an unattached copy. Call attach
// from setup_inside, not before_exec: --read-only is applied in this layer's before_exec.
// (A host path that exists before the run can simply be pushed into Config::volumes.)
unique_fd detach(const std::string& host_path, bool read_only);
bool attach(int detached, const std::string& container_path);

// The kernel file systems this layer mounts itself; no volume goes over or under them.
bool is_kernel_path(const std::string& container_path);
// True when `path` (normalized, absolute) is `dir` or below it.
bool is_under(const std::string& path, const std::string& dir);

// ---------------------------------------------------------------------------------------------
// The host's mount table, as /proc/PID/mountinfo shows it (proc(5)).
struct MountInfo {
    int id = 0;
    int parent = 0;
    std::string root;         // field 4: the part of the file system that is mounted
    std::string mount_point;  // field 5, with \040-style escapes decoded
    std::string options;      // field 6: per-mount options (rw, nosuid, ...)
    std::string propagation;  // the optional fields: "shared:1 master:2", "" when private
    std::string fstype;
    std::string source;
};
std::vector<MountInfo> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

// MS_BIND|MS_REC: mount(2) flags spelled as a learner writes them.
std::string mount_flags(unsigned long flags);

// ---------------------------------------------------------------------------------------------
// Leftovers of --no-private. A normal run leaves nothing on the host: every mount lives in the
// container's private namespace and dies with it. Under --no-private on a host whose "/" is
// shared, the container's mounts under the rootfs propagate to the host; the tool unmounts
// them when the container ends, and records them in run_dir()/mnt-<id>.propagated meanwhile,
// so that after a SIGKILL the next start (or `minibox cleanup`) finds and removes them.
struct Leftover {
    std::string record;                    // the record file
    std::string owner;                     // "pid:starttime" of the tool that wrote it
    bool owner_alive = false;
    bool same_namespace = false;           // recorded in our mount namespace (else unreachable)
    std::vector<std::string> mount_points;  // propagated mounts still on the host (ours)
};
std::vector<Leftover> find_leftovers();
// Unmounts the mounts of dead owners (in our mount namespace) and removes their records.
// Returns what it removed, for the narration.
std::vector<Leftover> reap_leftovers();
// Unmounts what the record at `path` names (the record itself stays). Returns the mount points.
std::vector<std::string> unmount_leftover(const std::string& record);

class Layer : public launch::Layer {
public:
    explicit Layer(Config cfg) : cfg_(std::move(cfg)) {}
    const char* name() const override { return "mnt"; }
    int clone_flags() const override;
    // Host side, before anything is created: checks the rootfs and every volume's container
    // path inside it (escapes are refused here, exit 125); --no-private: snapshot the table.
    void prepare_host(launch::Context& ctx) override;
    // Child: private propagation, the new tree, pivot_root (or chroot), old root unmounted.
    void setup_inside(launch::Context& ctx) override;
    // Child, last: --read-only remounts "/" read-only (after every layer's setup_inside, so
    // later layers can still make their mount points).
    void before_exec(launch::Context& ctx) override;
    // Host side: --no-private, unmount what propagated to the host.
    void cleanup(launch::Context& ctx) noexcept override;

private:
    Config cfg_;
    std::string root_;                 // realpath of cfg_.rootfs (host side)
    std::vector<int> before_;          // --no-private: mount ids present before the run
    std::string record_;               // --no-private: the leftover record
};

}  // namespace mnt
