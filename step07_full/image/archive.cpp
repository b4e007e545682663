// `load` and `save`: images as one tar stream (libarchive both ways).
//
// A docker-archive holds manifest.json: [{"Config": "<file>", "RepoTags": ["x:1"], "Layers":
// ["<file>", ...]}] plus those files (docker < 25: <id>.json and <id>/layer.tar; docker 25:
// blobs/sha256/<hex>). An OCI archive is an OCI image layout in a tar: oci-layout, index.json,
// blobs/sha256/<hex>. `save` writes both at once (blobs/ + manifest.json + index.json +
// oci-layout), as docker 25 does, so docker, podman and skopeo all read it.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>

#include "digest.hpp"
#include "error.hpp"
#include "files.hpp"
#include "legacy.hpp"
#include "narrate.hpp"
#include "platform.hpp"
#include "store.hpp"
#include "store_internal.hpp"
#include "unique_fd.hpp"
#include "unpack.hpp"

namespace images {
namespace {

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;

void mkdirs_under(const std::string& base, const std::string& rel) {
    std::size_t pos = 0;
    while ((pos = rel.find('/', pos)) != std::string::npos) {
        std::string d = base + "/" + rel.substr(0, pos);
        if (::mkdir(d.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + d + "\")", errno);
        pos++;
    }
}

// Extracts the regular files of the tar on `fd` into `dir` (paths checked as a layer's are;
// symlinks and hard links between entries become copies of their targets when those are inside).
void extract(int fd, const std::string& dir) {
    ArchivePtr a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_fd(a.get(), fd, 1 << 16) != ARCHIVE_OK)
        throw Error(std::string("load: not a tar archive: ") + archive_error_string(a.get()));
    std::vector<std::pair<std::string, std::string>> links;  // (path, target path relative to dir)
    archive_entry* e;
    for (;;) {
        int rc = archive_read_next_header(a.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) throw Error(std::string("load: ") + archive_error_string(a.get()));
        std::string why;
        auto path = image::check_entry_path(archive_entry_pathname(e), why);
        if (!path) throw Error("load: entry " + std::string(archive_entry_pathname(e)) + ": " + why);
        if (path->empty()) continue;
        mkdirs_under(dir, *path);
        auto type = archive_entry_filetype(e);
        if (type == AE_IFDIR) {
            ::mkdir((dir + "/" + *path).c_str(), 0700);
        } else if (type == AE_IFREG && !archive_entry_hardlink(e)) {
            std::string out = dir + "/" + *path;
            unique_fd o(::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (o.get() < 0) throw SysError("open(\"" + out + "\", O_CREAT|O_EXCL)", errno);
            if (archive_read_data_into_fd(a.get(), o.get()) != ARCHIVE_OK)
                throw Error(std::string("load: ") + *path + ": " + archive_error_string(a.get()));
        } else if (archive_entry_hardlink(e)) {
            auto t = image::check_entry_path(archive_entry_hardlink(e), why);
            if (t) links.push_back({*path, *t});
        } else if (type == AE_IFLNK) {
            std::string target = archive_entry_symlink(e);
            std::string parent = path->find('/') == std::string::npos ? "" : path->substr(0, path->rfind('/') + 1);
            auto t = image::check_entry_path(parent + target, why);
            if (t) links.push_back({*path, *t});
        }
    }
    for (const auto& [p, t] : links) {
        std::string from = dir + "/" + t, to = dir + "/" + p;
        struct stat st {};
        if (::lstat(from.c_str(), &st) < 0 || !S_ISREG(st.st_mode)) continue;
        if (::link(from.c_str(), to.c_str()) < 0 && errno != EEXIST) throw SysError("link(\"" + to + "\")", errno);
    }
}

std::string read_in(const std::string& dir, const std::string& rel) {
    std::string why;
    auto p = image::check_entry_path(rel, why);
    if (!p) throw Error("load: " + rel + ": " + why);
    struct stat st {};
    std::string full = dir + "/" + *p;
    if (::lstat(full.c_str(), &st) < 0 || !S_ISREG(st.st_mode)) throw Error("load: the archive has no file " + rel);
    return full;
}

nlohmann::json parse_json(const std::string& file, const std::string& what) {
    try {
        return nlohmann::json::parse(files::read(file));
    } catch (const nlohmann::json::exception& e) {
        throw Error("load: " + what + ": not valid JSON");
    }
}

std::vector<std::string> load_docker(Store& s, const std::string& dir) {
    std::vector<std::string> out;
    auto manifest = parse_json(dir + "/manifest.json", "manifest.json");
    if (!manifest.is_array()) throw Error("load: manifest.json is not a list");
    for (const auto& m : manifest) {
        std::string config_bytes = files::read(read_in(dir, m.value("Config", "")));
        nlohmann::json config;
        try {
            config = nlohmann::json::parse(config_bytes);
        } catch (const nlohmann::json::exception&) {
            throw Error("load: config " + m.value("Config", "") + ": not valid JSON");
        }
        auto diff_ids = config.contains("rootfs") ? config["rootfs"].value("diff_ids", nlohmann::json::array()) : nlohmann::json::array();
        auto layer_files = m.value("Layers", nlohmann::json::array());
        if (diff_ids.size() != layer_files.size())
            throw Error("load: the image lists " + std::to_string(layer_files.size()) + " layers, its config " +
                        std::to_string(diff_ids.size()) + " diff ids");
        std::vector<LayerInfo> layers;
        for (std::size_t i = 0; i < layer_files.size(); i++) {
            LayerInfo l = s.add_layer(read_in(dir, layer_files[i].get<std::string>()));
            if (l.diff_id != diff_ids[i].get<std::string>())
                throw Error("load: layer " + layer_files[i].get<std::string>() + " is " + l.diff_id + ", the config says " +
                            diff_ids[i].get<std::string>());
            layers.push_back(l);
        }
        std::string id = detail::put_blob(s, config_bytes);
        auto [mbytes, type] = detail::make_manifest(config_bytes, layers);
        std::string mdigest = detail::put_blob(s, mbytes);
        std::vector<std::string> tags;
        for (const auto& t : m.value("RepoTags", nlohmann::json::array())) tags.push_back(t.get<std::string>());
        detail::record(s, id, mdigest, type, layers, tags, "");
        if (tags.empty()) out.push_back("Loaded image ID: " + id);
        for (const auto& t : tags) out.push_back("Loaded image: " + parse_reference(t).familiar());
    }
    return out;
}

std::string blob_in(const std::string& dir, const nlohmann::json& desc) {
    std::string digest = desc.value("digest", "");
    std::string path = read_in(dir, "blobs/sha256/" + hex_of(digest));
    verify_file(path, digest, desc.value("size", std::int64_t{-1}));
    return path;
}

std::vector<std::string> load_oci(Store& s, const std::string& dir) {
    std::vector<std::string> out;
    auto index = parse_json(dir + "/index.json", "index.json");
    for (auto desc : index.value("manifests", nlohmann::json::array())) {
        auto annotations = desc.value("annotations", nlohmann::json::object());
        auto m = parse_json(blob_in(dir, desc), "manifest " + desc.value("digest", ""));
        if (m.contains("manifests")) {  // a nested index: this machine's platform
            std::string d = choose_manifest(m, host_platform());
            for (const auto& x : m["manifests"])
                if (x.value("digest", "") == d) desc = x;
            m = parse_json(blob_in(dir, desc), "manifest " + d);
        }
        std::string mbytes = files::read(blob_in(dir, desc));
        std::string config_bytes = files::read(blob_in(dir, m["config"]));
        std::vector<LayerInfo> layers;
        for (const auto& ld : m.value("layers", nlohmann::json::array())) {
            LayerInfo l = s.add_layer(blob_in(dir, ld));
            l.media_type = ld.value("mediaType", l.media_type);
            layers.push_back(l);
        }
        std::string id = detail::put_blob(s, config_bytes);
        std::string mdigest = detail::put_blob(s, mbytes);
        std::vector<std::string> tags;
        std::string name = annotations.value("io.containerd.image.name", "");
        if (name.empty()) name = annotations.value("org.opencontainers.image.ref.name", "");
        if (!name.empty()) {
            try {
                Reference r = parse_reference(name);
                // A bare "1.0" (skopeo, umoci) is a tag without a repository: docker loads it untagged.
                if (name.find(':') != std::string::npos || name.find('/') != std::string::npos) tags.push_back(r.str());
            } catch (const Error&) {
            }
        }
        detail::record(s, id, mdigest, m.value("mediaType", std::string(detail::kOciManifest)), layers, tags, "");
        if (tags.empty()) out.push_back("Loaded image ID: " + id);
        for (const auto& t : tags) out.push_back("Loaded image: " + parse_reference(t).familiar());
    }
    return out;
}

void add_entry(archive* a, const std::string& name, const std::string& data, const std::string& file) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    struct stat st {};
    if (!file.empty() && ::stat(file.c_str(), &st) < 0) throw SysError("stat(\"" + file + "\")", errno);
    archive_entry_set_size(e.get(), file.empty() ? static_cast<la_int64_t>(data.size()) : st.st_size);
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) throw Error(std::string("save: ") + archive_error_string(a));
    if (file.empty()) {
        if (archive_write_data(a, data.data(), data.size()) < 0) throw Error(std::string("save: ") + archive_error_string(a));
        return;
    }
    unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw SysError("open(\"" + file + "\")", errno);
    std::vector<char> buf(1 << 16);
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("read(\"" + file + "\")", errno);
        if (n == 0) break;
        if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) < 0) throw Error(std::string("save: ") + archive_error_string(a));
    }
}

}  // namespace

std::vector<std::string> Store::load(int fd, const ProgressFn& progress) {
    detail::prepare(*this);
    std::string tmp = detail::make_tmp(*this, "load");
    try {
        narrate::note("image", "reading the archive into " + tmp);
        extract(fd, tmp);
        struct stat st {};
        std::vector<std::string> out;
        if (::stat((tmp + "/manifest.json").c_str(), &st) == 0) out = load_docker(*this, tmp);
        else if (::stat((tmp + "/index.json").c_str(), &st) == 0) out = load_oci(*this, tmp);
        else throw Error("load: neither manifest.json (docker-archive) nor index.json (OCI archive) in the archive");
        image::remove_tree(tmp);
        for (const auto& line : out)
            if (progress) progress({ProgressEvent::Kind::status, "", 0, 0, line});
        return out;
    } catch (...) {
        try {
            image::remove_tree(tmp);
        } catch (const Error&) {
        }
        throw;
    }
}

void Store::save(const std::vector<std::string>& refs, int fd) {
    if (refs.empty()) throw Error("save: name at least one image");
    std::vector<Resolved> imgs;
    for (const auto& r : refs) imgs.push_back(get(r));
    // A step06 image has no blobs: its layers are written as tars first (legacy.hpp).
    std::vector<std::unique_ptr<detail::Materialized>> made;
    std::map<std::string, const detail::Materialized*> made_for;  // legacy id -> its blobs
    for (const auto& img : imgs)
        if (img.legacy && !made_for.count(img.id)) {
            made.push_back(detail::materialize(*this, img));
            made_for[img.id] = made.back().get();
        }
    auto index = detail::read_index(*this);
    ArchivePtr a(archive_write_new(), archive_write_free);
    archive_write_set_format_pax_restricted(a.get());
    if (archive_write_open_fd(a.get(), fd) != ARCHIVE_OK) throw Error(std::string("save: ") + archive_error_string(a.get()));
    nlohmann::json manifest = nlohmann::json::array();
    nlohmann::json oci{{"schemaVersion", 2}, {"mediaType", detail::kOciIndex}, {"manifests", nlohmann::json::array()}};
    std::set<std::string> written;
    auto blob = [&](const std::string& digest, const detail::Materialized* m) {
        std::string name = "blobs/sha256/" + hex_of(digest);
        std::string file = m ? m->file_of(digest) : blob_path(digest);
        if (written.insert(digest).second) add_entry(a.get(), name, "", file);
        return name;
    };
    for (std::size_t i = 0; i < imgs.size(); i++) {
        const auto& img = imgs[i];
        const detail::Materialized* m = img.legacy ? made_for[img.id] : nullptr;
        std::string id = m ? m->config_digest : img.id;
        std::string manifest_digest = m ? m->manifest_digest : img.manifest_digest;
        nlohmann::json layers = nlohmann::json::array();
        if (m)
            for (const auto& l : m->layers) layers.push_back({{"digest", l.digest}});
        else
            layers = index["images"][img.id]["layers"];
        std::string manifest_type = m ? m->manifest_type
                                      : index["images"][img.id].value("manifest_type", std::string(detail::kDockerManifest));
        nlohmann::json entry{{"Config", blob(id, m)}, {"RepoTags", nlohmann::json::array()}, {"Layers", nlohmann::json::array()}};
        // Only the names asked for (or every tag when an id was given), as docker.
        std::vector<std::string> tags;
        try {
            Reference r = parse_reference(refs[i]);
            if (r.digest.empty() && std::find(img.repo_tags.begin(), img.repo_tags.end(), r.familiar()) != img.repo_tags.end())
                tags.push_back(r.familiar());
        } catch (const Error&) {
        }
        if (tags.empty() && looks_like_id(refs[i])) tags = img.repo_tags;
        for (const auto& t : tags) entry["RepoTags"].push_back(t);
        for (const auto& l : layers) entry["Layers"].push_back(blob(l.value("digest", ""), m));
        blob(manifest_digest, m);
        manifest.push_back(entry);
        struct stat st {};
        ::stat(m ? m->file_of(manifest_digest).c_str() : blob_path(manifest_digest).c_str(), &st);
        nlohmann::json d{{"mediaType", manifest_type}, {"digest", manifest_digest}, {"size", st.st_size}};
        if (!tags.empty()) {
            Reference r = parse_reference(tags.front());
            d["annotations"] = {{"io.containerd.image.name", r.str()}, {"org.opencontainers.image.ref.name", r.tag}};
        }
        oci["manifests"].push_back(d);
    }
    add_entry(a.get(), "manifest.json", manifest.dump() + "\n", "");
    add_entry(a.get(), "index.json", oci.dump() + "\n", "");
    add_entry(a.get(), "oci-layout", R"({"imageLayoutVersion":"1.0.0"})" "\n", "");
    if (archive_write_close(a.get()) != ARCHIVE_OK) throw Error(std::string("save: ") + archive_error_string(a.get()));
}

}  // namespace images
