// The host's side of the mount table: reading mountinfo, and the leftovers of --no-private.
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mnt.hpp"
#include "narrate.hpp"
#include "state.hpp"
#include "tree.hpp"

namespace mnt {
namespace {

// mountinfo escapes space, tab, newline and backslash as \040 \011 \012 \134.
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            int v = 0;
            bool ok = true;
            for (size_t k = 1; k <= 3; ++k) {
                char c = s[i + k];
                if (c < '0' || c > '7') ok = false;
                v = v * 8 + (c - '0');
            }
            if (ok) {
                out += static_cast<char>(v);
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

bool under(const std::string& path, const std::string& root) {
    return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                            (root == "/" || path[root.size()] == '/'));
}

unsigned long long mnt_ns_inode() {
    struct stat st {};
    return ::stat("/proc/self/ns/mnt", &st) == 0 ? st.st_ino : 0;
}

constexpr const char* kPrefix = "mnt-";
constexpr const char* kSuffix = ".propagated";

struct Record {
    std::string owner;
    unsigned long long ns = 0;
    std::string root;
    std::vector<int> before;
};

// The record: the owner's "pid:start" on the first line (the format every run-dir record has,
// see state::record_owner), then what to undo.
std::optional<Record> read_record(const std::string& path) {
    std::ifstream f(path);
    Record r;
    if (!std::getline(f, r.owner) || !state::Owner::parse(r.owner)) return std::nullopt;
    for (std::string line; std::getline(f, line);) {
        std::istringstream in(line);
        std::string key;
        in >> key;
        if (key == "mntns") in >> r.ns;
        else if (key == "rootfs") std::getline(in >> std::ws, r.root);
        else if (key == "before")
            for (int id; in >> id;) r.before.push_back(id);
    }
    if (r.root.empty() || r.before.empty()) return std::nullopt;
    return r;
}

std::vector<std::string> new_mounts_under(const std::string& root, const std::vector<int>& before) {
    std::vector<std::string> found;
    for (auto& m : read_mountinfo())
        if (under(m.mount_point, root) && std::find(before.begin(), before.end(), m.id) == before.end() &&
            std::find(found.begin(), found.end(), m.mount_point) == found.end())  // stacked: once
            found.push_back(m.mount_point);
    return found;
}

}  // namespace

std::vector<MountInfo> read_mountinfo(const std::string& path) {
    std::vector<MountInfo> out;
    std::ifstream f(path);
    for (std::string line; std::getline(f, line);) {
        // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
        std::istringstream in(line);
        MountInfo m;
        std::string devno;
        in >> m.id >> m.parent >> devno >> m.root >> m.mount_point >> m.options;
        for (std::string field; in >> field && field != "-";)
            m.propagation += (m.propagation.empty() ? "" : " ") + field;
        in >> m.fstype >> m.source;
        m.root = unescape(m.root);
        m.mount_point = unescape(m.mount_point);
        m.source = unescape(m.source);
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<Leftover> find_leftovers() {
    std::vector<Leftover> out;
    std::string dir = state::run_dir();
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    unsigned long long ns = mnt_ns_inode();
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
        Leftover l;
        l.record = dir + "/" + name;
        auto r = read_record(l.record);
        if (!r) continue;
        l.owner = r->owner;
        auto owner = state::Owner::parse(r->owner);
        l.owner_alive = owner && owner->alive();
        l.same_namespace = r->ns == ns;
        if (l.same_namespace) l.mount_points = new_mounts_under(r->root, r->before);
        out.push_back(std::move(l));
    }
    ::closedir(d);
    return out;
}

std::vector<Leftover> reap_leftovers() {
    std::vector<Leftover> reaped;
    for (auto& l : find_leftovers()) {
        // A live owner cleans up after itself; another namespace's mounts are out of our reach.
        if (l.owner_alive || !l.same_namespace) continue;
        auto r = read_record(l.record);
        if (!r) continue;
        l.mount_points = detail::unmount_propagated(r->root, r->before);
        ::unlink(l.record.c_str());
        reaped.push_back(std::move(l));
    }
    return reaped;
}

std::vector<std::string> unmount_leftover(const std::string& record) {
    auto r = read_record(record);
    if (!r) return {};
    return detail::unmount_propagated(r->root, r->before);
}

namespace detail {

std::vector<int> mount_ids() {
    std::vector<int> ids;
    for (auto& m : read_mountinfo()) ids.push_back(m.id);
    return ids;
}

std::vector<std::string> unmount_propagated(const std::string& root, const std::vector<int>& before) {
    std::vector<std::string> done;
    // One at a time, deepest first, reading the table again after each: umount2 takes a path
    // and unmounts whatever is on top there, so we make sure the top one is ours.
    for (int round = 0; round < 256; ++round) {
        std::vector<MountInfo> fresh;
        for (auto& m : read_mountinfo())
            if (under(m.mount_point, root) && std::find(before.begin(), before.end(), m.id) == before.end())
                fresh.push_back(m);
        if (fresh.empty()) break;
        auto depth = [](const MountInfo& m) { return std::count(m.mount_point.begin(), m.mount_point.end(), '/'); };
        // Deepest path first; among mounts stacked on one path, the one no other sits on.
        auto top = std::max_element(fresh.begin(), fresh.end(), [&](const MountInfo& a, const MountInfo& b) {
            if (depth(a) != depth(b)) return depth(a) < depth(b);
            return a.parent == b.id;  // b is below a: a is "greater"
        });
        if (::umount2(top->mount_point.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
            narrate::warn("umount2(\"" + top->mount_point + "\", MNT_DETACH): " + std::strerror(errno));
            break;
        }
        done.push_back(top->mount_point);
    }
    return done;
}

std::string write_record(const std::string& id, const std::string& root, const std::vector<int>& before) {
    std::string dir = state::run_dir();
    std::string path = dir + "/" + kPrefix + id + kSuffix;
    std::string tmp = dir + "/." + kPrefix + id + ".tmp";
    {
        std::ofstream f(tmp);
        f << state::Owner::self().str() << "\n"
          << "mntns " << mnt_ns_inode() << "\n"
          << "rootfs " << root << "\n"
          << "before";
        for (int i : before) f << " " << i;
        f << "\n";
        if (!f.flush()) throw Error("write " + tmp + ": failed");
    }
    // Whole or not at all: a reader never sees a record without its owner line.
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw SysError("rename(\"" + tmp + "\", \"" + path + "\")", err);
    }
    return path;
}

}  // namespace detail
}  // namespace mnt
