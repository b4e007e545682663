// step07 without root: config.json -> spec::Spec, field by field and bad value by bad value
// (each refusal must name the JSON path of the field), the default spec written by
// `step07_full spec` read back, and the hooks runner with real scripts in a temporary directory.
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "files.hpp"
#include "hooks.hpp"
#include "spec.hpp"
#include "support.hpp"

using json = nlohmann::json;

namespace {

// A bundle directory with an empty rootfs/, removed at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/minibox-spec-test-XXXXXX";
        path = ::mkdtemp(tmpl);
        std::filesystem::create_directory(path + "/rootfs");
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

bool contains(const std::vector<int>& set, int v) { return std::find(set.begin(), set.end(), v) != set.end(); }

json minimal() {
    return {{"ociVersion", "1.0.2"},
            {"root", {{"path", "rootfs"}}},
            {"process", {{"args", {"sh"}}, {"cwd", "/"}}}};
}

class SpecTest : public ::testing::Test {
protected:
    TempDir bundle;

    spec::Spec parse(const json& config) { return spec::parse(config, bundle.path); }

    // The config must be refused with "config.json: <path>: ..." containing `text`.
    ::testing::AssertionResult refused(const json& config, const std::string& path, const std::string& text = "") {
        try {
            spec::parse(config, bundle.path);
        } catch (const Error& e) {
            std::string want = "config.json: " + path + ": ";
            if (e.message().rfind(want, 0) != 0)
                return ::testing::AssertionFailure() << "message does not start with \"" << want << "\": " << e.message();
            if (e.message().find(text) == std::string::npos)
                return ::testing::AssertionFailure() << "message lacks \"" << text << "\": " << e.message();
            if (e.exit_status() != 125) return ::testing::AssertionFailure() << "exit status " << e.exit_status();
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "accepted, expected a refusal naming " << path;
    }

    // Some warning must name `path` and contain `text`.
    static ::testing::AssertionResult warned(const spec::Spec& s, const std::string& path, const std::string& text = "") {
        for (const auto& w : s.warnings) {
            if (w.rfind("config.json: " + path + ": ", 0) == 0 && w.find(text) != std::string::npos)
                return ::testing::AssertionSuccess();
        }
        auto f = ::testing::AssertionFailure() << "no warning for " << path << "; warnings:";
        for (const auto& w : s.warnings) f << "\n  " << w;
        return f;
    }

    json with_linux(const json& linux) {
        json c = minimal();
        c["linux"] = linux;
        return c;
    }
    json with_resources(const json& res) { return with_linux({{"resources", res}}); }
    json with_mount(const json& m) {
        json c = minimal();
        c["mounts"] = json::array({m});
        return c;
    }
    json with_process(const std::string& key, const json& value) {
        json c = minimal();
        c["process"][key] = value;
        return c;
    }
};

// ---- top level, root, load -----------------------------------------------------------------

TEST_F(SpecTest, MinimalConfigGivesAbsolutePathsAndDefaults) {
    auto s = parse(minimal());
    EXPECT_EQ(s.oci_version, "1.0.2");
    EXPECT_EQ(s.bundle, bundle.path);
    EXPECT_EQ(s.root, bundle.path + "/rootfs");
    EXPECT_FALSE(s.root_readonly);
    EXPECT_EQ(s.process.args, std::vector<std::string>{"sh"});
    EXPECT_EQ(s.process.cwd, "/");
    EXPECT_FALSE(s.process.capabilities.has_value());
    EXPECT_TRUE(s.namespaces.empty());
    EXPECT_FALSE(s.resources.has_value());
    EXPECT_FALSE(s.seccomp.has_value());
    EXPECT_EQ(s.rootfs_propagation, 0u);
    EXPECT_TRUE(s.warnings.empty());
}

TEST_F(SpecTest, LoadReadsConfigJsonFromTheBundle) {
    json c = minimal();
    c["hostname"] = "box";
    c["linux"] = {{"namespaces", {{{"type", "uts"}}}}};
    files::write(bundle.path + "/config.json", c.dump(2));
    auto s = spec::load(bundle.path);
    EXPECT_EQ(s.hostname, "box");
    EXPECT_EQ(s.root, bundle.path + "/rootfs");
    // A relative bundle is made absolute against the working directory.
    auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(bundle.path);
    auto rel = spec::load(".");
    std::filesystem::current_path(cwd);
    EXPECT_EQ(rel.bundle, bundle.path);
    EXPECT_EQ(rel.root, bundle.path + "/rootfs");
}

TEST_F(SpecTest, LoadRefusesAMissingOrBrokenConfig) {
    try {
        spec::load(bundle.path);
        FAIL() << "no config.json, yet loaded";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find(bundle.path + "/config.json"), std::string::npos) << e.message();
        EXPECT_EQ(e.err(), ENOENT);
        EXPECT_FALSE(e.hint().empty());
    }
    files::write(bundle.path + "/config.json", "{\"ociVersion\": ");
    try {
        spec::load(bundle.path);
        FAIL() << "broken JSON, yet loaded";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("not valid JSON"), std::string::npos) << e.message();
    }
}

TEST_F(SpecTest, OciVersionMustBeA1xVersion) {
    json c = minimal();
    c.erase("ociVersion");
    EXPECT_TRUE(refused(c, "ociVersion", "required"));
    c["ociVersion"] = "1.1.0";
    EXPECT_EQ(parse(c).oci_version, "1.1.0");
    c["ociVersion"] = "1.0.2-dev";
    EXPECT_NO_THROW(parse(c));
    c["ociVersion"] = "2.0.0";
    EXPECT_TRUE(refused(c, "ociVersion", "1.x"));
    c["ociVersion"] = "latest";
    EXPECT_TRUE(refused(c, "ociVersion", "\"latest\""));
    c["ociVersion"] = 1;
    EXPECT_TRUE(refused(c, "ociVersion", "expected a string"));
}

TEST_F(SpecTest, RootMustExistAndBeADirectory) {
    json c = minimal();
    c["root"]["path"] = "nope";
    EXPECT_TRUE(refused(c, "root.path", "No such file"));
    files::write(bundle.path + "/file", "x");
    c["root"]["path"] = "file";
    EXPECT_TRUE(refused(c, "root.path", "not a directory"));
    c["root"] = {{"path", bundle.path + "/rootfs"}, {"readonly", true}};
    auto s = parse(c);
    EXPECT_EQ(s.root, bundle.path + "/rootfs");
    EXPECT_TRUE(s.root_readonly);
    c["root"] = {{"path", "./rootfs/"}, {"readonly", "yes"}};
    EXPECT_TRUE(refused(c, "root.readonly", "expected true or false"));
    c.erase("root");
    EXPECT_TRUE(refused(c, "root", "required"));
}

TEST_F(SpecTest, UnknownKeysAreWarningsWithTheirPath) {
    json c = minimal();
    c["org.example.extension"] = {{"x", 1}};
    c["process"]["colour"] = "blue";
    c["linux"] = {{"namespace", json::array()}};  // a typo of "namespaces"
    auto s = parse(c);
    EXPECT_TRUE(warned(s, "org.example.extension", "unknown field"));
    EXPECT_TRUE(warned(s, "process.colour", "unknown field"));
    EXPECT_TRUE(warned(s, "linux.namespace", "unknown field"));
}

TEST_F(SpecTest, OtherPlatformsAreRefusedOrWarned) {
    json c = minimal();
    c["windows"] = {{"layerFolders", {"C:\\x"}}};
    EXPECT_TRUE(refused(c, "windows", "Linux runtime"));
    c.erase("windows");
    c["vm"] = {{"hypervisor", {{"path", "/usr/bin/qemu"}}}};
    EXPECT_TRUE(refused(c, "vm", "hypervisor"));
    c.erase("vm");
    c["solaris"] = {{"milestone", "x"}};
    EXPECT_TRUE(warned(parse(c), "solaris", "ignored"));
}

TEST_F(SpecTest, NullCountsAsAbsent) {
    json c = minimal();
    c["hostname"] = nullptr;
    c["mounts"] = nullptr;
    c["process"]["env"] = nullptr;
    c["linux"] = {{"resources", nullptr}, {"seccomp", nullptr}};
    auto s = parse(c);
    EXPECT_TRUE(s.hostname.empty());
    EXPECT_FALSE(s.resources.has_value());
    EXPECT_FALSE(s.seccomp.has_value());
}

TEST_F(SpecTest, TheTopMustBeAnObject) {
    EXPECT_THROW(parse(json::array()), Error);
    json c = minimal();
    c["process"] = "sh";
    EXPECT_TRUE(refused(c, "process", "expected an object"));
    c.erase("process");
    EXPECT_TRUE(refused(c, "process", "required"));
}

// ---- process -------------------------------------------------------------------------------

TEST_F(SpecTest, ProcessFieldsAreRead) {
    json c = minimal();
    c["process"] = {{"terminal", true},
                    {"consoleSize", {{"height", 40}, {"width", 120}}},
                    {"args", {"/bin/echo", "hi"}},
                    {"env", {"PATH=/bin", "EMPTY=", "A=b=c"}},
                    {"cwd", "/srv//app/"},
                    {"user", {{"uid", 1000}, {"gid", 100}, {"umask", 18}, {"additionalGids", {5, 27}}}},
                    {"noNewPrivileges", true},
                    {"oomScoreAdj", -500}};
    auto p = parse(c).process;
    EXPECT_TRUE(p.terminal);
    EXPECT_EQ(p.console_height, 40u);
    EXPECT_EQ(p.console_width, 120u);
    EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/echo", "hi"}));
    EXPECT_EQ(p.env.size(), 3u);
    EXPECT_EQ(p.cwd, "/srv/app");
    EXPECT_EQ(p.user.uid, 1000u);
    EXPECT_EQ(p.user.gid, 100u);
    ASSERT_TRUE(p.user.umask.has_value());
    EXPECT_EQ(*p.user.umask, 022u);
    EXPECT_EQ(p.user.additional_gids, (std::vector<gid_t>{5, 27}));
    EXPECT_TRUE(p.no_new_privileges);
    EXPECT_EQ(p.oom_score_adj, -500);
}

TEST_F(SpecTest, ProcessArgsAndCwdAreRequired) {
    EXPECT_TRUE(refused(with_process("args", json::array()), "process.args", "required"));
    EXPECT_TRUE(refused(with_process("args", {""}), "process.args[0]", "empty"));
    EXPECT_TRUE(refused(with_process("args", "sh -c x"), "process.args", "expected an array"));
    EXPECT_TRUE(refused(with_process("args", {"sh", 3}), "process.args[1]", "expected a string"));
    EXPECT_TRUE(refused(with_process("cwd", "tmp"), "process.cwd", "absolute"));
    EXPECT_TRUE(refused(with_process("cwd", "/../etc"), "process.cwd", "climbs"));
    json c = minimal();
    c["process"].erase("cwd");
    EXPECT_TRUE(refused(c, "process.cwd", "required"));
}

TEST_F(SpecTest, EnvEntriesNeedANameAndAnEqualsSign) {
    EXPECT_TRUE(refused(with_process("env", {"PATH=/bin", "JUSTNAME"}), "process.env[1]", "NAME=VALUE"));
    EXPECT_TRUE(refused(with_process("env", {"=value"}), "process.env[0]", "empty name"));
}

TEST_F(SpecTest, UserValuesAreRangeChecked) {
    EXPECT_TRUE(refused(with_process("user", {{"uid", -1}, {"gid", 0}}), "process.user.uid", "negative"));
    EXPECT_TRUE(refused(with_process("user", {{"uid", 4294967296LL}, {"gid", 0}}), "process.user.uid", "out of range"));
    EXPECT_TRUE(refused(with_process("user", {{"uid", 1.5}, {"gid", 0}}), "process.user.uid", "expected an integer"));
    EXPECT_TRUE(refused(with_process("user", {{"uid", "0"}, {"gid", 0}}), "process.user.uid", "expected an integer"));
    EXPECT_TRUE(refused(with_process("user", {{"uid", 0}, {"gid", 0}, {"umask", 512}}), "process.user.umask", "0..511"));
    EXPECT_TRUE(refused(with_process("user", {{"uid", 0}, {"gid", 0}, {"additionalGids", {1, -2}}}),
                        "process.user.additionalGids[1]", "negative"));
    EXPECT_TRUE(refused(with_process("oomScoreAdj", 1001), "process.oomScoreAdj", "-1000..1000"));
    EXPECT_TRUE(refused(with_process("oomScoreAdj", -1001), "process.oomScoreAdj", "-1000..1000"));
    EXPECT_TRUE(refused(with_process("noNewPrivileges", 1), "process.noNewPrivileges", "true or false"));
    EXPECT_TRUE(refused(with_process("consoleSize", {{"height", 70000}, {"width", 1}}), "process.consoleSize.height",
                        "out of range"));
    EXPECT_TRUE(refused(with_process("consoleSize", {{"height", 10}}), "process.consoleSize.width", "required"));
}

TEST_F(SpecTest, SecurityModulesAreRefusedUnlessEmpty) {
    EXPECT_TRUE(refused(with_process("apparmorProfile", "docker-default"), "process.apparmorProfile", "no AppArmor"));
    EXPECT_TRUE(refused(with_process("selinuxLabel", "system_u:system_r:container_t:s0"), "process.selinuxLabel",
                        "no SELinux"));
    EXPECT_TRUE(refused(with_linux({{"mountLabel", "system_u:object_r:container_file_t:s0"}}), "linux.mountLabel",
                        "no SELinux"));
    json c = with_linux({{"mountLabel", ""}});
    c["process"]["apparmorProfile"] = "";
    c["process"]["selinuxLabel"] = "";
    EXPECT_NO_THROW(parse(c));
}

TEST_F(SpecTest, SchedulerIoPriorityAndAffinityAreRefused) {
    EXPECT_TRUE(refused(with_process("scheduler", {{"policy", "SCHED_FIFO"}, {"priority", 10}}), "process.scheduler",
                        "not supported"));
    EXPECT_TRUE(refused(with_process("ioPriority", {{"class", "IOPRIO_CLASS_IDLE"}, {"priority", 7}}),
                        "process.ioPriority", "not supported"));
    EXPECT_TRUE(refused(with_process("execCPUAffinity", {{"final", "0"}}), "process.execCPUAffinity", "not supported"));
    EXPECT_TRUE(warned(parse(with_process("commandLine", "cmd.exe")), "process.commandLine", "Windows"));
}

// ---- capabilities --------------------------------------------------------------------------

TEST(SpecCapabilities, TheTableHasAll41InKernelOrder) {
    EXPECT_EQ(spec::capability_number("CAP_CHOWN"), 0);
    EXPECT_EQ(spec::capability_number("CAP_NET_BIND_SERVICE"), 10);
    EXPECT_EQ(spec::capability_number("CAP_SYS_ADMIN"), 21);
    EXPECT_EQ(spec::capability_number("CAP_MKNOD"), 27);
    EXPECT_EQ(spec::capability_number("CAP_AUDIT_READ"), 37);
    EXPECT_EQ(spec::capability_number("CAP_CHECKPOINT_RESTORE"), 40);
    EXPECT_EQ(spec::capability_number("CAP_NOPE"), std::nullopt);
    EXPECT_EQ(spec::capability_number("chown"), std::nullopt);
    std::set<std::string> names;
    for (int i = 0; i <= 40; ++i) {
        std::string n = spec::capability_name(i);
        EXPECT_EQ(n.rfind("CAP_", 0), 0u);
        EXPECT_EQ(spec::capability_number(n), i) << n;
        names.insert(n);
    }
    EXPECT_EQ(names.size(), 41u);
    // The kernel's own count: the table must cover it.
    std::string last = support::read_file("/proc/sys/kernel/cap_last_cap");
    if (!last.empty()) {
        EXPECT_EQ(spec::last_capability(), std::stoi(last));
    }
    EXPECT_LE(spec::last_capability(), 40);
}

TEST_F(SpecTest, CapabilityNamesBecomeNumbersPerSet) {
    json caps = {{"bounding", {"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_KILL"}},
                 {"effective", {"CAP_CHOWN", "CAP_CHOWN"}},
                 {"permitted", {"CAP_CHOWN", "CAP_KILL"}},
                 {"inheritable", {"CAP_KILL"}},
                 {"ambient", {"CAP_KILL"}}};
    auto c = parse(with_process("capabilities", caps)).process.capabilities;
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->bounding, (std::vector<int>{0, 21, 5}));
    EXPECT_EQ(c->effective, (std::vector<int>{0}));  // duplicates kept once
    EXPECT_EQ(c->permitted, (std::vector<int>{0, 5}));
    EXPECT_EQ(c->inheritable, (std::vector<int>{5}));
    EXPECT_EQ(c->ambient, (std::vector<int>{5}));
    auto none = parse(with_process("capabilities", json::object())).process.capabilities;
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->bounding.empty());
}

TEST_F(SpecTest, CapabilityMistakesAreRefusedOrWarned) {
    EXPECT_TRUE(refused(with_process("capabilities", {{"bounding", {"CAP_CHOWN", "CAP_FLY"}}}),
                        "process.capabilities.bounding[1]", "unknown capability \"CAP_FLY\""));
    EXPECT_TRUE(refused(with_process("capabilities", {{"effective", {"CAP_KILL"}}, {"permitted", {"CAP_CHOWN"}}}),
                        "process.capabilities.effective", "CAP_KILL is not in permitted"));
    auto s = parse(with_process("capabilities", {{"permitted", {"CAP_KILL"}}, {"ambient", {"CAP_KILL"}}}));
    EXPECT_TRUE(warned(s, "process.capabilities.ambient", "CAP_KILL"));
    EXPECT_TRUE(s.process.capabilities->ambient.empty());
}

TEST_F(SpecTest, CapabilitiesThisKernelLacksAreDroppedWithAWarning) {
    spec::set_last_capability_for_testing(39);
    auto s = parse(with_process("capabilities", {{"bounding", {"CAP_BPF", "CAP_CHECKPOINT_RESTORE"}}}));
    spec::set_last_capability_for_testing(-1);
    EXPECT_EQ(s.process.capabilities->bounding, (std::vector<int>{39}));
    EXPECT_TRUE(warned(s, "process.capabilities.bounding[1]", "CAP_CHECKPOINT_RESTORE"));
    EXPECT_EQ(spec::last_capability(), std::stoi(support::read_file("/proc/sys/kernel/cap_last_cap")));
}

// ---- rlimits -------------------------------------------------------------------------------

TEST_F(SpecTest, RlimitNamesBecomeResourceNumbers) {
    auto r = parse(with_process("rlimits", {{{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", 4096}},
                                            {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 0}},
                                            {{"type", "RLIMIT_STACK"}, {"soft", 8388608}, {"hard", 18446744073709551615ULL}}}))
                 .process.rlimits;
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].resource, RLIMIT_NOFILE);
    EXPECT_EQ(r[0].name, "RLIMIT_NOFILE");
    EXPECT_EQ(r[0].soft, 1024u);
    EXPECT_EQ(r[0].hard, 4096u);
    EXPECT_EQ(r[1].resource, RLIMIT_CORE);
    EXPECT_EQ(r[2].resource, RLIMIT_STACK);
    EXPECT_EQ(r[2].hard, RLIM_INFINITY);
}

TEST_F(SpecTest, BadRlimitsAreRefused) {
    EXPECT_TRUE(refused(with_process("rlimits", {{{"type", "RLIMIT_FOO"}, {"soft", 1}, {"hard", 1}}}),
                        "process.rlimits[0].type", "unknown resource limit"));
    EXPECT_TRUE(refused(with_process("rlimits", {{{"type", "RLIMIT_NOFILE"}, {"soft", 2048}, {"hard", 1024}}}),
                        "process.rlimits[0]", "above the hard limit"));
    EXPECT_TRUE(refused(with_process("rlimits", {{{"type", "RLIMIT_NOFILE"}, {"soft", 1}}}), "process.rlimits[0].hard",
                        "required"));
    EXPECT_TRUE(refused(with_process("rlimits", {{{"type", "RLIMIT_NPROC"}, {"soft", 1}, {"hard", 1}},
                                                 {{"type", "RLIMIT_NPROC"}, {"soft", 2}, {"hard", 2}}}),
                        "process.rlimits[1].type", "twice"));
    EXPECT_TRUE(refused(with_process("rlimits", {{{"type", "RLIMIT_NOFILE"}, {"soft", -1}, {"hard", 1}}}),
                        "process.rlimits[0].soft", "negative"));
}

// ---- mounts --------------------------------------------------------------------------------

TEST_F(SpecTest, MountOptionsBecomeFlagsClearsPropagationAndData) {
    struct Case {
        const char* option;
        unsigned long flags, clear;
    };
    const Case cases[] = {
        {"ro", MS_RDONLY, 0},           {"rw", 0, MS_RDONLY},           {"nosuid", MS_NOSUID, 0},
        {"suid", 0, MS_NOSUID},         {"nodev", MS_NODEV, 0},         {"dev", 0, MS_NODEV},
        {"noexec", MS_NOEXEC, 0},       {"exec", 0, MS_NOEXEC},         {"sync", MS_SYNCHRONOUS, 0},
        {"async", 0, MS_SYNCHRONOUS},   {"dirsync", MS_DIRSYNC, 0},     {"remount", MS_REMOUNT, 0},
        {"mand", MS_MANDLOCK, 0},       {"nomand", 0, MS_MANDLOCK},     {"atime", 0, MS_NOATIME},
        {"noatime", MS_NOATIME, 0},     {"diratime", 0, MS_NODIRATIME}, {"nodiratime", MS_NODIRATIME, 0},
        {"relatime", MS_RELATIME, 0},   {"norelatime", 0, MS_RELATIME}, {"strictatime", MS_STRICTATIME, 0},
        {"nostrictatime", 0, MS_STRICTATIME}, {"nosymfollow", MS_NOSYMFOLLOW, 0}, {"lazytime", MS_LAZYTIME, 0},
        {"iversion", MS_I_VERSION, 0},  {"silent", MS_SILENT, 0},       {"defaults", 0, 0},
    };
    for (const auto& c : cases) {
        auto s = parse(with_mount({{"destination", "/x"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {c.option}}}));
        ASSERT_EQ(s.mounts.size(), 1u);
        EXPECT_EQ(s.mounts[0].flags, c.flags) << c.option;
        EXPECT_EQ(s.mounts[0].clear, c.clear) << c.option;
        EXPECT_EQ(s.mounts[0].data, "") << c.option;
        EXPECT_EQ(s.mounts[0].options, std::vector<std::string>{c.option});
    }
    const std::pair<const char*, unsigned long> props[] = {
        {"private", MS_PRIVATE},         {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
        {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC},
        {"unbindable", MS_UNBINDABLE},   {"runbindable", MS_UNBINDABLE | MS_REC},
    };
    for (const auto& [name, flag] : props) {
        auto s = parse(with_mount({{"destination", "/x"}, {"type", "tmpfs"}, {"options", {name}}}));
        EXPECT_EQ(s.mounts[0].propagation, flag) << name;
        EXPECT_EQ(s.mounts[0].flags, 0u) << name;
    }
    auto s = parse(with_mount({{"destination", "/dev"},
                               {"type", "tmpfs"},
                               {"source", "tmpfs"},
                               {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}}));
    EXPECT_EQ(s.mounts[0].flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
    EXPECT_EQ(s.mounts[0].data, "mode=755,size=65536k");
    EXPECT_EQ(s.mounts[0].type, "tmpfs");
    EXPECT_EQ(s.mounts[0].source, "tmpfs");
    EXPECT_FALSE(s.mounts[0].bind());
}

TEST_F(SpecTest, ALaterMountOptionWinsOverAnEarlierOne) {
    auto s = parse(with_mount({{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"ro", "nosuid", "rw"}}}));
    EXPECT_EQ(s.mounts[0].flags, static_cast<unsigned long>(MS_NOSUID));
    EXPECT_EQ(s.mounts[0].clear, static_cast<unsigned long>(MS_RDONLY));
    s = parse(with_mount({{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"rw", "ro"}}}));
    EXPECT_EQ(s.mounts[0].flags, static_cast<unsigned long>(MS_RDONLY));
    EXPECT_EQ(s.mounts[0].clear, 0u);
}

TEST_F(SpecTest, BindsAreNamedByTypeOrOptionsAndResolvedInTheBundle) {
    auto s = parse(with_mount({{"destination", "/data"}, {"type", "none"}, {"source", "vol"}, {"options", {"rbind", "ro"}}}));
    EXPECT_TRUE(s.mounts[0].bind());
    EXPECT_EQ(s.mounts[0].type, "bind");
    EXPECT_EQ(s.mounts[0].flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_RDONLY));
    EXPECT_EQ(s.mounts[0].source, bundle.path + "/vol");
    s = parse(with_mount({{"destination", "/etc/hosts"}, {"type", "bind"}, {"source", "/etc/hosts"}}));
    EXPECT_TRUE(s.mounts[0].bind());
    EXPECT_EQ(s.mounts[0].flags, static_cast<unsigned long>(MS_BIND));  // not recursive without rbind
    EXPECT_EQ(s.mounts[0].source, "/etc/hosts");
    s = parse(with_mount({{"destination", "/a"}, {"source", "./x/../y"}, {"options", {"bind"}}}));
    EXPECT_EQ(s.mounts[0].type, "bind");
    EXPECT_EQ(s.mounts[0].source, bundle.path + "/y");
}

TEST_F(SpecTest, MountDestinationsAreAbsoluteAndNormalized) {
    auto s = parse(with_mount({{"destination", "//run/./a/../b/"}, {"type", "tmpfs"}}));
    EXPECT_EQ(s.mounts[0].destination, "/run/b");
    EXPECT_TRUE(refused(with_mount({{"destination", "run"}, {"type", "tmpfs"}}), "mounts[0].destination", "absolute"));
    EXPECT_TRUE(refused(with_mount({{"destination", "/run/../../etc"}, {"type", "tmpfs"}}), "mounts[0].destination",
                        "climbs"));
    EXPECT_TRUE(refused(with_mount({{"type", "tmpfs"}}), "mounts[0].destination", "required"));
}

TEST_F(SpecTest, BadMountsAreRefused) {
    EXPECT_TRUE(refused(with_mount({{"destination", "/x"}}), "mounts[0].type", "required unless"));
    EXPECT_TRUE(refused(with_mount({{"destination", "/x"}, {"type", "bind"}}), "mounts[0].source", "required"));
    EXPECT_TRUE(refused(with_mount({{"destination", "/x"}, {"type", "bind"}, {"source", "/y"}, {"options", {"idmap"}}}),
                        "mounts[0].options[0]", "idmapped"));
    EXPECT_TRUE(refused(with_mount({{"destination", "/x"}, {"type", "bind"}, {"source", "/y"}, {"options", {"rbind", "rro"}}}),
                        "mounts[0].options[1]", "recursive mount attributes"));
    EXPECT_TRUE(refused(with_mount({{"destination", "/x"},
                                    {"type", "bind"},
                                    {"source", "/y"},
                                    {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}}}),
                        "mounts[0].uidMappings", "idmapped"));
    EXPECT_TRUE(refused(with_mount({{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"mode=755,size=1k"}}}),
                        "mounts[0].options[0]", "no commas"));
    json c = minimal();
    c["mounts"] = json::array({"/x"});
    EXPECT_TRUE(refused(c, "mounts[0]", "expected an object"));
    c["mounts"] = {{"destination", "/x"}};
    EXPECT_TRUE(refused(c, "mounts", "expected an array"));
}

TEST_F(SpecTest, TmpcopyupIsAcceptedWithAWarning) {
    auto s = parse(with_mount({{"destination", "/x"}, {"type", "tmpfs"}, {"options", {"tmpcopyup", "mode=700"}}}));
    EXPECT_TRUE(warned(s, "mounts[0].options[0]", "tmpcopyup"));
    EXPECT_EQ(s.mounts[0].data, "mode=700");
}

// ---- hooks ---------------------------------------------------------------------------------

TEST_F(SpecTest, AllSixHookListsAreRead) {
    json c = minimal();
    json hook = {{"path", "/usr/bin/hook"}, {"args", {"hook", "--x"}}, {"env", {"A=1"}}, {"timeout", 5}};
    c["hooks"] = {{"prestart", {hook}},  {"createRuntime", {hook, hook}}, {"createContainer", {hook}},
                  {"startContainer", {hook}}, {"poststart", {hook}},        {"poststop", {{{"path", "/bin/true"}}}}};
    auto h = parse(c).hooks;
    ASSERT_EQ(h.prestart.size(), 1u);
    EXPECT_EQ(h.prestart[0].path, "/usr/bin/hook");
    EXPECT_EQ(h.prestart[0].args, (std::vector<std::string>{"hook", "--x"}));
    EXPECT_EQ(h.prestart[0].env, std::vector<std::string>{"A=1"});
    EXPECT_EQ(h.prestart[0].timeout, 5);
    EXPECT_EQ(h.create_runtime.size(), 2u);
    EXPECT_EQ(h.create_container.size(), 1u);
    EXPECT_EQ(h.start_container.size(), 1u);
    EXPECT_EQ(h.poststart.size(), 1u);
    ASSERT_EQ(h.poststop.size(), 1u);
    EXPECT_FALSE(h.poststop[0].timeout.has_value());
}

TEST_F(SpecTest, BadHooksAreRefused) {
    json c = minimal();
    c["hooks"] = {{"prestart", {{{"path", "hook.sh"}}}}};
    EXPECT_TRUE(refused(c, "hooks.prestart[0].path", "absolute"));
    c["hooks"] = {{"poststop", {{{"path", "/x"}, {"timeout", 0}}}}};
    EXPECT_TRUE(refused(c, "hooks.poststop[0].timeout", "greater than zero"));
    c["hooks"] = {{"createRuntime", {{{"path", "/x"}, {"env", {"NOEQUALS"}}}}}};
    EXPECT_TRUE(refused(c, "hooks.createRuntime[0].env[0]", "NAME=VALUE"));
    c["hooks"] = {{"startContainer", {{{"args", {"x"}}}}}};
    EXPECT_TRUE(refused(c, "hooks.startContainer[0].path", "required"));
}

// ---- namespaces and id mappings --------------------------------------------------------------

TEST_F(SpecTest, NamespacesBecomeCloneFlags) {
    json c = with_linux({{"namespaces",
                          {{{"type", "pid"}},
                           {{"type", "network"}, {"path", "/var/run/netns/x"}},
                           {{"type", "mount"}},
                           {{"type", "ipc"}},
                           {{"type", "uts"}},
                           {{"type", "cgroup"}},
                           {{"type", "user"}}}},
                         {"uidMappings", {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}}},
                         {"gidMappings", {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}}}});
    auto s = parse(c);
    ASSERT_EQ(s.namespaces.size(), 7u);
    const std::pair<int, const char*> want[] = {{CLONE_NEWPID, "pid"},   {CLONE_NEWNET, "network"},
                                                {CLONE_NEWNS, "mount"},  {CLONE_NEWIPC, "ipc"},
                                                {CLONE_NEWUTS, "uts"},   {CLONE_NEWCGROUP, "cgroup"},
                                                {CLONE_NEWUSER, "user"}};
    for (size_t i = 0; i < 7; ++i) {
        EXPECT_EQ(s.namespaces[i].type, want[i].first);
        EXPECT_EQ(s.namespaces[i].name, want[i].second);
        EXPECT_TRUE(s.has_namespace(want[i].first));
    }
    ASSERT_NE(s.find_namespace(CLONE_NEWNET), nullptr);
    EXPECT_EQ(s.find_namespace(CLONE_NEWNET)->path, "/var/run/netns/x");
    EXPECT_EQ(s.find_namespace(CLONE_NEWPID)->path, "");
    auto none = parse(minimal());
    EXPECT_FALSE(none.has_namespace(CLONE_NEWPID));
    EXPECT_EQ(none.find_namespace(CLONE_NEWPID), nullptr);
}

TEST_F(SpecTest, BadNamespacesAreRefused) {
    json c = with_linux({{"namespaces", {{{"type", "pid"}}, {{"type", "uts"}}, {{"type", "foo"}}}}});
    try {
        parse(c);
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "config.json: linux.namespaces[2].type: unknown namespace \"foo\"");
    }
    EXPECT_TRUE(refused(with_linux({{"namespaces", {{{"type", "time"}}}}}), "linux.namespaces[0].type", "time namespace"));
    EXPECT_TRUE(refused(with_linux({{"namespaces", {{{"type", "ipc"}}, {{"type", "ipc"}}}}}), "linux.namespaces[1]",
                        "a second \"ipc\""));
    EXPECT_TRUE(refused(with_linux({{"namespaces", {{{"type", "network"}, {"path", "netns/x"}}}}}),
                        "linux.namespaces[0].path", "absolute"));
    EXPECT_TRUE(refused(with_linux({{"namespaces", {{{"path", "/x"}}}}}), "linux.namespaces[0].type", "required"));
    EXPECT_TRUE(refused(with_linux({{"timeOffsets", {{"monotonic", {{"secs", 1}}}}}}), "linux.timeOffsets", "time"));
}

TEST_F(SpecTest, IdMappingsAreReadAndChecked) {
    json user_ns = {{"type", "user"}};
    auto with_maps = [&](const json& uid, const json& gid) {
        return with_linux({{"namespaces", {user_ns}}, {"uidMappings", uid}, {"gidMappings", gid}});
    };
    json one = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    auto s = parse(with_maps(json::array({{{"containerID", 0}, {"hostID", 1000}, {"size", 1}},
                                          {{"containerID", 1}, {"hostID", 100000}, {"size", 65535}}}),
                             one));
    ASSERT_EQ(s.uid_mappings.size(), 2u);
    EXPECT_EQ(s.uid_mappings[1].container_id, 1u);
    EXPECT_EQ(s.uid_mappings[1].host_id, 100000u);
    EXPECT_EQ(s.uid_mappings[1].size, 65535u);
    EXPECT_EQ(s.gid_mappings.size(), 1u);

    EXPECT_TRUE(refused(with_maps({{{"containerID", 0}, {"hostID", 1}, {"size", 0}}}, one), "linux.uidMappings[0].size",
                        "greater than zero"));
    EXPECT_TRUE(refused(with_maps(one, {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}},
                                        {{"containerID", 5}, {"hostID", 5000}, {"size", 10}}}),
                        "linux.gidMappings[1]", "container ids overlap"));
    EXPECT_TRUE(refused(with_maps(one, {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}},
                                        {{"containerID", 100}, {"hostID", 1009}, {"size", 10}}}),
                        "linux.gidMappings[1]", "host ids overlap"));
    EXPECT_TRUE(refused(with_maps({{{"containerID", 4294967295LL}, {"hostID", 1}, {"size", 2}}}, one),
                        "linux.uidMappings[0].size", "past the last id"));
    EXPECT_TRUE(refused(with_maps({{{"containerID", 0}, {"hostID", 1}}}, one), "linux.uidMappings[0].size", "required"));
}

TEST_F(SpecTest, IdMappingsAndTheUserNamespaceGoTogether) {
    json map = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    EXPECT_TRUE(refused(with_linux({{"uidMappings", map}}), "linux.uidMappings", "no \"user\" namespace"));
    EXPECT_TRUE(refused(with_linux({{"namespaces", {{{"type", "user"}}}}, {"uidMappings", map}}), "linux.gidMappings",
                        "required with a new user namespace"));
    // The process's own ids must be mapped, or setresuid fails inside.
    json c = with_linux({{"namespaces", {{{"type", "user"}}}}, {"uidMappings", map}, {"gidMappings", map}});
    c["process"]["user"] = {{"uid", 70000}, {"gid", 0}};
    EXPECT_TRUE(refused(c, "process.user.uid", "70000 is not mapped"));
    c["process"]["user"] = {{"uid", 0}, {"gid", 0}, {"additionalGids", {10, 99999}}};
    EXPECT_TRUE(refused(c, "process.user.additionalGids[1]", "not mapped"));
    // Joining a user namespace: its mappings are already made.
    json join = with_linux({{"namespaces", {{{"type", "user"}, {"path", "/proc/1/ns/user"}}}}, {"uidMappings", map}});
    EXPECT_TRUE(warned(parse(join), "linux.uidMappings", "joined user namespace"));
    EXPECT_NO_THROW(parse(with_linux({{"namespaces", {{{"type", "user"}, {"path", "/proc/1/ns/user"}}}}})));
}

TEST_F(SpecTest, HostnameNeedsAUtsNamespace) {
    json c = minimal();
    c["hostname"] = "box";
    EXPECT_TRUE(refused(c, "hostname", "\"uts\" namespace"));
    c["linux"] = {{"namespaces", {{{"type", "uts"}}}}};
    c["domainname"] = "example.org";
    auto s = parse(c);
    EXPECT_EQ(s.hostname, "box");
    EXPECT_EQ(s.domainname, "example.org");
    c["hostname"] = std::string(65, 'a');
    EXPECT_TRUE(refused(c, "hostname", "64"));
    c.erase("hostname");
    c["linux"]["namespaces"] = json::array();
    EXPECT_TRUE(refused(c, "domainname", "\"uts\" namespace"));
}

// ---- linux: the rest -----------------------------------------------------------------------

TEST_F(SpecTest, SysctlAnnotationsAndCgroupsPathAreKept) {
    json c = with_linux({{"sysctl", {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "4096"}}},
                         {"cgroupsPath", "/machine/ctr1"}});
    c["annotations"] = {{"org.opencontainers.image.title", "busybox"}};
    auto s = parse(c);
    EXPECT_EQ(s.sysctl.size(), 2u);
    EXPECT_EQ(s.sysctl.at("net.ipv4.ip_forward"), "1");
    EXPECT_EQ(s.cgroups_path, "/machine/ctr1");
    EXPECT_EQ(s.annotations.at("org.opencontainers.image.title"), "busybox");
    EXPECT_TRUE(refused(with_linux({{"sysctl", {{"net.ipv4.ip_forward", 1}}}}), "linux.sysctl.net.ipv4.ip_forward",
                        "expected a string"));
    json bad = minimal();
    bad["annotations"] = {{"a", true}};
    EXPECT_TRUE(refused(bad, "annotations.a", "expected a string"));
}

TEST_F(SpecTest, DevicesAreReadAndChecked) {
    auto s = parse(with_linux({{"devices",
                                {{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 438},
                                  {"uid", 0}, {"gid", 0}},
                                 {{"path", "/dev/sda"}, {"type", "b"}, {"major", 8}, {"minor", 0}},
                                 {{"path", "/dev/ttyU"}, {"type", "u"}, {"major", 4}, {"minor", 64}},
                                 {{"path", "/dev/fifo"}, {"type", "p"}}}}}));
    ASSERT_EQ(s.devices.size(), 4u);
    EXPECT_EQ(s.devices[0].path, "/dev/fuse");
    EXPECT_EQ(s.devices[0].type, 'c');
    EXPECT_EQ(s.devices[0].major, 10);
    EXPECT_EQ(s.devices[0].minor, 229);
    EXPECT_EQ(s.devices[0].file_mode, 0666u);  // 438 decimal
    EXPECT_EQ(s.devices[1].type, 'b');
    EXPECT_EQ(s.devices[1].file_mode, 0666u);  // the default
    EXPECT_EQ(s.devices[2].type, 'c');         // "u" is a character device for mknod
    EXPECT_EQ(s.devices[3].type, 'p');

    auto dev = [&](const json& d) { return with_linux({{"devices", {d}}}); };
    EXPECT_TRUE(refused(dev({{"path", "/etc/fuse"}, {"type", "c"}, {"major", 1}, {"minor", 1}}), "linux.devices[0].path",
                        "not under /dev"));
    EXPECT_TRUE(refused(dev({{"path", "/dev/../etc/x"}, {"type", "c"}, {"major", 1}, {"minor", 1}}),
                        "linux.devices[0].path", "not under /dev"));
    EXPECT_TRUE(refused(dev({{"path", "dev/x"}, {"type", "c"}, {"major", 1}, {"minor", 1}}), "linux.devices[0].path",
                        "absolute"));
    EXPECT_TRUE(refused(dev({{"path", "/dev/x"}, {"type", "x"}, {"major", 1}, {"minor", 1}}), "linux.devices[0].type",
                        "unknown device type"));
    EXPECT_TRUE(refused(dev({{"path", "/dev/x"}, {"type", "c"}, {"minor", 1}}), "linux.devices[0].major", "required"));
    EXPECT_TRUE(refused(dev({{"path", "/dev/x"}, {"type", "c"}, {"major", 1}, {"minor", 1}, {"fileMode", 0170000}}),
                        "linux.devices[0].fileMode", "out of range"));
    EXPECT_TRUE(refused(with_linux({{"devices", {{{"path", "/dev/x"}, {"type", "p"}}, {{"path", "/dev/x"}, {"type", "p"}}}}}),
                        "linux.devices[1].path", "twice"));
}

TEST_F(SpecTest, MaskedAndReadonlyPathsAreAbsolute) {
    auto s = parse(with_linux({{"maskedPaths", {"/proc/kcore", "/sys//firmware/"}}, {"readonlyPaths", {"/proc/sys"}}}));
    EXPECT_EQ(s.masked_paths, (std::vector<std::string>{"/proc/kcore", "/sys/firmware"}));
    EXPECT_EQ(s.readonly_paths, std::vector<std::string>{"/proc/sys"});
    EXPECT_TRUE(refused(with_linux({{"maskedPaths", {"/proc/kcore", "proc/keys"}}}), "linux.maskedPaths[1]", "absolute"));
    EXPECT_TRUE(refused(with_linux({{"readonlyPaths", {"/../proc"}}}), "linux.readonlyPaths[0]", "climbs"));
}

TEST_F(SpecTest, RootfsPropagationBecomesMountFlags) {
    const std::pair<const char*, unsigned long> cases[] = {
        {"private", MS_PRIVATE},         {"rprivate", MS_PRIVATE | MS_REC}, {"slave", MS_SLAVE},
        {"rslave", MS_SLAVE | MS_REC},   {"shared", MS_SHARED},             {"rshared", MS_SHARED | MS_REC},
        {"unbindable", MS_UNBINDABLE},   {"runbindable", MS_UNBINDABLE | MS_REC},
    };
    for (const auto& [name, flags] : cases) {
        EXPECT_EQ(parse(with_linux({{"rootfsPropagation", name}})).rootfs_propagation, flags) << name;
    }
    EXPECT_EQ(parse(with_linux({{"rootfsPropagation", ""}})).rootfs_propagation, 0u);
    EXPECT_TRUE(refused(with_linux({{"rootfsPropagation", "rbind"}}), "linux.rootfsPropagation", "unknown propagation"));
}

TEST_F(SpecTest, PersonalityDomains) {
    EXPECT_EQ(parse(with_linux({{"personality", {{"domain", "LINUX"}}}})).personality, PER_LINUX);
    EXPECT_EQ(parse(with_linux({{"personality", {{"domain", "LINUX32"}}}})).personality, PER_LINUX32);
    EXPECT_FALSE(parse(minimal()).personality.has_value());
    EXPECT_TRUE(refused(with_linux({{"personality", {{"domain", "SVR4"}}}}), "linux.personality.domain", "LINUX32"));
    EXPECT_TRUE(refused(with_linux({{"personality", {{"domain", "LINUX"}, {"flags", {"ADDR_NO_RANDOMIZE"}}}}}),
                        "linux.personality.flags", "not supported"));
    EXPECT_TRUE(refused(with_linux({{"personality", json::object()}}), "linux.personality.domain", "required"));
}

TEST_F(SpecTest, UnsupportedLinuxFeaturesAreRefused) {
    EXPECT_TRUE(refused(with_linux({{"intelRdt", {{"closID", "x"}}}}), "linux.intelRdt", "Intel RDT"));
    EXPECT_TRUE(refused(with_linux({{"netDevices", {{"eth1", {{"name", "eth0"}}}}}}), "linux.netDevices", "not supported"));
    EXPECT_TRUE(refused(with_linux({{"memoryPolicy", {{"mode", "MPOL_BIND"}, {"nodes", "0"}}}}), "linux.memoryPolicy",
                        "not supported"));
    EXPECT_NO_THROW(parse(with_linux({{"intelRdt", json::object()}, {"netDevices", json::object()}})));
}

// ---- resources -----------------------------------------------------------------------------

TEST_F(SpecTest, EveryResourceFieldIsRead) {
    json res = {
        {"memory", {{"limit", 67108864}, {"reservation", 33554432}, {"swap", 134217728}, {"swappiness", 10},
                    {"disableOOMKiller", true}}},
        {"cpu", {{"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0-1,3"}, {"mems", "0"}}},
        {"pids", {{"limit", 64}}},
        {"blockIO", {{"weight", 500},
                     {"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}, {"rate", 1048576}}}},
                     {"throttleWriteBpsDevice", {{{"major", 8}, {"minor", 0}, {"rate", 2097152}}}},
                     {"throttleReadIOPSDevice", {{{"major", 8}, {"minor", 16}, {"rate", 100}}}},
                     {"throttleWriteIOPSDevice", {{{"major", 8}, {"minor", 16}, {"rate", 200}}}}}},
        {"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 209715200}}, {{"pageSize", "1GB"}, {"limit", 0}}}},
        {"unified", {{"memory.high", "50000000"}, {"io.weight", "default 100"}}},
        {"devices", {{{"allow", false}, {"access", "rwm"}},
                     {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rw"}},
                     {{"allow", true}, {"type", "b"}, {"major", 8}}}},
    };
    auto s = parse(with_resources(res));
    ASSERT_TRUE(s.resources.has_value());
    const auto& r = *s.resources;
    EXPECT_FALSE(r.empty());
    EXPECT_EQ(r.memory_limit, 67108864);
    EXPECT_EQ(r.memory_reservation, 33554432);
    EXPECT_EQ(r.memory_swap, 134217728);
    EXPECT_EQ(r.memory_swappiness, 10);
    EXPECT_TRUE(r.disable_oom_killer);
    EXPECT_EQ(r.cpu_shares, 512u);
    EXPECT_EQ(r.cpu_quota, 50000);
    EXPECT_EQ(r.cpu_period, 100000u);
    EXPECT_EQ(r.cpuset_cpus, "0-1,3");
    EXPECT_EQ(r.cpuset_mems, "0");
    EXPECT_EQ(r.pids_limit, 64);
    EXPECT_EQ(r.blkio_weight, 500);
    ASSERT_EQ(r.blkio_read_bps.size(), 1u);
    EXPECT_EQ(r.blkio_read_bps[0].major, 8);
    EXPECT_EQ(r.blkio_read_bps[0].rate, 1048576u);
    EXPECT_EQ(r.blkio_write_bps[0].rate, 2097152u);
    EXPECT_EQ(r.blkio_read_iops[0].minor, 16);
    EXPECT_EQ(r.blkio_write_iops[0].rate, 200u);
    EXPECT_EQ(r.hugepage_limits.at("2MB"), 209715200u);
    EXPECT_EQ(r.hugepage_limits.at("1GB"), 0u);
    EXPECT_EQ(r.unified.at("io.weight"), "default 100");
    ASSERT_EQ(r.devices.size(), 3u);
    EXPECT_FALSE(r.devices[0].allow);
    EXPECT_EQ(r.devices[0].type, 'a');
    EXPECT_EQ(r.devices[0].major, -1);
    EXPECT_EQ(r.devices[0].minor, -1);
    EXPECT_EQ(r.devices[0].access, "rwm");
    EXPECT_EQ(r.devices[1].type, 'c');
    EXPECT_EQ(r.devices[1].major, 1);
    EXPECT_EQ(r.devices[1].minor, 3);
    EXPECT_EQ(r.devices[1].access, "rw");
    EXPECT_EQ(r.devices[2].minor, -1);
    EXPECT_EQ(r.devices[2].access, "rwm");
}

TEST_F(SpecTest, EmptyResourcesAreEmpty) {
    auto s = parse(with_resources(json::object()));
    ASSERT_TRUE(s.resources.has_value());
    EXPECT_TRUE(s.resources->empty());
    // Zeroes mean "not set" for shares, quota, period and weight, as runc reads them.
    s = parse(with_resources({{"cpu", {{"shares", 0}, {"quota", 0}, {"period", 0}}}, {"blockIO", {{"weight", 0}}}}));
    EXPECT_TRUE(s.resources->empty());
    s = parse(with_resources({{"pids", {{"limit", -1}}}}));
    EXPECT_FALSE(s.resources->empty());
    s = parse(with_resources({{"memory", {{"disableOOMKiller", true}}}}));
    EXPECT_FALSE(s.resources->empty());
    s = parse(with_resources({{"unified", {{"pids.max", "5"}}}}));
    EXPECT_FALSE(s.resources->empty());
}

TEST_F(SpecTest, BadMemoryAndCpuValuesAreRefused) {
    EXPECT_TRUE(refused(with_resources({{"memory", {{"limit", -2}}}}), "linux.resources.memory.limit", "out of range"));
    EXPECT_TRUE(refused(with_resources({{"memory", {{"limit", 100000000}, {"swap", 50000000}}}}),
                        "linux.resources.memory.swap", "below memory.limit"));
    EXPECT_NO_THROW(parse(with_resources({{"memory", {{"limit", 100000000}, {"swap", -1}}}})));
    EXPECT_TRUE(refused(with_resources({{"memory", {{"swappiness", 101}}}}), "linux.resources.memory.swappiness",
                        "0..100"));
    EXPECT_TRUE(refused(with_resources({{"memory", {{"limit", "64m"}}}}), "linux.resources.memory.limit",
                        "expected an integer"));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"shares", 1}}}}), "linux.resources.cpu.shares", "2..262144"));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"shares", 300000}}}}), "linux.resources.cpu.shares", "2..262144"));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"quota", 500}}}}), "linux.resources.cpu.quota", "1000"));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"quota", -5}}}}), "linux.resources.cpu.quota", "-1"));
    EXPECT_EQ(parse(with_resources({{"cpu", {{"quota", -1}}}})).resources->cpu_quota, -1);
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"period", 999}}}}), "linux.resources.cpu.period", "1000..1000000"));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"cpus", "0-"}}}}), "linux.resources.cpu.cpus", "\"0-3,7\""));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"mems", "a"}}}}), "linux.resources.cpu.mems", "list"));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"realtimeRuntime", 950000}}}}), "linux.resources.cpu.realtimeRuntime",
                        "real-time"));
    EXPECT_TRUE(refused(with_resources({{"cpu", {{"realtimePeriod", 1000000}}}}), "linux.resources.cpu.realtimePeriod",
                        "real-time"));
    EXPECT_NO_THROW(parse(with_resources({{"cpu", {{"realtimeRuntime", 0}, {"realtimePeriod", 0}}}})));
    EXPECT_TRUE(refused(with_resources({{"pids", {{"limit", -2}}}}), "linux.resources.pids.limit", "out of range"));
}

TEST_F(SpecTest, BadBlockIoHugepagesUnifiedAndDeviceRulesAreRefused) {
    EXPECT_TRUE(refused(with_resources({{"blockIO", {{"weight", 5}}}}), "linux.resources.blockIO.weight", "10..1000"));
    EXPECT_TRUE(refused(with_resources({{"blockIO", {{"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}}}}}}}),
                        "linux.resources.blockIO.throttleReadBpsDevice[0].rate", "required"));
    EXPECT_TRUE(refused(with_resources({{"hugepageLimits", {{{"pageSize", "2M"}, {"limit", 1}}}}}),
                        "linux.resources.hugepageLimits[0].pageSize", "\"2MB\""));
    EXPECT_TRUE(refused(with_resources({{"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 1}},
                                                            {{"pageSize", "2MB"}, {"limit", 2}}}}}),
                        "linux.resources.hugepageLimits[1].pageSize", "twice"));
    EXPECT_TRUE(refused(with_resources({{"unified", {{"../../cgroup.procs", "1"}}}}),
                        "linux.resources.unified.../../cgroup.procs", "cgroup v2 file"));
    EXPECT_TRUE(refused(with_resources({{"unified", {{"memory.max", 5}}}}), "linux.resources.unified.memory.max",
                        "expected a string"));
    EXPECT_TRUE(refused(with_resources({{"devices", {{{"allow", true}, {"access", "rwx"}}}}}),
                        "linux.resources.devices[0].access", "r, w and m"));
    EXPECT_TRUE(refused(with_resources({{"devices", {{{"allow", true}, {"access", "rr"}}}}}),
                        "linux.resources.devices[0].access", "r, w and m"));
    EXPECT_TRUE(refused(with_resources({{"devices", {{{"allow", true}, {"type", "u"}}}}}),
                        "linux.resources.devices[0].type", "a, b or c"));
    EXPECT_TRUE(refused(with_resources({{"devices", {{{"access", "r"}}}}}), "linux.resources.devices[0].allow",
                        "required"));
    EXPECT_TRUE(refused(with_resources({{"devices", {{{"allow", true}, {"major", -2}}}}}),
                        "linux.resources.devices[0].major", "out of range"));
}

TEST_F(SpecTest, IgnoredResourceFieldsAreWarned) {
    auto s = parse(with_resources({{"memory", {{"kernel", 1000000}, {"kernelTCP", 1000}, {"useHierarchy", true}}},
                                   {"cpu", {{"burst", 1000}, {"idle", 1}}},
                                   {"blockIO", {{"leafWeight", 100}, {"weightDevice", {{{"major", 8}, {"minor", 0}, {"weight", 100}}}}}},
                                   {"network", {{"classID", 1048577}}},
                                   {"rdma", {{"mlx5_1", {{"hcaHandles", 3}}}}}}));
    EXPECT_TRUE(warned(s, "linux.resources.memory.kernel", "deprecated"));
    EXPECT_TRUE(warned(s, "linux.resources.memory.kernelTCP", "deprecated"));
    EXPECT_TRUE(warned(s, "linux.resources.memory.useHierarchy"));
    EXPECT_TRUE(warned(s, "linux.resources.cpu.burst"));
    EXPECT_TRUE(warned(s, "linux.resources.cpu.idle"));
    EXPECT_TRUE(warned(s, "linux.resources.blockIO.leafWeight"));
    EXPECT_TRUE(warned(s, "linux.resources.blockIO.weightDevice", "ignored"));
    EXPECT_TRUE(warned(s, "linux.resources.network"));
    EXPECT_TRUE(warned(s, "linux.resources.rdma"));
    // Zero values ask for nothing: no warning.
    auto quiet = parse(with_resources({{"memory", {{"kernel", 0}}}, {"cpu", {{"burst", 0}}}}));
    EXPECT_TRUE(quiet.warnings.empty());
}

// ---- seccomp -------------------------------------------------------------------------------

json seccomp_rule(const std::string& action) {
    return {{"names", {"mount", "umount2"}}, {"action", action}};
}

TEST_F(SpecTest, SeccompIsReadWithNamesKept) {
    json sec = {{"defaultAction", "SCMP_ACT_ERRNO"},
                {"defaultErrnoRet", 1},
                {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                {"flags", {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"}},
                {"syscalls",
                 {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}},
                  {{"names", {"personality"}},
                   {"action", "SCMP_ACT_ALLOW"},
                   {"args", {{{"index", 0}, {"value", 8}, {"op", "SCMP_CMP_EQ"}},
                             {{"index", 1}, {"value", 255}, {"valueTwo", 8}, {"op", "SCMP_CMP_MASKED_EQ"}}}}},
                  {{"names", {"ptrace"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}}}};
    auto s = parse(with_linux({{"seccomp", sec}}));
    ASSERT_TRUE(s.seccomp.has_value());
    EXPECT_EQ(s.seccomp->default_action, "SCMP_ACT_ERRNO");
    EXPECT_EQ(s.seccomp->default_errno_ret, 1u);
    EXPECT_EQ(s.seccomp->architectures.size(), 3u);
    EXPECT_EQ(s.seccomp->flags.size(), 3u);
    ASSERT_EQ(s.seccomp->syscalls.size(), 3u);
    EXPECT_EQ(s.seccomp->syscalls[0].names, (std::vector<std::string>{"read", "write"}));
    EXPECT_FALSE(s.seccomp->syscalls[0].errno_ret.has_value());
    ASSERT_EQ(s.seccomp->syscalls[1].args.size(), 2u);
    EXPECT_EQ(s.seccomp->syscalls[1].args[1].index, 1u);
    EXPECT_EQ(s.seccomp->syscalls[1].args[1].value, 255u);
    EXPECT_EQ(s.seccomp->syscalls[1].args[1].value_two, 8u);
    EXPECT_EQ(s.seccomp->syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
    EXPECT_EQ(s.seccomp->syscalls[2].errno_ret, 38u);
    for (const char* action : {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                               "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"}) {
        EXPECT_NO_THROW(parse(with_linux({{"seccomp", {{"defaultAction", action}, {"syscalls", {seccomp_rule(action)}}}}})))
            << action;
    }
}

TEST_F(SpecTest, BadSeccompValuesAreRefused) {
    auto sec = [&](const json& s) { return with_linux({{"seccomp", s}}); };
    EXPECT_TRUE(refused(sec(json::object()), "linux.seccomp.defaultAction", "required"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_DENY"}}), "linux.seccomp.defaultAction", "unknown seccomp action"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_NOTIFY"}}), "linux.seccomp.defaultAction", "seccomp agent"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {seccomp_rule("SCMP_ACT_NOTIFY")}}}),
                        "linux.seccomp.syscalls[0].action", "seccomp agent"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"defaultErrnoRet", 1}}),
                        "linux.seccomp.defaultErrnoRet", "SCMP_ACT_ERRNO"));
    json rule = seccomp_rule("SCMP_ACT_KILL");
    rule["errnoRet"] = 1;
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule}}}),
                        "linux.seccomp.syscalls[0].errnoRet", "only SCMP_ACT_ERRNO"));
    rule = seccomp_rule("SCMP_ACT_ERRNO");
    rule["args"] = {{{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}};
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule}}}),
                        "linux.seccomp.syscalls[0].args[0].index", "0..5"));
    rule["args"] = {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_IN"}}};
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule}}}),
                        "linux.seccomp.syscalls[0].args[0].op", "unknown comparison"));
    rule["args"] = {{{"index", 0}, {"op", "SCMP_CMP_EQ"}}};
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule}}}),
                        "linux.seccomp.syscalls[0].args[0].value", "required"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {{{"names", json::array()}, {"action", "SCMP_ACT_LOG"}}}}}),
                        "linux.seccomp.syscalls[0].names", "at least one"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"}}}),
                        "linux.seccomp.architectures[1]", "unknown architecture"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"flags", {"SECCOMP_FILTER_FLAG_NEW_LISTENER"}}}),
                        "linux.seccomp.flags[0]", "unsupported seccomp flag"));
    EXPECT_TRUE(refused(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerPath", "/run/agent.sock"}}),
                        "linux.seccomp.listenerPath", "not supported"));
    EXPECT_TRUE(warned(parse(sec({{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerMetadata", "x"}})),
                       "linux.seccomp.listenerMetadata"));
}

// ---- parse_process alone (exec --process) ----------------------------------------------------

TEST(SpecProcess, AProcessFileIsReadAloneWithItsOwnPrefix) {
    auto p = spec::parse_process({{"args", {"ls", "-l"}}, {"cwd", "/tmp"}, {"env", {"A=1"}}, {"terminal", true}});
    EXPECT_EQ(p.args, (std::vector<std::string>{"ls", "-l"}));
    EXPECT_EQ(p.cwd, "/tmp");
    EXPECT_TRUE(p.terminal);
    try {
        spec::parse_process({{"args", json::array()}, {"cwd", "/"}}, "process.json");
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.message().rfind("process.json.args: ", 0), 0u) << e.message();
    }
    EXPECT_THROW(spec::parse_process(json::array()), Error);
}

// ---- default_spec --------------------------------------------------------------------------

TEST_F(SpecTest, TheDefaultSpecReadsBackAsDockerWouldRunIt) {
    spec::SpecOptions opts;
    opts.args = {"/bin/sh", "-c", "echo hi"};
    opts.terminal = false;
    json config = spec::default_spec(opts);
    EXPECT_EQ(config["ociVersion"], "1.0.2");
    EXPECT_EQ(config["root"]["path"], "rootfs");
    auto s = parse(config);
    EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
    EXPECT_EQ(s.hostname, "minibox");
    EXPECT_FALSE(s.root_readonly);
    EXPECT_EQ(s.process.args, opts.args);
    EXPECT_FALSE(s.process.terminal);
    EXPECT_EQ(s.process.user.uid, 0u);
    EXPECT_EQ(s.process.cwd, "/");
    EXPECT_NE(std::find(s.process.env.begin(), s.process.env.end(), "TERM=xterm"), s.process.env.end());
    EXPECT_EQ(s.process.env[0].rfind("PATH=/usr/local/sbin:", 0), 0u);
    EXPECT_FALSE(s.process.no_new_privileges);
    ASSERT_EQ(s.process.rlimits.size(), 1u);
    EXPECT_EQ(s.process.rlimits[0].resource, RLIMIT_NOFILE);
    EXPECT_EQ(s.process.rlimits[0].soft, 1024u);

    ASSERT_TRUE(s.process.capabilities.has_value());
    const auto& c = *s.process.capabilities;
    EXPECT_EQ(c.bounding.size(), 14u);
    EXPECT_EQ(c.effective, c.bounding);
    EXPECT_EQ(c.permitted, c.bounding);
    EXPECT_TRUE(c.inheritable.empty());
    EXPECT_TRUE(c.ambient.empty());
    for (const char* name : {"CAP_CHOWN", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_AUDIT_WRITE", "CAP_MKNOD"}) {
        EXPECT_TRUE(contains(c.bounding, *spec::capability_number(name))) << name;
    }
    for (const char* name : {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE"}) {
        EXPECT_FALSE(contains(c.bounding, *spec::capability_number(name))) << name;
    }

    std::set<int> ns;
    for (const auto& n : s.namespaces) ns.insert(n.type);
    EXPECT_EQ(ns, (std::set<int>{CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNS, CLONE_NEWCGROUP}));
    EXPECT_TRUE(s.uid_mappings.empty());

    EXPECT_EQ(s.masked_paths.size(), 11u);
    EXPECT_NE(std::find(s.masked_paths.begin(), s.masked_paths.end(), "/proc/kcore"), s.masked_paths.end());
    EXPECT_NE(std::find(s.masked_paths.begin(), s.masked_paths.end(), "/sys/firmware"), s.masked_paths.end());
    EXPECT_EQ(s.readonly_paths,
              (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));

    std::map<std::string, spec::Mount> mounts;
    for (const auto& m : s.mounts) mounts[m.destination] = m;
    ASSERT_EQ(mounts.size(), 7u);
    EXPECT_EQ(mounts["/proc"].type, "proc");
    EXPECT_EQ(mounts["/dev"].type, "tmpfs");
    EXPECT_EQ(mounts["/dev"].data, "mode=755,size=65536k");
    EXPECT_EQ(mounts["/dev"].flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
    EXPECT_EQ(mounts["/dev/pts"].type, "devpts");
    EXPECT_EQ(mounts["/dev/pts"].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    EXPECT_EQ(mounts["/sys"].flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
    EXPECT_EQ(mounts["/sys/fs/cgroup"].type, "cgroup");
    EXPECT_TRUE(mounts["/sys/fs/cgroup"].flags & MS_RDONLY);
    EXPECT_EQ(mounts["/dev/mqueue"].type, "mqueue");
    EXPECT_EQ(mounts["/dev/shm"].data, "mode=1777,size=65536k");
    for (const auto& [dest, m] : mounts) EXPECT_FALSE(m.bind()) << dest;

    ASSERT_TRUE(s.resources.has_value());
    ASSERT_EQ(s.resources->devices.size(), 1u);
    EXPECT_FALSE(s.resources->devices[0].allow);
    EXPECT_EQ(s.resources->devices[0].type, 'a');
    EXPECT_EQ(s.resources->devices[0].access, "rwm");
    // Docker's profile: refuse what is not listed (EPERM), for x86_64 and its 32-bit ABIs.
    ASSERT_TRUE(s.seccomp.has_value());
    EXPECT_EQ(s.seccomp->default_action, "SCMP_ACT_ERRNO");
    EXPECT_FALSE(s.seccomp->syscalls.empty());
    EXPECT_NE(std::find(s.seccomp->architectures.begin(), s.seccomp->architectures.end(), "SCMP_ARCH_X86_64"),
              s.seccomp->architectures.end());
}

TEST_F(SpecTest, TheDefaultSpecWithAUserNamespaceMapsRootToASubordinateRange) {
    spec::SpecOptions opts;
    opts.userns = true;
    opts.rootfs = bundle.path + "/rootfs";
    auto s = parse(spec::default_spec(opts));
    EXPECT_TRUE(s.has_namespace(CLONE_NEWUSER));
    ASSERT_EQ(s.uid_mappings.size(), 1u);
    ASSERT_EQ(s.gid_mappings.size(), 1u);
    EXPECT_EQ(s.uid_mappings[0].container_id, 0u);
    EXPECT_GT(s.uid_mappings[0].size, 0u);
    EXPECT_NE(s.uid_mappings[0].host_id, 0u);  // never the host's root
    // The range is root's first line of /etc/subuid when there is one.
    std::ifstream in("/etc/subuid");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("root:", 0) != 0) continue;
        auto second = line.find(':', 5);
        EXPECT_EQ(std::to_string(s.uid_mappings[0].host_id), line.substr(5, second - 5));
        EXPECT_EQ(std::to_string(s.uid_mappings[0].size), line.substr(second + 1));
        break;
    }
    EXPECT_EQ(s.root, bundle.path + "/rootfs");
    EXPECT_TRUE(s.process.terminal);  // the default
}

// ---- hooks::run_all ------------------------------------------------------------------------

class HooksTest : public ::testing::Test {
protected:
    TempDir dir;
    // A hook script; /bin/sh, and no PATH in its environment unless the hook gives one.
    std::string script(const std::string& name, const std::string& body) {
        std::string path = dir.path + "/" + name;
        files::write(path, "#!/bin/sh\n" + body + "\n");
        ::chmod(path.c_str(), 0755);
        return path;
    }
    const json state = {{"ociVersion", "1.0.2"}, {"id", "c1"}, {"status", "creating"}, {"pid", 4711},
                        {"bundle", "/b"}, {"annotations", {{"k", "v"}}}};
};

TEST_F(HooksTest, TheStateArrivesOnStdinWithArgsAndEnv) {
    spec::Hook h;
    h.path = script("h.sh", "/bin/cat > " + dir.path + "/stdin\necho \"$0|$1|$2|$MINIBOX_X\" > " + dir.path + "/argv");
    h.args = {"my-hook", "one", "two"};
    h.env = {"MINIBOX_X=42"};
    h.timeout = 5;
    hooks::run_all({h}, state, "prestart");
    EXPECT_EQ(json::parse(support::read_file(dir.path + "/stdin")), state);
    // argv[0] is args[0], as execve has it (a shell script sees its path as $0, so $0 is the
    // script; the rest of args follow).
    std::string argv = support::read_file(dir.path + "/argv");
    EXPECT_NE(argv.find("|one|two|42"), std::string::npos) << argv;
}

TEST_F(HooksTest, WithoutArgsArgv0IsThePath) {
    spec::Hook h;
    h.path = script("noargs.sh", "echo \"$#\" > " + dir.path + "/count");
    hooks::run_all({h}, state, "poststop");
    EXPECT_EQ(support::read_file(dir.path + "/count"), "0\n");
}

TEST_F(HooksTest, HooksRunInOrderAndTheFirstFailureStops) {
    std::string log = dir.path + "/log";
    spec::Hook a, b, c;
    a.path = script("a.sh", "echo a >> " + log);
    b.path = script("b.sh", "echo b >> " + log + "\necho 'something broke' >&2\necho 'the last line' >&2\nexit 3");
    c.path = script("c.sh", "echo c >> " + log);
    try {
        hooks::run_all({a, b, c}, state, "prestart");
        FAIL() << "a failing hook passed";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "prestart hook " + b.path + " exited with status 3: the last line");
    }
    EXPECT_EQ(support::read_file(log), "a\nb\n");
}

TEST_F(HooksTest, AHookPastItsTimeoutIsKilled) {
    spec::Hook h;
    std::string pidfile = dir.path + "/pid";
    // exec: the shell becomes sleep, so the pid written is the process that must die.
    h.path = script("slow.sh", "echo $$ > " + pidfile + "\nexec /bin/sleep 30");
    h.timeout = 1;
    auto start = std::chrono::steady_clock::now();
    try {
        hooks::run_all({h}, state, "createRuntime");
        FAIL() << "a hook past its timeout passed";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "createRuntime hook " + h.path + " timed out after 1 s");
    }
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, std::chrono::milliseconds(900));
    EXPECT_LT(took, std::chrono::seconds(5));
    pid_t pid = std::stoi(support::read_file(pidfile));
    EXPECT_EQ(::kill(pid, 0), -1);  // killed and reaped: no such process any more
    EXPECT_EQ(errno, ESRCH);
}

TEST_F(HooksTest, AHookKilledByASignalIsNamed) {
    spec::Hook h;
    h.path = script("kill.sh", "kill -9 $$");
    try {
        hooks::run_all({h}, state, "createContainer");
        FAIL() << "passed";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "createContainer hook " + h.path + " was killed by signal SIGKILL");
    }
}

TEST_F(HooksTest, AMissingOrNonExecutableHookIsReported) {
    spec::Hook h;
    h.path = dir.path + "/absent";
    try {
        hooks::run_all({h}, state, "prestart");
        FAIL() << "passed";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), "prestart hook " + h.path + " could not be executed: No such file or directory");
        EXPECT_EQ(e.err(), ENOENT);
    }
    h.path = script("noexec.sh", "exit 0");
    ::chmod(h.path.c_str(), 0644);
    try {
        hooks::run_all({h}, state, "prestart");
        FAIL() << "passed";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("Permission denied"), std::string::npos) << e.message();
    }
}

TEST_F(HooksTest, AHookThatIgnoresItsStdinDoesNotKillTheRuntime) {
    // A state larger than a pipe's buffer, to a hook that exits at once: the write meets EPIPE
    // (or a full pipe) and the runtime goes on, without dying of SIGPIPE.
    json big = state;
    big["annotations"]["big"] = std::string(1 << 20, 'x');
    spec::Hook h;
    h.path = script("quick.sh", "exit 0");
    EXPECT_NO_THROW(hooks::run_all({h, h}, big, "poststart"));
    sigset_t pending;
    sigpending(&pending);
    EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST_F(HooksTest, NoHooksIsNothing) { EXPECT_NO_THROW(hooks::run_all({}, state, "prestart")); }

}  // namespace
