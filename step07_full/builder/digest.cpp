#include "digest.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "error.hpp"
#include "unique_fd.hpp"

namespace builder {

struct Sha256::Impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) throw Error("EVP_DigestInit_ex(sha256) failed");
}
Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t n) {
    if (n && EVP_DigestUpdate(impl_->ctx, data, n) != 1) throw Error("EVP_DigestUpdate failed");
}

std::string Sha256::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(impl_->ctx, md, &len) != 1) throw Error("EVP_DigestFinal_ex failed");
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.hex();
}

std::string sha256_of_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw SysError("open(\"" + path + "\", O_RDONLY|O_NOFOLLOW)", errno);
    Sha256 h;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SysError("read(\"" + path + "\")", errno);
        }
        if (n == 0) break;
        h.update(buf, static_cast<size_t>(n));
    }
    return h.hex();
}

}  // namespace builder
