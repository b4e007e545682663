// Docker's reference grammar, written out (see reference.hpp for the rules).
#include "reference.hpp"

#include <regex>

#include "error.hpp"

namespace images {
namespace {

const std::regex kComponent("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
const std::regex kDomain(
    "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?");
const std::regex kTag("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
const std::regex kDigest("sha256:[a-f0-9]{64}");

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
    throw Error("invalid reference format: " + why + " (" + std::string(text) + ")");
}

}  // namespace

std::string Reference::familiar_name() const {
    if (domain != "docker.io") return name();
    if (path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos) return path.substr(8);
    return path;
}

std::string Reference::familiar() const {
    return tag.empty() ? familiar_name() : familiar_name() + ":" + tag;
}

std::string Reference::str() const {
    std::string s = name();
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

Reference parse_reference(std::string_view text) {
    if (text.empty()) invalid(text, "empty");
    std::string rest(text);
    Reference r;
    if (auto at = rest.find('@'); at != std::string::npos) {
        r.digest = rest.substr(at + 1);
        rest.resize(at);
        if (!std::regex_match(r.digest, kDigest)) invalid(text, "a digest is sha256: and 64 lowercase hex digits");
    }
    // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
    auto slash = rest.rfind('/');
    auto colon = rest.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        r.tag = rest.substr(colon + 1);
        rest.resize(colon);
        if (!std::regex_match(r.tag, kTag)) invalid(text, "bad tag \"" + r.tag + "\"");
    }
    if (rest.empty()) invalid(text, "no name");
    // The first component is a registry when it could not be a repository name component.
    auto first_slash = rest.find('/');
    std::string first = rest.substr(0, first_slash);
    if (first_slash != std::string::npos &&
        (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost" ||
         first != [&] {
             std::string l = first;
             for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
             return l;
         }())) {
        if (!std::regex_match(first, kDomain)) invalid(text, "bad registry host \"" + first + "\"");
        r.domain = first;
        r.path = rest.substr(first_slash + 1);
    } else {
        r.domain = "docker.io";
        r.path = rest;
    }
    if (r.domain == "index.docker.io" || r.domain == "registry-1.docker.io") r.domain = "docker.io";
    if (r.domain == "docker.io" && r.path.find('/') == std::string::npos) r.path = "library/" + r.path;
    // Each path component: lowercase, separators only between alphanumerics.
    size_t start = 0;
    while (true) {
        auto end = r.path.find('/', start);
        std::string comp = r.path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        for (char c : comp)
            if (c >= 'A' && c <= 'Z') invalid(text, "repository name must be lowercase");
        if (!std::regex_match(comp, kComponent)) invalid(text, "bad name component \"" + comp + "\"");
        if (end == std::string::npos) break;
        start = end + 1;
    }
    if (r.name().size() > 255) invalid(text, "repository name must not be more than 255 characters");
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    return r;
}

bool looks_like_id(std::string_view text) {
    if (text.rfind("sha256:", 0) == 0) text.remove_prefix(7);
    if (text.empty() || text.size() > 64) return false;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace images
