// step06 without root: image names and configs, entry path checks, whiteout names, digests,
// OCI layouts, the store's layout over a temporary directory, safe unpacking of crafted
// archives, overlay mount options.
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <dirent.h>

#include <algorithm>

#include "error.hpp"
#include "image_store.hpp"
#include "import.hpp"
#include "oci.hpp"
#include "oci_helper.hpp"
#include "overlay.hpp"
#include "state.hpp"
#include "support.hpp"
#include "tar_helper.hpp"
#include "unpack.hpp"

using tartest::TempDir;

namespace {

std::optional<std::string> path_ok(const std::string& p) {
    std::string why;
    return image::check_entry_path(p, why);
}

TEST(Step06Paths, EntryPathsAreNormalizedOrRefused) {
    EXPECT_EQ(path_ok("./usr//bin/ls"), "usr/bin/ls");
    EXPECT_EQ(path_ok("etc/"), "etc");
    EXPECT_EQ(path_ok("./"), "");
    EXPECT_EQ(path_ok("."), "");
    EXPECT_EQ(path_ok("/"), "");  // the root, as umoci writes it
    EXPECT_EQ(path_ok("/./"), "");
    EXPECT_EQ(path_ok("/.."), std::nullopt);
    EXPECT_EQ(path_ok("a/./b"), "a/b");
    EXPECT_EQ(path_ok("..."), "...");  // a name, not a climb
    EXPECT_EQ(path_ok("..a/b.."), "..a/b..");
    EXPECT_EQ(path_ok("../etc/passwd"), std::nullopt);
    EXPECT_EQ(path_ok("a/../../b"), std::nullopt);
    EXPECT_EQ(path_ok("a/.."), std::nullopt);
    EXPECT_EQ(path_ok("/etc/passwd"), std::nullopt);
    EXPECT_EQ(path_ok(""), std::nullopt);
    std::string why;
    image::check_entry_path("/x", why);
    EXPECT_EQ(why, "an absolute path");
    image::check_entry_path("x/../y", why);
    EXPECT_EQ(why, "a \"..\" component");
}

TEST(Step06Whiteouts, NamesAreClassified) {
    using image::Whiteout;
    EXPECT_EQ(image::classify_whiteout("passwd").kind, Whiteout::none);
    auto w = image::classify_whiteout(".wh.passwd");
    EXPECT_EQ(w.kind, Whiteout::file);
    EXPECT_EQ(w.target, "passwd");
    EXPECT_EQ(image::classify_whiteout(".wh..wh..opq").kind, Whiteout::opaque);
    EXPECT_EQ(image::classify_whiteout(".wh..wh.plnk").kind, Whiteout::none);  // AUFS bookkeeping
    EXPECT_EQ(image::classify_whiteout(".wh..hidden").target, ".hidden");
    EXPECT_EQ(image::classify_whiteout("x.wh.y").kind, Whiteout::none);
}

TEST(Step06Names, ImageNames) {
    std::string why;
    EXPECT_TRUE(image::valid_name("busybox", why));
    EXPECT_TRUE(image::valid_name("debian-12.2_slim", why));
    EXPECT_FALSE(image::valid_name("", why));
    EXPECT_FALSE(image::valid_name("../x", why));
    EXPECT_FALSE(image::valid_name("a/b", why));
    EXPECT_FALSE(image::valid_name(".hidden", why));
    EXPECT_FALSE(image::valid_name("a:b", why));
    EXPECT_FALSE(image::valid_name("a,b", why));
    EXPECT_FALSE(image::valid_name("Upper", why));
    EXPECT_FALSE(image::valid_name(std::string(65, 'a'), why));
}

TEST(Step06Config, ParsedFromOciConfig) {
    auto j = nlohmann::json::parse(R"({"Env": ["PATH=/usr/bin", "A=1=2"], "Cmd": ["-c", "echo hi"],
        "Entrypoint": ["/bin/sh"], "WorkingDir": "/srv", "ExposedPorts": {"80/tcp": {}}})");
    auto c = image::parse_config(j);
    EXPECT_EQ(c.env, (std::vector<std::string>{"PATH=/usr/bin", "A=1=2"}));
    EXPECT_EQ(c.cmd, (std::vector<std::string>{"-c", "echo hi"}));
    EXPECT_EQ(c.entrypoint, (std::vector<std::string>{"/bin/sh"}));
    EXPECT_EQ(c.working_dir, "/srv");
    EXPECT_EQ(image::parse_config(image::to_json(c)), c);  // round trip
}

TEST(Step06Config, NullsAndAbsentKeysAreEmpty) {
    auto c = image::parse_config(nlohmann::json::parse(R"({"Cmd": null, "Entrypoint": null, "WorkingDir": ""})"));
    EXPECT_TRUE(c.cmd.empty());
    EXPECT_TRUE(c.entrypoint.empty());
    EXPECT_EQ(image::parse_config(nlohmann::json()), image::Config{});
}

TEST(Step06Config, WrongTypesAreRefused) {
    EXPECT_THROW(image::parse_config(nlohmann::json::parse(R"({"Cmd": "echo hi"})")), Error);
    EXPECT_THROW(image::parse_config(nlohmann::json::parse(R"({"Env": [1]})")), Error);
    EXPECT_THROW(image::parse_config(nlohmann::json::parse(R"({"Env": ["NOEQUALS"]})")), Error);
    EXPECT_THROW(image::parse_config(nlohmann::json::parse(R"({"WorkingDir": "relative"})")), Error);
    EXPECT_THROW(image::parse_config(nlohmann::json::parse(R"([1, 2])")), Error);
}

TEST(Step06Config, CommandAndEnvironment) {
    image::Config c;
    c.entrypoint = {"/bin/echo"};
    c.cmd = {"default"};
    EXPECT_EQ(image::command_for(c, {}), (std::vector<std::string>{"/bin/echo", "default"}));
    EXPECT_EQ(image::command_for(c, {"given"}), (std::vector<std::string>{"/bin/echo", "given"}));
    c.entrypoint.clear();
    EXPECT_EQ(image::command_for(c, {"ls", "-l"}), (std::vector<std::string>{"ls", "-l"}));
    c.cmd.clear();
    EXPECT_TRUE(image::command_for(c, {}).empty());
    c.env = {"PATH=/opt/bin", "LANG=C.UTF-8"};
    EXPECT_EQ(image::env_for(c, {"PATH=/bin", "HOME=/root"}),
              (std::vector<std::string>{"PATH=/opt/bin", "HOME=/root", "LANG=C.UTF-8"}));
}

TEST(Step06Digest, Sha256OfAFile) {
    TempDir t;
    tartest::write_text(t / "abc", "abc");
    EXPECT_EQ(image::sha256_file(t / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tartest::write_text(t / "empty", "");
    EXPECT_EQ(image::sha256_file(t / "empty"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Step06Digest, DigestShapes) {
    std::string hex(64, 'a');
    EXPECT_EQ(image::digest_hex("sha256:" + hex), hex);
    EXPECT_THROW(image::digest_hex("sha512:" + hex), Error);
    EXPECT_THROW(image::digest_hex("sha256:" + hex.substr(1)), Error);
    EXPECT_THROW(image::digest_hex("sha256:../../../../etc/passwd" + std::string(37, 'a')), Error);
    EXPECT_THROW(image::digest_hex("sha256:" + std::string(64, 'A')), Error);
}

TEST(Step06Digest, BlobsAreVerified) {
    TempDir t;
    auto b = ocitest::add_blob(t.path(), "hello");
    image::Descriptor d{"x", b.digest, b.size};
    EXPECT_EQ(image::verify_blob(t.path(), d), t.path() + "/blobs/sha256/" + b.digest.substr(7));
    d.size = 4;
    EXPECT_THROW(image::verify_blob(t.path(), d), Error);
    d.size = b.size;
    tartest::write_text(t.path() + "/blobs/sha256/" + b.digest.substr(7), "HELLO");  // same size, other bytes
    try {
        image::verify_blob(t.path(), d);
        ADD_FAILURE() << "a changed blob was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("does not match its digest"), std::string::npos) << e.message();
    }
    d.digest = "sha256:" + std::string(64, '0');
    try {
        image::verify_blob(t.path(), d);
        ADD_FAILURE() << "a missing blob was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("missing blob"), std::string::npos) << e.message();
    }
}

TEST(Step06Oci, LayoutIsRead) {
    TempDir t;
    tartest::write_tar(t / "l0.tar", {tartest::file("a", "1")});
    tartest::write_tar(t / "l1.tar", {tartest::file("b", "2")}, true);
    auto manifest = ocitest::make_layout(t / "oci", {t / "l0.tar", t / "l1.tar"},
                                         {{"Cmd", {"/bin/sh"}}, {"WorkingDir", "/w"}});
    auto img = image::read_oci_layout(t / "oci");
    ASSERT_EQ(img.layers.size(), 2u);
    EXPECT_EQ(img.layers[0].digest, manifest["layers"][0]["digest"]);
    EXPECT_EQ(img.config.cmd, (std::vector<std::string>{"/bin/sh"}));
    EXPECT_EQ(img.config.working_dir, "/w");
}

TEST(Step06Oci, BrokenLayoutsAreRefused) {
    TempDir t;
    tartest::write_tar(t / "l0.tar", {tartest::file("a", "1")});
    auto manifest = ocitest::make_layout(t / "oci", {t / "l0.tar"}, nlohmann::json::object());
    // The manifest changed after its digest was taken: refused.
    std::string mhex = nlohmann::json::parse(support::read_file(t / "oci/index.json"))["manifests"][0]["digest"]
                           .get<std::string>().substr(7);
    std::string mpath = t / ("oci/blobs/sha256/" + mhex);
    std::string text = support::read_file(mpath);
    text[text.size() - 2] = ' ';
    tartest::write_text(mpath, text);
    EXPECT_THROW(image::read_oci_layout(t / "oci"), Error);
    EXPECT_THROW(image::read_oci_layout(t / "nothing-here"), Error);
    ::unlink((t / "oci/index.json").c_str());
    EXPECT_THROW(image::read_oci_layout(t / "oci"), Error);
}

TEST(Step06Store, BareRootfsIsAOneLayerImage) {
    TempDir t;
    ::mkdir((t / "images").c_str(), 0755);
    ::mkdir((t / "images/busybox").c_str(), 0755);
    ::mkdir((t / "images/busybox/rootfs").c_str(), 0755);
    image::Store store(t.path());
    auto img = store.get("busybox");
    EXPECT_EQ(img.layers, (std::vector<std::string>{t / "images/busybox/rootfs"}));
    EXPECT_EQ(img.config.cmd, (std::vector<std::string>{"/bin/sh"}));
    EXPECT_THROW(store.get("nosuch"), Error);
    EXPECT_THROW(store.get("../etc"), Error);
}

TEST(Step06Store, DescriptionIsReadAndCheckedAndListed) {
    TempDir t;
    image::Store store(t.path());
    ::mkdir((t / "images").c_str(), 0755);
    ::mkdir((t / "images/app").c_str(), 0755);
    tartest::write_text(t / "images/app/image.json",
                        R"({"layers": ["layers/0", "layers/1"], "config": {"Cmd": ["run"]}})");
    auto img = store.get("app");
    EXPECT_EQ(img.layers, (std::vector<std::string>{t / "images/app/layers/0", t / "images/app/layers/1"}));
    EXPECT_EQ(img.config.cmd, (std::vector<std::string>{"run"}));
    ::mkdir((t / "images/evil").c_str(), 0755);
    tartest::write_text(t / "images/evil/image.json", R"({"layers": ["../../../etc"]})");
    EXPECT_THROW(store.get("evil"), Error);
    ::mkdir((t / "images/.import-abc").c_str(), 0755);  // an import in progress: not listed
    auto all = store.list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].name, "app");
}

TEST(Step06Store, UsersAreLiveOwnersOnly) {
    TempDir t;
    image::Store store(t.path());
    ::mkdir((t / "images").c_str(), 0755);
    ::mkdir((t / "images/app").c_str(), 0755);
    ::mkdir((t / "images/app/rootfs").c_str(), 0755);
    ::mkdir((t / "containers").c_str(), 0755);
    ::mkdir((t / "containers/aaaaaaaaaaaa").c_str(), 0755);
    tartest::write_text(t / "containers/aaaaaaaaaaaa/owner", state::Owner::self().str() + "\n");
    tartest::write_text(t / "containers/aaaaaaaaaaaa/image", "app\n");
    ::mkdir((t / "containers/bbbbbbbbbbbb").c_str(), 0755);
    tartest::write_text(t / "containers/bbbbbbbbbbbb/owner", "999999999:1\n");  // dead
    tartest::write_text(t / "containers/bbbbbbbbbbbb/image", "app\n");
    EXPECT_EQ(store.users("app"), (std::vector<std::string>{"aaaaaaaaaaaa"}));
    ::setenv("MINIBOX_RUN", (t / "run").c_str(), 1);
    EXPECT_THROW(store.remove("app"), Error);  // in use
    EXPECT_TRUE(store.exists("app"));
    ::unlink((t / "containers/aaaaaaaaaaaa/owner").c_str());
    store.remove("app");
    EXPECT_FALSE(store.exists("app"));
    ::unsetenv("MINIBOX_RUN");
}

TEST(Step06Store, LeftoversOfDeadOwners) {
    TempDir t;
    image::Store store(t.path());
    ::mkdir((t / "containers").c_str(), 0755);
    for (auto id : {"live00000000", "dead00000000", "kept00000000"}) ::mkdir((t / "containers/" + id).c_str(), 0755);
    tartest::write_text(t / "containers/live00000000/owner", state::Owner::self().str());
    tartest::write_text(t / "containers/dead00000000/owner", "999999999:1");
    tartest::write_text(t / "containers/kept00000000/kept", "app");
    auto l = overlay::find_leftovers(store);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].dir, t / "containers/dead00000000");
    EXPECT_FALSE(l[0].mounted);
    overlay::reap_leftovers(store);
    EXPECT_FALSE(tartest::exists(t / "containers/dead00000000"));
    EXPECT_TRUE(tartest::exists(t / "containers/live00000000"));
    EXPECT_TRUE(tartest::exists(t / "containers/kept00000000"));
}

TEST(Step06Overlay, MountOptionsPutTheTopLayerFirst) {
    EXPECT_EQ(overlay::mount_options({"/s/l0", "/s/l1"}, "/c/upper", "/c/work"),
              "lowerdir=/s/l1:/s/l0,upperdir=/c/upper,workdir=/c/work");
    EXPECT_THROW(overlay::mount_options({"/s/a:b"}, "/u", "/w"), Error);
    EXPECT_THROW(overlay::mount_options({"/s/a"}, "/u,x", "/w"), Error);
    EXPECT_THROW(overlay::mount_options({}, "/u", "/w"), Error);
    EXPECT_THROW(overlay::mount_options(std::vector<std::string>(500, "/some/long/path/to/a/layer"), "/u", "/w"), Error);
}

// --- unpacking, as the current user (the entries are owned by us) -------------------------

std::string unpack_error(const std::vector<tartest::Entry>& entries, TempDir& t) {
    tartest::write_tar(t / "in.tar", entries);
    std::string layer = t / "layer";
    ::mkdir(layer.c_str(), 0755);
    try {
        image::unpack_layer(t / "in.tar", layer, {});
    } catch (const Error& e) {
        return e.message();
    }
    return "";
}

TEST(Step06Unpack, FilesDirsLinksArrive) {
    TempDir t;
    tartest::write_tar(t / "in.tar", {tartest::dir("etc/"), tartest::file("etc/hostname", "box\n"),
                                       tartest::file("usr/bin/tool", "#!/bin/sh\n", 0755),  // parent implied
                                       tartest::symlink("bin", "usr/bin"), tartest::symlink("etc/abs", "/etc/hostname"),
                                       tartest::hardlink("etc/hostname2", "etc/hostname")}, true);
    ::mkdir((t / "layer").c_str(), 0755);
    auto s = image::unpack_layer(t / "in.tar", t / "layer", {});
    EXPECT_EQ(s.entries, 6u);
    EXPECT_EQ(support::read_file(t / "layer/etc/hostname"), "box\n");
    struct stat a {}, b {};
    ::stat((t / "layer/etc/hostname").c_str(), &a);
    ::stat((t / "layer/etc/hostname2").c_str(), &b);
    EXPECT_EQ(a.st_ino, b.st_ino);
    ::stat((t / "layer/usr/bin/tool").c_str(), &a);
    EXPECT_EQ(a.st_mode & 07777, 0755u);
    char target[64] = {};
    ASSERT_GT(::readlink((t / "layer/etc/abs").c_str(), target, sizeof target - 1), 0);
    EXPECT_STREQ(target, "/etc/hostname");  // kept as data, never followed
}

TEST(Step06Unpack, DotDotIsRefused) {
    TempDir t;
    auto err = unpack_error({tartest::file("../escaped", "x")}, t);
    EXPECT_NE(err.find("\"..\""), std::string::npos) << err;
    EXPECT_FALSE(tartest::exists(t / "escaped"));
}

TEST(Step06Unpack, AbsolutePathIsRefused) {
    TempDir t;
    std::string victim = t / "victim";
    auto err = unpack_error({tartest::file(victim, "x")}, t);
    EXPECT_NE(err.find("absolute"), std::string::npos) << err;
    EXPECT_FALSE(tartest::exists(victim));
}

TEST(Step06Unpack, WritingThroughASymlinkIsRefused) {
    TempDir t;
    ::mkdir((t / "outside").c_str(), 0755);
    auto err = unpack_error({tartest::symlink("evil", t / "outside"), tartest::file("evil/planted", "x")}, t);
    EXPECT_NE(err.find("symlink"), std::string::npos) << err;
    EXPECT_FALSE(tartest::exists(t / "outside/planted"));
    // A relative link that climbs out is refused the same way.
    TempDir u;
    ::mkdir((u / "outside").c_str(), 0755);
    err = unpack_error({tartest::symlink("up", "../outside"), tartest::file("up/planted", "x")}, u);
    EXPECT_NE(err.find("symlink"), std::string::npos) << err;
    EXPECT_FALSE(tartest::exists(u / "outside/planted"));
}

TEST(Step06Unpack, ASymlinkIsReplacedNotWrittenThrough) {
    TempDir t;
    tartest::write_text(t / "victim", "original");
    tartest::write_tar(t / "in.tar", {tartest::symlink("f", t / "victim"), tartest::file("f", "new")});
    ::mkdir((t / "layer").c_str(), 0755);
    image::unpack_layer(t / "in.tar", t / "layer", {});
    EXPECT_EQ(support::read_file(t / "victim"), "original");
    EXPECT_EQ(support::read_file(t / "layer/f"), "new");
}

TEST(Step06Unpack, HardLinksOutAreRefused) {
    TempDir t;
    tartest::write_text(t / "secret", "s");
    auto err = unpack_error({tartest::hardlink("h", "../secret")}, t);
    EXPECT_NE(err.find("hard link"), std::string::npos) << err;
    TempDir u;
    tartest::write_text(u / "secret", "s");
    err = unpack_error({tartest::hardlink("h", u / "secret")}, u);
    EXPECT_NE(err.find("hard link"), std::string::npos) << err;
    TempDir v;
    tartest::write_text(v / "secret", "s");
    err = unpack_error({tartest::symlink("d", v.path()), tartest::hardlink("h", "d/secret")}, v);
    EXPECT_NE(err.find("symlink"), std::string::npos) << err;
    struct stat st {};
    ::stat((v / "secret").c_str(), &st);
    EXPECT_EQ(st.st_nlink, 1u);
}

TEST(Step06Unpack, CorruptArchiveIsAnError) {
    TempDir t;
    tartest::write_text(t / "junk.tar", std::string(3000, 'j'));
    ::mkdir((t / "layer").c_str(), 0755);
    EXPECT_THROW(image::unpack_layer(t / "junk.tar", t / "layer", {}), Error);
    EXPECT_THROW(image::unpack_layer(t / "missing.tar", t / "layer", {}), Error);
}

TEST(Step06Unpack, WhiteoutsAreDroppedInABottomLayer) {
    TempDir t;
    tartest::write_tar(t / "in.tar", {tartest::file("a", "1"), tartest::file(".wh.b", ""), tartest::file("d/.wh..wh..opq", "")});
    ::mkdir((t / "layer").c_str(), 0755);
    image::UnpackOptions opts;
    opts.whiteouts = false;
    image::unpack_layer(t / "in.tar", t / "layer", opts);
    EXPECT_TRUE(tartest::exists(t / "layer/a"));
    EXPECT_FALSE(tartest::exists(t / "layer/b"));
    EXPECT_FALSE(tartest::exists(t / "layer/.wh.b"));
}

// --- import into a store: all or nothing --------------------------------------------------

std::vector<std::string> store_entries(const std::string& images) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(images.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

TEST(Step06Import, AMaliciousTarballLeavesTheStoreUnchanged) {
    TempDir t;
    image::Store store(t / "root");
    tartest::write_tar(t / "good.tar", {tartest::file("bin/x", "x")});
    image::import_image(store, t / "good.tar", "good", false);
    auto before = store_entries(store.images_dir());
    tartest::write_tar(t / "evil.tar", {tartest::file("ok", "1"), tartest::file("../../evil", "x")});
    EXPECT_THROW(image::import_image(store, t / "evil.tar", "evil", false), Error);
    EXPECT_EQ(store_entries(store.images_dir()), before);
    EXPECT_THROW(image::import_image(store, t / "good.tar", "good", false), Error);  // duplicate
    EXPECT_THROW(image::import_image(store, t / "none.tar", "none", false), Error);   // missing
    EXPECT_THROW(image::import_image(store, t / "good.tar", "Bad/Name", false), Error);
    EXPECT_EQ(store_entries(store.images_dir()), before);
    auto img = store.get("good");
    ASSERT_EQ(img.layers.size(), 1u);
    EXPECT_EQ(support::read_file(img.layers[0] + "/bin/x"), "x");
}

TEST(Step06Import, OciLayoutWithABadBlobLeavesTheStoreUnchanged) {
    TempDir t;
    image::Store store(t / "root");
    tartest::write_tar(t / "l0.tar", {tartest::file("a", "1")});
    tartest::write_tar(t / "l1.tar", {tartest::file("b", "2")});
    auto manifest = ocitest::make_layout(t / "oci", {t / "l0.tar", t / "l1.tar"}, {{"Cmd", {"/bin/sh"}}});
    std::string l1 = t / ("oci/blobs/sha256/" + manifest["layers"][1]["digest"].get<std::string>().substr(7));
    std::string saved = support::read_file(l1);
    std::string changed = saved;
    changed[600] ^= 1;
    tartest::write_text(l1, changed);
    EXPECT_THROW(image::import_image(store, t / "oci", "app", false), Error);
    EXPECT_FALSE(store.exists("app"));
    ::unlink(l1.c_str());
    EXPECT_THROW(image::import_image(store, t / "oci", "app", false), Error);
    EXPECT_FALSE(store.exists("app"));
    tartest::write_text(l1, saved);
    auto r = image::import_image(store, t / "oci", "app", false);
    EXPECT_EQ(r.image.layers.size(), 2u);
    EXPECT_EQ(r.image.config.cmd, (std::vector<std::string>{"/bin/sh"}));
    EXPECT_EQ(store_entries(store.images_dir()), (std::vector<std::string>{"app"}));
}

TEST(Step06Import, DeadImportsAreReaped) {
    TempDir t;
    image::Store store(t / "root");
    ::mkdir((t / "root").c_str(), 0755);
    ::mkdir(store.images_dir().c_str(), 0755);
    ::mkdir((store.images_dir() + "/.import-dead01").c_str(), 0755);
    tartest::write_text(store.images_dir() + "/.import-dead01/owner", "999999999:1");
    ::mkdir((store.images_dir() + "/.import-live01").c_str(), 0755);
    tartest::write_text(store.images_dir() + "/.import-live01/owner", state::Owner::self().str());
    auto removed = image::reap_imports(store);
    EXPECT_EQ(removed, (std::vector<std::string>{store.images_dir() + "/.import-dead01"}));
    EXPECT_TRUE(tartest::exists(store.images_dir() + "/.import-live01"));
}

}  // namespace
