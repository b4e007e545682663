#include "files.hpp"
#include "overlay.hpp"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "error.hpp"
#include "mnt.hpp"
#include "fault.hpp"
#include "narrate.hpp"
#include "state.hpp"

namespace overlay {
namespace {

void make_dir(const std::string& path, mode_t mode, const char* why) {
    narrate::sys({"overlay", "mkdir(\"" + path + "\")", why, "ls -la " + path}, [&] { return ::mkdir(path.c_str(), mode); });
}

void unmount(const std::string& merged) {
    narrate::sys({"overlay", "umount2(\"" + merged + "\", MNT_DETACH)",
                  "the container's root goes; its upper directory stays on disk until removed",
                  "findmnt -t overlay"},
                 [&] { return ::umount2(merged.c_str(), MNT_DETACH); });
}

}  // namespace

// overlayfs's "volatile" option (Linux 5.10): no sync of the upper file system, ever. Without
// it the last unmount calls sync_fs on the upper file system (an ext4 journal commit and a
// disk flush, tens of ms) for changes that `rm` is about to delete. A crash may leave a
// volatile upper half-written, which is why the kernel then refuses to mount that work dir
// again; a run here never mounts the same upper twice (--keep keeps it to look at).
bool kernel_has_volatile() {
    utsname u{};
    if (::uname(&u) < 0) return false;
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 10);
}

void add_options(CLI::App& app, Config& cfg) {
    // IMAGE is not a CLI11 positional: it is the first word of the command tail (see
    // take_image), so that `run IMAGE -- CMD` and `run IMAGE CMD -l` both reach the container.
    app.add_flag("--keep", cfg.keep,
                 "keep the container's upper directory (its changes to the image) and print where it is");
}

std::optional<std::string> take_image(std::vector<std::string>& tail, Config& cfg) {
    if (tail.empty()) return "no IMAGE given (see `image ls`)";
    if (tail.front().starts_with("-")) return "unknown option " + tail.front() + " (see run --help)";
    std::string why;
    if (!image::valid_name(tail.front(), why)) return why;
    cfg.image = tail.front();
    tail.erase(tail.begin());
    if (!tail.empty() && tail.front() == "--") tail.erase(tail.begin());
    return std::nullopt;
}

std::string mount_options(const std::vector<std::string>& lower, const std::string& upper, const std::string& work) {
    auto checked = [](const std::string& p) -> const std::string& {
        // The option string is split at "," and lowerdir at ":"; "\" escapes both. A path that
        // holds one of them would be cut in two.
        if (p.find_first_of(":,\\") != std::string::npos)
            throw Error("overlay: the path " + p + " holds ':', ',' or '\\', which mount options cannot carry")
                .with_hint("use a store path without them (MINIBOX_ROOT)");
        return p;
    };
    if (lower.empty()) throw Error("overlay: an image needs at least one layer");
    std::string opts = "lowerdir=";
    for (auto it = lower.rbegin(); it != lower.rend(); ++it) {
        if (it != lower.rbegin()) opts += ':';
        opts += checked(*it);
    }
    opts += ",upperdir=" + checked(upper) + ",workdir=" + checked(work);
    long page = ::sysconf(_SC_PAGESIZE);
    if (static_cast<long>(opts.size()) >= (page > 0 ? page : 4096))
        throw Error("overlay: the mount options (" + std::to_string(opts.size()) + " bytes) exceed one page")
            .with_hint("too many layers or too long a store path; a shorter MINIBOX_ROOT helps");
    return opts;
}

Paths::Paths(const image::Store& store, const std::string& id)
    : dir(store.containers_dir() + "/" + id), upper(dir + "/upper"), work(dir + "/work"), merged(dir + "/merged") {}

Layer::Layer(Config cfg, image::Image img, image::Store store, std::string id)
    : cfg_(std::move(cfg)), img_(std::move(img)), store_(std::move(store)), paths_(store_, id) {}

void Layer::prepare_host(launch::Context&) {
    // Checked before anything is made: the options (paths) must be expressible.
    std::string opts = mount_options(img_.layers, paths_.upper, paths_.work);
    if (kernel_has_volatile()) opts += ",volatile";
    for (auto& l : img_.layers) {
        struct stat st {};
        if (::stat(l.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
            throw Error("image " + img_.name + ": layer " + l + " is missing");
    }

    for (auto& l : reap_leftovers(store_))
        narrate::note("overlay", "removed " + l.dir + (l.mounted ? " (and its overlay mount)" : "") +
                                     ", left by dead run " + (l.owner.empty() ? "?" : l.owner));

    {
        // Recorded under the lock `image rm` takes: the image cannot vanish between its check
        // and our record. The owner is written first, so a SIGKILL from here on is reaped.
        state::Lock lock("images");
        if (!store_.exists(img_.name)) throw Error("image " + img_.name + " was removed meanwhile");
        if (::mkdir(store_.root().c_str(), 0755) < 0 && errno != EEXIST)
            throw SysError("mkdir(\"" + store_.root() + "\")", errno);
        if (::mkdir(store_.containers_dir().c_str(), 0700) < 0 && errno != EEXIST)
            throw SysError("mkdir(\"" + store_.containers_dir() + "\")", errno);
        make_dir(paths_.dir, 0700, "this container's directory: owner record, upper, work, merged");
        created_ = true;
        files::write(paths_.dir + "/owner", state::Owner::self().str() + "\n");
        files::write(paths_.dir + "/image", img_.name + "\n");
    }
    make_dir(paths_.upper, 0755, "upperdir: every change the container makes lands here");
    make_dir(paths_.work, 0700, "workdir: overlayfs's scratch space, on the same file system as upperdir");
    make_dir(paths_.merged, 0755, "the mount point: the union appears here, the container's future /");

    // MS_NODEV: an image may carry device nodes (a layer is only a tarball: "root/disk", block
    // 8:0). On this mount they cannot be opened; the container's working /dev is the mnt
    // layer's own tmpfs. (The bind mounts step03 makes of this root keep the flag.)
    narrate::sys({"overlay", "mount(\"overlay\", \"" + paths_.merged + "\", \"overlay\", MS_NODEV, \"" + opts + "\")",
                  "the image's layers, read-only, under a fresh upper directory: the container's root",
                  "findmnt -t overlay; ls " + paths_.upper},
                 [&] { return ::mount("overlay", paths_.merged.c_str(), "overlay", MS_NODEV, opts.c_str()); });
    mounted_ = true;
}

void Layer::before_exec(launch::Context&) {
    // The launcher has no "working directory" of its own: this runs after every layer's
    // setup_inside, so after pivot_root, and the path is the container's.
    const std::string& wd = img_.config.working_dir;
    if (wd.empty()) return;
    // As `docker run` does, a WorkingDir that the image lacks is created.
    std::string done;
    std::istringstream parts(wd);
    for (std::string p; std::getline(parts, p, '/');) {
        if (p.empty()) continue;
        done += "/" + p;
        ::mkdir(done.c_str(), 0755);
    }
    narrate::sys({"overlay", "chdir(\"" + wd + "\")", "the image's WorkingDir", ""},
                 [&] { return ::chdir(wd.c_str()); });
}

void Layer::cleanup(launch::Context&) noexcept {
    fault::Suspend undo;  // tests: fault injection fails the doing, never the undoing
    try {
        if (mounted_) {
            unmount(paths_.merged);
            mounted_ = false;
        }
        if (!created_) return;
        if (cfg_.keep) {
            // The changes stay for a look from the host; nothing else of this run does.
            image::remove_tree(paths_.work);
            image::remove_tree(paths_.merged);
            files::write(paths_.dir + "/kept", img_.name + "\n");
            ::unlink((paths_.dir + "/owner").c_str());
            narrate::warn("kept the container's upper directory: " + paths_.upper);
        } else {
            image::remove_tree(paths_.dir);
            narrate::note("overlay", "removed " + paths_.dir);
        }
        created_ = false;
    } catch (const Error& e) {
        narrate::warn("overlay cleanup: " + e.line());
    } catch (const std::exception& e) {
        narrate::warn(std::string("overlay cleanup: ") + e.what());
    }
}

bool is_mount_point(const std::string& path) {
    // step03's reader of the mount table: it decodes the \040-style escapes of mount points.
    for (auto& m : mnt::read_mountinfo())
        if (m.mount_point == path) return true;
    return false;
}

namespace {

// A directory of a dead run: its owner is gone, or it never wrote one and is not new.
std::optional<Leftover> dead_run(const std::string& dir) {
    struct stat st {};
    if (::stat((dir + "/kept").c_str(), &st) == 0) return std::nullopt;  // --keep: the learner's to look at
    Leftover l{dir, files::read_line(dir + "/owner"), false};
    auto owner = state::Owner::parse(l.owner);
    if (owner && owner->alive()) return std::nullopt;
    // No record at all: either a start that is just being made (skip it for a while) or
    // one killed before it wrote the record.
    if (!owner && ::stat(dir.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime < 10) return std::nullopt;
    return l;
}

}  // namespace

std::vector<Leftover> find_leftovers(const image::Store& store) {
    std::vector<Leftover> out;
    DIR* d = ::opendir(store.containers_dir().c_str());
    if (!d) return out;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.push_back(e->d_name);
    ::closedir(d);
    for (auto& n : names) {
        if (auto l = dead_run(store.containers_dir() + "/" + n)) {
            l->mounted = is_mount_point(l->dir + "/merged");
            out.push_back(*l);
        }
    }
    return out;
}

std::vector<Leftover> find_mounted_elsewhere(const image::Store& store) {
    std::vector<Leftover> out;
    const std::string tail = "/merged";
    for (auto& m : mnt::read_mountinfo()) {
        const std::string& p = m.mount_point;
        if (m.fstype != "overlay" || !p.ends_with(tail)) continue;
        std::string dir = p.substr(0, p.size() - tail.size());  // <store>/containers/<id>
        size_t slash = dir.find_last_of('/');
        if (slash == std::string::npos) continue;
        std::string parent = dir.substr(0, slash), id = dir.substr(slash + 1);
        bool an_id = id.size() == 12 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!an_id || !parent.ends_with("/containers") || parent == store.containers_dir()) continue;
        struct stat st {};
        if (::stat((dir + "/owner").c_str(), &st) != 0) continue;  // not provably step06's
        if (auto l = dead_run(dir)) {
            l->mounted = true;
            out.push_back(*l);
        }
    }
    return out;
}

std::vector<Leftover> reap_leftovers(const image::Store& store) {
    std::vector<Leftover> done;
    for (auto& l : find_leftovers(store)) {
        try {
            if (l.mounted) unmount(l.dir + "/merged");
            image::remove_tree(l.dir);
            done.push_back(l);
        } catch (const Error& e) {
            narrate::warn("could not remove " + l.dir + ": " + e.line());
        }
    }
    return done;
}

}  // namespace overlay
