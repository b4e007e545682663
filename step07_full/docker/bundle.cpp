#include "bundle.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "errors.hpp"
#include "files.hpp"
#include "image_store.hpp"
#include "internal.hpp"
#include "limits.hpp"
#include "narrate.hpp"
#include "overlay.hpp"
#include "seccomp.hpp"
#include "spec.hpp"
#include "unique_fd.hpp"

namespace docker {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kDefaultCaps = {
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
    "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
};

bool is_number(const std::string& s) {
    return !s.empty() && s.size() < 11 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The first regular file `rel` (e.g. "etc/passwd") of the layers, top one first. A symlink is
// not followed: it could point anywhere on the host, since the layers are host directories.
std::string layer_file(const std::vector<std::string>& layers, const std::string& rel) {
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
        std::string p = *it + "/" + rel;
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0) return S_ISREG(st.st_mode) ? files::read(p) : std::string();
    }
    return {};
}

// name:x:uid:gid:... (passwd) or name:x:gid:members (group)
std::vector<std::vector<std::string>> colon_table(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> f;
        std::istringstream fs(line);
        for (std::string x; std::getline(fs, x, ':');) f.push_back(x);
        if (f.size() >= 3) rows.push_back(f);
    }
    return rows;
}

std::string to_cap(const std::string& short_name) { return "CAP_" + short_name; }

// --privileged: every device node of the host's /dev, as Docker's HostDevices lists them (a
// walk of /dev without following links; pts, shm, mqueue, fd and the console are the
// container's own). Each becomes a linux.devices entry the runtime mknods (or binds).
void walk_devices(const std::string& dir, json& out) {
    for (auto& n : detail::dir_names(dir)) {
        std::string path = dir + "/" + n;
        struct stat st {};
        if (::lstat(path.c_str(), &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (dir == "/dev" && (n == "pts" || n == "shm" || n == "mqueue" || n == "fd")) continue;
            walk_devices(path, out);
            continue;
        }
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
        if (path == "/dev/console") continue;
        out.push_back({{"path", path},
                       {"type", S_ISBLK(st.st_mode) ? "b" : "c"},
                       {"major", major(st.st_rdev)},
                       {"minor", minor(st.st_rdev)},
                       {"fileMode", st.st_mode & 07777},
                       {"uid", st.st_uid},
                       {"gid", st.st_gid}});
    }
}

}  // namespace

UserIds resolve_user(const std::string& user, const std::vector<std::string>& layers) {
    UserIds ids;
    if (user.empty()) return ids;
    std::string u = user, g;
    if (auto c = user.find(':'); c != std::string::npos) {
        u = user.substr(0, c);
        g = user.substr(c + 1);
    }
    auto passwd = colon_table(layer_file(layers, "etc/passwd"));
    auto group = colon_table(layer_file(layers, "etc/group"));
    bool found = false;
    if (is_number(u)) {
        ids.uid = static_cast<unsigned>(std::stoul(u));
        for (auto& row : passwd)
            if (row[2] == u && row.size() >= 4 && is_number(row[3])) {
                ids.gid = static_cast<unsigned>(std::stoul(row[3]));
                found = true;
                break;
            }
        if (!found) ids.gid = 0;  // docker: a uid unknown to the image runs with gid 0
    } else {
        for (auto& row : passwd)
            if (row[0] == u && row.size() >= 4 && is_number(row[2]) && is_number(row[3])) {
                ids.uid = static_cast<unsigned>(std::stoul(row[2]));
                ids.gid = static_cast<unsigned>(std::stoul(row[3]));
                found = true;
                break;
            }
        if (!found) throw BadRequest("unable to find user " + u + ": no matching entries in passwd file");
    }
    if (!g.empty()) {
        if (is_number(g)) {
            ids.gid = static_cast<unsigned>(std::stoul(g));
        } else {
            bool gf = false;
            for (auto& row : group)
                if (row[0] == g && is_number(row[2])) {
                    ids.gid = static_cast<unsigned>(std::stoul(row[2]));
                    gf = true;
                    break;
                }
            if (!gf) throw BadRequest("unable to find group " + g + ": no matching entries in group file");
        }
    } else if (found) {
        // Supplementary groups: every group of the image that lists the user by name.
        std::string name = u;
        if (is_number(u))
            for (auto& row : passwd)
                if (row[2] == u) name = row[0];
        for (auto& row : group) {
            if (row.size() < 4 || !is_number(row[2])) continue;
            std::istringstream members(row[3]);
            for (std::string m; std::getline(members, m, ',');)
                if (m == name && static_cast<unsigned>(std::stoul(row[2])) != ids.gid)
                    ids.additional_gids.push_back(static_cast<unsigned>(std::stoul(row[2])));
        }
    }
    return ids;
}

Process plan_process(const RunOptions& o, const SourceImage& img, const std::string& id) {
    Process p;
    image::Config c = img.image.config;
    if (o.entrypoint) {
        c.entrypoint = *o.entrypoint;
        // docker: --entrypoint resets the image's Cmd too (unless a COMMAND is given).
        c.cmd.clear();
    }
    p.args = image::command_for(c, o.cmd);
    if (p.args.empty()) throw BadRequest("No command specified");
    if (o.init) {
        p.args.insert(p.args.begin(), {"/sbin/docker-init", "--"});
    }
    p.hostname = o.hostname.empty() ? id.substr(0, 12) : o.hostname;
    if (o.network == "host" && o.hostname.empty()) {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) == 0) p.hostname = buf;
    }
    // Docker's order: PATH (unless the image sets one), HOSTNAME, the image's Env, -e, TERM.
    std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                    "HOSTNAME=" + p.hostname};
    env = image::env_for(c, env);
    image::Config given;
    given.env = o.env;
    env = image::env_for(given, env);
    if (o.tty) {
        bool has_term = std::any_of(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("TERM="); });
        if (!has_term) env.push_back("TERM=xterm");
    }
    p.env = env;
    p.cwd = !o.workdir.empty() ? o.workdir : (!c.working_dir.empty() ? c.working_dir : "/");
    std::string user = !o.user.empty() ? o.user : img.user;
    UserIds ids = resolve_user(user, img.image.layers);
    p.uid = ids.uid;
    p.gid = ids.gid;
    p.additional_gids = ids.additional_gids;
    return p;
}

std::string init_binary() {
    if (const char* e = std::getenv("MINIBOX_INIT"); e && *e) return e;
    for (const char* c : {"/usr/bin/docker-init", "/usr/bin/tini-static", "/usr/libexec/docker/docker-init"}) {
        struct stat st {};
        if (::stat(c, &st) == 0 && S_ISREG(st.st_mode)) return c;
    }
    return {};
}

json make_config(const RunOptions& o, const Process& p, const BundlePaths& paths, const std::string& id) {
    spec::SpecOptions so;
    so.args = p.args;
    so.terminal = o.tty;
    so.userns = o.userns == "private";
    so.rootfs = paths.rootfs;
    json c = spec::default_spec(so);

    // process
    json& proc = c["process"];
    proc["env"] = p.env;
    proc["cwd"] = p.cwd;
    proc["user"] = {{"uid", p.uid}, {"gid", p.gid}};
    if (!p.additional_gids.empty()) proc["user"]["additionalGids"] = p.additional_gids;
    c["hostname"] = p.hostname;
    c["root"]["readonly"] = o.read_only;

    // capabilities: Docker's 14, then --cap-add, then --cap-drop (ALL: every one the kernel has)
    std::vector<std::string> caps;
    std::vector<std::string> every;
    for (int n = 0; n <= spec::last_capability(); ++n) {
        std::string name = spec::capability_name(n);
        // "Every" is every one this process may hand on: those in its bounding set (dockerd's
        // GetAllCapabilities reads its own bounding set too). A capability the host has taken
        // from us would make the runtime's capset(2) fail with EPERM.
        if (name.starts_with("CAP_") && ::prctl(PR_CAPBSET_READ, n) == 1) every.push_back(name.substr(4));
    }
    if (o.privileged) caps = every;
    else caps = kDefaultCaps;
    for (auto& a : o.cap_add) {
        if (a == "ALL") caps = every;
        else if (std::find(caps.begin(), caps.end(), a) == caps.end()) caps.push_back(a);
    }
    for (auto& d : o.cap_drop) {
        if (d == "ALL") caps.clear();
        else caps.erase(std::remove(caps.begin(), caps.end(), d), caps.end());
    }
    json cap_names = json::array();
    std::vector<std::string> full;
    for (auto& x : caps) {
        cap_names.push_back(to_cap(x));
        full.push_back(to_cap(x));
    }
    // A non-root user keeps only the bounding set (docker: effective/permitted empty for uid != 0).
    proc["capabilities"]["bounding"] = cap_names;
    proc["capabilities"]["effective"] = p.uid == 0 ? cap_names : json::array();
    proc["capabilities"]["permitted"] = p.uid == 0 ? cap_names : json::array();

    // security options
    bool seccomp_unconfined = o.privileged;
    std::string seccomp_file;
    for (auto& s : o.security_opt) {
        if (s.starts_with("no-new-privileges")) proc["noNewPrivileges"] = !s.ends_with("false");
        else if (s == "seccomp=unconfined" || s == "seccomp:unconfined") seccomp_unconfined = true;
        else if (s.starts_with("seccomp=") || s.starts_with("seccomp:")) seccomp_file = s.substr(8);
    }
    json& linux = c["linux"];
    if (seccomp_unconfined) {
        linux.erase("seccomp");
    } else {
        json profile = seccomp::docker_default_profile();
        if (!seccomp_file.empty()) {
            try {
                profile = json::parse(files::read(seccomp_file));
            } catch (const json::exception& e) {
                throw BadRequest("--security-opt seccomp=" + seccomp_file + ": not JSON: " + e.what());
            }
        }
        // The profile's rules depend on the capabilities (CAP_SYS_ADMIN opens mount, ...).
        linux["seccomp"] = seccomp::docker_profile_to_oci(profile, full, seccomp::native_arch());
    }
    if (o.privileged) {
        linux.erase("maskedPaths");
        linux.erase("readonlyPaths");
        linux["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
        json host = json::array();
        walk_devices("/dev", host);
        narrate::note("docker", "--privileged: the host's " + std::to_string(host.size()) + " device nodes are made in the container's /dev");
        for (auto& d : host) linux["devices"].push_back(d);
        for (auto& m : c["mounts"])
            if (m["destination"] == "/sys" || m["destination"] == "/sys/fs/cgroup") {
                json opts = json::array();
                for (auto& x : m["options"])
                    if (x != "ro") opts.push_back(x);
                m["options"] = opts;
            }
    }

    // namespaces: network by the shim's path (none, bridge) or the host's (no entry)
    json ns = json::array();
    for (auto& n : linux["namespaces"]) {
        if (n["type"] == "network") {
            if (o.network == "host") continue;
            n["path"] = paths.shim_dir + "/netns";
        }
        ns.push_back(n);
    }
    linux["namespaces"] = ns;

    // mounts: the shim's /etc/hosts and /etc/hostname (not with the host's network: the image's
    // own then, as docker shows the host's), volumes, --init's tini, devices
    json& mounts = c["mounts"];
    if (o.network != "host") {
        for (const char* f : {"hosts", "hostname"})
            mounts.push_back({{"destination", std::string("/etc/") + f},
                              {"type", "bind"},
                              {"source", paths.shim_dir + "/" + f},
                              {"options", {"rbind", "rprivate", "ro"}}});
    }
    for (auto& v : o.volumes)
        mounts.push_back({{"destination", v.container},
                          {"type", "bind"},
                          {"source", v.host},
                          {"options", {"rbind", "rprivate", v.read_only ? "ro" : "rw"}}});
    if (o.init) {
        std::string tini = init_binary();
        if (tini.empty())
            throw BadRequest("--init: no docker-init (tini) on this host - apt-get install tini, or set MINIBOX_INIT");
        mounts.push_back({{"destination", "/sbin/docker-init"},
                          {"type", "bind"},
                          {"source", tini},
                          {"options", {"bind", "ro", "nosuid", "nodev"}}});
    }
    for (auto& d : o.devices) {
        struct stat st {};
        if (::stat(d.host.c_str(), &st) < 0) throw BadRequest("error gathering device information while adding custom device \"" + d.host + "\": no such file or directory");
        bool block = S_ISBLK(st.st_mode);
        linux["devices"].push_back(json{{"path", d.container},
                                    {"type", block ? "b" : "c"},
                                    {"major", major(st.st_rdev)},
                                    {"minor", minor(st.st_rdev)},
                                    {"fileMode", st.st_mode & 07777},
                                    {"uid", 0},
                                    {"gid", 0}});
        linux["resources"]["devices"].push_back(json{{"allow", true},
                                                 {"type", block ? "b" : "c"},
                                                 {"major", major(st.st_rdev)},
                                                 {"minor", minor(st.st_rdev)},
                                                 {"access", d.perms}});
    }

    // resources (step05's meanings)
    json& r = linux["resources"];
    if (o.memory) r["memory"]["limit"] = *o.memory;
    if (o.memory_swap) r["memory"]["swap"] = *o.memory_swap;
    else if (o.memory) r["memory"]["swap"] = 2 * *o.memory;  // docker: swap as much as memory
    if (o.cpus) {
        r["cpu"]["quota"] = cgroup::cpu_quota_us(*o.cpus);
        r["cpu"]["period"] = cgroup::kCpuPeriodUs;
    }
    if (o.cpu_shares) r["cpu"]["shares"] = *o.cpu_shares;
    if (!o.cpuset_cpus.empty()) r["cpu"]["cpus"] = o.cpuset_cpus;
    if (o.pids_limit) r["pids"]["limit"] = *o.pids_limit;
    linux["cgroupsPath"] = "docker/" + id;

    c["annotations"] = {{"org.minibox.docker.id", id}};
    return c;
}

// volatile (Linux 5.10+): the overlay's last unmount does not sync the disk below (ext4's
// journal commit and flush, ~30 ms of every `docker run --rm` here, for an upper directory
// that rm deletes next). The kernel marks such a work dir (work/work/incompat/volatile) and
// refuses to mount it again, because after a crash the upper may be half-written. A start
// after a clean stop in the same boot (the boot id written at mount is the kernel's still)
// removes the mark; after a reboot the container's start is refused. See the kernel's
// Documentation/filesystems/overlayfs.rst, "Volatile mount"; step06's overlay::kernel_has_volatile.

void mount_root(const std::vector<std::string>& layers, const std::string& record_dir) {
    std::string upper = record_dir + "/upper", work = record_dir + "/work", merged = record_dir + "/merged";
    for (auto* d : {&upper, &work, &merged})
        if (::mkdir(d->c_str(), *d == work ? 0700 : 0755) < 0 && errno != EEXIST) throw SysError("mkdir(\"" + *d + "\")", errno);
    if (overlay::is_mount_point(merged)) return;
    std::string opts = overlay::mount_options(layers, upper, work);
    if (overlay::kernel_has_volatile()) {
        std::string boot = files::read_line("/proc/sys/kernel/random/boot_id");
        struct stat st {};
        if (::stat((work + "/work/incompat/volatile").c_str(), &st) == 0) {
            if (boot.empty() || files::read_line(record_dir + "/volatile-boot") != boot)
                throw Error("the container's root was mounted volatile when the host went down: its changes may be incomplete")
                    .with_hint("remove the container (docker rm) and run a new one");
            std::error_code ec;
            std::filesystem::remove_all(work + "/work/incompat", ec);
            if (ec) throw Error("cannot remove " + work + "/work/incompat: " + ec.message());
        }
        if (!boot.empty()) {
            files::write(record_dir + "/volatile-boot", boot + "\n");
            opts += ",volatile";
        }
    }
    narrate::sys({"docker", "mount(\"overlay\", \"" + merged + "\", \"overlay\", MS_NODEV, \"" + opts + "\")",
                  "the image's layers, read-only, under the container's upper directory: its root",
                  "findmnt -t overlay"},
                 [&] { return ::mount("overlay", merged.c_str(), "overlay", MS_NODEV, opts.c_str()); });
}

void unmount_root(const std::string& record_dir) {
    std::string merged = record_dir + "/merged";
    if (!overlay::is_mount_point(merged)) return;
    narrate::sys({"docker", "umount2(\"" + merged + "\", MNT_DETACH)", "the container's root goes; its upper directory stays",
                  "findmnt -t overlay"},
                 [&] { return ::umount2(merged.c_str(), MNT_DETACH); });
}

void make_workdir(const std::string& rootfs, const std::string& dir) {
    unique_fd cur(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cur) throw SysError("open(\"" + rootfs + "\")", errno);
    std::istringstream parts(dir);
    for (std::string p; std::getline(parts, p, '/');) {
        if (p.empty() || p == ".") continue;
        if (p == "..") throw BadRequest("the working directory " + dir + " climbs with \"..\"");
        int fd = ::openat(cur.get(), p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            if (::mkdirat(cur.get(), p.c_str(), 0755) < 0 && errno != EEXIST) throw SysError("mkdirat(\"" + p + "\")", errno);
            fd = ::openat(cur.get(), p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        // A symlink in the image (ELOOP) is left to the runtime, which resolves it inside the root.
        if (fd < 0) return;
        cur.reset(fd);
    }
}

}  // namespace docker
