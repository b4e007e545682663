#include "files.hpp"
#include "import.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "narrate.hpp"
#include "oci.hpp"
#include "state.hpp"
#include "unpack.hpp"

namespace image {
namespace {

constexpr const char* kImportPrefix = ".import-";

// "importing layer 2/3: 41.2 MB, 1234 entries", redrawn in place at most 10 times a second.
class Progress {
public:
    explicit Progress(bool wanted) : on_(wanted && ::isatty(STDERR_FILENO)) {}
    ~Progress() { done(); }
    void layer(size_t i, size_t n) {
        label_ = n > 1 ? "layer " + std::to_string(i + 1) + "/" + std::to_string(n) : "layer";
    }
    void update(const UnpackStats& s, bool force = false) {
        if (!on_) return;
        auto now = std::chrono::steady_clock::now();
        if (!force && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        std::fprintf(stderr, "\r\033[Kimporting %s: %s, %llu entries", label_.c_str(), human_size(s.bytes).c_str(),
                     static_cast<unsigned long long>(s.entries));
        drawn_ = true;
    }
    void done() {
        if (drawn_) std::fprintf(stderr, "\r\033[K");
        drawn_ = false;
    }

private:
    bool on_;
    bool drawn_ = false;
    std::string label_ = "layer";
    std::chrono::steady_clock::time_point last_{};
};

// The temporary directory of one import; removed unless committed.
class Staging {
public:
    explicit Staging(const Store& store) {
        std::string images = store.images_dir();
        if (::mkdir(store.root().c_str(), 0755) < 0 && errno != EEXIST)
            throw SysError("mkdir(\"" + store.root() + "\")", errno);
        if (::mkdir(images.c_str(), 0755) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + images + "\")", errno);
        std::string tmpl = images + "/" + kImportPrefix + "XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw SysError("mkdtemp(\"" + tmpl + "\")", errno);
        dir_ = tmpl;
        files::write(dir_ + "/owner", state::Owner::self().str() + "\n");
    }
    ~Staging() {
        if (dir_.empty()) return;
        try {
            remove_tree(dir_);
        } catch (const Error& e) {
            narrate::warn("could not remove " + dir_ + ": " + e.line());
        }
    }
    const std::string& dir() const { return dir_; }
    void committed() { dir_.clear(); }

private:
    std::string dir_;
};

}  // namespace

std::vector<std::string> reap_imports(const Store& store) {
    std::vector<std::string> removed;
    DIR* d = ::opendir(store.images_dir().c_str());
    if (!d) return removed;
    std::vector<std::string> candidates;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.rfind(kImportPrefix, 0) == 0 || n.rfind(".rm-", 0) == 0) candidates.push_back(n);
    }
    ::closedir(d);
    for (auto& n : candidates) {
        std::string dir = store.images_dir() + "/" + n;
        // A removal (.rm-*) that was interrupted is finished; an import whose owner is alive
        // is left alone. An import without an owner record is one killed right at its start.
        if (n.rfind(kImportPrefix, 0) == 0) {
            auto owner = state::Owner::parse(files::read_line(dir + "/owner"));
            if (owner && owner->alive()) continue;
            struct stat st {};
            if (!owner && ::stat(dir.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime < 10) continue;
        }
        try {
            remove_tree(dir);
            removed.push_back(dir);
        } catch (const Error& e) {
            narrate::warn("could not remove " + dir + ": " + e.line());
        }
    }
    return removed;
}

ImportResult import_image(const Store& store, const std::string& source, const std::string& name, bool progress,
                          std::uint64_t max_size) {
    // Every input is checked before anything is made in the store.
    std::string why;
    if (!valid_name(name, why)) throw Error(why);
    if (store.exists(name)) throw Error("image " + name + " already exists (remove it first: image rm " + name + ")");
    struct stat st {};
    if (::stat(source.c_str(), &st) < 0) throw Error(source + ": " + std::strerror(errno), exit_code::tool_failed, errno);
    bool oci = S_ISDIR(st.st_mode);
    if (!oci && !S_ISREG(st.st_mode)) throw Error(source + ": neither a tar file nor an OCI layout directory");
    OciImage layout;
    if (oci) layout = read_oci_layout(source);  // index, manifest and config verified

    for (auto& r : reap_imports(store)) narrate::note("image", "removed " + r + " (left by a dead import)");

    Staging staging(store);
    narrate::note("image", "unpacking into " + staging.dir() + ", renamed to " + name + " when complete");
    Progress bar(progress);
    ImportResult result;
    std::uint64_t apparent = 0;  // what the layers so far count against max_size
    nlohmann::json desc;
    desc["layers"] = nlohmann::json::array();
    std::vector<std::string> archives;
    if (oci) {
        // Every digest is checked before a single byte is unpacked.
        for (auto& l : layout.layers) archives.push_back(verify_blob(source, l));
        desc["source"] = {{"oci-layout", source}, {"manifest", layout.manifest.digest}};
        desc["config"] = to_json(layout.config);
    } else {
        archives.push_back(source);
        desc["source"] = {{"tarball", source}};
        desc["config"] = to_json(Config{});
    }
    if (::mkdir((staging.dir() + "/layers").c_str(), 0755) < 0) throw SysError("mkdir(layers)", errno);
    for (size_t i = 0; i < archives.size(); ++i) {
        std::string rel = "layers/" + std::to_string(i);
        std::string layer = staging.dir() + "/" + rel;
        if (::mkdir(layer.c_str(), 0755) < 0) throw SysError("mkdir(\"" + layer + "\")", errno);
        UnpackOptions opts;
        opts.whiteouts = i > 0;
        if (max_size) opts.max_bytes = max_size > apparent ? max_size - apparent : 1;  // shared by the layers
        bar.layer(i, archives.size());
        UnpackStats base{result.bytes, result.entries};
        opts.progress = [&](const UnpackStats& s) { bar.update({base.bytes + s.bytes, base.entries + s.entries}); };
        UnpackStats s;
        try {
            s = unpack_layer(archives[i], layer, opts);
        } catch (Error& e) {
            bar.done();
            if (oci) e.context("layer " + layout.layers[i].digest);
            throw;
        }
        result.bytes += s.bytes;
        result.entries += s.entries;
        apparent += s.apparent;
        desc["layers"].push_back(rel);
        narrate::note("image", rel + ": " + std::to_string(s.entries) + " entries, " + human_size(s.bytes));
    }
    bar.done();
    files::write(staging.dir() + "/image.json", desc.dump(2) + "\n");
    ::unlink((staging.dir() + "/owner").c_str());

    // The image appears whole, or not at all; a concurrent import of the same name loses here.
    std::string final_dir = store.images_dir() + "/" + name;
    if (::renameat2(AT_FDCWD, staging.dir().c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE) < 0) {
        int err = errno;
        if (err == EEXIST) throw Error("image " + name + " already exists");
        throw SysError("renameat2(\"" + staging.dir() + "\", \"" + final_dir + "\", RENAME_NOREPLACE)", err);
    }
    staging.committed();
    result.image = store.get(name);
    return result;
}

}  // namespace image
