#include "platform.hpp"

#include <sys/utsname.h>

#include "error.hpp"

namespace images {

Platform normalize(Platform p) {
    if (p.os.empty()) p.os = "linux";
    const std::string& a = p.architecture;
    if (a == "x86_64" || a == "x86-64") p.architecture = "amd64";
    else if (a == "aarch64") p.architecture = "arm64";
    else if (a == "i386" || a == "i686") p.architecture = "386";
    else if (a == "armhf") { p.architecture = "arm"; p.variant = "v7"; }
    else if (a == "armel") { p.architecture = "arm"; p.variant = "v6"; }
    if (p.architecture == "arm64" && p.variant.empty()) p.variant = "v8";
    if (p.architecture == "arm" && p.variant.empty()) p.variant = "v7";
    if (p.architecture == "amd64" && p.variant == "v1") p.variant = "";
    return p;
}

Platform host_platform() {
    utsname u{};
    ::uname(&u);
    return normalize({"linux", u.machine, ""});
}

Platform parse_platform(const std::string& text) {
    Platform p;
    auto a = text.find('/');
    if (a == std::string::npos || a == 0) throw Error("invalid platform \"" + text + "\": expected OS/ARCH[/VARIANT]");
    p.os = text.substr(0, a);
    auto b = text.find('/', a + 1);
    p.architecture = text.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    if (b != std::string::npos) p.variant = text.substr(b + 1);
    if (p.architecture.empty() || p.variant.find('/') != std::string::npos)
        throw Error("invalid platform \"" + text + "\": expected OS/ARCH[/VARIANT]");
    return normalize(p);
}

bool matches(const Platform& want_in, const Platform& have_in) {
    Platform want = normalize(want_in), have = normalize(have_in);
    if (want.os != have.os || want.architecture != have.architecture) return false;
    if (want.variant == have.variant) return true;
    // An armv7 machine runs v6 and v5 binaries too.
    if (want.architecture == "arm" && !have.variant.empty() && have.variant < want.variant) return true;
    return false;
}

std::string choose_manifest(const nlohmann::json& index, const Platform& want) {
    if (!index.contains("manifests") || !index["manifests"].is_array())
        throw Error("index: no manifests list");
    // Exact variant first, then a compatible one: docker prefers the closest.
    for (int pass = 0; pass < 2; pass++) {
        for (const auto& m : index["manifests"]) {
            if (!m.contains("platform") || !m["platform"].is_object()) continue;
            const auto& p = m["platform"];
            Platform have{p.value("os", ""), p.value("architecture", ""), p.value("variant", "")};
            bool ok = pass == 0 ? normalize(have).variant == normalize(want).variant && matches(want, have)
                                : matches(want, have);
            if (ok) return m.value("digest", "");
        }
    }
    throw Error("no matching manifest for " + want.str() + " in the manifest list entries", 1)
        .with_hint("choose another with --platform");
}

}  // namespace images
