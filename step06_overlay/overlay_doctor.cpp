#include "overlay_doctor.hpp"

#include <dirent.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "error.hpp"
#include "image_store.hpp"
#include "import.hpp"
#include "overlay.hpp"
#include "state.hpp"

namespace overlay {
namespace {

constexpr long kOverlayMagic = 0x794c7630;  // OVERLAYFS_SUPER_MAGIC

// A probe in a child with a private mount namespace: nothing it mounts reaches the host.
int overlay_probe(const std::string& dir) {
    if (::unshare(CLONE_NEWNS) != 0) return errno;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
    for (auto sub : {"/l", "/u", "/w", "/m"})
        if (::mkdir((dir + sub).c_str(), 0755) != 0) return errno;
    std::string opts = "lowerdir=" + dir + "/l,upperdir=" + dir + "/u,workdir=" + dir + "/w";
    if (::mount("overlay", (dir + "/m").c_str(), "overlay", 0, opts.c_str()) != 0) return errno;
    return 0;
}

}  // namespace

std::vector<doctor::Check> checks() {
    return {{"overlay", [] {
                 image::Store store;
                 std::string images = store.images_dir();
                 struct statfs fs {};
                 if (::statfs(store.root().c_str(), &fs) == 0 && fs.f_type == kOverlayMagic)
                     return doctor::CheckResult::fail(store.root() + " is itself on overlayfs (an upper directory cannot be)",
                                                      "point MINIBOX_ROOT at a directory on ext4, xfs or tmpfs");
                 if (::mkdir(store.root().c_str(), 0755) < 0 && errno != EEXIST)
                     return doctor::CheckResult::fail(store.root() + ": " + std::strerror(errno), "run as root");
                 ::mkdir(images.c_str(), 0755);
                 std::string tmpl = images + "/.doctor-XXXXXX";
                 if (!::mkdtemp(tmpl.data()))
                     return doctor::CheckResult::fail(images + ": " + std::strerror(errno), "run as root");
                 int rc = doctor::in_child([&] { return overlay_probe(tmpl); });
                 try {
                     image::remove_tree(tmpl);
                 } catch (const Error&) {
                 }
                 if (rc == 0)
                     return doctor::CheckResult::ok("mount(\"overlay\") with upper and work in " + store.root() + " works");
                 return doctor::CheckResult::fail(
                     std::string("mount(\"overlay\") in ") + store.root() + ": " + std::strerror(rc),
                     rc == ENODEV ? "modprobe overlay (CONFIG_OVERLAY_FS)"
                                  : "the store's file system must support d_type and trusted.* xattrs (ext4, xfs, tmpfs); see "
                                    "workshop/troubleshooting.md");
             }}};
}

std::vector<doctor::Finder> finders() {
    return {[] {
        std::vector<doctor::Leftover> out;
        image::Store store;
        auto leftovers = find_leftovers(store);
        for (auto& l : find_mounted_elsewhere(store)) leftovers.push_back(l);
        for (auto& l : leftovers) {
            std::string dir = l.dir;
            bool mounted = l.mounted;
            out.push_back({"overlay",
                           dir + (mounted ? " (with its overlay mount; its owner " : " (its owner ") +
                               (l.owner.empty() ? std::string("never recorded") : l.owner) + " is gone)",
                           [dir, mounted] {
                               if (mounted && ::umount2((dir + "/merged").c_str(), MNT_DETACH) < 0 && errno != EINVAL)
                                   throw SysError("umount2(\"" + dir + "/merged\", MNT_DETACH)", errno);
                               image::remove_tree(dir);
                           }});
        }
        // Read-only here: list what reap_imports() would remove.
        image::Store s = store;
        for (auto& dir : [&] {
                 std::vector<std::string> found;
                 if (DIR* d = ::opendir(s.images_dir().c_str())) {
                     while (dirent* e = ::readdir(d)) {
                         std::string n = e->d_name;
                         if (n.rfind(".import-", 0) != 0 && n.rfind(".rm-", 0) != 0) continue;
                         std::string path = s.images_dir() + "/" + n;
                         std::string owner;
                         if (FILE* f = std::fopen((path + "/owner").c_str(), "r")) {
                             char buf[64] = {};
                             if (std::fgets(buf, sizeof buf, f)) owner = buf;
                             std::fclose(f);
                         }
                         if (!owner.empty() && owner.back() == '\n') owner.pop_back();
                         auto o = state::Owner::parse(owner);
                         if (o && o->alive()) continue;
                         found.push_back(path);
                     }
                     ::closedir(d);
                 }
                 return found;
             }()) {
            out.push_back({"image-import", dir + " (an import or removal that never finished)",
                           [dir] { image::remove_tree(dir); }});
        }
        return out;
    }};
}

}  // namespace overlay
