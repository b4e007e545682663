// The runtime's state directory: one folder per container, state.json written atomically, one
// lock per id. See container.hpp.
#include "container.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "error.hpp"
#include "files.hpp"
#include "state.hpp"

namespace fs = std::filesystem;

namespace container {

const char* status_name(Status s) {
    switch (s) {
        case Status::creating: return "creating";
        case Status::created: return "created";
        case Status::running: return "running";
        case Status::paused: return "paused";
        case Status::stopped: return "stopped";
    }
    return "unknown";
}

bool valid_id(const std::string& id, std::string& why) {
    if (id.empty() || id.size() > 1024) {
        why = "container id must be 1 to 1024 characters";
        return false;
    }
    if (id[0] == '.') {
        why = "container id \"" + id + "\" must not start with '.'";
        return false;
    }
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == '+' || c == '-';
        if (!ok) {
            why = "container id \"" + id + "\" may hold only letters, digits and _ . + -";
            return false;
        }
    }
    return true;
}

Store::Store(std::string root) : root_(root.empty() ? "/run/minibox/runtime" : std::move(root)) {
    std::error_code ec;
    fs::path abs = fs::absolute(root_, ec);
    if (!ec) root_ = abs.lexically_normal().string();
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string Store::dir(const std::string& id) const { return root_ + "/" + id; }

bool Store::exists(const std::string& id) const {
    struct stat st {};
    return ::stat((dir(id) + "/state.json").c_str(), &st) == 0;
}

namespace {

Error no_such(const std::string& id) { return Error("container " + id + " does not exist", 1); }

}  // namespace

State Store::load(const std::string& id) const {
    std::string why;
    if (!valid_id(id, why)) throw Error(why, 1);
    if (!exists(id)) throw no_such(id);
    std::string text = files::read(dir(id) + "/state.json");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        throw Error("container " + id + ": state.json is damaged (" + e.what() + ")", 1);
    }
    State s;
    s.id = j.value("id", id);
    s.bundle = j.value("bundle", "");
    s.rootfs = j.value("rootfs", "");
    s.pid = j.value("pid", 0);
    s.start_time = j.value("start_time", 0ULL);
    s.created = j.value("created", "");
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.cgroup_dirs = j.value("cgroup_dirs", std::vector<std::string>{});
    s.systemd_cgroup = j.value("systemd_cgroup", false);
    s.own_pid_namespace = j.value("own_pid_namespace", true);
    s.started = j.value("started", false);
    s.creator = j.value("creator", "");
    return s;
}

void Store::save(const State& s) const {
    nlohmann::json j = {{"id", s.id},
                        {"bundle", s.bundle},
                        {"rootfs", s.rootfs},
                        {"pid", s.pid},
                        {"start_time", s.start_time},
                        {"created", s.created},
                        {"owner", s.owner},
                        {"annotations", s.annotations},
                        {"cgroup_dirs", s.cgroup_dirs},
                        {"systemd_cgroup", s.systemd_cgroup},
                        {"own_pid_namespace", s.own_pid_namespace},
                        {"started", s.started},
                        {"creator", s.creator}};
    std::string final_path = dir(s.id) + "/state.json";
    std::string tmp = final_path + ".tmp";
    files::write(tmp, j.dump(2) + "\n");
    if (::rename(tmp.c_str(), final_path.c_str()) < 0) throw SysError("rename(\"" + tmp + "\")", errno);
}

void Store::create_dir(const std::string& id) const {
    std::error_code ec;
    fs::create_directories(root_, ec);
    if (ec) throw Error("cannot create the state root " + root_ + ": " + ec.message());
    ::chmod(root_.c_str(), 0711);
    if (::mkdir(dir(id).c_str(), 0700) == 0) return;
    if (errno != EEXIST) throw SysError("mkdir(\"" + dir(id) + "\")", errno);
    if (exists(id)) throw Error("container " + id + " already exists", 1);
    // A directory without state.json: create and run save a record before they let go of the
    // id's lock, which our caller holds, so this one's maker died between its mkdir and that
    // record (nothing else was made yet). It is taken over.
    fs::remove_all(dir(id), ec);
    if (::mkdir(dir(id).c_str(), 0700) < 0) throw SysError("mkdir(\"" + dir(id) + "\")", errno);
}

void Store::remove(const std::string& id) const {
    std::error_code ec;
    fs::remove_all(dir(id), ec);
    remove_lock(id);
}

void Store::remove_lock(const std::string& id) const { ::unlink((root_ + "/." + id + ".lock").c_str()); }

std::vector<std::string> Store::ids() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(root_, ec)) {
        if (!e.is_directory()) continue;
        std::string id = e.path().filename().string();
        std::string why;
        if (valid_id(id, why) && exists(id)) out.push_back(id);
    }
    std::sort(out.begin(), out.end());
    return out;
}

Store::Lock::Lock(const Store& store, const std::string& id) {
    // The lock file sits next to the container's directory, not in it: `delete` removes the
    // directory while holding the lock, and `create` must lock before the directory exists.
    std::error_code ec;
    fs::create_directories(store.root(), ec);
    std::string path = store.root() + "/." + id + ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw SysError("open(\"" + path + "\")", errno);
    // A POSIX record lock, not flock(2): flock belongs to the open file, which the container's
    // init inherits through clone() and keeps while it waits for `start` - the id would stay
    // locked. A record lock belongs to this process alone and is not inherited.
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (::fcntl(fd_, F_SETLKW, &fl) < 0) {
        if (errno != EINTR) throw SysError("fcntl(\"" + path + "\", F_SETLKW)", errno);
    }
}

Store::Lock::~Lock() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {

bool fifo_exists(const Store& store, const std::string& id) {
    struct stat st {};
    return ::stat(store.fifo(id).c_str(), &st) == 0;
}

// A zombie has not run since it exited: it counts as stopped.
bool alive(pid_t pid, unsigned long long start) {
    auto now = state::start_time(pid);
    if (!now || *now != start) return false;
    std::string stat;
    try {
        stat = files::read("/proc/" + std::to_string(pid) + "/stat");
    } catch (const Error&) {
        return false;
    }
    auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

bool frozen(const std::vector<std::string>& dirs) {
    for (auto& d : dirs) {
        std::string v;
        try {
            v = files::read(d + "/freezer.state");
            if (v.rfind("FROZEN", 0) == 0) return true;
        } catch (const Error&) {
        }
        try {
            v = files::read(d + "/cgroup.freeze");
            if (!v.empty() && v[0] == '1') return true;
        } catch (const Error&) {
        }
    }
    return false;
}

}  // namespace

Status status(const State& s, const Store& store) {
    if (s.pid <= 0) {
        auto creator = state::Owner::parse(s.creator);
        return creator && creator->alive() ? Status::creating : Status::stopped;
    }
    if (!alive(s.pid, s.start_time)) return Status::stopped;
    if (!s.started && fifo_exists(store, s.id)) return Status::created;
    if (frozen(s.cgroup_dirs)) return Status::paused;
    return Status::running;
}

nlohmann::json to_json(const State& s, Status st) {
    nlohmann::json j = {{"ociVersion", "1.0.2"},
                        {"id", s.id},
                        {"pid", st == Status::stopped ? 0 : s.pid},
                        {"status", status_name(st)},
                        {"bundle", s.bundle},
                        {"rootfs", s.rootfs},
                        {"created", s.created},
                        {"owner", s.owner}};
    if (!s.annotations.empty()) j["annotations"] = s.annotations;
    return j;
}

std::string now_rfc3339() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    ::gmtime_r(&ts.tv_sec, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

}  // namespace container
