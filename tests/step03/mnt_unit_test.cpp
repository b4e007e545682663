// step03 without root: volume specs, path normalization, resolving paths inside a root over a
// temporary directory (the escapes included), mountinfo parsing, and the leftover records.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "mnt.hpp"
#include "pid.hpp"
#include "state.hpp"
#include "support.hpp"
#include "uts.hpp"

namespace {

// A temporary directory tree, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/minibox-step03-unit-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { support::sh("rm -rf '" + path_ + "'"); }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

TEST(Normalize, CleansAbsolutePaths) {
    EXPECT_EQ(mnt::normalize("/a/./b//c/../d"), "/a/b/d");
    EXPECT_EQ(mnt::normalize("/data/"), "/data");
    EXPECT_EQ(mnt::normalize("/"), "/");
    EXPECT_EQ(mnt::normalize("/a/.."), "/");
}

TEST(Normalize, RefusesRelativePathsAndClimbingAboveRoot) {
    EXPECT_EQ(mnt::normalize("data"), std::nullopt);
    EXPECT_EQ(mnt::normalize(""), std::nullopt);
    EXPECT_EQ(mnt::normalize("/.."), std::nullopt);
    EXPECT_EQ(mnt::normalize("/a/../../etc"), std::nullopt);
}

TEST(ParseVolume, HostContainerAndMode) {
    TempDir t;
    std::string why;
    auto v = mnt::parse_volume(t.path() + ":/data", why);
    ASSERT_TRUE(v) << why;
    EXPECT_EQ(v->host, t.path());
    EXPECT_EQ(v->container, "/data");
    EXPECT_FALSE(v->read_only);

    v = mnt::parse_volume(t.path() + ":/a/../data/:ro", why);
    ASSERT_TRUE(v) << why;
    EXPECT_EQ(v->container, "/data");
    EXPECT_TRUE(v->read_only);

    v = mnt::parse_volume(t.path() + ":/data:rw", why);
    ASSERT_TRUE(v) << why;
    EXPECT_FALSE(v->read_only);
}

TEST(ParseVolume, MakesTheHostPathAbsolute) {
    TempDir t;
    ::mkdir((t / "sub").c_str(), 0755);
    char old[4096];
    ASSERT_TRUE(::getcwd(old, sizeof old));
    ASSERT_EQ(::chdir(t.path().c_str()), 0);
    std::string why;
    auto v = mnt::parse_volume("sub:/x", why);
    ASSERT_EQ(::chdir(old), 0);
    ASSERT_TRUE(v) << why;
    EXPECT_EQ(v->host, t / "sub");
}

TEST(ParseVolume, RefusesBadSpecsWithAReason) {
    TempDir t;
    struct Case {
        std::string spec, reason;
    };
    const Case cases[] = {
        {t.path(), "expected HOST:CONTAINER"},
        {t.path() + ":/a:/b:ro", "expected HOST:CONTAINER"},
        {":/data", "host path is empty"},
        {t.path() + ":data", "must be absolute"},
        {t.path() + ":", "must be absolute"},
        {t.path() + ":/../etc", "escapes the root"},
        {t.path() + ":/", "over the container's /"},
        {t.path() + ":/data:rx", "unknown mode"},
        {t / "missing" + ":/data", "No such file or directory"},
    };
    for (auto& c : cases) {
        std::string why;
        EXPECT_FALSE(mnt::parse_volume(c.spec, why)) << c.spec;
        EXPECT_NE(why.find(c.reason), std::string::npos) << c.spec << " -> " << why;
    }
}

// A small image: /etc/passwd, /bin, and symlinks of every kind.
class InRoot : public ::testing::Test {
protected:
    void SetUp() override {
        outside_ = t_ / "outside";
        root_dir_ = t_ / "root";
        ::mkdir(outside_.c_str(), 0755);
        ::mkdir(root_dir_.c_str(), 0755);
        for (auto d : {"etc", "bin", "var", "var/lib"}) ::mkdir((root_dir_ + "/" + d).c_str(), 0755);
        std::ofstream(root_dir_ + "/etc/passwd") << "root:x:0:0\n";
        link("../../../../../../outside", "out");     // climbs above the root
        link("/etc", "abs");                          // absolute: read from the root
        link("../etc", "var/up");                     // ".." that stays inside
        link("var/lib/../../etc", "dots");            // ".." inside a target
        link("loop2", "loop1");
        link("loop1", "loop2");
        link("nowhere/new", "dangling");              // to something missing
        link("etc/passwd", "pw");
        root_.reset(::open(root_dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_);
    }
    void link(const std::string& target, const std::string& name) {
        ASSERT_EQ(::symlink(target.c_str(), (root_dir_ + "/" + name).c_str()), 0);
    }
    mnt::Resolved resolve(const std::string& path, mnt::Create c = mnt::Create::none) {
        return mnt::resolve_in_root(root_.get(), path, c);
    }
    std::string error_of(const std::string& path, mnt::Create c = mnt::Create::none) {
        try {
            resolve(path, c);
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_status(), 125);
            return e.message();
        }
        return "no error";
    }

    TempDir t_;
    std::string outside_, root_dir_;
    unique_fd root_;
};

TEST_F(InRoot, PlainPaths) {
    auto r = resolve("/etc/passwd");
    EXPECT_TRUE(r.exists);
    EXPECT_FALSE(r.is_dir);
    EXPECT_EQ(r.path, "/etc/passwd");
    r = resolve("/");
    EXPECT_TRUE(r.exists);
    EXPECT_TRUE(r.is_dir);
    EXPECT_EQ(r.path, "/");
}

TEST_F(InRoot, AbsoluteSymlinksAreReadFromTheRoot) {
    auto r = resolve("/abs/passwd");
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(r.path, "/etc/passwd");
    // The fd is the image's file, not the host's /etc/passwd.
    struct stat in {}, host {};
    ASSERT_EQ(::fstat(r.fd.get(), &in), 0);
    ASSERT_EQ(::stat((root_dir_ + "/etc/passwd").c_str(), &host), 0);
    EXPECT_EQ(in.st_ino, host.st_ino);
}

TEST_F(InRoot, DotDotThatStaysInsideIsFine) {
    EXPECT_EQ(resolve("/var/up/passwd").path, "/etc/passwd");
    EXPECT_EQ(resolve("/dots/passwd").path, "/etc/passwd");
}

TEST_F(InRoot, SymlinksClimbingOutAreRefused) {
    EXPECT_NE(error_of("/out").find("escapes the root through the symlink /out -> ../../../../../../outside"),
              std::string::npos)
        << error_of("/out");
    EXPECT_NE(error_of("/out/x", mnt::Create::dir).find("escapes the root"), std::string::npos);
    EXPECT_NE(error_of("/var/../out").find("escapes the root"), std::string::npos);
    // Refused before anything was made, inside or outside.
    EXPECT_FALSE(exists(outside_ + "/x"));
    EXPECT_FALSE(exists(root_dir_ + "/x"));
}

TEST_F(InRoot, DotDotAtTheRootInThePathIsRefused) {
    EXPECT_NE(error_of("/../etc").find("escapes the root"), std::string::npos);
    EXPECT_NE(error_of("/etc/../../etc").find("escapes the root"), std::string::npos);
}

TEST_F(InRoot, SymlinkLoopsEnd) {
    EXPECT_NE(error_of("/loop1").find("too many levels of symbolic links"), std::string::npos);
}

TEST_F(InRoot, NonDirectoryInTheMiddle) {
    EXPECT_NE(error_of("/etc/passwd/x").find("not a directory"), std::string::npos);
    EXPECT_NE(error_of("/pw/x").find("not a directory"), std::string::npos);
}

TEST_F(InRoot, MissingPathsAreReportedNotMade) {
    auto r = resolve("/data/sub");
    EXPECT_FALSE(r.exists);
    EXPECT_FALSE(r.fd);
    EXPECT_EQ(r.path, "/data/sub");
    EXPECT_FALSE(exists(root_dir_ + "/data"));
    // A dangling symlink is followed, inside: the missing part is named as the container sees it.
    r = resolve("/dangling");
    EXPECT_FALSE(r.exists);
    EXPECT_EQ(r.path, "/nowhere/new");
}

TEST_F(InRoot, CreatesMissingDirectoriesAndFilesInside) {
    auto r = resolve("/data/sub", mnt::Create::dir);
    EXPECT_TRUE(r.exists);
    EXPECT_TRUE(r.is_dir);
    EXPECT_TRUE(exists(root_dir_ + "/data/sub"));

    r = resolve("/abs/hosts", mnt::Create::file);
    EXPECT_TRUE(r.exists);
    EXPECT_FALSE(r.is_dir);
    EXPECT_TRUE(exists(root_dir_ + "/etc/hosts"));

    r = resolve("/dangling", mnt::Create::dir);
    EXPECT_EQ(r.path, "/nowhere/new");
    EXPECT_TRUE(exists(root_dir_ + "/nowhere/new"));
}

TEST(MountFlags, AreSpelledSymbolically) {
    EXPECT_EQ(mnt::mount_flags(MS_REC | MS_PRIVATE), "MS_REC|MS_PRIVATE");
    EXPECT_EQ(mnt::mount_flags(MS_BIND | MS_REMOUNT | MS_RDONLY), "MS_RDONLY|MS_REMOUNT|MS_BIND");
    EXPECT_EQ(mnt::mount_flags(MS_NOSUID | MS_NODEV | MS_NOEXEC), "MS_NOSUID|MS_NODEV|MS_NOEXEC");
    EXPECT_EQ(mnt::mount_flags(0), "0");
}

TEST(MountInfo, ParsesFieldsAndEscapes) {
    TempDir t;
    std::ofstream(t / "mountinfo")
        << "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 shared:3 - ext3 /dev/root rw,errors=continue\n"
        << "37 36 0:5 / /proc rw,nosuid - proc proc rw\n";
    auto m = mnt::read_mountinfo(t / "mountinfo");
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].id, 36);
    EXPECT_EQ(m[0].parent, 35);
    EXPECT_EQ(m[0].root, "/mnt1");
    EXPECT_EQ(m[0].mount_point, "/mnt two");
    EXPECT_EQ(m[0].options, "rw,noatime");
    EXPECT_EQ(m[0].propagation, "master:1 shared:3");
    EXPECT_EQ(m[0].fstype, "ext3");
    EXPECT_EQ(m[0].source, "/dev/root");
    EXPECT_EQ(m[1].propagation, "");
    EXPECT_EQ(m[1].mount_point, "/proc");
}

TEST(Layer, FlagsComposeWithTheEarlierSteps) {
    uts::Layer u{{}};
    pid::Layer p{{}};
    mnt::Layer m{{}};
    EXPECT_EQ(m.clone_flags(), CLONE_NEWNS);
    EXPECT_EQ(u.clone_flags() | p.clone_flags() | m.clone_flags(), CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS);
}

TEST(Config, DefaultsToTheDefaultImage) {
    mnt::Config c;
    EXPECT_EQ(c.rootfs, support::busybox_rootfs());
    EXPECT_FALSE(c.read_only);
    EXPECT_FALSE(c.chroot_mode);
    EXPECT_FALSE(c.no_private);
    EXPECT_TRUE(c.volumes.empty());
}

TEST(Leftovers, ADeadOwnersRecordIsFoundAndReaped) {
    TempDir t;
    ::setenv("MINIBOX_RUN", t.path().c_str(), 1);
    struct stat ns {};
    ASSERT_EQ(::stat("/proc/self/ns/mnt", &ns), 0);
    // pid 1 with a start time it does not have: a dead owner. Its rootfs has no mounts, so
    // reaping only removes the record.
    std::ofstream(t / "mnt-0123456789ab.propagated")
        << "1:999999999999\nmntns " << ns.st_ino << "\nrootfs " << t.path() << "/none\nbefore 1 2 3\n";
    std::ofstream(t / "unrelated") << "not ours\n";
    auto found = mnt::find_leftovers();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_FALSE(found[0].owner_alive);
    EXPECT_TRUE(found[0].same_namespace);
    EXPECT_TRUE(found[0].mount_points.empty());
    auto reaped = mnt::reap_leftovers();
    EXPECT_EQ(reaped.size(), 1u);
    EXPECT_FALSE(exists(t / "mnt-0123456789ab.propagated"));
    EXPECT_TRUE(exists(t / "unrelated"));
    ::unsetenv("MINIBOX_RUN");
}

TEST(Leftovers, ALiveOwnersRecordIsLeftAlone) {
    TempDir t;
    ::setenv("MINIBOX_RUN", t.path().c_str(), 1);
    struct stat ns {};
    ASSERT_EQ(::stat("/proc/self/ns/mnt", &ns), 0);
    std::ofstream(t / "mnt-aaaaaaaaaaaa.propagated")
        << state::Owner::self().str() << "\nmntns " << ns.st_ino << "\nrootfs /none\nbefore 1\n";
    auto found = mnt::find_leftovers();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_TRUE(found[0].owner_alive);
    EXPECT_TRUE(mnt::reap_leftovers().empty());
    EXPECT_TRUE(exists(t / "mnt-aaaaaaaaaaaa.propagated"));
    ::unsetenv("MINIBOX_RUN");
}

}  // namespace
