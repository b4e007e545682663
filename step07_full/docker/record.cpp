#include "record.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "errors.hpp"
#include "files.hpp"

namespace docker {
namespace {

using json = nlohmann::json;

void mkdirs(const std::string& path, mode_t mode) {
    std::string done;
    for (size_t i = 1; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            done = path.substr(0, i);
            if (::mkdir(done.c_str(), mode) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + done + "\")", errno);
        }
    }
}

template <class T>
void get_opt(const json& j, const char* key, std::optional<T>& out) {
    if (auto it = j.find(key); it != j.end() && !it->is_null()) out = it->get<T>();
}
template <class T>
void get(const json& j, const char* key, T& out) {
    if (auto it = j.find(key); it != j.end() && !it->is_null()) out = it->get<T>();
}
template <class T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

}  // namespace

json to_json(const RunOptions& o) {
    json ports = json::array(), volumes = json::array(), devices = json::array();
    for (auto& p : o.ports)
        ports.push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port}, {"proto", p.proto},
                         {"random", p.random}});
    for (auto& v : o.volumes)
        volumes.push_back({{"host", v.host}, {"container", v.container}, {"read_only", v.read_only}, {"volume", v.volume}});
    for (auto& d : o.devices) devices.push_back({{"host", d.host}, {"container", d.container}, {"perms", d.perms}});
    return {
        {"image", o.image}, {"cmd", o.cmd}, {"entrypoint", o.entrypoint ? json(*o.entrypoint) : json(nullptr)},
        {"name", o.name}, {"env", o.env}, {"workdir", o.workdir}, {"user", o.user}, {"hostname", o.hostname},
        {"labels", o.labels}, {"stop_signal", o.stop_signal}, {"stop_timeout", opt(o.stop_timeout)},
        {"detach", o.detach}, {"interactive", o.interactive}, {"tty", o.tty}, {"auto_remove", o.auto_remove},
        {"init", o.init}, {"read_only", o.read_only}, {"volumes", volumes}, {"network", o.network},
        {"ports", ports}, {"publish_all", o.publish_all}, {"expose", o.expose}, {"memory", opt(o.memory)}, {"memory_swap", opt(o.memory_swap)}, {"cpus", opt(o.cpus)},
        {"cpu_shares", opt(o.cpu_shares)}, {"cpuset_cpus", o.cpuset_cpus}, {"pids_limit", opt(o.pids_limit)},
        {"cap_add", o.cap_add}, {"cap_drop", o.cap_drop}, {"privileged", o.privileged},
        {"security_opt", o.security_opt}, {"userns", o.userns}, {"devices", devices},
        {"restart", {{"name", o.restart.name}, {"max_retries", o.restart.max_retries}}},
    };
}

RunOptions options_from_json(const json& j) {
    RunOptions o;
    get(j, "image", o.image);
    get(j, "cmd", o.cmd);
    if (auto it = j.find("entrypoint"); it != j.end() && !it->is_null()) o.entrypoint = it->get<std::vector<std::string>>();
    get(j, "name", o.name);
    get(j, "env", o.env);
    get(j, "workdir", o.workdir);
    get(j, "user", o.user);
    get(j, "hostname", o.hostname);
    get(j, "labels", o.labels);
    get(j, "stop_signal", o.stop_signal);
    get_opt(j, "stop_timeout", o.stop_timeout);
    get(j, "detach", o.detach);
    get(j, "interactive", o.interactive);
    get(j, "tty", o.tty);
    get(j, "auto_remove", o.auto_remove);
    get(j, "init", o.init);
    get(j, "read_only", o.read_only);
    if (auto it = j.find("volumes"); it != j.end())
        for (auto& v : *it)
            o.volumes.push_back({v.value("host", ""), v.value("container", ""), v.value("read_only", false), v.value("volume", "")});
    get(j, "network", o.network);
    if (auto it = j.find("ports"); it != j.end())
        for (auto& p : *it)
            o.ports.push_back({p.value("host_ip", ""), p.value("host_port", std::uint16_t(0)),
                               p.value("container_port", std::uint16_t(0)), p.value("proto", "tcp"), p.value("random", false)});
    get(j, "publish_all", o.publish_all);
    get(j, "expose", o.expose);
    get_opt(j, "memory", o.memory);
    get_opt(j, "memory_swap", o.memory_swap);
    get_opt(j, "cpus", o.cpus);
    get_opt(j, "cpu_shares", o.cpu_shares);
    get(j, "cpuset_cpus", o.cpuset_cpus);
    get_opt(j, "pids_limit", o.pids_limit);
    get(j, "cap_add", o.cap_add);
    get(j, "cap_drop", o.cap_drop);
    get(j, "privileged", o.privileged);
    get(j, "security_opt", o.security_opt);
    get(j, "userns", o.userns);
    if (auto it = j.find("devices"); it != j.end())
        for (auto& d : *it) o.devices.push_back({d.value("host", ""), d.value("container", ""), d.value("perms", "rwm")});
    if (auto it = j.find("restart"); it != j.end()) {
        o.restart.name = it->value("name", "no");
        o.restart.max_retries = it->value("max_retries", 0);
    }
    return o;
}

json to_json(const Record& r) {
    return {
        {"Id", r.id},
        {"Name", "/" + r.name},
        {"Created", r.created},
        {"ImageRef", r.image_ref},
        {"Image", r.image_id},
        {"Options", to_json(r.opts)},
        {"Process",
         {{"args", r.process.args}, {"env", r.process.env}, {"cwd", r.process.cwd}, {"uid", r.process.uid},
          {"gid", r.process.gid}, {"additional_gids", r.process.additional_gids}, {"hostname", r.process.hostname}}},
        {"ImageConfig", r.image_config},
        {"StopSignal", r.stop_signal},
        {"Creator", r.creator},
        {"Complete", r.complete},
        {"LastState", r.last_state},
        {"ManuallyStopped", r.manually_stopped},
        {"RemovalInProgress", r.removal_in_progress},
    };
}

Record record_from_json(const json& j) {
    Record r;
    get(j, "Id", r.id);
    get(j, "Name", r.name);
    if (r.name.starts_with("/")) r.name = r.name.substr(1);
    get(j, "Created", r.created);
    get(j, "ImageRef", r.image_ref);
    get(j, "Image", r.image_id);
    if (auto it = j.find("Options"); it != j.end()) r.opts = options_from_json(*it);
    if (auto it = j.find("Process"); it != j.end()) {
        get(*it, "args", r.process.args);
        get(*it, "env", r.process.env);
        get(*it, "cwd", r.process.cwd);
        get(*it, "uid", r.process.uid);
        get(*it, "gid", r.process.gid);
        get(*it, "additional_gids", r.process.additional_gids);
        get(*it, "hostname", r.process.hostname);
    }
    if (auto it = j.find("ImageConfig"); it != j.end()) r.image_config = *it;
    get(j, "StopSignal", r.stop_signal);
    get(j, "Creator", r.creator);
    get(j, "Complete", r.complete);
    if (auto it = j.find("LastState"); it != j.end() && it->is_object()) r.last_state = *it;
    get(j, "ManuallyStopped", r.manually_stopped);
    get(j, "RemovalInProgress", r.removal_in_progress);
    return r;
}

Records::Records(std::string data_dir) : dir_(std::move(data_dir)) {}

std::vector<std::string> Records::ids() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir().c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.size() == 64 && n.find_first_not_of("0123456789abcdef") == std::string::npos) out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::optional<Record> Records::load(const std::string& id) const {
    std::string text = files::read(dir(id) + "/config.v2.json");
    if (text.empty()) return std::nullopt;
    try {
        return record_from_json(json::parse(text));
    } catch (const json::exception&) {
        return std::nullopt;  // torn only if written by something else: the writer renames whole files
    }
}

void Records::save(const Record& r) const {
    mkdirs(dir(r.id), 0700);
    std::string tmp = dir(r.id) + "/.config.v2.json.tmp";
    files::write(tmp, to_json(r).dump(1) + "\n");
    if (::rename(tmp.c_str(), (dir(r.id) + "/config.v2.json").c_str()) < 0) throw SysError("rename(\"" + tmp + "\")", errno);
}

std::string Records::by_name(const std::string& name) const {
    std::string n = name.starts_with("/") ? name.substr(1) : name;
    for (auto& id : ids()) {
        auto r = load(id);
        if (r && r->name == n) return id;
    }
    return {};
}

std::string Records::resolve(const std::string& ref) const {
    if (ref.empty()) throw NotFound("No such container: " + ref);
    auto all = ids();
    if (std::binary_search(all.begin(), all.end(), ref)) return ref;
    if (auto id = by_name(ref); !id.empty()) return id;
    if (ref.find_first_not_of("0123456789abcdef") == std::string::npos) {
        std::vector<std::string> hits;
        for (auto& id : all)
            if (id.starts_with(ref)) hits.push_back(id);
        if (hits.size() == 1) return hits.front();
        if (hits.size() > 1)
            throw BadRequest("multiple containers found with provided prefix: " + ref);
    }
    throw NotFound("No such container: " + ref);
}

std::string new_id() {
    unsigned char bytes[32];
    if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) throw SysError("getrandom(32)", errno);
    static const char* hex = "0123456789abcdef";
    std::string id;
    for (unsigned char b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 15];
    }
    // Docker never makes an id that is all digits (it would read as a number in some places).
    if (id.find_first_not_of("0123456789") == std::string::npos) id[0] = 'a';
    return id;
}

std::string random_name() {
    static const char* left[] = {"admiring", "brave", "busy", "clever", "dreamy", "eager", "focused", "gallant",
                                 "happy", "jolly", "keen", "loving", "modest", "nifty", "quirky", "relaxed",
                                 "serene", "sharp", "stoic", "tender", "upbeat", "vibrant", "wizardly", "zen"};
    static const char* right[] = {"albattani", "babbage", "curie", "darwin", "einstein", "feynman", "galileo",
                                  "hopper", "johnson", "kepler", "lamarr", "lovelace", "meitner", "noether",
                                  "pasteur", "ritchie", "shannon", "thompson", "torvalds", "turing", "wozniak"};
    unsigned char b[2];
    if (::getrandom(b, sizeof b, 0) != sizeof b) throw SysError("getrandom(2)", errno);
    return std::string(left[b[0] % std::size(left)]) + "_" + right[b[1] % std::size(right)];
}

FileLock::FileLock(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) mkdirs(path.substr(0, slash), 0700);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw SysError("open(\"" + path + "\", O_CREAT)", errno);
    while (::flock(fd_, LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd_);
        throw SysError("flock(\"" + path + "\", LOCK_EX)", e);
    }
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace docker
