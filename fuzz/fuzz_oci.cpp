// libFuzzer target: an OCI image layout read by `image import`. The input holds up to three
// parts separated by a line "--": index.json, the manifest, the config. The harness stores the
// manifest and the config as blobs under their sha256 and replaces "@M" in the index and "@C"
// in the manifest by those digests (and "@MS"/"@CS" by their sizes), so the fuzzer gets past the
// digest checks and into the parsers.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "error.hpp"
#include "oci.hpp"

namespace {
std::string scratch() {
    static std::string dir = [] {
        char tmpl[] = "/tmp/minibox-fuzz-oci-XXXXXX";
        if (!::mkdtemp(tmpl)) std::abort();
        return std::string(tmpl);
    }();
    return dir;
}
void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::trunc | std::ios::binary) << text; }
void replace_all(std::string& s, const std::string& key, const std::string& value) {
    for (size_t p = 0; (p = s.find(key, p)) != std::string::npos; p += value.size()) s.replace(p, key.size(), value);
}
// Stores `text` as a blob; returns its digest.
std::string blob(const std::string& dir, const std::string& text) {
    std::string tmp = dir + "/blobs/sha256/tmp";
    put(tmp, text);
    std::string hex = image::sha256_file(tmp);
    std::filesystem::rename(tmp, dir + "/blobs/sha256/" + hex);
    return "sha256:" + hex;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
        size_t sep = in.find("\n--\n", start);
        parts.push_back(in.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
        if (sep == std::string::npos || parts.size() == 3) break;
        start = sep + 4;
    }
    parts.resize(3);
    std::string dir = scratch() + "/layout";
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir + "/blobs/sha256");
    put(dir + "/oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}");
    std::string config = parts[2];
    std::string cdigest = blob(dir, config);
    std::string manifest = parts[1];
    replace_all(manifest, "@CS", std::to_string(config.size()));
    replace_all(manifest, "@C", cdigest);
    std::string mdigest = blob(dir, manifest);
    std::string index = parts[0];
    replace_all(index, "@MS", std::to_string(manifest.size()));
    replace_all(index, "@M", mdigest);
    put(dir + "/index.json", index);
    try {
        auto img = image::read_oci_layout(dir);
        for (auto& l : img.layers)
            if (l.digest.rfind("sha256:", 0) != 0) __builtin_trap();
    } catch (const Error&) {
    } catch (const std::exception&) {
        __builtin_trap();  // anything but Error escaping is a defect (e.g. a JSON type error)
    }
    return 0;
}
