// The digest of a few bytes (a config, a manifest: kilobytes) and the names digests give, for
// code that only names images (the engine: find, list, tag, rmi). Nettle's SHA-256 (libnettle,
// a small packaged library) rather than OpenSSL's: the engine then does not map libcrypto, 3.3
// MiB of resident pages in an idle daemon. Blobs and files, which are large, are hashed by
// OpenSSL's EVP interface (digest.cpp, the worker's).
//   nettle's manual, "Hash functions"; sha256sum(1) shows the same hex
#include <nettle/sha2.h>

#include "digest.hpp"
#include "oci.hpp"

namespace images {

std::string sha256_of(std::string_view bytes) {
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, bytes.size(), reinterpret_cast<const uint8_t*>(bytes.data()));
    uint8_t sum[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof sum, sum);
    static const char* hex = "0123456789abcdef";
    std::string out = "sha256:";
    for (uint8_t byte : sum) {
        out += hex[byte >> 4];
        out += hex[byte & 15];
    }
    return out;
}

std::string hex_of(const std::string& digest) { return image::digest_hex(digest); }

std::string short_id(const std::string& digest) {
    auto p = digest.find(':');
    return digest.substr(p == std::string::npos ? 0 : p + 1, 12);
}

}  // namespace images
