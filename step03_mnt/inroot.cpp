// Resolving a path inside the container's root without ever leaving it, and the detached
// mounts later layers use to bring one host path in.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "mnt.hpp"
#include "narrate.hpp"
#include "tree.hpp"

namespace mnt {
namespace {

std::deque<std::string> split(std::string_view path) {
    std::deque<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (end > start) parts.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

// One directory of the walk: an O_PATH fd, or none when it does not exist yet.
struct Step {
    unique_fd fd;
    std::string name;
};

std::string joined(const std::vector<Step>& stack) {
    std::string p;
    for (auto& s : stack) p += "/" + s.name;
    return p.empty() ? "/" : p;
}

bool only_dots(const std::deque<std::string>& rest) {
    for (auto& r : rest)
        if (r != ".") return false;
    return true;
}

// Make the missing component `name` in `dir`; a concurrent maker (EEXIST) is fine.
void make(int dir, const std::string& name, bool file, const std::string& shown) {
    int rc = file ? ::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644)
                  : ::mkdirat(dir, name.c_str(), 0755);
    if (rc < 0 && errno != EEXIST)
        throw SysError(std::string(file ? "creat" : "mkdir") + "(\"" + shown + "\")", errno);
    if (file && rc >= 0) ::close(rc);
}

}  // namespace

Resolved resolve_in_root(int root, std::string_view path, Create create) {
    const std::string original(path);
    auto fail = [&](const std::string& why) { return Error("path " + original + " " + why); };

    std::vector<Step> stack;  // the directories below the root we are in, the root excluded
    std::deque<std::string> todo = split(path);
    std::string via;          // the last symlink followed, for the error message
    int links = 0;

    while (!todo.empty()) {
        std::string name = std::move(todo.front());
        todo.pop_front();
        if (name == ".") continue;
        if (name == "..") {
            // The heart of it: ".." pops what we pushed, and at the root there is nothing to pop.
            if (stack.empty()) throw fail("escapes the root" + (via.empty() ? std::string() : " through the symlink " + via));
            stack.pop_back();
            continue;
        }
        bool last = only_dots(todo);
        if (!stack.empty() && !stack.back().fd) {  // below a missing directory: nothing to look up
            stack.push_back({unique_fd{}, name});
            continue;
        }
        int dir = stack.empty() ? root : stack.back().fd.get();
        std::string shown = joined(stack) + (stack.empty() ? "" : "/") + name;
        unique_fd fd(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!fd && errno == ENOENT) {
            if (create == Create::none) {
                stack.push_back({unique_fd{}, name});
                continue;
            }
            make(dir, name, last && create == Create::file, shown);
            fd.reset(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        }
        if (!fd) throw SysError("openat(\"" + shown + "\", O_PATH|O_NOFOLLOW)", errno);

        struct stat st {};
        if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH) < 0) throw SysError("fstatat(\"" + shown + "\")", errno);
        if (S_ISLNK(st.st_mode)) {
            if (++links > 40) throw Error("path " + original + ": too many levels of symbolic links", exit_code::tool_failed, ELOOP);
            char buf[4096];
            ssize_t n = ::readlinkat(fd.get(), "", buf, sizeof buf - 1);
            if (n < 0) throw SysError("readlinkat(\"" + shown + "\")", errno);
            std::string target(buf, static_cast<size_t>(n));
            via = shown + " -> " + target;
            // An absolute target is read as the container will read it: from its own "/".
            if (!target.empty() && target[0] == '/') stack.clear();
            auto parts = split(target);
            todo.insert(todo.begin(), parts.begin(), parts.end());
            continue;
        }
        if (!last && !S_ISDIR(st.st_mode)) throw fail("goes through " + shown + ", which is not a directory");
        stack.push_back({std::move(fd), name});
    }

    Resolved r;
    r.path = joined(stack);
    r.exists = stack.empty() || bool(stack.back().fd);
    if (!r.exists) return r;
    r.fd = stack.empty() ? unique_fd(::fcntl(root, F_DUPFD_CLOEXEC, 3)) : std::move(stack.back().fd);
    if (!r.fd) throw SysError("fcntl(F_DUPFD_CLOEXEC)", errno);
    struct stat st {};
    if (::fstatat(r.fd.get(), "", &st, AT_EMPTY_PATH) < 0) throw SysError("fstatat(\"" + r.path + "\")", errno);
    r.is_dir = S_ISDIR(st.st_mode);
    return r;
}

unique_fd detach(const std::string& host_path, bool read_only) {
    narrate::Op op{"mnt", "open_tree(AT_FDCWD, \"" + host_path + "\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC)",
                   "a detached copy of a host path: in no mount table until it is attached inside", ""};
    unique_fd fd(static_cast<int>(narrate::sys(op, [&] {
        return ::open_tree(AT_FDCWD, host_path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    })));
    if (read_only) {
        mount_attr attr{};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        narrate::sys({"mnt", "mount_setattr(fd, \"\", AT_EMPTY_PATH, {MOUNT_ATTR_RDONLY})",
                      "the copy is read-only wherever it is attached", ""},
                     [&] { return ::mount_setattr(fd.get(), "", AT_EMPTY_PATH, &attr, sizeof attr); });
    }
    return fd;
}

bool detail::g_root_is_private = false;

bool attach(int detached, const std::string& container_path) {
    auto normal = normalize(container_path);
    if (!normal || *normal == "/") throw Error("attach: bad container path \"" + container_path + "\"");
    struct stat st {};
    if (::fstat(detached, &st) < 0) throw SysError("fstat(detached mount)", errno);
    unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw SysError("open(\"/\")", errno);
    if (!detail::g_root_is_private && !is_under(*normal, "/tmp") &&
        !resolve_in_root(root.get(), *normal, Create::none).exists) {
        narrate::warn(*normal + " is not in the image: left out (a run never writes into a shared image)");
        return false;
    }
    Resolved target = resolve_in_root(root.get(), *normal, S_ISDIR(st.st_mode) ? Create::dir : Create::file);
    if (target.is_dir != S_ISDIR(st.st_mode))
        throw Error("attach at " + target.path + ": a file and a directory cannot be mounted on each other");
    narrate::sys({"mnt", "move_mount(fd, \"\", AT_FDCWD, \"" + target.path + "\", MOVE_MOUNT_F_EMPTY_PATH)",
                  "attach the detached copy inside the container", "findmnt -N {pid} " + target.path},
                 [&] {
                     return ::move_mount(detached, "", target.fd.get(), "",
                                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
                 });
    return true;
}

}  // namespace mnt
