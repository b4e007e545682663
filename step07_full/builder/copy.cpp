// COPY and ADD (see copy.hpp).
#include "copy.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "error.hpp"
#include "narrate.hpp"
#include "unique_fd.hpp"
#include "unpack.hpp"

namespace builder {

namespace {

std::string real(const std::string& p) {
    char buf[PATH_MAX];
    if (!::realpath(p.c_str(), buf)) return "";
    return buf;
}

bool within(const std::string& path, const std::string& base) {
    return path == base || path.rfind(base + "/", 0) == 0;
}

std::string glob_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string base_name(const std::string& p) {
    auto k = p.find_last_of('/');
    return k == std::string::npos ? p : p.substr(k + 1);
}

void copy_data(int in, int out, const std::string& what) {
    for (;;) {
        ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) break;  // fall back to read/write
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("copy_file_range(\"" + what + "\")", errno);
        if (n == 0) return;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw SysError("read(\"" + what + "\")", errno);
        if (n == 0) return;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw SysError("write(\"" + what + "\")", errno);
            off += w;
        }
    }
}

class Copier {
public:
    Copier(const CopyOptions& o) : o_(o) {}

    // One host file or tree -> `name` in the directory `dirfd`.
    void entry(const std::string& host, const std::string& rel, int dirfd, const std::string& name) {
        struct stat st;
        if (::lstat(host.c_str(), &st) != 0) throw SysError("lstat(\"" + host + "\")", errno);
        unsigned uid = o_.chown ? o_.chown->uid : 0, gid = o_.chown ? o_.chown->gid : 0;
        mode_t mode = o_.chmod ? static_cast<mode_t>(*o_.chmod) : (st.st_mode & 07777);
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        if (S_ISDIR(st.st_mode)) {
            struct stat dst;
            if (::fstatat(dirfd, name.c_str(), &dst, AT_SYMLINK_NOFOLLOW) != 0) {
                if (::mkdirat(dirfd, name.c_str(), 0700) != 0) throw SysError("mkdirat(\"" + name + "\")", errno);
            } else if (!S_ISDIR(dst.st_mode)) {
                throw Error("cannot copy directory " + rel + " over the file " + name + " in the image");
            }
            unique_fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) throw SysError("openat(\"" + name + "\", O_DIRECTORY|O_NOFOLLOW)", errno);
            contents(host, rel, sub.get());
            check(::fchown(sub.get(), uid, gid), "fchown(\"" + name + "\")");
            check(::fchmod(sub.get(), mode), "fchmod(\"" + name + "\")");
            check(::futimens(sub.get(), times), "futimens(\"" + name + "\")");
            return;
        }
        replace(dirfd, name);
        if (S_ISLNK(st.st_mode)) {
            char buf[PATH_MAX];
            ssize_t n = ::readlink(host.c_str(), buf, sizeof buf - 1);
            if (n < 0) throw SysError("readlink(\"" + host + "\")", errno);
            buf[n] = 0;
            check(::symlinkat(buf, dirfd, name.c_str()), "symlinkat(\"" + name + "\")");
            check(::fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW), "fchownat(\"" + name + "\")");
            check(::utimensat(dirfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW), "utimensat(\"" + name + "\")");
        } else if (S_ISREG(st.st_mode)) {
            unique_fd in(::open(host.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (!in) throw SysError("open(\"" + host + "\", O_RDONLY)", errno);
            unique_fd out(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!out) throw SysError("openat(\"" + name + "\", O_CREAT|O_EXCL|O_NOFOLLOW)", errno);
            copy_data(in.get(), out.get(), host);
            // chown first: it clears the set-id bits that fchmod then sets
            check(::fchown(out.get(), uid, gid), "fchown(\"" + name + "\")");
            check(::fchmod(out.get(), mode), "fchmod(\"" + name + "\")");
            check(::futimens(out.get(), times), "futimens(\"" + name + "\")");
        } else if (S_ISFIFO(st.st_mode)) {
            check(::mkfifoat(dirfd, name.c_str(), mode), "mkfifoat(\"" + name + "\")");
            check(::fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW), "fchownat(\"" + name + "\")");
        }
        // sockets and devices of the context are not copied (Docker skips them too)
    }

    // Every entry of the host directory `host` into `dirfd` (.dockerignore applied).
    void contents(const std::string& host, const std::string& rel, int dirfd) {
        DIR* d = ::opendir(host.c_str());
        if (!d) throw SysError("opendir(\"" + host + "\")", errno);
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") names.push_back(n);
        }
        ::closedir(d);
        for (const auto& n : names) {
            std::string r = rel.empty() ? n : rel + "/" + n;
            if (o_.ignore && o_.ignore->excluded(r)) {
                // an exception further down ("!dir/keep") still needs the walk
                struct stat st;
                if (!(::lstat((host + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode) && o_.ignore->may_reinclude_below(r))) continue;
            }
            entry(host + "/" + n, r, dirfd, n);
        }
    }

private:
    const CopyOptions& o_;

    // A file, link or empty name in the image is replaced; a directory is not.
    static void replace(int dirfd, const std::string& name) {
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
        if (S_ISDIR(st.st_mode)) throw Error("cannot replace the directory " + name + " in the image with a file");
        check(::unlinkat(dirfd, name.c_str(), 0), "unlinkat(\"" + name + "\")");
    }
};

}  // namespace

std::string dest_path(const std::string& workdir, const std::string& dest) {
    bool slash = !dest.empty() && (dest.back() == '/' || dest == "." || dest.ends_with("/."));
    std::string abs = dest.starts_with("/") ? dest : (workdir.empty() ? "/" : workdir) + "/" + dest;
    std::string clean = "/" + clean_path(abs);
    if (slash && clean != "/") clean += "/";
    return clean;
}

bool is_archive(const std::string& path) {
    struct archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    bool ok = false;
    if (archive_read_open_filename(a, path.c_str(), 1 << 16) == ARCHIVE_OK) {
        archive_entry* e;
        ok = archive_read_next_header(a, &e) == ARCHIVE_OK;
    }
    archive_read_free(a);
    return ok;
}

std::vector<Source> resolve_sources(const std::string& base_in, const std::vector<std::string>& patterns, const Ignore* ignore,
                                    const std::string& instruction) {
    std::string base = real(base_in);
    if (base.empty()) throw SysError("realpath(\"" + base_in + "\")", errno);
    std::vector<Source> out;
    for (const auto& p : patterns) {
        if (p.find("://") != std::string::npos) {
            throw Error(instruction + " failed: " + p + ": sources from URLs are not supported by this builder (no network)");
        }
        // "../x" is refused, as Docker does: the context is all a build may read
        {
            int depth = 0;
            size_t b = 0;
            std::string s = p.starts_with("/") ? p.substr(1) : p;
            while (b <= s.size()) {
                size_t e = s.find('/', b);
                std::string part = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
                if (part == "..") --depth;
                else if (!part.empty() && part != ".") ++depth;
                if (depth < 0) throw Error(instruction + " failed: forbidden path outside the build context: " + p);
                if (e == std::string::npos) break;
                b = e + 1;
            }
        }
        std::string rel = clean_path(p);
        std::vector<std::string> hits;
        if (rel.find_first_of("*?[") == std::string::npos) {
            hits.push_back(rel);
        } else {
            glob_t g{};
            int rc = ::glob((glob_escape(base) + "/" + rel).c_str(), 0, nullptr, &g);
            if (rc == 0) {
                for (size_t i = 0; i < g.gl_pathc; ++i) hits.push_back(std::string(g.gl_pathv[i]).substr(base.size() + 1));
            }
            globfree(&g);
        }
        size_t before = out.size();
        for (const auto& h : hits) {
            if (ignore && !h.empty() && ignore->excluded(h)) continue;
            std::string host = h.empty() ? base : base + "/" + h;
            std::string r = real(host);
            if (r.empty()) continue;
            if (!within(r, base)) throw Error(instruction + " failed: forbidden path outside the build context: " + h + " (a symlink to " + r + ")");
            struct stat st;
            if (::stat(r.c_str(), &st) != 0) continue;
            out.push_back({r, h, S_ISDIR(st.st_mode)});
        }
        if (out.size() == before) {
            throw Error(instruction + " failed: file not found in build context or excluded by .dockerignore: stat " + p +
                        ": file does not exist");
        }
    }
    return out;
}

void copy_sources(const std::string& merged, const std::vector<Source>& srcs, const std::string& dest, const CopyOptions& opts,
                  const std::string& instruction) {
    bool to_dir = dest.ends_with("/");
    if (srcs.size() > 1 && !to_dir) {
        throw Error("When using " + instruction + " with more than one source file, the destination must be a directory and end with a /");
    }
    unsigned uid = opts.chown ? opts.chown->uid : 0, gid = opts.chown ? opts.chown->gid : 0;
    // an existing directory at dest is a directory whatever the spelling
    if (!to_dir) {
        try {
            unique_fd d(mkdirs_in_root(merged, dest == "/" ? "/" : dest.substr(0, dest.rfind('/') + 1), 0, 0));
            struct stat st;
            std::string last = base_name(dest);
            if (!last.empty() && ::fstatat(d.get(), last.c_str(), &st, 0) == 0 && S_ISDIR(st.st_mode)) to_dir = true;
        } catch (const SysError&) {
        }
    }
    Copier c(opts);
    for (const auto& s : srcs) {
        if (s.dir || (opts.add && is_archive(s.host))) {
            std::string into = to_dir || s.dir ? dest : dest + "/";
            unique_fd d(mkdirs_in_root(merged, into, uid, gid));
            if (s.dir) {
                c.contents(s.host, s.rel, d.get());  // the directory's contents, not the directory itself
            } else {
                narrate::note("builder", "ADD " + s.rel + ": a tar archive, unpacked into " + into);
                image::UnpackOptions uo;
                uo.whiteouts = false;
                image::unpack_layer(s.host, "/proc/self/fd/" + std::to_string(d.get()), uo);
            }
            continue;
        }
        std::string target = to_dir ? dest + base_name(s.rel.empty() ? s.host : s.rel) : dest;
        std::string parent = target.substr(0, target.rfind('/') + 1);
        unique_fd d(mkdirs_in_root(merged, parent, 0, 0));
        c.entry(s.host, s.rel, d.get(), base_name(target));
    }
}

}  // namespace builder
