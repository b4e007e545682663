// sha256, the name of every blob: a layer's digest (of its gzip bytes), its diff id (of the
// plain tar), an image's id (of its config), the build cache's keys. OpenSSL's EVP interface.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace builder {

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // 64 lowercase hex digits; the object cannot be updated afterwards.
    std::string hex();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
// The sha256 of the file's bytes; throws SysError.
std::string sha256_of_file(const std::string& path);

}  // namespace builder
