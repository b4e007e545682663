// The compiled seccomp filter kept per filter on disk. See seccomp_cache.hpp for the rules of
// trust; the file is: a fixed header, the key, the narration texts, the BPF instructions.
#include "seccomp_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "unique_fd.hpp"

namespace seccomp::cache {
namespace {

constexpr char kMagic[8] = {'M', 'B', 'X', 'B', 'P', 'F', '0', '1'};
constexpr size_t kMaxFile = 4 << 20;  // a filter is a few tens of KiB; anything this big is not ours

struct Header {
    char magic[8];
    uint32_t key_size, call_size, skipped_size, insn_count;
    uint32_t flags, reserved;
    uint64_t rules;
    uint64_t checksum;  // FNV-1a over everything after the header
};

// FNV-1a, 64 bits: an index and a check against a damaged file, not a defence (the key itself is
// compared, and only files of our own euid are read).
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL) {
    auto p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

// A string whose end cannot be confused with the next one's start: "<length>:<bytes>".
void put(std::string& out, const std::string& s) {
    out += std::to_string(s.size());
    out += ':';
    out += s;
    out += ' ';
}

uint64_t checksum_of(const std::string& key, const Program& p) {
    uint64_t h = fnv1a(key.data(), key.size());
    h = fnv1a(p.call.data(), p.call.size(), h);
    h = fnv1a(p.skipped.data(), p.skipped.size(), h);
    return fnv1a(p.insns.data(), p.insns.size() * sizeof(sock_filter), h);
}

// Our directory: ours alone, or not used.
bool trusted_dir(const std::string& dir) {
    struct stat st {};
    return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
           (st.st_mode & 022) == 0;
}

bool make_dir(const std::string& dir) {
    // <root>/.cache, then <root>/.cache/seccomp; the root itself exists (the state is there).
    std::string parent = dir.substr(0, dir.find_last_of('/'));
    for (const std::string& d : {parent, dir}) {
        if (::mkdir(d.c_str(), 0700) < 0 && errno != EEXIST) return false;
    }
    return trusted_dir(dir);
}

bool write_all(int fd, const void* data, size_t n) {
    auto p = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// At most kMaxEntries files: the oldest go, never `keep`.
void prune(const std::string& dir, const std::string& keep) {
    std::vector<std::pair<timespec, std::string>> entries;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string path = dir + "/" + name;
        struct stat st {};
        if (path == keep || ::lstat(path.c_str(), &st) < 0 || !S_ISREG(st.st_mode)) continue;
        entries.push_back({st.st_mtim, path});
    }
    ::closedir(d);
    if (entries.size() < static_cast<size_t>(kMaxEntries)) return;
    std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) {
        return a.first.tv_sec != b.first.tv_sec ? a.first.tv_sec < b.first.tv_sec : a.first.tv_nsec < b.first.tv_nsec;
    });
    for (size_t i = 0; i + kMaxEntries - 1 < entries.size(); ++i) ::unlink(entries[i].second.c_str());
}

}  // namespace

std::string key(const spec::Seccomp& f) {
    std::string k = "minibox seccomp cache 1\n";
    const scmp_version* v = seccomp_version();
    utsname u{};
    ::uname(&u);
    k += fmt::format("libseccomp {}.{}.{} native {} machine ", v->major, v->minor, v->micro, seccomp_arch_native());
    put(k, u.machine);
    // The runtime itself: a rebuilt binary may compile differently.
    struct stat exe {};
    ::stat("/proc/self/exe", &exe);
    k += fmt::format("\nruntime {}:{}:{}:{}.{}\n", exe.st_dev, exe.st_ino, exe.st_size, exe.st_mtim.tv_sec, exe.st_mtim.tv_nsec);
    k += "default ";
    put(k, f.default_action);
    k += f.default_errno_ret ? std::to_string(*f.default_errno_ret) : "-";
    k += "\narchitectures ";
    for (auto& a : f.architectures) put(k, a);
    k += "\nflags ";
    for (auto& fl : f.flags) put(k, fl);
    k += '\n';
    for (auto& r : f.syscalls) {
        k += "rule ";
        put(k, r.action);
        k += r.errno_ret ? std::to_string(*r.errno_ret) : "-";
        k += fmt::format(" names {} ", r.names.size());
        for (auto& n : r.names) put(k, n);
        k += fmt::format("args {} ", r.args.size());
        for (auto& a : r.args) {
            k += fmt::format("{} {} {} ", a.index, a.value, a.value_two);
            put(k, a.op);
        }
        k += '\n';
    }
    return k;
}

std::string path_for(const std::string& dir, const std::string& key) {
    return fmt::format("{}/{:016x}", dir, fnv1a(key.data(), key.size()));
}

std::optional<Program> load(const std::string& dir, const std::string& key) {
    if (!trusted_dir(dir)) return std::nullopt;
    unique_fd fd(::open(path_for(dir, key).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return std::nullopt;
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0 ||
        st.st_size < static_cast<off_t>(sizeof(Header)) || static_cast<size_t>(st.st_size) > kMaxFile)
        return std::nullopt;
    std::string data(static_cast<size_t>(st.st_size), '\0');
    for (size_t got = 0; got < data.size();) {
        ssize_t n = ::pread(fd.get(), data.data() + got, data.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;
        got += static_cast<size_t>(n);
    }
    Header h;
    std::memcpy(&h, data.data(), sizeof h);
    if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) return std::nullopt;
    uint64_t want = sizeof h + uint64_t{h.key_size} + h.call_size + h.skipped_size + uint64_t{h.insn_count} * sizeof(sock_filter);
    if (want != data.size() || h.insn_count == 0 || h.insn_count > BPF_MAXINSNS) return std::nullopt;
    size_t at = sizeof h;
    if (data.compare(at, h.key_size, key) != 0 || h.key_size != key.size()) return std::nullopt;  // a collision
    at += h.key_size;
    Program p;
    p.call = data.substr(at, h.call_size);
    at += h.call_size;
    p.skipped = data.substr(at, h.skipped_size);
    at += h.skipped_size;
    p.insns.resize(h.insn_count);
    std::memcpy(p.insns.data(), data.data() + at, h.insn_count * sizeof(sock_filter));
    p.flags = h.flags;
    p.rules = h.rules;
    if (checksum_of(key, p) != h.checksum) return std::nullopt;
    return p;
}

bool store(const std::string& dir, const std::string& key, const Program& p) {
    if (p.insns.empty() || p.insns.size() > BPF_MAXINSNS || !make_dir(dir)) return false;
    std::string final_path = path_for(dir, key);
    std::string tmp = fmt::format("{}/.{:016x}.{}.tmp", dir, fnv1a(key.data(), key.size()), ::getpid());
    Header h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.key_size = static_cast<uint32_t>(key.size());
    h.call_size = static_cast<uint32_t>(p.call.size());
    h.skipped_size = static_cast<uint32_t>(p.skipped.size());
    h.insn_count = static_cast<uint32_t>(p.insns.size());
    h.flags = p.flags;
    h.rules = p.rules;
    h.checksum = checksum_of(key, p);
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return false;
    bool ok = write_all(fd.get(), &h, sizeof h) && write_all(fd.get(), key.data(), key.size()) &&
              write_all(fd.get(), p.call.data(), p.call.size()) && write_all(fd.get(), p.skipped.data(), p.skipped.size()) &&
              write_all(fd.get(), p.insns.data(), p.insns.size() * sizeof(sock_filter));
    fd.reset();
    // Atomic: a concurrent create reads the old file, the new one, or none; never half of one.
    if (!ok || ::rename(tmp.c_str(), final_path.c_str()) < 0) {
        ::unlink(tmp.c_str());
        return false;
    }
    prune(dir, final_path);
    return true;
}

}  // namespace seccomp::cache
