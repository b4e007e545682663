// Content addressing: a blob's name is the sha256 of its bytes, so whoever holds the name can
// check the bytes. Hashing is streamed (OpenSSL's EVP interface, see EVP_DigestInit(3)) so a
// download is verified as it arrives, without reading it twice. See the OCI image spec,
// descriptor.md ("digests"), and workshop/09-images.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace images {

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, std::size_t n);
    // "sha256:<64 hex>"; the object is spent afterwards.
    std::string digest();

private:
    void* ctx_;
};

// "sha256:<hex>" of a string's bytes (digest_text.cpp: SHA-256 written out, no OpenSSL, for
// configs and manifests) / of a file's bytes (OpenSSL, as Sha256).
std::string sha256_of(std::string_view bytes);
std::string sha256_of_file(const std::string& path);
// The diff id of a layer blob: sha256 of its bytes once decompressed (gzip, zstd, or none),
// read through libarchive's raw format.
std::string diff_id_of(const std::string& blob_path);

// Writes `blob_path` decompressed to `out`, padded to a whole 512-byte block and followed by
// tar's two zero blocks. umoci 0.4 writes layers whose last file is not padded and that have
// no end blocks (Go's archive/tar reads them; libarchive calls them truncated).
void write_padded_tar(const std::string& blob_path, const std::string& out);

// What compression a blob uses, from its first bytes: "gzip", "zstd" or "" (plain).
std::string compression_of(const std::string& path);

// Checks a whole blob file: `size` bytes (when size >= 0) hashing to `digest`. Error naming the
// blob ("digest mismatch", "size mismatch") otherwise.
void verify_file(const std::string& path, const std::string& digest, std::int64_t size);

// Checks the shape of a digest ("sha256:" + 64 lowercase hex); returns the hex part.
// (This and short_id live in digest_text.cpp, with sha256_of: what naming images needs links
// neither libcrypto nor libarchive.)
std::string hex_of(const std::string& digest);
// The 12 hex digits docker shows for an id or a layer.
std::string short_id(const std::string& digest);

}  // namespace images
