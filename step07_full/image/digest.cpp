#include "digest.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "error.hpp"
#include "unique_fd.hpp"

namespace images {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
        throw Error("sha256: OpenSSL could not start a digest");
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, std::size_t n) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
}

std::string Sha256::digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
    static const char* hex = "0123456789abcdef";
    std::string s = "sha256:";
    for (unsigned i = 0; i < len; i++) {
        s += hex[md[i] >> 4];
        s += hex[md[i] & 15];
    }
    return s;
}

std::string sha256_of_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw SysError("open(\"" + path + "\", O_RDONLY)", errno);
    Sha256 h;
    std::vector<char> buf(1 << 16);
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("read(\"" + path + "\")", errno);
        if (n == 0) break;
        h.update(buf.data(), static_cast<std::size_t>(n));
    }
    return h.digest();
}

std::string diff_id_of(const std::string& blob_path) {
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_raw(a.get());
    if (archive_read_open_filename(a.get(), blob_path.c_str(), 1 << 16) != ARCHIVE_OK)
        throw Error("layer " + blob_path + ": " + archive_error_string(a.get()));
    archive_entry* e = nullptr;
    if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
        throw Error("layer " + blob_path + ": " + archive_error_string(a.get()));
    Sha256 h;
    std::vector<char> buf(1 << 16);
    for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0) throw Error("layer " + blob_path + ": cannot decompress: " + archive_error_string(a.get()));
        if (n == 0) break;
        h.update(buf.data(), static_cast<std::size_t>(n));
    }
    return h.digest();
}

void write_padded_tar(const std::string& blob_path, const std::string& out) {
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_raw(a.get());
    archive_entry* e = nullptr;
    if (archive_read_open_filename(a.get(), blob_path.c_str(), 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
        throw Error("layer " + blob_path + ": " + archive_error_string(a.get()));
    unique_fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) throw SysError("open(\"" + out + "\", O_CREAT|O_EXCL)", errno);
    std::vector<char> buf(1 << 16);
    std::uint64_t total = 0;
    auto put = [&](const char* p, std::size_t n) {
        while (n > 0) {
            ssize_t w = ::write(fd.get(), p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw SysError("write(\"" + out + "\")", errno);
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    };
    for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0) throw Error("layer " + blob_path + ": cannot decompress: " + archive_error_string(a.get()));
        if (n == 0) break;
        put(buf.data(), static_cast<std::size_t>(n));
        total += static_cast<std::uint64_t>(n);
    }
    std::vector<char> zeros(512 + 1024, 0);
    put(zeros.data(), (512 - total % 512) % 512 + 1024);
}

std::string compression_of(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw SysError("open(\"" + path + "\", O_RDONLY)", errno);
    unsigned char m[4] = {};
    if (::read(fd.get(), m, 4) < 2) return "";
    if (m[0] == 0x1f && m[1] == 0x8b) return "gzip";
    if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) return "zstd";
    return "";
}

void verify_file(const std::string& path, const std::string& digest, std::int64_t size) {
    hex_of(digest);
    if (size >= 0) {
        struct stat st {};
        if (::stat(path.c_str(), &st) < 0) throw SysError("stat(\"" + path + "\")", errno);
        if (st.st_size != size)
            throw Error("blob " + digest + ": size mismatch (" + std::to_string(st.st_size) + " bytes, expected " +
                        std::to_string(size) + ")");
    }
    std::string got = sha256_of_file(path);
    if (got != digest) throw Error("blob " + digest + ": digest mismatch (the bytes hash to " + got + ")");
}

}  // namespace images
