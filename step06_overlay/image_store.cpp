#include "files.hpp"
#include "image_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "error.hpp"
#include "state.hpp"
#include "unique_fd.hpp"

namespace image {
namespace {

std::vector<std::string> string_list(const nlohmann::json& j, const char* key) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_array()) throw Error(std::string("image config: ") + key + " must be a list of strings");
    for (auto& v : *it) {
        if (!v.is_string()) throw Error(std::string("image config: ") + key + " must be a list of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

// A layer path in image.json: relative, inside the image directory.
bool safe_relative(const std::string& p) {
    if (p.empty() || p.front() == '/') return false;
    std::istringstream in(p);
    for (std::string part; std::getline(in, part, '/');)
        if (part == "..") return false;
    return true;
}

}  // namespace

Config parse_config(const nlohmann::json& j) {
    Config c;
    if (j.is_null()) return c;
    if (!j.is_object()) throw Error("image config: not a JSON object");
    c.env = string_list(j, "Env");
    c.cmd = string_list(j, "Cmd");
    c.entrypoint = string_list(j, "Entrypoint");
    if (auto it = j.find("WorkingDir"); it != j.end() && !it->is_null()) {
        if (!it->is_string()) throw Error("image config: WorkingDir must be a string");
        c.working_dir = it->get<std::string>();
        if (!c.working_dir.empty() && c.working_dir.front() != '/')
            throw Error("image config: WorkingDir must be an absolute path, not " + c.working_dir);
    }
    for (auto& e : c.env)
        if (e.find('=') == std::string::npos || e.front() == '=')
            throw Error("image config: Env entry \"" + e + "\" is not KEY=VALUE");
    return c;
}

nlohmann::json to_json(const Config& c) {
    nlohmann::json j = nlohmann::json::object();
    j["Env"] = c.env;
    j["Cmd"] = c.cmd;
    j["Entrypoint"] = c.entrypoint;
    j["WorkingDir"] = c.working_dir;
    return j;
}

bool valid_name(std::string_view name, std::string& why) {
    if (name.empty() || name.size() > 64) {
        why = "an image name has 1 to 64 characters";
        return false;
    }
    auto ok = [](char ch, bool first) {
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) return true;
        return !first && (ch == '.' || ch == '_' || ch == '-');
    };
    for (size_t i = 0; i < name.size(); ++i) {
        if (!ok(name[i], i == 0)) {
            why = "image name \"" + std::string(name) +
                  "\": use lowercase letters, digits and . _ - (starting with a letter or digit)";
            return false;
        }
    }
    return true;
}

std::vector<std::string> command_for(const Config& c, const std::vector<std::string>& given) {
    std::vector<std::string> argv = c.entrypoint;
    const auto& tail = given.empty() ? c.cmd : given;
    argv.insert(argv.end(), tail.begin(), tail.end());
    return argv;
}

std::vector<std::string> env_for(const Config& c, std::vector<std::string> base) {
    for (auto& kv : c.env) {
        auto key = kv.substr(0, kv.find('=') + 1);  // "KEY="
        auto it = std::find_if(base.begin(), base.end(), [&](const std::string& b) { return b.rfind(key, 0) == 0; });
        if (it != base.end()) *it = kv;
        else base.push_back(kv);
    }
    return base;
}

Store::Store(std::string root) : root_(std::move(root)) {}
Store::Store() : root_(state::root_dir()) {}

bool Store::exists(const std::string& name) const {
    struct stat st {};
    return ::lstat((images_dir() + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Image Store::get(const std::string& name) const {
    std::string why;
    if (!valid_name(name, why)) throw Error(why);
    Image img;
    img.name = name;
    img.dir = images_dir() + "/" + name;
    if (!exists(name)) {
        Error e("unknown image " + name + " (in " + images_dir() + ")", exit_code::tool_failed, ENOENT);
        if (name == "busybox") e.with_hint("make the default image with scripts/make-image.sh");
        else e.with_hint("see `image ls`; add one with `image import TARBALL|OCI-DIR " + name + "`");
        throw e;
    }
    std::string desc = img.dir + "/image.json";
    struct stat st {};
    if (::stat(desc.c_str(), &st) < 0) {
        // A bare root file system, as scripts/make-image.sh makes the default image.
        if (::stat((img.dir + "/rootfs").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            img.layers = {img.dir + "/rootfs"};
            img.config.cmd = {"/bin/sh"};
            return img;
        }
        throw Error("image " + name + ": neither image.json nor rootfs/ in " + img.dir);
    }
    try {
        auto j = nlohmann::json::parse(files::read(desc));
        if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array() || j["layers"].empty())
            throw Error("no layers");
        for (auto& l : j["layers"]) {
            if (!l.is_string() || !safe_relative(l.get<std::string>())) throw Error("bad layer path " + l.dump());
            img.layers.push_back(img.dir + "/" + l.get<std::string>());
        }
        img.config = parse_config(j.value("config", nlohmann::json()));
    } catch (const nlohmann::json::exception& e) {
        throw Error("image " + name + ": " + desc + ": " + e.what());
    } catch (Error& e) {
        throw e.context("image " + name + ": " + desc);
    }
    return img;
}

std::vector<Image> Store::list() const {
    std::vector<Image> out;
    DIR* d = ::opendir(images_dir().c_str());
    if (!d) return out;
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string why;
        if (e->d_name[0] != '.' && valid_name(e->d_name, why) && exists(e->d_name)) names.push_back(e->d_name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
        try {
            out.push_back(get(n));
        } catch (const Error&) {
            // A half-written or foreign directory: not an image; `ls` shows only images.
        }
    }
    return out;
}

std::vector<std::string> Store::users(const std::string& name) const {
    std::vector<std::string> ids;
    DIR* d = ::opendir(containers_dir().c_str());
    if (!d) return ids;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::string dir = containers_dir() + "/" + e->d_name;
        std::string used = files::read(dir + "/image");
        if (!used.empty() && used.back() == '\n') used.pop_back();
        if (used != name) continue;
        std::string owner = files::read(dir + "/owner");
        if (!owner.empty() && owner.back() == '\n') owner.pop_back();
        auto o = state::Owner::parse(owner);
        if (o && o->alive()) ids.push_back(e->d_name);
    }
    ::closedir(d);
    std::sort(ids.begin(), ids.end());
    return ids;
}

void Store::remove(const std::string& name) const {
    std::string why;
    if (!valid_name(name, why)) throw Error(why);
    if (!exists(name)) throw Error("unknown image " + name + " (in " + images_dir() + ")");
    // The same lock as a container start takes while it records its image: no container can
    // start from this image between the check and the rename.
    state::Lock lock("images");
    auto ids = users(name);
    if (!ids.empty()) {
        std::string list;
        for (auto& id : ids) list += (list.empty() ? "" : ", ") + id;
        throw Error("image " + name + " is used by running container(s) " + list);
    }
    std::string from = images_dir() + "/" + name;
    std::string to = images_dir() + "/.rm-" + name + "-" + state::new_container_id();
    if (::rename(from.c_str(), to.c_str()) < 0) throw SysError("rename(\"" + from + "\", \"" + to + "\")", errno);
    remove_tree(to);
}

namespace {

void size_walk(int dirfd, std::set<std::pair<dev_t, ino_t>>& seen, std::uint64_t& total) {
    DIR* d = ::fdopendir(dirfd);
    if (!d) {
        ::close(dirfd);
        return;
    }
    while (dirent* e = ::readdir(d)) {
        if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) size_walk(sub, seen, total);
        } else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && seen.insert({st.st_dev, st.st_ino}).second) {
            total += static_cast<std::uint64_t>(st.st_size);
        }
    }
    ::closedir(d);
}

void remove_at(int parent, const char* name, dev_t dev, const std::string& shown) {
    struct stat st {};
    if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return;
        throw SysError("fstatat(\"" + shown + "\")", errno);
    }
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev) throw Error(shown + " is a mount point; unmount it first");
        int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) throw SysError("open(\"" + shown + "\")", errno);
        DIR* d = ::fdopendir(fd);
        if (!d) {
            ::close(fd);
            throw SysError("fdopendir(\"" + shown + "\")", errno);
        }
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d))
            if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
        try {
            for (auto& n : names) remove_at(::dirfd(d), n.c_str(), dev, shown + "/" + n);
        } catch (...) {
            ::closedir(d);
            throw;
        }
        ::closedir(d);
        if (::unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            throw SysError("rmdir(\"" + shown + "\")", errno);
    } else if (::unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
        throw SysError("unlink(\"" + shown + "\")", errno);
    }
}

}  // namespace

std::uint64_t tree_size(const std::string& dir) {
    std::set<std::pair<dev_t, ino_t>> seen;
    std::uint64_t total = 0;
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) size_walk(fd, seen, total);
    return total;
}

std::string human_size(std::uint64_t bytes) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

void remove_tree(const std::string& path) {
    if (path.empty() || path == "/") throw Error("remove_tree: refusing to remove \"" + path + "\"");
    auto slash = path.find_last_of('/');
    std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    unique_fd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pfd) {
        if (errno == ENOENT) return;
        throw SysError("open(\"" + parent + "\")", errno);
    }
    struct stat st {};
    if (::fstatat(pfd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return;
        throw SysError("fstatat(\"" + path + "\")", errno);
    }
    remove_at(pfd.get(), base.c_str(), st.st_dev, path);
}

}  // namespace image
