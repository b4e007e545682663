// Image references as Docker writes them: [HOST[:PORT]/]PATH[:TAG][@sha256:HEX].
//
// Docker's rules (github.com/distribution/reference, "normalize"): the first component is a
// registry host only when it holds a "." or a ":" or is "localhost"; otherwise the registry is
// docker.io. On docker.io a one-word name gets "library/" in front ("busybox" ->
// "docker.io/library/busybox"). No tag and no digest means ":latest". A digest pins the content;
// a tag given with it is kept for display only. Names are lowercase [a-z0-9] separated by
// ".", "_", "__" or "-"; tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
#pragma once

#include <string>
#include <string_view>

namespace images {

struct Reference {
    std::string domain;  // "docker.io", "localhost:5000", "127.0.0.1:5000"
    std::string path;    // "library/busybox", "x/y"
    std::string tag;     // "latest" when neither tag nor digest was given; "" for a bare digest
    std::string digest;  // "sha256:<64 hex>" or ""

    // "docker.io/library/busybox"
    std::string name() const { return domain + "/" + path; }
    // How docker shows it: "busybox", "localhost:5000/x" (docker.io/library/ and docker.io/ dropped)
    std::string familiar_name() const;
    // familiar_name() + ":" + tag ("" when there is no tag)
    std::string familiar() const;
    // The full canonical form: name()[:tag][@digest]
    std::string str() const;
    // What the registry is asked for: the digest when there is one, else the tag.
    std::string reference() const { return digest.empty() ? tag : digest; }
};

// Parses `text`; Error (exit 125, Docker's "invalid reference format" wording) when malformed.
Reference parse_reference(std::string_view text);
// True when `text` looks like a (prefix of an) image id: 1-64 lowercase hex, or "sha256:" + hex.
bool looks_like_id(std::string_view text);

}  // namespace images
