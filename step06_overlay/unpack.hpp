// Unpacking one layer tarball into one directory, safely, with libarchive (read side only).
//
// An image comes from elsewhere and is not trusted. An archive entry is a path and a type, and
// a hostile one names "../../etc/cron.d/x", "/etc/shadow", or a symlink "evil -> /etc" followed
// by a file "evil/passwd" (written through the link, the file lands on the host), or a hard
// link to "../../etc/shadow". libarchive's own archive_write_disk has flags against these; we
// write the files ourselves instead, so every rule is visible here:
//   - a path is checked first: relative, no ".." component (check_entry_path);
//   - every directory on the way is opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)
//     from the layer's own directory: the kernel refuses to step out or through any symlink;
//   - the last component is created with O_CREAT|O_EXCL|O_NOFOLLOW after removing what was
//     there: an earlier symlink of the same name is replaced, never written through;
//   - a hard link's target is checked and opened the same way.
// Whiteouts (OCI image spec, layer.md) become what overlayfs understands:
//   ".wh.NAME"      -> NAME as a character device 0/0
//   ".wh..wh..opq"  -> the directory gets the xattr trusted.overlay.opaque="y"
// See openat2(2), and workshop/06-overlay.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace image {

// "./usr//bin/ls" -> "usr/bin/ls"; ".", "./" or "/" -> "" (the layer's root). nullopt for an
// empty, absolute ("/etc/x") or ".."-holding path; `why` then says which.
std::optional<std::string> check_entry_path(std::string_view raw, std::string& why);

// What a file name means as a whiteout.
struct Whiteout {
    enum Kind { none, file, opaque } kind = none;
    std::string target;  // for `file`: the name it hides
};
// ".wh.NAME" -> {file, NAME}; ".wh..wh..opq" -> {opaque}; anything else -> {none}.
// Other ".wh..wh." names (AUFS bookkeeping) -> {opaque-less none}, reported as `skip`.
Whiteout classify_whiteout(std::string_view base);

// Turn a whiteout into its overlayfs form inside the directory `dirfd` (needs CAP_MKNOD for the
// device and CAP_SYS_ADMIN for the trusted.* xattr).
void make_whiteout(int dirfd, const std::string& name);  // NAME -> char device 0/0
void make_opaque(int dirfd);                              // trusted.overlay.opaque = "y"

struct UnpackStats {
    std::uint64_t bytes = 0;    // file contents written (runs of zeros left as holes included)
    std::uint64_t apparent = 0; // the regular files' sizes, holes and all (what --max-size caps)
    std::uint64_t entries = 0;  // archive entries handled
};

struct UnpackOptions {
    // Whiteouts are only meaningful above another layer; in the bottom layer (and in a
    // `docker export` tarball) they are dropped.
    bool whiteouts = true;
    // The most the regular files may add up to, by apparent size (a sparse file counts whole):
    // checked at each entry's header and at each block, before it is written. 0: no limit.
    // Blocks of zeros are not written at all but left as holes, so a tarball of a 4 GiB zero
    // file takes no space and a GNU sparse entry stays sparse.
    std::uint64_t max_bytes = 0;
    // Called now and then with the running totals (progress display); may be empty.
    std::function<void(const UnpackStats&)> progress;
};

// Unpacks the tar archive `archive` (plain, gzip, xz, zstd, bzip2) into the existing directory
// `layer_dir`. Throws Error (exit 125) naming the entry for a malicious entry, and for an
// archive libarchive cannot read. The caller removes `layer_dir` on failure.
UnpackStats unpack_layer(const std::string& archive, const std::string& layer_dir, const UnpackOptions& opts);

}  // namespace image
