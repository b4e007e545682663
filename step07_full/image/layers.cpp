// What the builder (commit, build) and load give the store: a layer tar, then an image made of
// a config and layers. A layer is named twice: by the digest of its blob as stored (compressed
// or not: what a manifest lists) and by its diff id, the digest of the plain tar (what the
// config's rootfs.diff_ids lists, and what names its unpacked directory).
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "digest.hpp"
#include "error.hpp"
#include "files.hpp"
#include "narrate.hpp"
#include "store.hpp"
#include "store_internal.hpp"
#include "unique_fd.hpp"
#include "unpack.hpp"

namespace images {
namespace detail {

void ensure_layer(const Store& s, const LayerInfo& l) {
    if (has_layer(s, l.diff_id)) return;
    StoreLock lock(s.dir() + "/locks/" + hex_of(l.diff_id), true);  // removed when done
    if (has_layer(s, l.diff_id)) return;  // made by whoever held the lock before us
    std::string tmp = make_tmp(s, "layer");
    try {
        std::string root = tmp + "/root";
        if (::mkdir(root.c_str(), 0755) < 0) throw SysError("mkdir(\"" + root + "\")", errno);
        image::UnpackOptions opts;
        try {
            image::unpack_layer(s.blob_path(l.digest), root, opts);
        } catch (const Error& e) {
            if (std::string(e.what()).find("Truncated input file") == std::string::npos) throw;
            // A tar without its last padding and end blocks (umoci 0.4 writes them): the digest
            // was verified, so it is the publisher's tar; unpack it once more, padded.
            narrate::note("image", "layer " + short_id(l.diff_id) + ": the tar lacks its end blocks; unpacking a padded copy");
            image::remove_tree(root);
            if (::mkdir(root.c_str(), 0755) < 0) throw SysError("mkdir(\"" + root + "\")", errno);
            write_padded_tar(s.blob_path(l.digest), tmp + "/padded.tar");
            image::unpack_layer(tmp + "/padded.tar", root, opts);
            ::unlink((tmp + "/padded.tar").c_str());
        }
        nlohmann::json meta{{"diff_id", l.diff_id}, {"digest", l.digest}, {"size", l.size},
                            {"media_type", l.media_type}, {"unpacked", image::tree_size(root)}};
        files::write(tmp + "/layer.json", meta.dump(2) + "\n");
        std::string final_dir = s.dir() + "/layers/" + hex_of(l.diff_id);
        narrate::sys({"image", "rename(\"tmp/...\", \"layers/" + short_id(l.diff_id) + "...\")",
                      "the layer is complete: it becomes one shared overlay lowerdir", "ls " + s.dir() + "/layers"},
                     [&] { return ::rename(tmp.c_str(), final_dir.c_str()); });
    } catch (...) {
        try {
            image::remove_tree(tmp);
        } catch (const Error&) {
        }
        throw;
    }
}

}  // namespace detail

namespace {

void copy_file(const std::string& from, const std::string& to) {
    unique_fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) throw SysError("open(\"" + from + "\", O_RDONLY)", errno);
    unique_fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (out.get() < 0) throw SysError("open(\"" + to + "\", O_CREAT|O_EXCL)", errno);
    for (;;) {
        ssize_t n = ::sendfile(out.get(), in.get(), nullptr, 1 << 30);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("sendfile(\"" + to + "\")", errno);
        if (n == 0) break;
    }
}

std::string now_rfc3339() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    ::gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09ldZ", ts.tv_nsec);
    return std::string(buf) + frac;
}

}  // namespace

LayerInfo Store::add_layer(const std::string& tar_path) {
    detail::prepare(*this);
    struct stat st {};
    if (::stat(tar_path.c_str(), &st) < 0) throw SysError("stat(\"" + tar_path + "\")", errno);
    if (!S_ISREG(st.st_mode)) throw Error("layer " + tar_path + ": not a regular file");
    LayerInfo l;
    l.size = static_cast<std::uint64_t>(st.st_size);
    std::string comp = compression_of(tar_path);
    l.media_type = detail::layer_media_type(comp, false);
    l.digest = sha256_of_file(tar_path);
    l.diff_id = comp.empty() ? l.digest : diff_id_of(tar_path);
    narrate::note("image", "layer " + tar_path + ": blob " + l.digest + ", diff id " + l.diff_id);
    if (!detail::has_blob(*this, l.digest)) {
        std::string tmp = detail::make_tmp(*this, "add");
        try {
            copy_file(tar_path, tmp + "/blob");
            verify_file(tmp + "/blob", l.digest, static_cast<std::int64_t>(l.size));  // changed while copied?
            detail::commit_blob(*this, tmp + "/blob", l.digest);
            ::rmdir(tmp.c_str());
        } catch (...) {
            ::unlink((tmp + "/blob").c_str());
            ::rmdir(tmp.c_str());
            throw;
        }
    }
    detail::ensure_layer(*this, l);
    return l;
}

Resolved Store::add_image(nlohmann::json config, const std::vector<LayerInfo>& layers, const std::string& tag,
                          const std::string& parent) {
    if (!config.is_object()) throw Error("add_image: the config is not a JSON object");
    detail::prepare(*this);
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}};
    for (const auto& l : layers) {
        if (!detail::has_blob(*this, l.digest) || !detail::has_layer(*this, l.diff_id))
            throw Error("add_image: layer " + l.diff_id + " is not in the store (add it with add_layer first)");
        config["rootfs"]["diff_ids"].push_back(l.diff_id);
    }
    if (!config.contains("created")) config["created"] = now_rfc3339();
    if (!config.contains("architecture")) config["architecture"] = "amd64";
    if (!config.contains("os")) config["os"] = "linux";
    std::string config_bytes = config.dump();
    std::string id = detail::put_blob(*this, config_bytes);
    auto [manifest, type] = detail::make_manifest(config_bytes, layers);
    std::string mdigest = detail::put_blob(*this, manifest);
    std::vector<std::string> tags;
    if (!tag.empty()) tags.push_back(tag);
    return detail::record(*this, id, mdigest, type, layers, tags, "", parent);
}

}  // namespace images
