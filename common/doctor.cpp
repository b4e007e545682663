#include "doctor.hpp"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "error.hpp"
#include "state.hpp"

namespace doctor {

// ---------------------------------------------------------------------------------------------
// Checks

namespace {

const char* label(Status s) {
    switch (s) {
        case Status::ok: return "ok";
        case Status::warn: return "warn";
        case Status::fail: return "FAIL";  // capitals: the line a reader must not miss
    }
    return "?";
}

std::string plural(size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

int run_checks(const std::vector<Check>& checks, std::ostream& out) {
    size_t width = 0;
    for (auto& c : checks) width = std::max(width, c.name.size());
    size_t counts[3] = {0, 0, 0};
    for (auto& c : checks) {
        CheckResult r;
        try {
            r = c.run();
        } catch (const Error& e) {
            r = CheckResult::fail("the check itself failed: " + e.line(), "report this as a bug");
        } catch (const std::exception& e) {
            r = CheckResult::fail(std::string("the check itself failed: ") + e.what(), "report this as a bug");
        }
        ++counts[static_cast<int>(r.status)];
        std::string name = c.name;
        name.resize(width, ' ');
        std::string status = label(r.status);
        status.resize(5, ' ');
        out << status << " " << name << "  " << r.detail << "\n";
        if (r.status != Status::ok && !r.fix.empty()) out << std::string(6, ' ') << "fix: " << r.fix << "\n";
    }
    out << "doctor: " << plural(checks.size(), "check") << ": " << counts[0] << " ok, "
        << plural(counts[1], "warning") << ", " << counts[2] << " failed\n";
    return counts[2] == 0 ? 0 : 1;
}

int in_child(const std::function<int()>& probe) {
    pid_t pid = ::fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        int rc = 1;
        try {
            rc = probe();
        } catch (...) {
            rc = 1;
        }
        ::_exit(rc);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return errno;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

// ---------------------------------------------------------------------------------------------
// Leftovers

int run_cleanup(const std::vector<Finder>& finders, bool remove, std::ostream& out, std::ostream& err) {
    int status = 0;
    size_t found = 0;
    for (auto& find : finders) {
        std::vector<Leftover> leftovers;
        try {
            leftovers = find();
        } catch (const Error& e) {
            err << "minibox: cleanup: " << e.line() << "\n";
            status = 1;
            continue;
        } catch (const std::exception& e) {
            err << "minibox: cleanup: " << e.what() << "\n";
            status = 1;
            continue;
        }
        for (auto& l : leftovers) {
            ++found;
            if (!remove) {
                out << l.kind << " " << l.what << "\n";
                continue;
            }
            try {
                l.remove();
                out << "removed " << l.kind << " " << l.what << "\n";
            } catch (const Error& e) {
                err << "minibox: cannot remove " << l.kind << " " << l.what << ": " << e.line() << "\n";
                status = 1;
            } catch (const std::exception& e) {
                err << "minibox: cannot remove " << l.kind << " " << l.what << ": " << e.what() << "\n";
                status = 1;
            }
        }
    }
    if (found == 0) out << "nothing left behind\n";
    return status;
}

namespace {

// Mount points of this mount namespace (field 5 of /proc/self/mountinfo, octal escapes undone).
std::vector<std::string> mount_points() {
    std::vector<std::string> points;
    std::ifstream f("/proc/self/mountinfo");
    for (std::string line; std::getline(f, line);) {
        std::istringstream in(line);
        std::string field;
        for (int i = 0; i < 5 && in >> field; ++i) {}
        std::string point;
        for (size_t i = 0; i < field.size(); ++i) {
            if (field[i] == '\\' && i + 3 < field.size()) {
                point += static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8));
                i += 3;
            } else {
                point += field[i];
            }
        }
        points.push_back(point);
    }
    return points;
}

}  // namespace

void remove_tree(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(path, ec);
    std::string p = ec ? path : canonical.string();
    for (auto& m : mount_points()) {
        if (m == p || m.starts_with(p + "/"))
            throw Error("refusing to remove " + path + ": " + m + " is mounted there")
                .with_hint("unmount it first (umount -l " + m + ")");
    }
    fs::remove_all(path, ec);
    if (ec) throw SysError("remove_all(\"" + path + "\")", ec.value());
}

std::vector<Leftover> stale_run_records() {
    std::vector<Leftover> found;
    std::string dir = state::run_dir();
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw SysError("opendir(\"" + dir + "\")", errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());  // a stable order for the listing
    for (auto& name : names) {
        std::string path = dir + "/" + name;
        auto owner = state::record_owner(path);
        if (!owner || owner->alive()) continue;
        found.push_back({"run-dir", path + " (owner " + owner->str() + " is gone)",
                         [path] { remove_tree(path); }});
    }
    return found;
}

}  // namespace doctor
