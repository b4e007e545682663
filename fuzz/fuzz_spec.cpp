// libFuzzer target: step07's config.json reader (spec::parse), the runtime's whole contract with
// an engine. Any JSON document goes in; it must come out as a Spec or as an Error (exit 125,
// one line naming the field). Any other exception is a defect: a nlohmann type_error escaping
// would reach the user as a library message, not as the field that is wrong.
// The bundle is a scratch directory with an empty rootfs/, made once, so that a "root.path" of
// "rootfs" gets past the stat and into the rest of the parser.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "spec.hpp"

namespace {

// A plain char array, not a std::string: the atexit handler runs after the destructors of
// statics made before it was registered (the sanitizer build reported that use after free).
char g_bundle[] = "/tmp/fuzz-spec.XXXXXX";

const char* bundle() {
    static const bool made = [] {
        if (!::mkdtemp(g_bundle)) std::abort();
        if (::mkdir((std::string(g_bundle) + "/rootfs").c_str(), 0755) < 0) std::abort();
        std::atexit([] {
            ::rmdir((std::string(g_bundle) + "/rootfs").c_str());
            ::rmdir(g_bundle);
        });
        return true;
    }();
    (void)made;
    return g_bundle;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto config = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded()) return 0;
    try {
        spec::Spec s = spec::parse(config, bundle());
        if (s.process.args.empty()) __builtin_trap();  // the parser promises a command
    } catch (const Error& e) {
        if (e.message().empty()) __builtin_trap();
    }
    return 0;
}
