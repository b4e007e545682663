// The container's cgroup: where linux.cgroupsPath puts it, the directories made down to it,
// linux.resources written to the files of each controller, the device rules, and the
// lifecycle operations (join, freeze, signal, stats, removal).
//
// The layout comes from step05 (cgroup::detect: unified, hybrid or legacy). On v2 the
// container has one directory; on v1 one per hierarchy (and on a hybrid host one more in the
// cgroup2 tree, with no controllers: it gives cgroup.kill and a single list of the processes,
// as runc keeps one there too). Nothing is written above the directories this code made,
// except the controllers a parent already offers, enabled in a parent we made.
#include "resources.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "devices.hpp"
#include "devices_bpf.hpp"
#include "error.hpp"
#include "files.hpp"
#include "limits.hpp"
#include "narrate.hpp"

namespace resources {
namespace {

using namespace std::chrono_literals;

struct Dir {
    std::string path;   // the container's directory
    std::string mount;  // the root of its hierarchy
    bool v2 = false;
    std::set<std::string> controllers;  // v1: this hierarchy's controllers
};

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, sep)) out.push_back(part);
    if (!text.empty() && text.back() == sep) out.push_back("");
    return out;
}

std::set<std::string> words(const std::string& path) {
    std::set<std::string> out;
    std::istringstream in(files::read(path));
    for (std::string w; in >> w;) out.insert(w);
    return out;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string parent_of(const std::string& path) { return path.substr(0, path.find_last_of('/')); }
std::string base_of(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice": systemd nests a slice in the slices its
// name's dashes spell. "-.slice" is the root slice.
std::string expand_slice(const std::string& slice) {
    if (slice == "-.slice") return "";
    const std::string suffix = ".slice";
    if (!slice.ends_with(suffix) || slice.size() == suffix.size() || slice.find('/') != std::string::npos)
        throw Error("cgroupsPath: \"" + slice + "\" is not a systemd slice name (NAME.slice)");
    std::string base = slice.substr(0, slice.size() - suffix.size());
    if (base.front() == '-' || base.back() == '-' || base.find("--") != std::string::npos)
        throw Error("cgroupsPath: slice \"" + slice + "\": a dash at either end or twice in a row is not allowed");
    std::string path, prefix;
    for (auto& part : split(base, '-')) {
        prefix = prefix.empty() ? part : prefix + "-" + part;
        path += "/" + prefix + suffix;
    }
    return path;
}

void check_name(const std::string& c, const std::string& what) {
    if (c.empty() || c == "." || c == ".." || c.find('/') != std::string::npos)
        throw Error(fmt::format("cgroupsPath: \"{}\" is not a usable name for {}", c, what));
}

// Narrated write of one value into one cgroup file; SysError with a hint where the cause is common.
void write_file(const std::string& dir, const std::string& file, const std::string& value, const std::string& why) {
    std::string path = dir + "/" + file;
    narrate::Op op{"cgroup", "write " + file + " " + value, why, "cat " + path};
    try {
        narrate::sys(op, [&] { return files::write_once(path, value, O_WRONLY | O_TRUNC); });
    } catch (Error& e) {
        e.context(dir);
        if (e.err() == ENOENT) e.with_hint("the controller of " + file + " is not enabled for this cgroup, or the kernel lacks it");
        if (e.err() == EACCES || e.err() == EPERM) e.with_hint("run as root (sudo)");
        if (e.err() == EROFS) e.with_hint("/sys/fs/cgroup is mounted read-only here (inside a container?)");
        if (e.err() == EBUSY && file.starts_with("memory.")) e.with_hint("the cgroup already uses more memory than that");
        if (e.err() == EINVAL && file.starts_with("cpuset.")) e.with_hint("those CPUs or memory nodes are not in the parent's cpuset");
        if (e.err() == EINVAL && file.starts_with("devices.")) e.with_hint("a v1 device cgroup cannot allow more than its parent");
        throw;
    }
}

std::vector<pid_t> procs(const std::string& dir) {
    std::vector<pid_t> out;
    std::istringstream in(files::read(dir + "/cgroup.procs"));
    for (long p; in >> p;) out.push_back(static_cast<pid_t>(p));
    return out;
}

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

// A v1 rule line: "c 1:3 rwm", '*' for any number.
std::vector<std::string> v1_lines(const spec::DeviceRule& r) {
    std::string access = r.access.empty() ? "rwm" : r.access;
    auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
    if (r.type == 'a') {
        if (r.major < 0 && r.minor < 0) return {"a"};  // the kernel's whole-list switch
        return {fmt::format("c {}:{} {}", num(r.major), num(r.minor), access),
                fmt::format("b {}:{} {}", num(r.major), num(r.minor), access)};
    }
    return {fmt::format("{} {}:{} {}", r.type == 'u' ? 'c' : r.type, num(r.major), num(r.minor), access)};
}

bool is_number_list(const std::string& text) {
    try {
        (void)cgroup::parse_cpu_list(text);
        return true;
    } catch (...) {
        return false;
    }
}

}  // namespace

std::string relative_path(const std::string& cgroups_path, const std::string& id, bool systemd) {
    if (systemd) {
        // runc's systemd form: "slice:prefix:name" -> <slice>/<prefix>-<name>.scope.
        auto parts = split(cgroups_path, ':');
        if (cgroups_path.empty()) parts = {"", "minibox", id};
        if (parts.size() != 3)
            throw Error("cgroupsPath \"" + cgroups_path + "\": with --systemd-cgroup it is slice:prefix:name");
        std::string slice = parts[0].empty() ? "system.slice" : parts[0];
        const std::string& prefix = parts[1];
        const std::string& name = parts[2];
        check_name(name, "a unit");
        if (!prefix.empty()) check_name(prefix, "a unit prefix");
        std::string unit = name.ends_with(".slice") ? name : (prefix.empty() ? name : prefix + "-" + name) + ".scope";
        std::string path = expand_slice(slice);
        if (name.ends_with(".slice")) path = expand_slice(name);  // a slice of its own
        else path += "/" + unit;
        return path;
    }
    if (cgroups_path.empty()) {
        check_name(id, "a container id");
        return std::string("/") + cgroup::kParent + "/" + id;
    }
    std::string path;
    for (auto& c : split(cgroups_path, '/')) {
        if (c.empty() || c == ".") continue;
        if (c == "..") throw Error("cgroupsPath \"" + cgroups_path + "\": \"..\" is not allowed");
        path += "/" + c;
    }
    if (path.empty()) throw Error("cgroupsPath \"" + cgroups_path + "\": that is the root of the hierarchy, not a cgroup of its own");
    if (cgroups_path.front() != '/') path = std::string("/") + cgroup::kParent + path;
    return path;
}

struct Container::Impl {
    cgroup::Host host;
    Fake fake;
    std::vector<Dir> dirs;
    std::vector<std::string> made;  // directories this object created, in order
    bool from_state = false;
    bool created = false;
    std::optional<spec::Resources> res;
    bool self_enter = false;  // open_entries(): the v1 directories are entered by the child
    unique_fd v2_entry;       // open_entries(): the v2 directory, for clone3's CLONE_INTO_CGROUP

    bool v2() const { return host.uses_v2(); }

    const Dir* of(const std::string& controller) const {
        for (auto& d : dirs) {
            if (v2() && d.v2) return &d;
            if (!d.v2 && d.controllers.count(controller)) return &d;
        }
        return nullptr;
    }
    const Dir* unified() const {
        for (auto& d : dirs)
            if (d.v2) return &d;
        return nullptr;
    }
    bool has(const std::string& controller) const {
        return v2() ? host.controllers.count(controller) > 0 : of(controller) != nullptr;
    }
    // The directory whose cgroup.procs lists every process (v1: any hierarchy holds them all).
    const Dir* procs_dir() const {
        if (v2()) return unified();
        for (const char* c : {"pids", "memory", "freezer", "devices"})
            if (auto d = of(c)) return d;
        return dirs.empty() ? nullptr : &dirs.front();
    }
    const Dir* freezer() const {
        if (!v2())
            if (auto d = of("freezer")) return d;
        return unified();  // v2, or hybrid without a v1 freezer: cgroup.freeze needs no controller
    }

    void mkdir_narrated(const std::string& path, const std::string& why) {
        narrate::sys({"cgroup", "mkdir(\"" + path + "\")", why, "ls " + path}, [&] { return ::mkdir(path.c_str(), 0755); });
        made.push_back(path);
        if (fake.on_mkdir) fake.on_mkdir(path);
    }

    void put(const std::string& controller, const std::string& file, const std::string& value, const std::string& why) {
        const Dir* d = of(controller);
        if (!d) throw Error("no " + controller + " controller for " + file);
        write_file(d->path, file, value, why);
    }
    bool has_file(const std::string& controller, const std::string& file) const {
        const Dir* d = of(controller);
        return d && exists(d->path + "/" + file);
    }

    std::set<std::string> required(const spec::Resources& r) const;
    void validate(const spec::Resources& r) const;
    void make_dirs();
    void enable_controllers();
    void apply(const spec::Resources& r);
    void apply_v1(const spec::Resources& r);
    void apply_v2(const spec::Resources& r);
    void apply_devices(const std::vector<spec::DeviceRule>& rules);
    void kill_all();
    void remove(const std::string& dir);
};

// ---- planning -------------------------------------------------------------------------------

std::set<std::string> Container::Impl::required(const spec::Resources& r) const {
    std::set<std::string> need;
    if (r.memory_limit || r.memory_reservation || r.memory_swap || r.memory_swappiness || r.disable_oom_killer)
        need.insert("memory");
    if ((r.cpu_shares && *r.cpu_shares) || (r.cpu_quota && *r.cpu_quota) || (r.cpu_period && *r.cpu_period)) need.insert("cpu");
    if (!r.cpuset_cpus.empty() || !r.cpuset_mems.empty()) need.insert("cpuset");
    if (r.pids_limit) need.insert("pids");
    if ((r.blkio_weight && *r.blkio_weight) || !r.blkio_read_bps.empty() || !r.blkio_write_bps.empty() ||
        !r.blkio_read_iops.empty() || !r.blkio_write_iops.empty())
        need.insert(v2() ? "io" : "blkio");
    if (!r.hugepage_limits.empty()) need.insert("hugetlb");
    for (auto& [key, value] : r.unified) {
        std::string c = key.substr(0, key.find('.'));
        if (c != "cgroup") need.insert(c);
    }
    return need;
}

void Container::Impl::validate(const spec::Resources& r) const {
    const std::string at = "linux.resources.";
    if (r.memory_limit && (*r.memory_limit == 0 || *r.memory_limit < -1))
        throw Error(at + "memory.limit: " + std::to_string(*r.memory_limit) + " (bytes, or -1 for none)");
    if (r.memory_reservation && *r.memory_reservation < -1) throw Error(at + "memory.reservation: below -1");
    if (r.memory_swap && *r.memory_swap != -1) {
        if (*r.memory_swap < 0) throw Error(at + "memory.swap: below -1");
        if (!r.memory_limit || *r.memory_limit < 0)
            throw Error(at + "memory.swap: needs memory.limit (swap is memory + swap together)");
        if (*r.memory_swap < *r.memory_limit)
            throw Error(fmt::format("{}memory.swap {} is less than memory.limit {} (it counts memory + swap)", at,
                                    *r.memory_swap, *r.memory_limit));
    }
    if (r.memory_swappiness && (*r.memory_swappiness < 0 || *r.memory_swappiness > 100))
        throw Error(at + "memory.swappiness: 0 to 100");
    if (r.cpu_shares && *r.cpu_shares && (*r.cpu_shares < cgroup::kMinShares || *r.cpu_shares > cgroup::kMaxShares))
        throw Error(fmt::format("{}cpu.shares: {} to {}", at, cgroup::kMinShares, cgroup::kMaxShares));
    if (r.cpu_quota && *r.cpu_quota && *r.cpu_quota != -1 && *r.cpu_quota < static_cast<int64_t>(cgroup::kMinCpuQuotaUs))
        throw Error(fmt::format("{}cpu.quota: at least {} us (the kernel's floor), or -1 for none", at, cgroup::kMinCpuQuotaUs));
    if (r.cpu_period && *r.cpu_period && (*r.cpu_period < 1000 || *r.cpu_period > 1000000))
        throw Error(at + "cpu.period: 1000 to 1000000 us");
    if (!r.cpuset_cpus.empty() && !is_number_list(r.cpuset_cpus)) throw Error(at + "cpu.cpus: \"" + r.cpuset_cpus + "\" is not a CPU list");
    if (!r.cpuset_mems.empty() && !is_number_list(r.cpuset_mems)) throw Error(at + "cpu.mems: \"" + r.cpuset_mems + "\" is not a node list");
    if (r.blkio_weight && *r.blkio_weight && (*r.blkio_weight < 10 || *r.blkio_weight > 1000))
        throw Error(at + "blockIO.weight: 10 to 1000");
    for (auto* list : {&r.blkio_read_bps, &r.blkio_write_bps, &r.blkio_read_iops, &r.blkio_write_iops})
        for (auto& t : *list)
            if (t.major < 0 || t.minor < 0) throw Error(at + "blockIO throttle: a negative device number");
    for (auto& [size, limit] : r.hugepage_limits) {
        size_t digits = size.find_first_not_of("0123456789");
        if (digits == 0 || digits == std::string::npos || (size.substr(digits) != "KB" && size.substr(digits) != "MB" && size.substr(digits) != "GB"))
            throw Error(at + "hugepageLimits: page size \"" + size + "\" (as the kernel names it: 2MB, 1GB)");
    }
    for (auto& [key, value] : r.unified) {
        if (!v2()) throw Error(at + "unified: cgroup v2 files, and this host's controllers are cgroup v1").with_hint("remove linux.resources.unified");
        if (key.empty() || key.find('/') != std::string::npos || key.front() == '.' || key.find('.') == std::string::npos)
            throw Error(at + "unified: \"" + key + "\" is not a cgroup file name");
    }
    for (auto& rule : r.devices)
        if (rule.type != 'a' && rule.type != 'c' && rule.type != 'b' && rule.type != 'u')
            throw Error(std::string(at) + "devices: type '" + rule.type + "' (a, c or b)");
    for (auto& c : required(r)) {
        if (has(c)) continue;
        Error e(fmt::format("linux.resources: the {} controller is not available on this host", c));
        if (v2()) e.with_hint("it is not in " + host.v2 + "/cgroup.subtree_control");
        else e.with_hint("no cgroup v1 hierarchy of it is mounted (grep cgroup /proc/self/mountinfo)");
        throw e;
    }
    if (!v2() && !r.devices.empty() && !of("devices"))
        throw Error(at + "devices: the host has no v1 devices controller mounted");
}

// ---- creation -------------------------------------------------------------------------------

void Container::Impl::make_dirs() {
    for (auto& d : dirs) {
        std::string path = d.mount;
        std::string rel = d.path.substr(d.mount.size());
        auto parts = split(rel.substr(1), '/');
        for (size_t i = 0; i < parts.size(); ++i) {
            std::string parent = path;
            path += "/" + parts[i];
            bool leaf = i + 1 == parts.size();
            if (exists(path)) {
                if (leaf && !procs(path).empty())
                    throw Error("cgroup " + path + " exists and has processes in it").with_hint("another container uses this cgroupsPath");
                if (leaf) narrate::note("cgroup", path + " exists already: used as it is (and removed with the container)");
            } else {
                mkdir_narrated(path, leaf ? "the container's own cgroup in this hierarchy" : "a parent on the way down to it");
            }
            // A new v1 cpuset starts with no CPUs and no memory nodes: no process may join until
            // both are set, at every level. Copy the parent's where empty.
            if (!d.v2 && d.controllers.count("cpuset")) {
                for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
                    if (!exists(path + "/" + f) || !trimmed(files::read(path + "/" + f)).empty()) continue;
                    write_file(path, f, trimmed(files::read(parent + "/" + f)), "a new v1 cpuset starts empty: copy the parent's");
                }
            }
        }
    }
}

void Container::Impl::enable_controllers() {
    const Dir* d = unified();
    if (!d || !v2()) return;
    std::set<std::string> need = res ? required(*res) : std::set<std::string>{};
    // Besides what the limits need, what stats() reads, where the parents offer it.
    std::set<std::string> want = need;
    for (const char* c : {"memory", "pids", "cpu"})
        if (host.controllers.count(c)) want.insert(c);
    std::vector<std::string> ancestors;
    for (std::string p = parent_of(d->path); p.size() >= d->mount.size(); p = parent_of(p)) {
        ancestors.insert(ancestors.begin(), p);
        if (p == d->mount) break;
    }
    for (auto& a : ancestors) {
        bool ours = std::find(made.begin(), made.end(), a) != made.end() || base_of(a) == cgroup::kParent;
        auto offered = words(a + "/cgroup.controllers");
        auto enabled = words(a + "/cgroup.subtree_control");
        std::string add;
        for (auto& c : std::set<std::string>(want)) {
            if (enabled.count(c)) continue;
            if (ours && offered.count(c)) {
                add += (add.empty() ? "+" : " +") + c;
                continue;
            }
            if (need.count(c)) {
                throw Error(fmt::format("the {} controller is not delegated to the children of {}", c, a))
                    .with_hint(ours ? fmt::format("its parent must enable it: echo +{} > {}/cgroup.subtree_control", c, parent_of(a))
                                    : fmt::format("not ours to change: echo +{} > {}/cgroup.subtree_control", c, a));
            }
            want.erase(c);  // optional: no counters of it, then
        }
        if (!add.empty()) write_file(a, "cgroup.subtree_control", add, "the children of " + a + " get these controllers' files");
    }
}

void Container::Impl::apply(const spec::Resources& r) {
    if (v2()) apply_v2(r);
    else apply_v1(r);
}

void Container::Impl::apply_v2(const spec::Resources& r) {
    if (r.memory_limit)
        put("memory", "memory.max", *r.memory_limit < 0 ? "max" : std::to_string(*r.memory_limit),
            "above this the kernel reclaims, then OOM-kills");
    if (r.memory_reservation)
        put("memory", "memory.low", std::to_string(std::max<int64_t>(*r.memory_reservation, 0)),
            "memory the kernel reclaims from this cgroup only when nothing else is left");
    if (r.memory_swap) {
        // OCI's swap is memory + swap (docker's --memory-swap); v2 limits swap alone.
        std::string v = *r.memory_swap < 0 ? "max" : std::to_string(*r.memory_swap - *r.memory_limit);
        if (has_file("memory", "memory.swap.max")) put("memory", "memory.swap.max", v, "swap, apart from memory in v2");
        else narrate::note("cgroup", "no memory.swap.max (no swap accounting): memory.swap not applied");
    }
    if (r.memory_swappiness) narrate::note("cgroup", "memory.swappiness has no cgroup v2 file: ignored");
    if (r.disable_oom_killer) narrate::note("cgroup", "memory.disableOOMKiller has no cgroup v2 file: ignored");
    if (r.cpu_shares && *r.cpu_shares)
        put("cpu", "cpu.weight", std::to_string(cgroup::shares_to_weight(*r.cpu_shares)),
            "a share of the CPU under contention (shares 1024 = weight 39, runc's mapping)");
    bool quota = r.cpu_quota && *r.cpu_quota, period = r.cpu_period && *r.cpu_period;
    if (quota || period) {
        std::string v = quota && *r.cpu_quota > 0 ? std::to_string(*r.cpu_quota) : "max";
        if (period) v += " " + std::to_string(*r.cpu_period);
        put("cpu", "cpu.max", v, "at most QUOTA us of CPU time per PERIOD us, then throttled");
    }
    if (!r.cpuset_cpus.empty()) put("cpuset", "cpuset.cpus", r.cpuset_cpus, "the container runs on these CPUs only");
    if (!r.cpuset_mems.empty()) put("cpuset", "cpuset.mems", r.cpuset_mems, "and allocates memory on these NUMA nodes only");
    if (r.pids_limit)
        put("pids", "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max",
            "fork() and clone() fail with EAGAIN beyond this many tasks");
    if (r.blkio_weight && *r.blkio_weight) {
        // runc's mapping of blkio 10..1000 onto io 1..10000.
        uint64_t w = 1 + (static_cast<uint64_t>(*r.blkio_weight) - 10) * 9999 / 990;
        const char* file = has_file("io", "io.weight") ? "io.weight" : "io.bfq.weight";
        put("io", file, "default " + std::to_string(w), "a share of the disks' time under contention");
    }
    auto throttle = [&](const std::vector<spec::Resources::Throttle>& list, const char* key) {
        for (auto& t : list)
            put("io", "io.max", fmt::format("{}:{} {}={}", t.major, t.minor, key, t.rate), "a ceiling for one block device");
    };
    throttle(r.blkio_read_bps, "rbps");
    throttle(r.blkio_write_bps, "wbps");
    throttle(r.blkio_read_iops, "riops");
    throttle(r.blkio_write_iops, "wiops");
    for (auto& [size, limit] : r.hugepage_limits)
        put("hugetlb", "hugetlb." + size + ".max", std::to_string(limit), "huge pages of this size, in bytes");
    for (auto& [key, value] : r.unified) write_file(unified()->path, key, value, "linux.resources.unified, as given");
}

void Container::Impl::apply_v1(const spec::Resources& r) {
    if (r.memory_limit) {
        std::string limit = std::to_string(*r.memory_limit);
        bool memsw = r.memory_swap && has_file("memory", "memory.memsw.limit_in_bytes");
        // memsw may never be below the limit: when the limit grows past the current memsw,
        // memsw has to grow first.
        auto current = cgroup::read_number(of("memory")->path + "/memory.memsw.limit_in_bytes");
        bool swap_first = memsw && (*r.memory_limit < 0 || (current && static_cast<uint64_t>(*r.memory_limit) > *current));
        auto write_swap = [&] {
            put("memory", "memory.memsw.limit_in_bytes", std::to_string(*r.memory_swap), "memory + swap together");
        };
        if (swap_first) write_swap();
        put("memory", "memory.limit_in_bytes", limit, "above this the kernel reclaims, then OOM-kills");
        if (memsw && !swap_first) write_swap();
    } else if (r.memory_swap && has_file("memory", "memory.memsw.limit_in_bytes")) {
        put("memory", "memory.memsw.limit_in_bytes", std::to_string(*r.memory_swap), "memory + swap together");
    }
    if (r.memory_swap && !has_file("memory", "memory.memsw.limit_in_bytes"))
        narrate::note("cgroup", "no memory.memsw.limit_in_bytes (no swap accounting): memory.swap not applied");
    if (r.memory_reservation)
        put("memory", "memory.soft_limit_in_bytes", std::to_string(*r.memory_reservation),
            "under memory pressure the kernel pushes the cgroup back to this");
    if (r.memory_swappiness)
        put("memory", "memory.swappiness", std::to_string(*r.memory_swappiness), "how eagerly its pages go to swap");
    if (r.disable_oom_killer)
        put("memory", "memory.oom_control", "1", "at the limit the processes wait instead of being OOM-killed");
    if (r.cpu_shares && *r.cpu_shares)
        put("cpu", "cpu.shares", std::to_string(*r.cpu_shares), "a share of the CPU under contention");
    if (r.cpu_period && *r.cpu_period)
        put("cpu", "cpu.cfs_period_us", std::to_string(*r.cpu_period), "the accounting period of the quota");
    if (r.cpu_quota && *r.cpu_quota)
        put("cpu", "cpu.cfs_quota_us", std::to_string(*r.cpu_quota), "CPU time allowed per period, then throttled");
    if (!r.cpuset_cpus.empty()) put("cpuset", "cpuset.cpus", r.cpuset_cpus, "the container runs on these CPUs only");
    if (!r.cpuset_mems.empty()) put("cpuset", "cpuset.mems", r.cpuset_mems, "and allocates memory on these NUMA nodes only");
    if (r.pids_limit)
        put("pids", "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max",
            "fork() and clone() fail with EAGAIN beyond this many tasks");
    if (r.blkio_weight && *r.blkio_weight) {
        const char* file = has_file("blkio", "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
        put("blkio", file, std::to_string(*r.blkio_weight), "a share of the disks' time under contention");
    }
    auto throttle = [&](const std::vector<spec::Resources::Throttle>& list, const char* file) {
        for (auto& t : list)
            put("blkio", file, fmt::format("{}:{} {}", t.major, t.minor, t.rate), "a ceiling for one block device");
    };
    throttle(r.blkio_read_bps, "blkio.throttle.read_bps_device");
    throttle(r.blkio_write_bps, "blkio.throttle.write_bps_device");
    throttle(r.blkio_read_iops, "blkio.throttle.read_iops_device");
    throttle(r.blkio_write_iops, "blkio.throttle.write_iops_device");
    for (auto& [size, limit] : r.hugepage_limits)
        put("hugetlb", "hugetlb." + size + ".limit_in_bytes", std::to_string(limit), "huge pages of this size, in bytes");
}

void Container::Impl::apply_devices(const std::vector<spec::DeviceRule>& rules) {
    if (v2()) {
        auto prog = devices_bpf::assemble(rules);
        narrate::note("devices", fmt::format("{} device rules -> a BPF program of {} instructions (last rule first)",
                                             rules.size(), prog.size()));
        (fake.attach ? fake.attach : devices_bpf::attach)(unified()->path, prog);
        return;
    }
    const Dir* d = of("devices");
    if (!d) {
        narrate::note("cgroup", "no v1 devices hierarchy: device access is not restricted by the cgroup");
        return;
    }
    write_file(d->path, "devices.deny", "a", "start from an empty list: no device may be opened or made");
    for (size_t i = 0; i < rules.size(); ++i) {
        if (i == 0 && !rules[0].allow && v1_lines(rules[0]) == std::vector<std::string>{"a"}) continue;  // just done
        for (auto& line : v1_lines(rules[i]))
            write_file(d->path, rules[i].allow ? "devices.allow" : "devices.deny", line,
                       rules[i].allow ? "this access is allowed" : "this access is refused");
    }
}

// ---- removal --------------------------------------------------------------------------------

void Container::Impl::kill_all() {
    for (auto& d : dirs) {
        if (!d.v2 || !exists(d.path + "/cgroup.kill")) continue;
        if (procs(d.path).empty()) continue;
        write_file(d.path, "cgroup.kill", "1", "every process left is killed, atomically against forks");
    }
    const Dir* p = procs_dir();
    if (!p) return;
    // Without cgroup.kill (v1, Linux < 5.14): by pid, again while a fork bomb still forks.
    for (int pass = 0; pass < 100; ++pass) {
        auto left = procs(p->path);
        if (left.empty()) return;
        if (pass == 0) narrate::note("cgroup", fmt::format("kill(PID, SIGKILL) for the {} processes left in {}", left.size(), p->path));
        for (pid_t pid : left)
            if (pid > 0) ::kill(pid, SIGKILL);
        std::this_thread::sleep_for(10ms);
    }
}

void Container::Impl::remove(const std::string& dir) {
    narrate::Op op{"cgroup", "rmdir(\"" + dir + "\")", "the container's cgroup goes with the container", "ls -d " + dir};
    narrate::before(op);
    for (int attempt = 0;; ++attempt) {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) {
            narrate::after(op, "0");
            return;
        }
        int err = errno;
        if (err != EBUSY || attempt >= 300) {
            narrate::after(op, "-1");
            Error e = SysError(op.call, err);
            if (err == EBUSY) e.with_hint("processes are still in it: cat " + dir + "/cgroup.procs");
            throw e;
        }
        if (attempt % 10 == 9) kill_all();  // EBUSY: something is (still) in it
        std::this_thread::sleep_for(10ms);
    }
}

// ---- the interface --------------------------------------------------------------------------

Container::Container() : impl_(std::make_unique<Impl>()) {}
Container::Container(Container&&) noexcept = default;
Container& Container::operator=(Container&&) noexcept = default;
Container::~Container() = default;

Container Container::plan(const std::string& cgroups_path, const std::string& id, bool systemd,
                          const std::optional<spec::Resources>& res) {
    Fake real;
    real.host = cgroup::detect();
    return plan(real, cgroups_path, id, systemd, res);
}

Container Container::plan(const Fake& fake, const std::string& cgroups_path, const std::string& id, bool systemd,
                          const std::optional<spec::Resources>& res) {
    Container c;
    Impl& m = *c.impl_;
    m.fake = fake;
    m.host = fake.host;
    if (m.host.layout == cgroup::Layout::none)
        throw Error("no cgroup file system at /sys/fs/cgroup").with_hint("mount -t cgroup2 none /sys/fs/cgroup");
    std::string rel = relative_path(cgroups_path, id, systemd);
    if (m.v2()) {
        m.dirs.push_back({m.host.v2 + rel, m.host.v2, true, {}});
    } else {
        std::map<std::string, std::set<std::string>> by_mount;
        for (auto& [controller, mount] : m.host.v1) by_mount[mount].insert(controller);
        for (auto& [mount, controllers] : by_mount) m.dirs.push_back({mount + rel, mount, false, controllers});
        if (!m.host.v2.empty()) m.dirs.push_back({m.host.v2 + rel, m.host.v2, true, {}});
    }
    if (res) m.validate(*res);
    m.res = res;
    return c;
}

Container Container::from_dirs(std::vector<std::string> dirs) {
    Fake real;
    real.host = cgroup::detect();
    return from_dirs(real, std::move(dirs));
}

Container Container::from_dirs(const Fake& fake, std::vector<std::string> dirs) {
    Container c;
    Impl& m = *c.impl_;
    m.fake = fake;
    m.host = fake.host;
    m.from_state = true;
    m.created = true;
    std::map<std::string, std::set<std::string>> mounts;
    for (auto& [controller, mount] : m.host.v1) mounts[mount].insert(controller);
    if (!m.host.v2.empty()) mounts[m.host.v2];
    for (auto& path : dirs) {
        std::string best;
        for (auto& [mount, controllers] : mounts)
            if (path.starts_with(mount + "/") && mount.size() > best.size()) best = mount;
        if (best.empty()) throw Error("cgroup directory " + path + " is in no cgroup hierarchy of this host");
        m.dirs.push_back({path, best, best == m.host.v2, mounts[best]});
    }
    return c;
}

std::vector<std::string> Container::dirs() const {
    std::vector<std::string> out;
    for (auto& d : impl_->dirs) out.push_back(d.path);
    return out;
}

const cgroup::Host& Container::host() const { return impl_->host; }

void Container::create() {
    Impl& m = *impl_;
    if (m.created) throw Error("the container's cgroup exists already");
    try {
        m.make_dirs();
        m.created = true;
        m.enable_controllers();
        if (m.res) m.apply(*m.res);
        m.apply_devices(devices::effective_rules(m.res ? m.res->devices : std::vector<spec::DeviceRule>{}));
    } catch (...) {
        // Undo only what this call made (no process has joined yet): an existing directory
        // that stopped us, say one with another container's processes, is left alone.
        for (auto it = m.made.rbegin(); it != m.made.rend(); ++it)
            if (::rmdir(it->c_str()) != 0 && errno != ENOENT)
                narrate::warn("cleaning up after a failed cgroup setup: rmdir(\"" + *it + "\"): " + std::strerror(errno));
        m.made.clear();
        m.created = false;
        throw;
    }
}

void Container::add_pid(pid_t pid) {
    for (auto& d : impl_->dirs)
        write_file(d.path, "cgroup.procs", std::to_string(pid),
                   d.v2 && !impl_->v2() ? "the process joins the cgroup2 tree too (no controllers: one list, cgroup.kill)"
                                        : "the process (and what it forks from now on) joins");
}

void Container::open_entries(bool v1_self) {
    Impl& m = *impl_;
    m.self_enter = v1_self;
    for (auto& d : m.dirs) {
        if (!d.v2) continue;
        m.v2_entry.reset(static_cast<int>(narrate::sys(
            {"cgroup", "open(\"" + d.path + "\", O_PATH|O_DIRECTORY)",
             "clone3 makes the container's process in this directory (CLONE_INTO_CGROUP): nothing to move later", ""},
            [&] { return ::open(d.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC); })));
    }
}

int Container::entry_dir() const { return impl_->v2_entry.get(); }

void Container::add_pid_rest(pid_t pid, bool born_in_v2) {
    const Impl& m = *impl_;
    for (auto& d : m.dirs) {
        if (d.v2 ? born_in_v2 : m.self_enter) continue;
        write_file(d.path, "cgroup.procs", std::to_string(pid),
                   d.v2 && !m.v2() ? "the process joins the cgroup2 tree too (no controllers: one list, cgroup.kill)"
                                   : "the process (and what it forks from now on) joins");
    }
}

void Container::enter_self() {
    Impl& m = *impl_;
    m.v2_entry.reset();  // our copy of the parent's: clone3 has used it
    if (!m.self_enter) return;
    for (auto& d : m.dirs) {
        if (d.v2) continue;
        // 0 is "the writer itself", and `tasks` moves one thread: this process has only one.
        write_file(d.path, "tasks", "0", "the init moves itself: a thread moving itself takes no global lock (no RCU grace period)");
    }
}

void Container::close_entries() { impl_->v2_entry.reset(); }

void Container::update(const spec::Resources& res) {
    impl_->validate(res);
    impl_->apply(res);
    if (!res.devices.empty()) impl_->apply_devices(devices::effective_rules(res.devices));
}

void Container::freeze() {
    const Dir* d = impl_->freezer();
    if (!d) throw Error("no freezer: neither a v1 freezer hierarchy nor cgroup v2");
    bool v1 = !d->v2;
    const char* file = v1 ? "freezer.state" : "cgroup.freeze";
    const char* value = v1 ? "FROZEN" : "1";
    write_file(d->path, file, value, "every process in the cgroup stops where it is, until thawed");
    // The kernel freezes asynchronously (FREEZING, or cgroup.events "frozen 0" for a while).
    for (int i = 0; i < 1000; ++i) {
        if (frozen()) return;
        if (v1 && i % 50 == 49) (void)files::write_once(d->path + "/" + file, value, O_WRONLY);  // retry stragglers
        std::this_thread::sleep_for(5ms);
    }
    (void)files::write_once(d->path + "/" + file, v1 ? "THAWED" : "0", O_WRONLY);
    throw Error("freeze: " + d->path + " did not report frozen within 5 s (thawed again)");
}

void Container::thaw() {
    const Dir* d = impl_->freezer();
    if (!d) throw Error("no freezer: neither a v1 freezer hierarchy nor cgroup v2");
    write_file(d->path, d->v2 ? "cgroup.freeze" : "freezer.state", d->v2 ? "0" : "THAWED", "the processes run on");
    for (int i = 0; i < 1000; ++i) {
        if (!frozen()) return;
        std::this_thread::sleep_for(5ms);
    }
    throw Error("thaw: " + d->path + " still reports frozen after 5 s");
}

bool Container::frozen() const {
    const Dir* d = impl_->freezer();
    if (!d) return false;
    if (!d->v2) return trimmed(files::read(d->path + "/freezer.state")) == "FROZEN";
    return cgroup::read_key(d->path + "/cgroup.events", "frozen").value_or(0) == 1;
}

std::vector<pid_t> Container::pids() const {
    const Dir* d = impl_->procs_dir();
    return d ? procs(d->path) : std::vector<pid_t>{};
}

void Container::signal_all(int sig) const {
    auto list = pids();
    narrate::note("cgroup", fmt::format("kill(PID, {}) for each of the {} processes in the cgroup", signal_name(sig), list.size()));
    for (pid_t p : list) {
        if (p > 0 && ::kill(p, sig) < 0 && errno != ESRCH)
            throw SysError(fmt::format("kill({}, {})", p, signal_name(sig)), errno);
    }
}

void Container::destroy() {
    Impl& m = *impl_;
    if (!m.created) return;
    std::optional<Error> first;
    try {
        // A frozen v1 process does not even die of SIGKILL until it is thawed.
        if (frozen()) thaw();
    } catch (const Error& e) {
        first = e;
    }
    m.kill_all();
    for (auto it = m.dirs.rbegin(); it != m.dirs.rend(); ++it) {
        if (it->path.size() <= it->mount.size() + 1) continue;  // never a hierarchy's root
        try {
            m.remove(it->path);
        } catch (const Error& e) {
            if (!first) first = e;
        }
    }
    auto is_leaf = [&](const std::string& p) {
        return std::any_of(m.dirs.begin(), m.dirs.end(), [&](const Dir& d) { return d.path == p; });
    };
    // The parents we made, deepest first, while empty (another container may live there).
    for (auto it = m.made.rbegin(); it != m.made.rend(); ++it) {
        if (is_leaf(*it)) continue;
        if (::rmdir(it->c_str()) == 0) narrate::note("cgroup", "rmdir(\"" + *it + "\") = 0  - a parent made for this container, now empty");
    }
    // Reopened from state: the made list is unknown. Everything below <hierarchy>/minibox/ is
    // the project's own (an engine's relative cgroup parent, e.g. minibox/minibox-docker), so
    // those parents go when they are left empty, minibox/ itself last.
    if (m.from_state) {
        for (auto& d : m.dirs) {
            std::string top = d.mount + "/" + cgroup::kParent;
            if (d.path.rfind(top + "/", 0) != 0) continue;
            for (std::string p = parent_of(d.path); p.size() >= top.size(); p = parent_of(p)) {
                if (::rmdir(p.c_str()) != 0) break;
                narrate::note("cgroup", "rmdir(\"" + p + "\") = 0  - empty now that the container is gone");
            }
        }
    }
    if (first) throw *first;
    m.made.clear();
    m.created = false;
}

nlohmann::json Container::stats() const {
    using cgroup::read_key;
    using cgroup::read_number;
    const Impl& m = *impl_;
    nlohmann::json out = nlohmann::json::object();
    auto set = [](nlohmann::json& j, const char* key, std::optional<uint64_t> v, uint64_t scale = 1) {
        if (v) j[key] = *v * scale;
    };
    if (m.v2()) {
        std::string d = m.unified()->path;
        nlohmann::json usage = nlohmann::json::object(), mem = nlohmann::json::object(), pids = nlohmann::json::object();
        set(usage, "total", read_key(d + "/cpu.stat", "usage_usec"), 1000);
        set(usage, "user", read_key(d + "/cpu.stat", "user_usec"), 1000);
        set(usage, "kernel", read_key(d + "/cpu.stat", "system_usec"), 1000);
        set(mem, "usage", read_number(d + "/memory.current"));
        set(mem, "max", read_number(d + "/memory.peak"));
        set(mem, "limit", read_number(d + "/memory.max"));  // "max": left out
        set(pids, "current", read_number(d + "/pids.current"));
        set(pids, "limit", read_number(d + "/pids.max"));
        if (!usage.empty()) out["cpu"]["usage"] = usage;
        if (!mem.empty()) out["memory"]["usage"] = mem;
        if (!pids.empty()) out["pids"] = pids;
        return out;
    }
    if (auto d = m.of("cpuacct")) {
        nlohmann::json usage = nlohmann::json::object();
        set(usage, "total", read_number(d->path + "/cpuacct.usage"));
        set(usage, "user", read_number(d->path + "/cpuacct.usage_user"));
        set(usage, "kernel", read_number(d->path + "/cpuacct.usage_sys"));
        if (!usage.empty()) out["cpu"]["usage"] = usage;
    }
    if (auto d = m.of("memory")) {
        nlohmann::json mem = nlohmann::json::object();
        set(mem, "usage", read_number(d->path + "/memory.usage_in_bytes"));
        set(mem, "max", read_number(d->path + "/memory.max_usage_in_bytes"));
        auto limit = read_number(d->path + "/memory.limit_in_bytes");
        if (limit && *limit < (1ULL << 62)) mem["limit"] = *limit;  // "unlimited" is a huge page-rounded number
        set(mem, "failcnt", read_number(d->path + "/memory.failcnt"));
        if (!mem.empty()) out["memory"]["usage"] = mem;
    }
    if (auto d = m.of("pids")) {
        nlohmann::json pids = nlohmann::json::object();
        set(pids, "current", read_number(d->path + "/pids.current"));
        set(pids, "limit", read_number(d->path + "/pids.max"));
        if (!pids.empty()) out["pids"] = pids;
    }
    return out;
}

bool Container::oom_killed() const {
    const Impl& m = *impl_;
    if (m.v2()) return cgroup::read_key(m.unified()->path + "/memory.events", "oom_kill").value_or(0) > 0;
    auto d = m.of("memory");
    return d && cgroup::read_key(d->path + "/memory.oom_control", "oom_kill").value_or(0) > 0;
}

}  // namespace resources
