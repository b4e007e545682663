// Tests build their archives with libarchive's writer: tar(1) refuses to make the malicious
// ones ("../x", "/etc/x") that the importer must refuse, and an OCI layout is only a few files.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tartest {

struct Entry {
    enum Type { file, dir, symlink, hardlink } type = file;
    std::string path;
    std::string data;  // file content, or the link target
    unsigned mode = 0644;
};

inline Entry file(std::string p, std::string data, unsigned mode = 0644) { return {Entry::file, std::move(p), std::move(data), mode}; }
inline Entry dir(std::string p) { return {Entry::dir, std::move(p), "", 0755}; }
inline Entry symlink(std::string p, std::string target) { return {Entry::symlink, std::move(p), std::move(target), 0777}; }
inline Entry hardlink(std::string p, std::string target) { return {Entry::hardlink, std::move(p), std::move(target), 0644}; }

// Writes a pax tar (gzip-compressed when `gzip`) holding `entries` as given, unchecked.
inline void write_tar(const std::string& path, const std::vector<Entry>& entries, bool gzip = false) {
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gzip) archive_write_add_filter_gzip(a);
    if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
    for (auto& e : entries) {
        archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.path.c_str());
        archive_entry_set_uid(ae, ::getuid());
        archive_entry_set_gid(ae, ::getgid());
        archive_entry_set_mtime(ae, 1700000000, 0);
        switch (e.type) {
        case Entry::file:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e.mode);
            archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
            break;
        case Entry::dir:
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, e.mode);
            break;
        case Entry::symlink:
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e.data.c_str());
            break;
        case Entry::hardlink:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e.mode);
            archive_entry_set_hardlink(ae, e.data.c_str());
            archive_entry_set_size(ae, 0);
            break;
        }
        archive_write_header(a, ae);
        if (e.type == Entry::file && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
}

// A temporary directory, removed (rm -rf) at the end of the test.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/step06-test-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
        path_ = tmpl;
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path_ + "'";
        (void)!std::system(cmd.c_str());
    }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

inline void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::trunc);
    f << text;
}

inline bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace tartest
