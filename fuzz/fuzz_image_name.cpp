// libFuzzer target: image names, archive entry paths and whiteout names (step06).
#include <cstddef>
#include <cstdint>
#include <string>

#include "image_store.hpp"
#include "unpack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    std::string why;
    if (image::valid_name(text, why)) {
        // A name is one directory entry of images/: no '/', never "." or "..", no NUL.
        if (text.find('/') != std::string::npos || text == "." || text == ".." || text.find('\0') != std::string::npos)
            __builtin_trap();
    }
    if (auto rel = image::check_entry_path(text, why)) {
        // Accepted paths are relative, normalized, and have no ".." component.
        std::string p = "/" + *rel + "/";
        if (!rel->empty() && (rel->front() == '/' || p.find("/../") != std::string::npos ||
                              p.find("/./") != std::string::npos || p.find("//") != std::string::npos))
            __builtin_trap();
    }
    (void)image::classify_whiteout(text);
    return 0;
}
