// libFuzzer target: a tar archive (any compression libarchive reads) through the import path's
// unpacker, into a scratch layer directory. Every refusal is an Error; nothing may land outside
// the directory. Run as root (ownership is applied as in a real import).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "error.hpp"
#include "unpack.hpp"

namespace {
std::string scratch() {
    static std::string dir = [] {
        char tmpl[] = "/tmp/minibox-fuzz-tar-XXXXXX";
        if (!::mkdtemp(tmpl)) std::abort();
        return std::string(tmpl);
    }();
    return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string base = scratch();
    std::string archive = base + "/in.tar", layer = base + "/layer", outside = base + "/outside";
    {
        int fd = ::open(archive.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) std::abort();
        if (size && ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
        ::close(fd);
    }
    std::error_code ec;
    std::filesystem::remove_all(layer, ec);
    std::filesystem::create_directories(layer);
    image::UnpackOptions opts;
    opts.whiteouts = true;
    opts.max_bytes = 16 << 20;
    try {
        auto s = image::unpack_layer(archive, layer, opts);
        if (s.apparent > opts.max_bytes) __builtin_trap();
    } catch (const Error&) {
    }
    // Nothing next to the layer but what the harness made.
    for (auto& e : std::filesystem::directory_iterator(base)) {
        auto name = e.path().filename().string();
        if (name != "in.tar" && name != "layer") __builtin_trap();
    }
    std::filesystem::remove_all(layer, ec);
    return 0;
}
