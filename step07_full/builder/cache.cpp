#include "cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "image/digest.hpp"
#include "error.hpp"
#include "files.hpp"

namespace builder {

namespace {

// Feeds one file's name, metadata and content; directories recursively, in name order.
void put(images::Sha256& h, std::string_view s) { h.update(s.data(), s.size()); }

void feed(images::Sha256& h, const std::string& host, const std::string& name, const std::string& rel,
          const std::function<bool(const std::string&)>& skip) {
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) throw SysError("lstat(\"" + host + "\")", errno);
    char meta[128];
    // the host's owner is not fed: COPY makes every file 0:0 (or --chown's), whoever owns it here
    std::snprintf(meta, sizeof meta, "|%o|%lld|", static_cast<unsigned>(st.st_mode),
                  S_ISREG(st.st_mode) ? static_cast<long long>(st.st_size) : 0LL);
    put(h, name);
    put(h, meta);
    if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlink(host.c_str(), buf, sizeof buf);
        if (n < 0) throw SysError("readlink(\"" + host + "\")", errno);
        h.update(buf, static_cast<size_t>(n));
    } else if (S_ISREG(st.st_mode)) {
        put(h, images::hex_of(images::sha256_of_file(host)));
    } else if (S_ISDIR(st.st_mode)) {
        std::vector<std::string> names;
        if (DIR* d = ::opendir(host.c_str())) {
            while (dirent* e = ::readdir(d)) {
                std::string n = e->d_name;
                if (n != "." && n != "..") names.push_back(n);
            }
            ::closedir(d);
        } else {
            throw SysError("opendir(\"" + host + "\")", errno);
        }
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            std::string r = rel.empty() ? n : rel + "/" + n;
            if (skip && skip(r)) continue;
            feed(h, host + "/" + n, name + "/" + n, r, skip);
        }
    }
    put(h, "\n");
}

}  // namespace

std::string files_digest(const std::vector<CopySource>& sources, const std::function<bool(const std::string&)>& skip) {
    images::Sha256 h;
    for (const auto& s : sources) feed(h, s.host_path, s.name, "", skip);
    return h.digest();
}

std::string cache_key(const std::string& parent_id, const std::string& instruction, const std::string& files) {
    images::Sha256 h;
    put(h, "parent " + parent_id + "\n");
    put(h, "instruction " + instruction + "\n");
    put(h, "files " + files + "\n");
    return images::hex_of(h.digest());  // a file name in the cache directory
}

Cache::Cache(std::string dir) : dir_(std::move(dir)) {}

std::optional<std::string> Cache::get(const std::string& key) const {
    std::string v = files::read_line(dir_ + "/" + key);
    if (v.empty()) return std::nullopt;
    return v;
}

void Cache::put(const std::string& key, const std::string& image_id) const {
    // mkdir -p of the cache directory; a concurrent build may make it first
    std::string path;
    for (size_t k = 1; k != std::string::npos;) {
        k = dir_.find('/', k + 1);
        path = dir_.substr(0, k);
        if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throw SysError("mkdir(\"" + path + "\")", errno);
    }
    // written whole to a temporary name, then renamed: a reader never sees half an id
    std::string tmp = dir_ + "/." + key + "." + std::to_string(::getpid());
    files::write(tmp, image_id + "\n");
    if (::rename(tmp.c_str(), (dir_ + "/" + key).c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw SysError("rename(\"" + tmp + "\")", e);
    }
}

}  // namespace builder
