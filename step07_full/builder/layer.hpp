// A container's changes as an image layer: the overlay upper directory -> a tar, Docker's way.
//
// overlayfs records a deletion in the upper directory as a character device 0/0 (a whiteout)
// and a directory that replaced a lower one as an "opaque" directory (xattr
// trusted.overlay.opaque="y", or user.overlay.opaque with the userxattr mount option). A
// layer tar has no devices for that: the OCI image spec (layer.md) spells a whiteout as an
// empty file ".wh.NAME" next to where NAME was, and an opaque directory as ".wh..wh..opq"
// inside it. Owners, modes, times, extended attributes (security.capability...) and hard links
// are kept. See overlayfs(5), tar(5), listxattr(2), and workshop/09-images.md.
#pragma once

#include <cstdint>
#include <string>

namespace builder {

struct LayerTar {
    std::string path;      // the written file (gzip-compressed tar)
    std::string digest;    // "sha256:<hex>" of the file's bytes (what a manifest names)
    std::string diff_id;   // "sha256:<hex>" of the plain tar (rootfs.diff_ids in the config)
    std::uint64_t size = 0;         // bytes of the file
    std::uint64_t entries = 0;      // tar entries
    std::uint64_t whiteouts = 0;    // .wh.NAME entries
    std::uint64_t opaques = 0;      // .wh..wh..opq entries
};

struct LayerOptions {
    int gzip_level = 1;  // 1 (fast) .. 9 (small); 0: a plain tar (digest == diff_id)
};

// Writes the tree `upper` (entries in name order, so the same tree gives the same diff id) to
// `out_path` (created 0600, replaced if it exists). Throws Error/SysError; on failure the
// partial file is removed. Needs no privilege beyond reading `upper`.
LayerTar write_layer(const std::string& upper, const std::string& out_path, const LayerOptions& opts = {});

}  // namespace builder
