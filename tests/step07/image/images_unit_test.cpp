// images, unit: references (Docker's normalisation rules), platform choice in an index, the
// WWW-Authenticate parser, digest verification, and the store's reference counts (layers kept
// while an image uses them, one unpacked copy per diff id). No registry, no network.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "digest.hpp"
#include "error.hpp"
#include "platform.hpp"
#include "reference.hpp"
#include "registry.hpp"
#include "store.hpp"
#include "support.hpp"
#include "tar_helper.hpp"
#include "unique_fd.hpp"

using namespace images;

namespace {

std::string temp_dir() {
    char tmpl[] = "/tmp/images-unit-XXXXXX";
    return ::mkdtemp(tmpl);
}

struct TempDir {
    std::string path = temp_dir();
    ~TempDir() { support::sh("rm -rf '" + path + "'"); }
};

}  // namespace

TEST(Reference, OneWordNameIsOnDockerHubUnderLibrary) {
    auto r = parse_reference("busybox");
    EXPECT_EQ(r.domain, "docker.io");
    EXPECT_EQ(r.path, "library/busybox");
    EXPECT_EQ(r.tag, "latest");
    EXPECT_EQ(r.digest, "");
    EXPECT_EQ(r.str(), "docker.io/library/busybox:latest");
    EXPECT_EQ(r.familiar(), "busybox:latest");
}

TEST(Reference, TwoComponentsWithoutDotStayOnDockerHub) {
    auto r = parse_reference("user/app:1.0");
    EXPECT_EQ(r.domain, "docker.io");
    EXPECT_EQ(r.path, "user/app");
    EXPECT_EQ(r.familiar(), "user/app:1.0");
}

TEST(Reference, HostWithPortIsARegistryAndItsColonIsNotATag) {
    auto r = parse_reference("localhost:5000/x");
    EXPECT_EQ(r.domain, "localhost:5000");
    EXPECT_EQ(r.path, "x");
    EXPECT_EQ(r.tag, "latest");
    auto r2 = parse_reference("127.0.0.1:5000/a/b:v2");
    EXPECT_EQ(r2.domain, "127.0.0.1:5000");
    EXPECT_EQ(r2.path, "a/b");
    EXPECT_EQ(r2.tag, "v2");
    EXPECT_EQ(r2.familiar(), "127.0.0.1:5000/a/b:v2");
    auto r3 = parse_reference("localhost/x");
    EXPECT_EQ(r3.domain, "localhost");
    auto r4 = parse_reference("quay.io/org/img");
    EXPECT_EQ(r4.domain, "quay.io");
    EXPECT_EQ(r4.path, "org/img");
}

TEST(Reference, DigestPinsAndKeepsNoDefaultTag) {
    std::string d = "sha256:" + std::string(64, 'a');
    auto r = parse_reference("busybox@" + d);
    EXPECT_EQ(r.digest, d);
    EXPECT_EQ(r.tag, "");
    EXPECT_EQ(r.reference(), d);
    auto r2 = parse_reference("busybox:1@" + d);
    EXPECT_EQ(r2.tag, "1");
    EXPECT_EQ(r2.reference(), d);
}

TEST(Reference, DockerIoSpellingsAreNormalised) {
    EXPECT_EQ(parse_reference("docker.io/busybox").str(), "docker.io/library/busybox:latest");
    EXPECT_EQ(parse_reference("index.docker.io/library/busybox:1").str(), "docker.io/library/busybox:1");
    EXPECT_EQ(parse_reference("docker.io/library/busybox").familiar(), "busybox:latest");
}

TEST(Reference, MalformedOnesAreRefused) {
    for (const char* bad : {"", "UPPER", "a/B", "x:", "x@sha256:abc", "x@md5:" "0123", "-x", "x//y", "x:t@", ":tag",
                            "a..b", "host:port/x", "x:" "tag with space"}) {
        EXPECT_THROW(parse_reference(bad), Error) << bad;
    }
    try {
        parse_reference("Busybox");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("lowercase"), std::string::npos) << e.what();
    }
}

TEST(Reference, IdsLookLikeHex) {
    EXPECT_TRUE(looks_like_id("abc123"));
    EXPECT_TRUE(looks_like_id("sha256:abc"));
    EXPECT_FALSE(looks_like_id("busybox"));
    EXPECT_FALSE(looks_like_id(std::string(65, 'a')));
}

namespace {
nlohmann::json index_of(std::initializer_list<std::tuple<const char*, const char*, const char*, const char*>> ms) {
    nlohmann::json idx{{"schemaVersion", 2}, {"manifests", nlohmann::json::array()}};
    for (auto& [digest, os, arch, variant] : ms) {
        nlohmann::json p{{"os", os}, {"architecture", arch}};
        if (*variant) p["variant"] = variant;
        idx["manifests"].push_back({{"digest", digest}, {"size", 1}, {"platform", p}});
    }
    return idx;
}
}  // namespace

TEST(Platform, ChoosesOsArchAndVariantAsDocker) {
    auto idx = index_of({{"sha256:u", "unknown", "unknown", ""},  // an attestation manifest
                         {"sha256:a", "linux", "amd64", ""},
                         {"sha256:b", "linux", "arm64", "v8"},
                         {"sha256:c", "linux", "arm", "v6"},
                         {"sha256:d", "linux", "arm", "v7"},
                         {"sha256:w", "windows", "amd64", ""}});
    EXPECT_EQ(choose_manifest(idx, parse_platform("linux/amd64")), "sha256:a");
    EXPECT_EQ(choose_manifest(idx, parse_platform("linux/arm64")), "sha256:b");  // v8 is arm64's default
    EXPECT_EQ(choose_manifest(idx, parse_platform("linux/aarch64")), "sha256:b");
    EXPECT_EQ(choose_manifest(idx, parse_platform("linux/arm/v7")), "sha256:d");  // exact before compatible
    EXPECT_EQ(choose_manifest(idx, parse_platform("linux/arm/v6")), "sha256:c");
    EXPECT_EQ(choose_manifest(idx, parse_platform("windows/amd64")), "sha256:w");
    EXPECT_THROW(choose_manifest(idx, parse_platform("linux/s390x")), Error);
    auto only_v6 = index_of({{"sha256:c", "linux", "arm", "v6"}});
    EXPECT_EQ(choose_manifest(only_v6, parse_platform("linux/arm/v7")), "sha256:c");  // v7 runs v6
    EXPECT_THROW(choose_manifest(index_of({{"sha256:d", "linux", "arm", "v7"}}), parse_platform("linux/arm/v6")), Error);
    EXPECT_THROW(parse_platform("amd64"), Error);
    EXPECT_EQ(host_platform().os, "linux");
}

TEST(Auth, ChallengeParsing) {
    auto c = registry::parse_challenge(
        R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:x/y:pull,push")");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->scheme, "bearer");
    EXPECT_EQ(c->params["realm"], "https://auth.example/token");
    EXPECT_EQ(c->params["service"], "registry.example");
    EXPECT_EQ(c->params["scope"], "repository:x/y:pull,push");
    auto b = registry::parse_challenge(R"(Basic realm="Registry Realm")");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->scheme, "basic");
    EXPECT_FALSE(registry::parse_challenge(""));
    EXPECT_FALSE(registry::parse_challenge("Negotiate xyz"));
}

TEST(Auth, CredentialsFromDockerConfigAuths) {
    TempDir t;
    std::ofstream(t.path + "/config.json")
        << R"({"auths": {"127.0.0.1:5000": {"auth": "YWxpY2U6czNjcmV0"}, "https://other:1": {"username": "bob", "password": "pw"}}})";
    auto c = registry::credentials_for("127.0.0.1:5000", t.path + "/config.json");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "alice");
    EXPECT_EQ(c->password, "s3cret");
    auto o = registry::credentials_for("other:1", t.path + "/config.json");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->username, "bob");
    EXPECT_FALSE(registry::credentials_for("nobody:2", t.path + "/config.json"));
    EXPECT_FALSE(registry::credentials_for("x", t.path + "/absent.json"));
}

TEST(Digest, VerifyFileCatchesSizeAndContent) {
    TempDir t;
    std::string f = t.path + "/blob";
    std::ofstream(f) << "hello";
    std::string d = sha256_of("hello");
    EXPECT_EQ(d, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    EXPECT_NO_THROW(verify_file(f, d, 5));
    EXPECT_THROW(verify_file(f, d, 6), Error);
    EXPECT_THROW(verify_file(f, sha256_of("hellO"), 5), Error);
    EXPECT_THROW(verify_file(f, "sha256:../../etc", 5), Error);
    EXPECT_EQ(short_id(d), "2cf24dba5fb0");
}

// sha256_of is SHA-256 written out (digest_text.cpp, so that the engine needs no libcrypto):
// FIPS 180-4's own examples, and OpenSSL's answer (the Sha256 stream) for every length around
// the padding's edges (55/56/64 bytes a block) and for multi-block inputs.
TEST(Digest, Sha256OfAgreesWithTheStandardAndOpenSSL) {
    EXPECT_EQ(sha256_of(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_of("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_of(std::string(1000000, 'a')), "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    std::string bytes;
    unsigned x = 12345;
    for (int i = 0; i < 700; ++i) bytes += static_cast<char>((x = x * 1103515245 + 12345) >> 16);
    for (size_t n = 0; n <= bytes.size(); ++n) {
        Sha256 h;
        h.update(bytes.data(), n);
        ASSERT_EQ(sha256_of(std::string_view(bytes).substr(0, n)), h.digest()) << n << " bytes";
    }
}

TEST(Digest, DiffIdIsTheDigestOfTheUncompressedTar) {
    TempDir t;
    tartest::write_tar(t.path + "/plain.tar", {tartest::file("a", "aaa")});
    tartest::write_tar(t.path + "/gz.tar", {tartest::file("a", "aaa")}, true);
    EXPECT_EQ(compression_of(t.path + "/gz.tar"), "gzip");
    EXPECT_EQ(compression_of(t.path + "/plain.tar"), "");
    EXPECT_EQ(diff_id_of(t.path + "/gz.tar"), sha256_of_file(t.path + "/plain.tar"));
    EXPECT_NE(sha256_of_file(t.path + "/gz.tar"), sha256_of_file(t.path + "/plain.tar"));
    ASSERT_EQ(support::sh("zstd -q " + t.path + "/plain.tar -o " + t.path + "/z.tar.zst").status, 0);
    EXPECT_EQ(compression_of(t.path + "/z.tar.zst"), "zstd");
    EXPECT_EQ(diff_id_of(t.path + "/z.tar.zst"), sha256_of_file(t.path + "/plain.tar"));
}

namespace {
nlohmann::json small_config() { return {{"config", {{"Cmd", {"/bin/sh"}}, {"Env", {"A=1"}}}}}; }
}  // namespace

TEST(Store, LayersAreStoredOnceAndKeptWhileUsed) {
    TempDir t;
    Store s(t.path);
    tartest::write_tar(t.path + "/base.tar", {tartest::dir("etc"), tartest::file("etc/base", "base\n")}, true);
    tartest::write_tar(t.path + "/top1.tar", {tartest::file("one", "1\n")});
    tartest::write_tar(t.path + "/top2.tar", {tartest::file("two", "2\n")});
    LayerInfo base = s.add_layer(t.path + "/base.tar");
    LayerInfo base_again = s.add_layer(t.path + "/base.tar");
    EXPECT_EQ(base.digest, base_again.digest);
    EXPECT_NE(base.digest, base.diff_id);  // gzip: the blob and the tar differ
    LayerInfo top1 = s.add_layer(t.path + "/top1.tar");
    LayerInfo top2 = s.add_layer(t.path + "/top2.tar");
    EXPECT_EQ(top1.digest, top1.diff_id);  // a plain tar is its own diff id
    Resolved a = s.add_image(small_config(), {base, top1}, "a:1");
    Resolved b = s.add_image(small_config(), {base, top2}, "localhost:5000/b");
    EXPECT_NE(a.id, b.id);
    EXPECT_EQ(a.image.layers.front(), b.image.layers.front());  // one directory for the shared base
    EXPECT_EQ(support::read_file(a.image.layers.front() + "/etc/base"), "base\n");
    EXPECT_EQ(a.config["rootfs"]["diff_ids"], (nlohmann::json{base.diff_id, top1.diff_id}));
    EXPECT_EQ(a.image.config.cmd, (std::vector<std::string>{"/bin/sh"}));
    EXPECT_EQ(support::sh("ls " + t.path + "/store/layers | wc -l").out, "3\n");
    // Lookups: tag, familiar and full names, id, id prefix.
    EXPECT_EQ(s.get("a:1").id, a.id);
    EXPECT_EQ(s.get("docker.io/library/a:1").id, a.id);
    EXPECT_EQ(s.get("localhost:5000/b:latest").id, b.id);
    EXPECT_EQ(s.get(a.id).id, a.id);
    EXPECT_EQ(s.get(a.id.substr(7, 12)).id, a.id);
    EXPECT_FALSE(s.find("a:2"));
    EXPECT_EQ(s.list().size(), 2u);
    // Held by a container: refused.
    s.hold(a.id, "c0ffee");
    EXPECT_THROW(s.remove("a:1"), Error);
    s.release("c0ffee");
    // A second tag: rmi of one name only untags.
    s.tag("a:1", "a:2");
    auto r1 = s.remove("a:2");
    EXPECT_EQ(r1.untagged, (std::vector<std::string>{"a:2"}));
    EXPECT_TRUE(r1.deleted.empty());
    // Removing a keeps the base (b uses it), drops top1.
    auto r2 = s.remove("a:1");
    EXPECT_EQ(r2.deleted.size(), 2u);  // the image and top1
    struct stat st {};
    EXPECT_EQ(::stat(b.image.layers.front().c_str(), &st), 0);
    EXPECT_NE(::stat(s.layer_dir(top1.diff_id).c_str(), &st), 0);
    EXPECT_NE(::stat(s.blob_path(top1.digest).c_str(), &st), 0);
    EXPECT_NE(::stat(s.blob_path(a.id).c_str(), &st), 0);
    // Removing b leaves nothing.
    s.remove("localhost:5000/b");
    EXPECT_EQ(support::sh("ls " + t.path + "/store/layers | wc -l").out, "0\n");
    EXPECT_EQ(support::sh("ls " + t.path + "/store/blobs/sha256 | wc -l").out, "0\n");
    EXPECT_TRUE(s.list().empty());
}

TEST(Store, PruneRemovesUntaggedOnly) {
    TempDir t;
    Store s(t.path);
    tartest::write_tar(t.path + "/l.tar", {tartest::file("f", "x")});
    auto l = s.add_layer(t.path + "/l.tar");
    auto dangling = s.add_image(small_config(), {l}, "");
    auto cfg = small_config();
    cfg["config"]["Env"] = {"B=2"};
    auto kept = s.add_image(cfg, {l}, "kept");
    auto r = s.prune(false);
    EXPECT_EQ(r.deleted, (std::vector<std::string>{dangling.id}));
    EXPECT_TRUE(s.find("kept"));
    EXPECT_FALSE(s.find(dangling.id));
    EXPECT_EQ(::access(s.layer_dir(l.diff_id).c_str(), F_OK), 0);
    s.prune(true);
    EXPECT_TRUE(s.list().empty());
}

TEST(Store, SaveThenLoadGivesTheSameIds) {
    TempDir t;
    Store s(t.path + "/one");
    tartest::write_tar(t.path + "/l.tar", {tartest::dir("d"), tartest::file("d/f", "content"), tartest::symlink("ln", "d/f")}, true);
    auto l = s.add_layer(t.path + "/l.tar");
    auto img = s.add_image(small_config(), {l}, "saved:1");
    {
        unique_fd fd(::open((t.path + "/out.tar").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
        s.save({"saved:1"}, fd.get());
    }
    // Both a docker-archive and an OCI layout.
    auto listing = support::sh("tar tf " + t.path + "/out.tar").out;
    EXPECT_NE(listing.find("manifest.json"), std::string::npos);
    EXPECT_NE(listing.find("index.json"), std::string::npos);
    EXPECT_NE(listing.find("oci-layout"), std::string::npos);
    Store other(t.path + "/two");
    unique_fd in(::open((t.path + "/out.tar").c_str(), O_RDONLY));
    auto lines = other.load(in.get());
    EXPECT_EQ(lines, (std::vector<std::string>{"Loaded image: saved:1"}));
    auto back = other.get("saved:1");
    EXPECT_EQ(back.id, img.id);
    EXPECT_EQ(back.manifest_digest, img.manifest_digest);
    EXPECT_EQ(support::read_file(back.image.layers[0] + "/d/f"), "content");
    // The same tar read as an OCI archive (umoci/skopeo's view): skopeo inspects it.
    auto sk = support::sh("skopeo inspect --raw oci-archive:" + t.path + "/out.tar 2>&1");
    EXPECT_EQ(sk.status, 0) << sk.out;
    EXPECT_NE(sk.out.find(l.digest), std::string::npos) << sk.out;
}

TEST(Store, LegacyStep06ImagesKeepWorking) {
    TempDir t;
    ASSERT_EQ(support::sh("mkdir -p " + t.path + "/images/busybox/rootfs/bin && echo hi > " + t.path +
                          "/images/busybox/rootfs/bin/x").status,
              0);
    Store s(t.path);
    for (const char* ref : {"busybox", "busybox:latest", "docker.io/library/busybox"}) {
        auto r = s.find(ref);
        ASSERT_TRUE(r) << ref;
        EXPECT_TRUE(r->legacy);
        EXPECT_EQ(r->image.layers, (std::vector<std::string>{t.path + "/images/busybox/rootfs"}));
        EXPECT_EQ(r->image.config.cmd, (std::vector<std::string>{"/bin/sh"}));
        EXPECT_EQ(r->repo_tags, (std::vector<std::string>{"busybox:latest"}));
    }
    EXPECT_FALSE(s.find("busybox:1"));
    auto all = s.list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(s.get(all[0].id.substr(7, 8)).image.name, "busybox");
}
