// The store's files (see store.hpp for the layout): the index, blobs, layers, temporary
// directories, and the operations on names (find, list, tag, remove, prune). Unpacking a layer
// (libarchive) is layers.cpp's, so that what only names images maps no archive library.
#include "store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "digest.hpp"
#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"
#include "state.hpp"
#include "store_internal.hpp"

namespace images {
namespace detail {

StoreLock::StoreLock(const std::string& path, bool remove_when_done) : path_(path), remove_(remove_when_done) {
    take(path, true);
}

std::unique_ptr<StoreLock> StoreLock::try_take(const std::string& path, bool remove_when_done) {
    std::unique_ptr<StoreLock> l(new StoreLock());
    l->path_ = path;
    l->remove_ = remove_when_done;
    if (!l->take(path, false)) return nullptr;
    return l;
}

bool StoreLock::take(const std::string& path, bool wait) {
    for (;;) {
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) throw SysError("open(\"" + path + "\", O_CREAT)", errno);
        int how = LOCK_EX | (wait ? 0 : LOCK_NB), err = 0;
        try {
            narrate::sys({"image", std::string("flock(\"") + path + "\", " + (wait ? "LOCK_EX" : "LOCK_EX|LOCK_NB") + ")",
                          "one writer at a time (of the index, or of one layer)", ""},
                         [&] {
                             int rc;
                             do rc = ::flock(fd_, how);
                             while (rc < 0 && errno == EINTR);
                             err = rc < 0 ? errno : 0;
                             return rc;
                         });
        } catch (const SysError&) {
            ::close(fd_);
            fd_ = -1;
            if (!wait && err == EWOULDBLOCK) return false;
            throw;
        }
        // Still the file at the path? The last holder may have unlinked it while we waited.
        struct stat held {}, now {};
        if (::fstat(fd_, &held) == 0 && ::lstat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino)
            return true;
        narrate::note("image", "the lock file " + path + " was removed while we waited for it: taking it again");
        ::close(fd_);
        fd_ = -1;
    }
}

StoreLock::~StoreLock() {
    if (fd_ < 0) return;
    // Unlinked while still held: a waiter that gets this file next sees it is gone and retries.
    if (remove_) ::unlink(path_.c_str());
    ::close(fd_);
}

namespace {

void mkdir_p(const std::string& path) {
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (cur.empty()) continue;
        if (::mkdir(cur.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + cur + "\", 0700)", errno);
    }
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

void prepare(const Store& s) {
    for (const char* sub : {"/blobs/sha256", "/layers", "/tmp", "/uses", "/locks"}) mkdir_p(s.dir() + sub);
    // tmp/<pid>.<start>.<what>.XXXXXX: an entry whose owner is dead is a killed pull's leftover.
    for (const auto& n : entries(s.dir() + "/tmp")) {
        auto a = n.find('.'), b = a == std::string::npos ? a : n.find('.', a + 1);
        if (b == std::string::npos) continue;
        auto owner = state::Owner::parse(n.substr(0, a) + ":" + n.substr(a + 1, b - a - 1));
        if (owner && owner->alive()) continue;
        narrate::note("image", "removing " + s.dir() + "/tmp/" + n + " (left by a dead pull or load)");
        try {
            image::remove_tree(s.dir() + "/tmp/" + n);
        } catch (const Error&) {
        }
    }
    // locks/<hex> left by an older minibox (or a holder killed between unlink and close cannot
    // leave one: unlink comes first): removed when free, by taking them as their users do.
    for (const auto& n : entries(s.dir() + "/locks")) {
        try {
            StoreLock::try_take(s.dir() + "/locks/" + n, true);
        } catch (const Error&) {
        }
    }
}

std::string make_tmp(const Store& s, const std::string& what) {
    auto me = state::Owner::self();
    std::string tmpl = s.dir() + "/tmp/" + std::to_string(me.pid) + "." + std::to_string(me.start) + "." + what + ".XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw SysError("mkdtemp(\"" + tmpl + "\")", errno);
    return buf.data();
}

nlohmann::json read_index(const Store& s) {
    std::string text = files::read(s.dir() + "/index.json");
    nlohmann::json j;
    if (!text.empty()) {
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw Error(s.dir() + "/index.json: not valid JSON (" + e.what() + ")");
        }
    }
    if (!j.is_object()) j = nlohmann::json::object();
    if (!j.contains("images") || !j["images"].is_object()) j["images"] = nlohmann::json::object();
    if (!j.contains("tags") || !j["tags"].is_object()) j["tags"] = nlohmann::json::object();
    return j;
}

void write_index(const Store& s, const nlohmann::json& index) {
    std::string final_path = s.dir() + "/index.json";
    std::string tmp = final_path + ".tmp." + std::to_string(::getpid());
    files::write(tmp, index.dump(2) + "\n");
    narrate::sys({"image", "rename(\"index.json.tmp\", \"index.json\")", "readers see the old index or the new one, never half", ""},
                 [&] { return ::rename(tmp.c_str(), final_path.c_str()); });
}

std::string commit_blob(const Store& s, const std::string& tmp_file, const std::string& digest) {
    std::string final_path = s.blob_path(digest);
    narrate::sys({"image", "rename(\"tmp/...\", \"blobs/sha256/" + short_id(digest) + "...\")",
                  "the blob is verified: only now does it get its name", "ls " + s.dir() + "/blobs/sha256"},
                 [&] { return ::rename(tmp_file.c_str(), final_path.c_str()); });
    return final_path;
}

std::string put_blob(const Store& s, const std::string& bytes) {
    std::string digest = sha256_of(bytes);
    if (has_blob(s, digest)) return digest;
    std::string dir = make_tmp(s, "blob");
    files::write(dir + "/blob", bytes);
    commit_blob(s, dir + "/blob", digest);
    ::rmdir(dir.c_str());
    return digest;
}

bool has_blob(const Store& s, const std::string& digest) { return exists(s.blob_path(digest)); }
bool has_layer(const Store& s, const std::string& diff_id) { return exists(s.layer_dir(diff_id)); }

std::string layer_media_type(const std::string& compression, bool docker) {
    if (docker) return compression == "gzip" ? kDockerLayerGzip : "application/vnd.docker.image.rootfs.diff.tar";
    if (compression == "gzip") return std::string(kOciLayer) + "+gzip";
    if (compression == "zstd") return std::string(kOciLayer) + "+zstd";
    return kOciLayer;
}

std::pair<std::string, std::string> make_manifest(const std::string& config_bytes, const std::vector<LayerInfo>& layers) {
    bool docker = std::all_of(layers.begin(), layers.end(), [](const LayerInfo& l) {
        return l.media_type.find("gzip") != std::string::npos;
    });
    nlohmann::json m;
    m["schemaVersion"] = 2;
    m["mediaType"] = docker ? kDockerManifest : kOciManifest;
    m["config"] = {{"mediaType", docker ? kDockerConfig : kOciConfig},
                   {"size", config_bytes.size()},
                   {"digest", sha256_of(config_bytes)}};
    m["layers"] = nlohmann::json::array();
    for (const auto& l : layers) {
        std::string comp = l.media_type.find("gzip") != std::string::npos   ? "gzip"
                           : l.media_type.find("zstd") != std::string::npos ? "zstd"
                                                                            : "";
        m["layers"].push_back({{"mediaType", layer_media_type(comp, docker)}, {"size", l.size}, {"digest", l.digest}});
    }
    return {m.dump(3), docker ? kDockerManifest : kOciManifest};
}

std::string canonical_tag(const std::string& text) {
    Reference r = parse_reference(text);
    if (r.tag.empty()) throw Error("invalid reference format: " + text + " has no tag");
    return r.name() + ":" + r.tag;
}

Resolved record(const Store& s, const std::string& config_digest, const std::string& manifest_digest,
                const std::string& manifest_type, const std::vector<LayerInfo>& layers,
                const std::vector<std::string>& tags, const std::string& repo_digest, const std::string& parent) {
    StoreLock lock(s.dir() + "/lock");
    for (const auto& l : layers)
        if (!has_layer(s, l.diff_id) || !has_blob(s, l.digest))
            throw Error("layer " + l.diff_id + " was removed while the image was being stored; try again");
    auto index = read_index(s);
    auto& img = index["images"][config_digest];
    if (!img.is_object()) img = nlohmann::json::object();
    img["manifest"] = manifest_digest;
    img["manifest_type"] = manifest_type;
    if (!parent.empty() && parent != config_digest) img["parent"] = parent;
    img["layers"] = nlohmann::json::array();
    for (const auto& l : layers)
        img["layers"].push_back({{"digest", l.digest}, {"diff_id", l.diff_id}, {"size", l.size}, {"media_type", l.media_type}});
    if (!img.contains("repo_digests")) img["repo_digests"] = nlohmann::json::array();
    if (!repo_digest.empty() &&
        std::find(img["repo_digests"].begin(), img["repo_digests"].end(), repo_digest) == img["repo_digests"].end())
        img["repo_digests"].push_back(repo_digest);
    for (const auto& t : tags) index["tags"][canonical_tag(t)] = config_digest;
    write_index(s, index);
    return *s.find(config_digest);
}

}  // namespace detail

using namespace detail;

namespace {

std::uint64_t layer_unpacked(const Store& s, const std::string& diff_id) {
    std::string text = files::read(s.dir() + "/layers/" + hex_of(diff_id) + "/layer.json");
    if (text.empty()) return 0;
    try {
        return nlohmann::json::parse(text).value("unpacked", std::uint64_t{0});
    } catch (const nlohmann::json::exception&) {
        return 0;
    }
}

Resolved resolve_stored(const Store& s, const nlohmann::json& index, const std::string& id) {
    const auto& img = index["images"][id];
    Resolved r;
    r.id = id;
    r.manifest_digest = img.value("manifest", "");
    for (auto& [tag, target] : index["tags"].items())
        if (target == id) r.repo_tags.push_back(parse_reference(tag).familiar());
    std::sort(r.repo_tags.begin(), r.repo_tags.end());
    for (const auto& d : img.value("repo_digests", nlohmann::json::array())) {
        auto at = d.get<std::string>().find('@');
        r.repo_digests.push_back(parse_reference(d.get<std::string>().substr(0, at)).familiar_name() +
                                 d.get<std::string>().substr(at));
    }
    std::string text = files::read(s.blob_path(id));
    if (text.empty()) throw Error("image " + id + ": its config blob is missing from " + s.dir() + "/blobs");
    try {
        r.config = nlohmann::json::parse(text);
        r.image.config = image::parse_config(r.config.value("config", nlohmann::json()));
    } catch (const nlohmann::json::exception& e) {
        throw Error("image " + id + ": config: " + e.what());
    }
    r.created = r.config.value("created", "");
    r.parent = img.value("parent", "");
    if (r.repo_tags.empty())
        for (auto& [other, o] : index["images"].items())
            if (o.value("parent", "") == id) r.intermediate = true;
    r.image.name = r.repo_tags.empty() ? short_id(id) : r.repo_tags.front();
    r.image.dir = s.dir();
    for (const auto& l : img["layers"]) {
        std::string diff = l.value("diff_id", "");
        r.image.layers.push_back(s.layer_dir(diff));
        r.size += layer_unpacked(s, diff);
    }
    return r;
}

// A step06 image (images/NAME) as a Resolved: its id is the digest of a config written from it,
// so it is stable and distinct, though no blob of that name exists.
Resolved resolve_legacy(const image::Store& old, const std::string& name) {
    image::Image img = old.get(name);
    Resolved r;
    r.legacy = true;
    r.image = img;
    r.repo_tags = {name + ":latest"};
    nlohmann::json cfg;
    cfg["architecture"] = "amd64";
    cfg["os"] = "linux";
    cfg["config"] = image::to_json(img.config);
    cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}};
    cfg["minibox_step06_image"] = img.dir;
    struct stat st {};
    if (::stat(img.dir.c_str(), &st) == 0) {
        char buf[32];
        std::tm tm{};
        ::gmtime_r(&st.st_mtime, &tm);
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        r.created = cfg["created"] = buf;
    }
    r.config = cfg;
    r.id = sha256_of(cfg.dump());
    for (const auto& l : img.layers) r.size += image::tree_size(l);
    return r;
}

std::optional<std::string> legacy_name(const Reference& ref) {
    if (ref.domain != "docker.io" || ref.path.rfind("library/", 0) != 0 || ref.tag != "latest" || !ref.digest.empty())
        return std::nullopt;
    std::string name = ref.path.substr(8), why;
    if (!image::valid_name(name, why)) return std::nullopt;
    return name;
}

}  // namespace

Store::Store(std::string root) : root_(root.empty() ? state::root_dir() : std::move(root)) {}

std::string Store::blob_path(const std::string& digest) const { return dir() + "/blobs/sha256/" + hex_of(digest); }
std::string Store::layer_dir(const std::string& diff_id) const { return dir() + "/layers/" + hex_of(diff_id) + "/root"; }

std::optional<Resolved> Store::find(const std::string& ref) const {
    auto index = read_index(*this);
    auto& imgs = index["images"];
    // A full id.
    if (ref.rfind("sha256:", 0) == 0 && ref.size() == 71) {
        if (imgs.contains(ref)) return resolve_stored(*this, index, ref);
        for (const auto& r : list())
            if (r.legacy && r.id == ref) return r;
        return std::nullopt;
    }
    std::optional<Reference> parsed;
    try {
        parsed = parse_reference(ref);
    } catch (const Error&) {
        if (!looks_like_id(ref)) throw;
    }
    if (parsed) {
        if (!parsed->digest.empty()) {
            std::string want = parsed->name() + "@" + parsed->digest;
            for (auto& [id, img] : imgs.items()) {
                if (img.value("manifest", "") == parsed->digest) return resolve_stored(*this, index, id);
                for (const auto& d : img.value("repo_digests", nlohmann::json::array()))
                    if (d == want) return resolve_stored(*this, index, id);
            }
        } else if (auto it = index["tags"].find(parsed->name() + ":" + parsed->tag); it != index["tags"].end()) {
            if (imgs.contains(it->get<std::string>())) return resolve_stored(*this, index, it->get<std::string>());
        }
    }
    if (looks_like_id(ref)) {
        std::string prefix = ref.rfind("sha256:", 0) == 0 ? ref : "sha256:" + ref;
        std::vector<Resolved> hits;
        for (auto& [id, img] : imgs.items())
            if (id.rfind(prefix, 0) == 0) hits.push_back(resolve_stored(*this, index, id));
        if (hits.empty())
            for (const auto& r : list())
                if (r.legacy && r.id.rfind(prefix, 0) == 0) hits.push_back(r);
        if (hits.size() > 1) throw Error("image id prefix " + ref + " is ambiguous (" + std::to_string(hits.size()) + " images)");
        if (hits.size() == 1) return hits.front();
    }
    if (parsed) {
        if (auto name = legacy_name(*parsed)) {
            image::Store old(root_);
            if (old.exists(*name)) return resolve_legacy(old, *name);
        }
    }
    return std::nullopt;
}

Resolved Store::get(const std::string& ref) const {
    auto r = find(ref);
    if (!r) throw Error("No such image: " + ref, 1);
    return *r;
}

std::vector<Resolved> Store::list() const {
    std::vector<Resolved> out;
    auto index = read_index(*this);
    std::set<std::string> tags;
    for (auto& [id, img] : index["images"].items()) {
        out.push_back(resolve_stored(*this, index, id));
        for (const auto& t : out.back().repo_tags) tags.insert(t);
    }
    image::Store old(root_);
    for (const auto& img : old.list()) {
        if (tags.count(img.name + ":latest")) continue;  // the store's own busybox:latest wins
        try {
            out.push_back(resolve_legacy(old, img.name));
        } catch (const Error&) {
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const Resolved& a, const Resolved& b) { return a.created > b.created; });
    return out;
}

void Store::tag(const std::string& src, const std::string& target) {
    std::string canon = canonical_tag(target);
    Resolved r = get(src);
    if (r.legacy) throw Error("image " + src + " is a step06 image (" + r.image.dir + "); tag needs an image in the store")
        .with_hint("save it as a layer with `step07_full load` or pull/build it into the store");
    prepare(*this);
    StoreLock lock(dir() + "/lock");
    auto index = read_index(*this);
    index["tags"][canon] = r.id;
    write_index(*this, index);
}

void Store::hold(const std::string& image_id, const std::string& container_id) {
    prepare(*this);
    std::string why;
    if (container_id.empty() || container_id.find('/') != std::string::npos || container_id[0] == '.')
        throw Error("hold: bad container id \"" + container_id + "\"");
    files::write(dir() + "/uses/" + container_id, image_id + "\n");
}

void Store::release(const std::string& container_id) {
    if (container_id.empty() || container_id.find('/') != std::string::npos || container_id[0] == '.') return;
    ::unlink((dir() + "/uses/" + container_id).c_str());
}

std::vector<std::string> Store::users(const std::string& image_id) const {
    std::vector<std::string> out;
    for (const auto& c : entries(dir() + "/uses"))
        if (files::read_line(dir() + "/uses/" + c) == image_id) out.push_back(c);
    return out;
}

RemoveResult Store::remove(const std::string& ref, bool force) {
    Resolved r = get(ref);
    RemoveResult res;
    if (r.legacy) {
        image::Store old(root_);
        old.remove(r.image.name);
        res.untagged.push_back(r.repo_tags.front());
        res.deleted.push_back(r.id);
        return res;
    }
    prepare(*this);
    StoreLock lock(dir() + "/lock");
    auto index = read_index(*this);
    if (!index["images"].contains(r.id)) throw Error("No such image: " + ref, 1);
    // Which tag did the user name? An id (or prefix) names the image, not a tag.
    std::optional<std::string> named_tag;
    try {
        Reference p = parse_reference(ref);
        if (p.digest.empty() && index["tags"].contains(p.name() + ":" + p.tag)) named_tag = p.name() + ":" + p.tag;
    } catch (const Error&) {
    }
    std::vector<std::string> its_tags;
    for (auto& [t, id] : index["tags"].items())
        if (id == r.id) its_tags.push_back(t);
    auto users_now = users(r.id);
    if (named_tag && its_tags.size() > 1) {
        index["tags"].erase(*named_tag);
        res.untagged.push_back(parse_reference(*named_tag).familiar());
        write_index(*this, index);
        return res;
    }
    if (!named_tag && its_tags.size() > 1 && !force)
        throw Error("conflict: unable to delete " + short_id(r.id) + " (must be forced) - image is referenced in multiple repositories", 1);
    if (!users_now.empty()) {
        if (!force)
            throw Error("conflict: unable to remove repository reference \"" + ref + "\" (must force) - container " +
                            users_now.front().substr(0, 12) + " is using its referenced image " + short_id(r.id),
                        1);
        for (const auto& t : its_tags) {
            index["tags"].erase(t);
            res.untagged.push_back(parse_reference(t).familiar());
        }
        write_index(*this, index);
        return res;
    }
    for (const auto& t : its_tags) {
        index["tags"].erase(t);
        res.untagged.push_back(parse_reference(t).familiar());
    }
    for (const auto& d : r.repo_digests) res.untagged.push_back(d);
    auto img = index["images"][r.id];
    index["images"].erase(r.id);
    write_index(*this, index);
    res.deleted.push_back(r.id);
    // What nothing else uses: the config and manifest blobs, each layer and its blob.
    std::set<std::string> used_blobs, used_layers;
    for (auto& [id, other] : index["images"].items()) {
        used_blobs.insert(id);
        used_blobs.insert(other.value("manifest", ""));
        for (const auto& l : other["layers"]) {
            used_blobs.insert(l.value("digest", ""));
            used_layers.insert(l.value("diff_id", ""));
        }
    }
    auto drop_blob = [&](const std::string& d) {
        if (d.empty() || used_blobs.count(d)) return;
        struct stat st {};
        if (::stat(blob_path(d).c_str(), &st) == 0) res.reclaimed += static_cast<std::uint64_t>(st.st_size);
        ::unlink(blob_path(d).c_str());
    };
    drop_blob(r.id);
    drop_blob(img.value("manifest", ""));
    for (const auto& l : img["layers"]) {
        drop_blob(l.value("digest", ""));
        std::string diff = l.value("diff_id", "");
        if (diff.empty() || used_layers.count(diff)) continue;
        used_layers.insert(diff);  // listed twice in one image: removed once
        std::string ldir = dir() + "/layers/" + hex_of(diff);
        if (!exists(ldir)) continue;
        res.reclaimed += layer_unpacked(*this, diff);
        // Renamed first so a half-removed layer is never taken for a complete one.
        std::string doomed = make_tmp(*this, "rm");
        narrate::sys({"image", "rename(\"layers/" + short_id(diff) + "...\", \"tmp/...\")", "no image uses this layer any more", ""},
                     [&] { return ::rename(ldir.c_str(), (doomed + "/l").c_str()); });
        image::remove_tree(doomed);
        res.deleted.push_back(diff);
    }
    return res;
}

RemoveResult Store::prune(bool all) {
    RemoveResult total;
    // Rounds: what is removable now (an untagged head: no tag, no child, no container), then
    // what that left removable (its untagged parent), as docker deletes a pruned image's
    // untagged parents with it.
    std::set<std::string> failed;
    for (;;) {
        auto index = read_index(*this);
        std::set<std::string> tagged, parents;
        for (auto& [t, target] : index["tags"].items()) tagged.insert(target.get<std::string>());
        for (auto& [id, img] : index["images"].items())
            if (auto p = img.value("parent", ""); !p.empty() && index["images"].contains(p)) parents.insert(p);
        std::vector<std::string> doomed;
        for (auto& [id, img] : index["images"].items()) {
            if (failed.count(id) || !users(id).empty()) continue;
            if (all || (!tagged.count(id) && !parents.count(id))) doomed.push_back(id);
        }
        if (doomed.empty()) break;
        for (const auto& id : doomed) {
            try {
                auto r = remove(id, true);
                for (auto& u : r.untagged) total.untagged.push_back(u);
                for (auto& d : r.deleted) total.deleted.push_back(d);
                total.reclaimed += r.reclaimed;
            } catch (const Error& e) {
                narrate::note("image", "prune: " + short_id(id) + " stays: " + e.line());
                failed.insert(id);
            }
        }
        if (all) break;
    }
    return total;
}

}  // namespace images
