#include "files.hpp"
#include "oci.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "error.hpp"
#include "unique_fd.hpp"

namespace image {
namespace {

constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";
constexpr const char* kDockerListType = "application/vnd.docker.distribution.manifest.list.v2+json";

nlohmann::json parse(const std::string& text, const std::string& what) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(what + ": not valid JSON (" + e.what() + ")");
    }
}

Descriptor descriptor(const nlohmann::json& j, const std::string& what) {
    if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string() || !j.contains("size") ||
        !j["size"].is_number_integer())
        throw Error(what + ": a descriptor needs a digest and a size");
    Descriptor d;
    d.digest = j["digest"].get<std::string>();
    d.size = j["size"].get<std::int64_t>();
    d.media_type = j.value("mediaType", "");
    digest_hex(d.digest);  // checks its shape
    return d;
}

// The machine's platform as OCI spells it.
const char* host_arch() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#else
    return "";
#endif
}

Descriptor pick_manifest(const nlohmann::json& index, const std::string& what) {
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array() ||
        index["manifests"].empty())
        throw Error(what + ": no manifests listed");
    auto& list = index["manifests"];
    if (list.size() == 1) return descriptor(list[0], what);
    for (auto& m : list) {
        auto p = m.value("platform", nlohmann::json::object());
        if (p.value("os", "") == "linux" && p.value("architecture", "") == host_arch()) return descriptor(m, what);
    }
    throw Error(what + ": " + std::to_string(list.size()) + " manifests, none for linux/" + host_arch());
}

}  // namespace

std::string sha256_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw SysError("open(\"" + path + "\")", errno);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("sha256: OpenSSL init failed");
    std::vector<char> buf(1 << 20);
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SysError("read(\"" + path + "\")", errno);
        }
        EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string verify_blob(const std::string& layout, const Descriptor& d) {
    std::string path = layout + "/blobs/sha256/" + digest_hex(d.digest);
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0 || !S_ISREG(st.st_mode))
        throw Error("OCI layout " + layout + ": missing blob " + d.digest);
    if (d.size >= 0 && st.st_size != d.size)
        throw Error("OCI layout " + layout + ": blob " + d.digest + " has " + std::to_string(st.st_size) +
                    " bytes, its descriptor says " + std::to_string(d.size));
    std::string got = sha256_file(path);
    if ("sha256:" + got != d.digest)
        throw Error("OCI layout " + layout + ": blob " + d.digest + " does not match its digest (sha256 is " + got + ")");
    return path;
}

bool is_oci_layout(const std::string& dir) {
    struct stat st {};
    return ::stat((dir + "/oci-layout").c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

OciImage read_oci_layout(const std::string& dir) {
    std::string where = "OCI layout " + dir;
    if (!is_oci_layout(dir)) throw Error(where + ": no oci-layout file (not an OCI image layout)");
    auto marker = parse(files::read(dir + "/oci-layout"), where + "/oci-layout");
    if (!marker.is_object() || marker.value("imageLayoutVersion", "") != "1.0.0")
        throw Error(where + ": unsupported imageLayoutVersion (1.0.0 expected)");
    struct stat st {};
    if (::stat((dir + "/index.json").c_str(), &st) < 0) throw Error(where + ": no index.json");

    OciImage img;
    auto index = parse(files::read(dir + "/index.json"), where + "/index.json");
    Descriptor d = pick_manifest(index, where + "/index.json");
    nlohmann::json manifest;
    for (int depth = 0;; ++depth) {
        if (depth > 4) throw Error(where + ": indexes nested too deep");
        auto path = verify_blob(dir, d);
        manifest = parse(files::read(path), where + ": manifest " + d.digest);
        std::string type = manifest.value("mediaType", d.media_type);
        if (type != kIndexType && type != kDockerListType && !manifest.contains("manifests")) break;
        d = pick_manifest(manifest, where + ": index " + d.digest);
    }
    img.manifest = d;
    if (!manifest.is_object() || !manifest.contains("config") || !manifest.contains("layers") ||
        !manifest["layers"].is_array())
        throw Error(where + ": manifest " + d.digest + " has no config or no layers");

    Descriptor cfg = descriptor(manifest["config"], where + ": manifest config");
    auto cfg_json = parse(files::read(verify_blob(dir, cfg)), where + ": config " + cfg.digest);
    try {
        img.config = parse_config(cfg_json.is_object() ? cfg_json.value("config", nlohmann::json()) : nlohmann::json());
    } catch (Error& e) {
        throw e.context(where + ": config " + cfg.digest);
    }
    for (auto& l : manifest["layers"]) {
        Descriptor ld = descriptor(l, where + ": layer");
        if (ld.media_type.find("tar") == std::string::npos)
            throw Error(where + ": layer " + ld.digest + " has media type " + ld.media_type + ", not a tar");
        img.layers.push_back(ld);
    }
    if (img.layers.empty()) throw Error(where + ": manifest " + d.digest + " lists no layers");
    return img;
}

}  // namespace image
