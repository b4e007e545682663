// nsinfo: what this process sees, one "key: value" line per fact.
//
// A probe for demos and tests, in the spirit of crun's `init` and youki's `runtimetest`: run it
// on the host and inside a container, and "inside vs outside" becomes two runs of one command.
//
//   nsinfo            every fact
//   nsinfo KEY...     only the value of each KEY, one per line   (nsinfo ns.uts)
//   nsinfo --help
//
// It is linked statically and copied into the default image (scripts/make-image.sh), so it must
// need nothing from the root it runs in: no shared libraries, no /etc files, no NSS lookups.
// Any fact it cannot read prints "unavailable"; it never fails because /proc or /sys is missing.
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

// The toolkit's headers are not on nsinfo's include path (it links nothing of the toolkit).
#include "../common/capabilities.hpp"

namespace {

const char* const kUnavailable = "unavailable";

using Facts = std::vector<std::pair<std::string, std::string>>;

// The whole file, or nothing when it cannot be read.
bool slurp(const std::string& path, std::string& out) {
    std::ifstream f(path);
    if (!f) return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return !f.bad();
}

std::string trim(std::string s) {
    auto not_space = [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; };
    while (!s.empty() && !not_space(s.back())) s.pop_back();
    size_t i = 0;
    while (i < s.size() && !not_space(s[i])) ++i;
    return s.substr(i);
}

// First line of a file, trimmed; "unavailable" when it cannot be read.
std::string first_line(const std::string& path) {
    std::string text;
    if (!slurp(path, text)) return kUnavailable;
    auto nl = text.find('\n');
    return trim(text.substr(0, nl));
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

std::vector<std::string> split_ws(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line);
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

// ---------------------------------------------------------------------------------------------
// Namespaces: /proc/self/ns/<type> is a magic link "uts:[4026531838]"; the number is the inode
// that identifies the namespace. Two processes share a namespace exactly when the inodes match.

const char* const kNamespaces[] = {"uts", "pid", "mnt", "net", "ipc", "user", "cgroup", "time"};

std::string ns_inode(const char* type) {
    char buf[128];
    std::string link = std::string("/proc/self/ns/") + type;
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return kUnavailable;
    buf[n] = '\0';
    const char* open = std::strchr(buf, '[');
    const char* close = std::strchr(buf, ']');
    if (!open || !close || close < open) return kUnavailable;
    return std::string(open + 1, close);
}

// ---------------------------------------------------------------------------------------------
// uid_map / gid_map: "inside outside count" per line; the lines are joined with ", ".

std::string id_map(const char* file) {
    std::string text;
    if (!slurp(std::string("/proc/self/") + file, text)) return kUnavailable;
    std::string out;
    for (auto& line : lines_of(text)) {
        auto w = split_ws(line);
        std::string joined;
        for (auto& x : w) joined += (joined.empty() ? "" : " ") + x;
        if (joined.empty()) continue;
        out += (out.empty() ? "" : ", ") + joined;
    }
    return out.empty() ? "none" : out;  // an empty map: a new user namespace not mapped yet
}

// ---------------------------------------------------------------------------------------------
// Capabilities: the CapEff mask of /proc/self/status, bit N = capability N (capability.h).

// The names: the toolkit's one table (common/capabilities.hpp), printed in lower case as
// capsh(1) and getpcaps(1) do.
constexpr int kKnownCaps = caps::kCount;

std::string cap_name(int bit) {
    if (bit >= kKnownCaps) return "cap_" + std::to_string(bit);
    std::string name = caps::kNames[bit];
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
}

std::string status_field(const std::string& name) {
    std::string text;
    if (!slurp("/proc/self/status", text)) return "";
    for (auto& line : lines_of(text))
        if (line.compare(0, name.size() + 1, name + ":") == 0) return trim(line.substr(name.size() + 1));
    return "";
}

std::string capabilities() {
    std::string hex = status_field("CapEff");
    if (hex.empty()) return kUnavailable;
    unsigned long long mask = std::strtoull(hex.c_str(), nullptr, 16);
    if (mask == 0) return "none";
    // "all" means every capability this kernel knows (cap_last_cap), whatever that number is.
    std::string last = first_line("/proc/sys/kernel/cap_last_cap");
    int last_cap = last == kUnavailable ? kKnownCaps - 1 : std::atoi(last.c_str());
    if (last_cap >= 0 && last_cap < 63) {
        unsigned long long all = (1ULL << (last_cap + 1)) - 1;
        if ((mask & all) == all) return "all";
    }
    std::string names;
    for (int bit = 0; bit < 64; ++bit) {
        if (!(mask & (1ULL << bit))) continue;
        names += (names.empty() ? "" : ",") + cap_name(bit);
    }
    return names;
}

// ---------------------------------------------------------------------------------------------
// cgroups. /proc/self/cgroup has one line per hierarchy, "ID:CONTROLLERS:PATH": "0::PATH" is the
// unified (v2) hierarchy, the others are v1 hierarchies ("4:memory:/x", "1:name=systemd:/").
// To read a limit we need the directory of our cgroup, which is where that hierarchy is mounted
// (from /proc/self/mountinfo) plus PATH relative to the mount's own root: inside a container the
// hierarchy may be mounted at a sub-cgroup, or not mounted at all (then: unavailable).

struct Hierarchy {
    std::string controllers;  // "" for v2, "memory", "cpu,cpuacct", "name=systemd"
    std::string path;         // our cgroup in it, as /proc/self/cgroup says
    std::string dir;          // where that cgroup's files are, or "" when not mounted here
};

struct CgroupMount {
    bool v2;
    std::string root;         // field 4 of mountinfo: the cgroup shown at the mount point
    std::string mount_point;  // field 5
    std::string options;      // super options (v1: the controllers)
};

// mountinfo escapes space, tab, newline and backslash as octal: "\040".
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        auto octal = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '7'; };
        if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::vector<CgroupMount> cgroup_mounts(const std::string& mountinfo) {
    std::vector<CgroupMount> mounts;
    for (auto& line : lines_of(mountinfo)) {
        // "36 25 0:31 / /sys/fs/cgroup/memory rw,... shared:14 - cgroup cgroup rw,memory"
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto left = split_ws(line.substr(0, dash));
        auto right = split_ws(line.substr(dash + 3));
        if (left.size() < 5 || right.size() < 3) continue;
        if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
        mounts.push_back({right[0] == "cgroup2", unescape(left[3]), unescape(left[4]), right[2]});
    }
    return mounts;
}

bool has_option(const std::string& options, const std::string& want) {
    std::istringstream in(options);
    for (std::string o; std::getline(in, o, ',');)
        if (o == want) return true;
    return false;
}

std::string dir_for(const CgroupMount& m, const std::string& path) {
    if (m.root == "/") return m.mount_point + (path == "/" ? "" : path);
    if (path == m.root) return m.mount_point;
    if (path.compare(0, m.root.size() + 1, m.root + "/") == 0) return m.mount_point + path.substr(m.root.size());
    return "";  // our cgroup is outside what this mount shows
}

std::vector<Hierarchy> hierarchies() {
    std::vector<Hierarchy> hs;
    std::string text, mountinfo;
    if (!slurp("/proc/self/cgroup", text)) return hs;
    slurp("/proc/self/mountinfo", mountinfo);
    auto mounts = cgroup_mounts(mountinfo);
    for (auto& line : lines_of(text)) {
        auto c1 = line.find(':');
        auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        Hierarchy h{line.substr(c1 + 1, c2 - c1 - 1), line.substr(c2 + 1), ""};
        for (auto& m : mounts) {
            bool match = h.controllers.empty() ? m.v2 : !m.v2;
            if (match && !h.controllers.empty()) {
                // Every controller of the hierarchy ("cpu,cpuacct") is among the mount options.
                std::istringstream in(h.controllers);
                for (std::string c; std::getline(in, c, ',');)
                    if (!has_option(m.options, c)) match = false;
            }
            if (!match) continue;
            h.dir = dir_for(m, h.path);
            if (!h.dir.empty()) break;
        }
        hs.push_back(h);
    }
    return hs;
}

// The layout of /sys/fs/cgroup, by the magic number of the filesystem mounted there (statfs(2)):
// cgroup2 = v2 only; a tmpfs holding v1 hierarchies, with or without cgroup2 at ./unified.
std::string cgroup_layout() {
    struct statfs st {};
    if (::statfs("/sys/fs/cgroup", &st) != 0) return kUnavailable;
    if (st.f_type == CGROUP2_SUPER_MAGIC) return "v2";
    if (st.f_type == TMPFS_MAGIC) {
        struct statfs u {};
        if (::statfs("/sys/fs/cgroup/unified", &u) == 0 && u.f_type == CGROUP2_SUPER_MAGIC) return "hybrid";
        return "v1";
    }
    return kUnavailable;  // not mounted in this root
}

// A v1 "no limit" is the largest page-aligned signed value; say "max" as v2 does.
std::string unlimited_as_max(const std::string& value) {
    if (value == kUnavailable) return value;
    char* end = nullptr;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (end && *end == '\0' && (v < 0 || v >= (1LL << 62))) return "max";
    return value;
}

// Read FILE from the first hierarchy that has it: v2 first, then the v1 one carrying `controller`.
std::string limit_file(const std::vector<Hierarchy>& hs, const std::string& v2_file,
                       const std::string& controller, const std::string& v1_file) {
    for (auto& h : hs)
        if (h.controllers.empty() && !h.dir.empty()) {
            std::string v = first_line(h.dir + "/" + v2_file);
            if (v != kUnavailable) return v;
        }
    for (auto& h : hs) {
        if (h.controllers.empty() || h.dir.empty() || !has_option(h.controllers, controller)) continue;
        std::string v = first_line(h.dir + "/" + v1_file);
        if (v != kUnavailable) return unlimited_as_max(v);
    }
    return kUnavailable;
}

std::string cpu_limit(const std::vector<Hierarchy>& hs) {
    // v2: cpu.max = "QUOTA PERIOD" ("max 100000" = unlimited).
    for (auto& h : hs)
        if (h.controllers.empty() && !h.dir.empty()) {
            std::string v = first_line(h.dir + "/cpu.max");
            if (v != kUnavailable) return v;
        }
    // v1: cpu.cfs_quota_us (-1 = unlimited) and cpu.cfs_period_us, printed the v2 way.
    for (auto& h : hs) {
        if (h.controllers.empty() || h.dir.empty() || !has_option(h.controllers, "cpu")) continue;
        std::string quota = first_line(h.dir + "/cpu.cfs_quota_us");
        std::string period = first_line(h.dir + "/cpu.cfs_period_us");
        if (quota == kUnavailable || period == kUnavailable) continue;
        return (quota == "-1" ? "max" : quota) + " " + period;
    }
    return kUnavailable;
}

void cgroup_facts(Facts& facts) {
    facts.emplace_back("cgroup.layout", cgroup_layout());
    auto hs = hierarchies();
    bool any_v2 = false;
    for (auto& h : hs) {
        if (!h.controllers.empty()) continue;
        facts.emplace_back("cgroup", h.path);
        any_v2 = true;
    }
    if (!any_v2) facts.emplace_back("cgroup", hs.empty() ? kUnavailable : "none (v1 only)");
    for (auto& h : hs) {
        if (h.controllers.empty()) continue;
        std::string name = h.controllers.rfind("name=", 0) == 0 ? h.controllers.substr(5) : h.controllers;
        facts.emplace_back("cgroup." + name, h.path);
    }
    facts.emplace_back("limit.memory", limit_file(hs, "memory.max", "memory", "memory.limit_in_bytes"));
    facts.emplace_back("limit.pids", limit_file(hs, "pids.max", "pids", "pids.max"));
    facts.emplace_back("limit.cpu", cpu_limit(hs));
}

// ---------------------------------------------------------------------------------------------
// Mounts and network interfaces.

std::string mount_count() {
    std::string text;
    if (!slurp("/proc/self/mountinfo", text)) return kUnavailable;
    return std::to_string(lines_of(text).size());
}

int prefix_len(const sockaddr* mask) {
    if (!mask) return 0;
    const unsigned char* bytes;
    size_t n;
    if (mask->sa_family == AF_INET) {
        bytes = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
        n = 4;
    } else {
        bytes = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
        n = 16;
    }
    int bits = 0;
    for (size_t i = 0; i < n; ++i) bits += __builtin_popcount(bytes[i]);
    return bits;
}

void net_facts(Facts& facts) {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        facts.emplace_back("net.interfaces", kUnavailable);
        return;
    }
    // Interface name -> "up|down ADDR/PREFIX ..." in the order getifaddrs lists them.
    std::vector<std::string> order;
    std::map<std::string, std::pair<bool, std::string>> by_name;
    for (ifaddrs* a = list; a; a = a->ifa_next) {
        std::string name = a->ifa_name ? a->ifa_name : "?";
        if (!by_name.count(name)) order.push_back(name);
        auto& entry = by_name[name];
        entry.first = entry.first || (a->ifa_flags & IFF_UP);
        if (!a->ifa_addr) continue;
        int family = a->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6) continue;
        char text[INET6_ADDRSTRLEN] = "";
        const void* addr = family == AF_INET
                               ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr)
                               : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr);
        if (!::inet_ntop(family, addr, text, sizeof text)) continue;
        entry.second += " " + std::string(text) + "/" + std::to_string(prefix_len(a->ifa_netmask));
    }
    ::freeifaddrs(list);
    std::string names;
    for (auto& n : order) names += (names.empty() ? "" : ",") + n;
    facts.emplace_back("net.interfaces", names.empty() ? "none" : names);
    for (auto& n : order) facts.emplace_back("net." + n, (by_name[n].first ? "up" : "down") + by_name[n].second);
}

// ---------------------------------------------------------------------------------------------

Facts collect() {
    Facts facts;
    struct utsname u {};
    facts.emplace_back("hostname", ::uname(&u) == 0 ? u.nodename : kUnavailable);
    facts.emplace_back("pid", std::to_string(::getpid()));
    facts.emplace_back("ppid", std::to_string(::getppid()));
    facts.emplace_back("uid", std::to_string(::getuid()));
    facts.emplace_back("gid", std::to_string(::getgid()));
    for (const char* ns : kNamespaces) facts.emplace_back(std::string("ns.") + ns, ns_inode(ns));
    facts.emplace_back("uid_map", id_map("uid_map"));
    facts.emplace_back("gid_map", id_map("gid_map"));
    facts.emplace_back("caps", capabilities());
    cgroup_facts(facts);
    facts.emplace_back("mounts", mount_count());
    net_facts(facts);
    return facts;
}

const char* const kHelp =
    "nsinfo: what this process sees, one \"key: value\" line per fact.\n"
    "\n"
    "usage: nsinfo            print every fact\n"
    "       nsinfo KEY...     print only the value of each KEY, one per line\n"
    "       nsinfo --help\n"
    "\n"
    "keys:\n"
    "  hostname                  the UTS namespace's hostname\n"
    "  pid ppid uid gid          as this process sees them (ppid 0: parent outside the PID ns)\n"
    "  ns.uts ns.pid ns.mnt ns.net ns.ipc ns.user ns.cgroup ns.time\n"
    "                            namespace inodes (/proc/self/ns/*): equal inodes, same namespace\n"
    "  uid_map gid_map           \"inside outside count\" lines joined by \", \"\n"
    "  caps                      effective capabilities: all, none, or cap_x,cap_y,...\n"
    "  cgroup.layout             v2, v1 or hybrid (statfs of /sys/fs/cgroup)\n"
    "  cgroup                    the cgroup v2 path; cgroup.CONTROLLER: a v1 path\n"
    "  limit.memory limit.pids   bytes / count, or max\n"
    "  limit.cpu                 \"QUOTA PERIOD\" in microseconds, QUOTA may be max\n"
    "  mounts                    number of entries in /proc/self/mountinfo\n"
    "  net.interfaces            interface names; net.NAME: up|down and ADDRESS/PREFIX...\n"
    "\n"
    "A fact that cannot be read prints \"unavailable\".\n";

// Families of keys whose members depend on the machine (net.eth0, cgroup.memory).
bool known_family(const std::string& key) {
    return key.rfind("net.", 0) == 0 || key.rfind("cgroup.", 0) == 0 || key.rfind("limit.", 0) == 0 ||
           key.rfind("ns.", 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> keys(argv + 1, argv + argc);
    for (auto& k : keys) {
        if (k == "--help" || k == "-h") {
            std::fputs(kHelp, stdout);
            return 0;
        }
        if (!k.empty() && k[0] == '-') {
            std::fprintf(stderr, "nsinfo: unknown option %s (see --help)\n", k.c_str());
            return 2;
        }
    }
    Facts facts;
    try {
        facts = collect();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nsinfo: %s\n", e.what());
        return 1;
    }
    if (keys.empty()) {
        for (auto& [k, v] : facts) std::printf("%s: %s\n", k.c_str(), v.c_str());
        return 0;
    }
    int status = 0;
    for (auto& key : keys) {
        const std::string* value = nullptr;
        for (auto& [k, v] : facts)
            if (k == key) {
                value = &v;
                break;
            }
        if (value) {
            std::printf("%s\n", value->c_str());
        } else if (known_family(key)) {
            std::printf("%s\n", kUnavailable);  // e.g. net.eth0 where there is no eth0
        } else {
            std::fprintf(stderr, "nsinfo: unknown key %s (see --help)\n", key.c_str());
            status = 2;
        }
    }
    return status;
}
