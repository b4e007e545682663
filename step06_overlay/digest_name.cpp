// A digest's shape, apart from the hashing in oci.cpp: whoever only names blobs (the image
// stores, the engine) then links this file and not OpenSSL's libcrypto.
#include "oci.hpp"

#include "error.hpp"

namespace image {

std::string digest_hex(const std::string& digest) {
    const std::string prefix = "sha256:";
    if (digest.rfind(prefix, 0) != 0) throw Error("digest " + digest + ": only sha256 digests are supported");
    std::string hex = digest.substr(prefix.size());
    bool ok = hex.size() == 64;
    for (char c : hex) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!ok) throw Error("digest " + digest + ": not 64 lowercase hex digits");
    return hex;
}

}  // namespace image
