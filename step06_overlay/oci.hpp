// Reading an OCI image layout: a directory of content-addressed blobs.
//
//   oci-layout                  {"imageLayoutVersion": "1.0.0"}
//   index.json                  the entry point: a list of manifest descriptors
//   blobs/sha256/<hex>          every other file, named by the sha256 of its bytes
//
// A descriptor is {mediaType, digest, size}. index.json -> a manifest (JSON) -> one config
// (JSON: Env, Cmd, ...) and an ordered list of layers (tar, tar+gzip, tar+zstd), bottom first.
// Every blob is checked against its digest and size before it is used: the layout may come
// from anywhere, its index.json is the only file we take on trust. See the OCI image spec
// (image-layout.md, manifest.md, config.md), and workshop/06-overlay.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image_store.hpp"

namespace image {

struct Descriptor {
    std::string media_type;
    std::string digest;  // "sha256:<64 hex>"
    std::int64_t size = -1;
};

struct OciImage {
    Descriptor manifest;
    Config config;
    std::vector<Descriptor> layers;  // bottom first
};

// "sha256:<64 lowercase hex>" -> "<hex>"; Error for any other algorithm or shape (a digest is
// also a file name: it must not hold "/" or "..").
std::string digest_hex(const std::string& digest);
// The sha256 of a file's bytes, as 64 lowercase hex digits (OpenSSL's EVP interface).
std::string sha256_file(const std::string& path);
// Checks that `layout`'s blob for `d` exists, has d.size bytes and hashes to d.digest; returns
// its path. Error ("missing blob", "digest mismatch", "size mismatch") otherwise.
std::string verify_blob(const std::string& layout, const Descriptor& d);

// True when `dir` looks like an OCI layout (it has an oci-layout file).
bool is_oci_layout(const std::string& dir);

// index.json -> manifest -> config, each blob verified; layer blobs are listed, not verified
// (the importer verifies each before it unpacks it). An index that points to nested indexes
// is followed; with several manifests, the one for this machine's platform is taken.
OciImage read_oci_layout(const std::string& dir);

}  // namespace image
