// nsinfo on the host, without root: it must report exactly what /proc says about the process.
#include <elf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <unistd.h>

#include "nsinfo_facts.hpp"
#include "support.hpp"

using nsinfo_test::facts;
using support::bin;
using support::run;

namespace {

const char* const kTypes[] = {"uts", "pid", "mnt", "net", "ipc", "user", "cgroup", "time"};

TEST(Nsinfo, PrintsTheSameNamespaceInodesAsProcSelfNs) {
    auto r = run({bin("nsinfo")});
    ASSERT_EQ(r.status, 0) << r.err;
    auto f = facts(r.out);
    // nsinfo is our child: it shares every namespace with this test process.
    for (const char* type : kTypes) {
        struct stat st {};
        std::string link = std::string("/proc/self/ns/") + type;
        if (::stat(link.c_str(), &st) != 0) {
            EXPECT_EQ(f["ns." + std::string(type)], "unavailable") << type;
            continue;
        }
        EXPECT_EQ(f["ns." + std::string(type)], std::to_string(st.st_ino)) << type;
    }
}

TEST(Nsinfo, PrintsHostnamePidsAndMountCount) {
    auto r = run({bin("nsinfo")});
    ASSERT_EQ(r.status, 0) << r.err;
    auto f = facts(r.out);
    char host[256] = "";
    ::gethostname(host, sizeof host);
    EXPECT_EQ(f["hostname"], host);
    EXPECT_EQ(f["ppid"], std::to_string(::getpid()));  // support::run forks nsinfo from here
    EXPECT_NE(f["pid"], std::to_string(::getpid()));
    EXPECT_EQ(f["uid"], std::to_string(::getuid()));
    auto mountinfo = support::read_file("/proc/self/mountinfo");
    EXPECT_EQ(f["mounts"], std::to_string(std::count(mountinfo.begin(), mountinfo.end(), '\n')));
    EXPECT_NE(("," + f["net.interfaces"] + ",").find(",lo,"), std::string::npos) << f["net.interfaces"];
    EXPECT_EQ(f["net.lo"].rfind("up 127.0.0.1/8", 0), 0u) << f["net.lo"];
    for (const char* key : {"uid_map", "gid_map", "caps", "cgroup.layout", "cgroup", "limit.memory",
                            "limit.pids", "limit.cpu"})
        EXPECT_TRUE(f.count(key)) << key << " missing in:\n" << r.out;
}

TEST(Nsinfo, KeyPrintsJustTheValue) {
    auto all = facts(run({bin("nsinfo")}).out);
    auto r = run({bin("nsinfo"), "ns.uts", "hostname"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, all["ns.uts"] + "\n" + all["hostname"] + "\n");
    // A member of a machine-dependent family that is not here: "unavailable", not an error.
    r = run({bin("nsinfo"), "net.no-such-if0"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "unavailable\n");
}

TEST(Nsinfo, RejectsUnknownKeysAndOptions) {
    auto r = run({bin("nsinfo"), "no-such-key"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err, "nsinfo: unknown key no-such-key (see --help)\n");
    EXPECT_EQ(run({bin("nsinfo"), "--bogus"}).status, 2);
    r = run({bin("nsinfo"), "--help"});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("ns.uts"), std::string::npos);
}

TEST(Nsinfo, CapabilitiesMatchCapEff) {
    auto status = support::read_file("/proc/self/status");
    auto at = status.find("CapEff:\t");
    ASSERT_NE(at, std::string::npos);
    unsigned long long mask = std::stoull(status.substr(at + 8, 16), nullptr, 16);
    std::string caps = facts(run({bin("nsinfo")}).out)["caps"];
    if (mask == 0) {
        EXPECT_EQ(caps, "none");
    } else if (caps != "all") {
        // One name per bit set.
        EXPECT_EQ(static_cast<int>(std::count(caps.begin(), caps.end(), ',')) + 1, __builtin_popcountll(mask)) << caps;
        EXPECT_EQ(caps.find("cap_sys_admin") != std::string::npos, (mask >> 21) & 1) << caps;
    }
}

TEST(Nsinfo, IsStaticallyLinked) {
    // The image has no shared libraries: a dynamic nsinfo would fail there with "not found".
    // A dynamic executable names its loader in a PT_INTERP program header; a static one has none.
    auto elf = support::read_file(bin("nsinfo"));
    ASSERT_GE(elf.size(), sizeof(Elf64_Ehdr));
    Elf64_Ehdr eh;
    std::memcpy(&eh, elf.data(), sizeof eh);
    ASSERT_EQ(std::memcmp(eh.e_ident, ELFMAG, SELFMAG), 0);
    ASSERT_LE(eh.e_phoff + size_t{eh.e_phnum} * sizeof(Elf64_Phdr), elf.size());
    for (int i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph;
        std::memcpy(&ph, elf.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
        EXPECT_NE(ph.p_type, static_cast<Elf64_Word>(PT_INTERP)) << "nsinfo is dynamically linked";
    }
}

}  // namespace
