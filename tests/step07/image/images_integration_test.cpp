// images, integration (root): pull and push against a private registry.
//
// Each test runs in its own process (gtest_discover_tests) and enters its own network and mount
// namespaces first (loopback up, nothing else): Debian's docker-registry listens on
// 127.0.0.1:5000 there, with a config and storage the test writes in a temporary directory, and
// is stopped by pid. Images are built offline as OCI layouts with umoci from the default
// busybox root filesystem, and copied into the registry with skopeo; our own push feeds it too.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "digest.hpp"
#include "error.hpp"
#include "registry_process.hpp"
#include "store.hpp"
#include "support.hpp"
#include "unique_fd.hpp"

using namespace images;
using support::sh;

namespace {

std::string g_tmp;
std::string g_busybox;  // the default image's rootfs, read before MINIBOX_ROOT points at the test's store

std::string must(const std::string& script) {
    auto r = sh(script + " 2>&1");
    if (r.status != 0) throw std::runtime_error("`" + script + "` failed (" + std::to_string(r.status) + "): " + r.out + r.err);
    return r.out;
}

// unshare(CLONE_NEWNET|CLONE_NEWNS), loopback up: the registry and all traffic stay in here.
void enter_private_namespaces() {
    if (::unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) throw std::runtime_error("unshare");
    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ::ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    ::ioctl(s, SIOCSIFFLAGS, &ifr);
    ::close(s);
}


// A private docker-registry (registry_process.hpp, shared with the bench): config and storage
// in the test's directory, port 5000 of the test's own network namespace unless told.
class Registry : public registry_process::Registry {
public:
    explicit Registry(const std::string& auth_yaml = "", const std::string& tls_yaml = "", int port = 5000)
        : registry_process::Registry(g_tmp + "/registry-" + std::to_string(port), port, tls_yaml, auth_yaml) {}
    std::string blob_data(const std::string& digest) const {
        std::string hex = digest.substr(7);
        return storage() + "/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
    }
};

// OCI layouts made offline with umoci from the default image's root filesystem:
//   base   the busybox rootfs, one layer
//   multi  base + /extra (owners, modes, setuid, a symlink, a hard link) + a whiteout of
//          /bin/vi + /etc replaced by an opaque directory
//   other  base + one more layer (shares base's layer with multi)
std::string layout() {
    static std::string dir;
    if (!dir.empty()) return dir;
    dir = g_tmp + "/layout";
    std::string x = g_tmp + "/extra", e = g_tmp + "/etc2", o = g_tmp + "/otherfile";
    must("umoci init --layout " + dir + " && umoci new --image " + dir + ":base");
    must("umoci insert --image " + dir + ":base " + g_busybox + " /");
    must("mkdir -p " + x + "/sub " + e + " && echo owned > " + x + "/owned && chown 1000:1000 " + x +
         "/owned && chmod 0640 " + x + "/owned && echo s > " + x + "/setuid && chmod 4755 " + x + "/setuid && ln -s owned " +
         x + "/link && ln " + x + "/owned " + x + "/hard && chmod 0700 " + x + "/sub && echo in > " + x +
         "/sub/f && echo only > " + e + "/only && echo other > " + o);
    must("umoci tag --image " + dir + ":base multi && umoci tag --image " + dir + ":base other");
    must("umoci insert --image " + dir + ":multi " + x + " /extra");
    must("umoci insert --image " + dir + ":multi --whiteout /bin/vi");
    must("umoci insert --image " + dir + ":multi --opaque " + e + " /etc");
    must("umoci insert --image " + dir + ":other " + o + " /other");
    return dir;
}

void copy_in(const Registry& r, const std::string& tag, const std::string& name, const std::string& extra = "") {
    must("skopeo --insecure-policy copy -q --dest-tls-verify=false " + extra + " oci:" + layout() + ":" + tag +
         " docker://" + r.host() + "/" + name);
}

// A tree as a map path -> "type mode uid:gid size target content-digest", for comparisons.
std::map<std::string, std::string>* g_tree;
std::string g_root;
int walk_one(const char* path, const struct stat* st, int, FTW*) {
    std::string rel = std::string(path).substr(g_root.size());
    if (rel.empty()) return 0;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%o %u:%u", st->st_mode, st->st_uid, st->st_gid);
    std::string v = buf;
    if (S_ISREG(st->st_mode)) v += " " + std::to_string(st->st_size) + " " + sha256_of_file(path);
    if (S_ISLNK(st->st_mode)) {
        char t[4096];
        ssize_t n = ::readlink(path, t, sizeof t);
        v += " -> " + std::string(t, n > 0 ? static_cast<size_t>(n) : 0);
    }
    (*g_tree)[rel] = v;
    return 0;
}
std::map<std::string, std::string> tree(const std::string& root) {
    std::map<std::string, std::string> m;
    g_tree = &m;
    g_root = root;
    ::nftw(root.c_str(), walk_one, 32, FTW_PHYS);
    return m;
}

std::uint64_t du_bytes(const std::string& path) {
    return std::stoull(must("du -sb --apparent-size " + path + " | cut -f1"));
}

class Images : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_ROOT();
        char tmpl[] = "/tmp/images-it-XXXXXX";
        g_tmp = ::mkdtemp(tmpl);
        g_busybox = support::busybox_rootfs();
        enter_private_namespaces();
        ::setenv("MINIBOX_ROOT", (g_tmp + "/root").c_str(), 1);
        ::setenv("DOCKER_CONFIG", (g_tmp + "/docker").c_str(), 1);
        store_ = std::make_unique<Store>(g_tmp + "/root");
    }
    void TearDown() override {
        store_.reset();
        if (!g_tmp.empty()) sh("umount -R " + g_tmp + "/merged 2>/dev/null; rm -rf " + g_tmp);
    }
    Store& store() { return *store_; }
    std::vector<std::string> blobs() {
        std::vector<std::string> out;
        std::istringstream in(sh("ls " + g_tmp + "/root/store/blobs/sha256 2>/dev/null").out);
        for (std::string l; std::getline(in, l);) out.push_back("sha256:" + l);
        return out;
    }
    std::unique_ptr<Store> store_;
};

}  // namespace

TEST_F(Images, PullSingleLayerImage) {
    Registry reg;
    copy_in(reg, "base", "x:1");
    std::vector<ProgressEvent> events;
    auto r = store().pull(reg.host() + "/x:1", {}, [&](const ProgressEvent& e) { events.push_back(e); });
    ASSERT_EQ(r.image.layers.size(), 1u);
    EXPECT_EQ(r.repo_tags, (std::vector<std::string>{reg.host() + "/x:1"}));
    EXPECT_EQ(support::read_file(r.image.layers[0] + "/bin/busybox"), support::read_file(g_busybox + "/bin/busybox"));
    // The id is the digest of the config blob, and every stored blob is named by its digest.
    EXPECT_EQ(sha256_of_file(store().blob_path(r.id)), r.id);
    for (const auto& b : blobs()) EXPECT_EQ(sha256_of_file(store().blob_path(b)), b);
    // What skopeo says the registry's manifest digest is, is what we recorded.
    std::string remote = must("skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://" + reg.host() + "/x:1");
    EXPECT_EQ(r.repo_digests, (std::vector<std::string>{reg.host() + "/x@" + remote.substr(0, remote.size() - 1)}));
    bool downloaded = false, complete = false;
    for (const auto& e : events) {
        downloaded |= e.kind == ProgressEvent::Kind::downloading && e.total > 0;
        complete |= e.kind == ProgressEvent::Kind::pull_complete;
    }
    EXPECT_TRUE(downloaded && complete);
    // A second pull finds everything there: no download, same image.
    events.clear();
    auto again = store().pull(reg.host() + "/x:1", {}, [&](const ProgressEvent& e) { events.push_back(e); });
    EXPECT_EQ(again.id, r.id);
    for (const auto& e : events) EXPECT_NE(e.kind, ProgressEvent::Kind::downloading);
    EXPECT_EQ(store().get(reg.host() + "/x@" + remote.substr(0, remote.size() - 1)).id, r.id);
}

TEST_F(Images, MultiLayerUnpackMatchesUmoci) {
    Registry reg;
    copy_in(reg, "multi", "m:1");
    auto r = store().pull(reg.host() + "/m:1");
    ASSERT_EQ(r.image.layers.size(), 4u);
    // Our layers, stacked by overlayfs (whiteouts applied by the kernel), against umoci's unpack.
    std::string merged = g_tmp + "/merged", lower;
    for (auto it = r.image.layers.rbegin(); it != r.image.layers.rend(); ++it) lower += (lower.empty() ? "" : ":") + *it;
    must("mkdir -p " + merged + " && mount -t overlay overlay -o ro,lowerdir=" + lower + " " + merged);
    must("umoci unpack --image " + layout() + ":multi " + g_tmp + "/bundle");
    auto ours = tree(merged), theirs = tree(g_tmp + "/bundle/rootfs");
    EXPECT_EQ(ours.count("/bin/vi"), 0u);
    EXPECT_EQ(ours.count("/etc/only"), 1u);
    EXPECT_EQ(ours.size(), theirs.size());
    for (const auto& [path, v] : theirs) EXPECT_EQ(ours[path], v) << path;
    EXPECT_EQ(ours["/extra/owned"].substr(0, 14), "100640 1000:10");
    EXPECT_EQ(ours["/extra/setuid"].substr(0, 6), "104755");
    // The whiteout is a 0/0 character device in its own layer: what overlayfs understands.
    struct stat st {};
    ASSERT_EQ(::lstat((r.image.layers[2] + "/bin/vi").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, 0u);
    char value[8] = {};
    EXPECT_EQ(::lgetxattr((r.image.layers[3] + "/etc").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
    EXPECT_STREQ(value, "y");
}

TEST_F(Images, PushThenPullRoundTripsDigests) {
    Registry reg;
    copy_in(reg, "multi", "src:1");
    auto src = store().pull(reg.host() + "/src:1");
    store().tag(reg.host() + "/src:1", reg.host() + "/dst:2");
    std::vector<std::string> states;
    std::string digest = store().push(reg.host() + "/dst:2", {}, [&](const ProgressEvent& e) {
        if (!e.id.empty()) states.push_back(e.message);
    });
    EXPECT_EQ(digest, src.manifest_digest);
    // Every layer is in the registry already, under src: mounted, not sent again.
    EXPECT_NE(std::find(states.begin(), states.end(), "Mounted from src"), states.end());
    EXPECT_EQ(std::find(states.begin(), states.end(), "Pushing"), states.end());
    // Pushed again: now the registry has them under dst.
    states.clear();
    EXPECT_EQ(store().push(reg.host() + "/dst:2", {}, [&](const ProgressEvent& e) {
        if (!e.id.empty()) states.push_back(e.message);
    }), digest);
    EXPECT_NE(std::find(states.begin(), states.end(), "Layer already exists"), states.end());
    std::string remote = must("skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://" + reg.host() + "/dst:2");
    EXPECT_EQ(remote, digest + "\n");
    // Our own image (made with add_layer/add_image), pushed chunked to a fresh registry, pulled
    // into a fresh store: same id, same manifest digest.
    Registry second("", "", 5002);
    must("printf 'hello' > " + g_tmp + "/h && tar -C " + g_tmp + " -czf " + g_tmp + "/l.tar.gz h");
    auto layer = store().add_layer(g_tmp + "/l.tar.gz");
    auto mine = store().add_image({{"config", {{"Cmd", {"/h"}}}}}, {layer}, second.host() + "/mine:1");
    RegistryOptions chunked;
    chunked.chunk_size = 7;  // several PATCH requests for the small blobs
    std::string d2 = store().push(second.host() + "/mine:1", chunked);
    EXPECT_EQ(d2, mine.manifest_digest);
    Store fresh(g_tmp + "/root2");
    auto back = fresh.pull(second.host() + "/mine:1");
    EXPECT_EQ(back.id, mine.id);
    EXPECT_EQ(back.manifest_digest, mine.manifest_digest);
    EXPECT_EQ(support::read_file(back.image.layers[0] + "/h"), "hello");
}

TEST_F(Images, IndexWithTwoPlatforms) {
    Registry reg;
    // An index over base's manifest (amd64) and a copy of it whose config says arm64.
    std::string L = layout();
    auto index = nlohmann::json::parse(support::read_file(L + "/index.json"));
    nlohmann::json base_desc;
    for (const auto& m : index["manifests"])
        if (m["annotations"].value("org.opencontainers.image.ref.name", "") == "base") base_desc = m;
    auto blob = [&](const std::string& d) { return L + "/blobs/sha256/" + d.substr(7); };
    auto put = [&](const std::string& bytes) {
        std::string d = sha256_of(bytes);
        std::ofstream(blob(d)) << bytes;
        return d;
    };
    auto manifest = nlohmann::json::parse(support::read_file(blob(base_desc["digest"])));
    auto config = nlohmann::json::parse(support::read_file(blob(manifest["config"]["digest"])));
    config["architecture"] = "arm64";
    config["variant"] = "v8";
    std::string cbytes = config.dump();
    manifest["config"]["digest"] = put(cbytes);
    manifest["config"]["size"] = cbytes.size();
    std::string mbytes = manifest.dump();
    std::string arm_manifest = put(mbytes);
    nlohmann::json idx{{"schemaVersion", 2},
                       {"mediaType", "application/vnd.oci.image.index.v1+json"},
                       {"manifests",
                        {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", base_desc["digest"]},
                          {"size", base_desc["size"]}, {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
                         {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", arm_manifest},
                          {"size", mbytes.size()}, {"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}}}}};
    std::string ibytes = idx.dump();
    index["manifests"].push_back({{"mediaType", "application/vnd.oci.image.index.v1+json"}, {"digest", put(ibytes)},
                                  {"size", ibytes.size()}, {"annotations", {{"org.opencontainers.image.ref.name", "multiarch"}}}});
    std::ofstream(L + "/index.json") << index.dump();
    copy_in(reg, "multiarch", "ma:1", "--all");
    auto amd = store().pull(reg.host() + "/ma:1");
    EXPECT_EQ(amd.config.value("architecture", ""), "amd64");
    RegistryOptions arm;
    arm.platform = "linux/arm64";
    auto a = store().pull(reg.host() + "/ma:1", arm);
    EXPECT_EQ(a.config.value("architecture", ""), "arm64");
    EXPECT_NE(a.id, amd.id);
    EXPECT_EQ(a.image.layers, amd.image.layers);  // the same layer, unpacked once
    RegistryOptions s390;
    s390.platform = "linux/s390x";
    try {
        store().pull(reg.host() + "/ma:1", s390);
        FAIL() << "no s390x manifest, yet the pull succeeded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no matching manifest for linux/s390x"), std::string::npos) << e.what();
    }
}

TEST_F(Images, ZstdLayers) {
    Registry reg;
    copy_in(reg, "multi", "z:1", "--dest-compress-format zstd");
    auto raw = must("skopeo inspect --raw --tls-verify=false docker://" + reg.host() + "/z:1");
    ASSERT_NE(raw.find("tar+zstd"), std::string::npos) << raw;
    auto r = store().pull(reg.host() + "/z:1");
    ASSERT_EQ(r.image.layers.size(), 4u);
    EXPECT_EQ(support::read_file(r.image.layers[1] + "/extra/sub/f"), "in\n");
    EXPECT_EQ(compression_of(store().blob_path(nlohmann::json::parse(raw)["layers"][0]["digest"])), "zstd");
}

TEST_F(Images, CorruptedBlobFailsAndKeepsNothing) {
    Registry reg;
    copy_in(reg, "base", "c:1");
    auto m = nlohmann::json::parse(must("skopeo inspect --raw --tls-verify=false docker://" + reg.host() + "/c:1"));
    std::string layer = m["layers"][0]["digest"];
    // Same size, one byte changed: only the digest can tell.
    must("printf 'X' | dd of=" + reg.blob_data(layer) + " bs=1 seek=100 conv=notrunc status=none");
    try {
        store().pull(reg.host() + "/c:1");
        FAIL() << "a corrupted layer was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("digest mismatch"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store().find(reg.host() + "/c:1"));
    for (const auto& b : blobs()) EXPECT_NE(b, layer);
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/layers " + g_tmp + "/root/store/tmp | grep -v : | grep . | wc -l").out, "0\n");
}

TEST_F(Images, MissingBlobFailsAndKeepsNothing) {
    Registry reg;
    copy_in(reg, "base", "g:1");
    auto m = nlohmann::json::parse(must("skopeo inspect --raw --tls-verify=false docker://" + reg.host() + "/g:1"));
    std::string layer = m["layers"][0]["digest"];
    must("rm -rf " + reg.blob_data(layer).substr(0, reg.blob_data(layer).size() - 5));
    EXPECT_THROW(store().pull(reg.host() + "/g:1"), Error);
    EXPECT_FALSE(store().find(reg.host() + "/g:1"));
    for (const auto& b : blobs()) EXPECT_NE(b, layer);
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/tmp | wc -l").out, "0\n");
    // An unknown tag is docker's "manifest unknown".
    try {
        store().pull(reg.host() + "/g:nope");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    }
}

TEST_F(Images, BasicAuthWithDockerConfigCredentials) {
    must("htpasswd -Bbn alice s3cret-pw > " + g_tmp + "/htpasswd");
    Registry reg("auth:\n  htpasswd:\n    realm: test\n    path: " + g_tmp + "/htpasswd\n");
    copy_in(reg, "base", "secret:1", "--dest-creds alice:s3cret-pw");
    try {
        store().pull(reg.host() + "/secret:1");
        FAIL() << "anonymous pull of a protected repository succeeded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("denied"), std::string::npos) << e.what();
    }
    must("mkdir -p " + g_tmp + "/docker");
    std::ofstream(g_tmp + "/docker/config.json")
        << "{\"auths\": {\"" + reg.host() + "\": {\"auth\": \"" + must("printf alice:wrong | base64 -w0") + "\"}}}";
    EXPECT_THROW(store().pull(reg.host() + "/secret:1"), Error);
    std::ofstream(g_tmp + "/docker/config.json")
        << "{\"auths\": {\"" + reg.host() + "\": {\"auth\": \"" + must("printf alice:s3cret-pw | base64 -w0") + "\"}}}";
    auto r = store().pull(reg.host() + "/secret:1");
    EXPECT_EQ(r.image.layers.size(), 1u);
    // And push with them; the password never shows in what the CLI prints.
    store().tag(reg.host() + "/secret:1", reg.host() + "/pushed:1");
    EXPECT_EQ(store().push(reg.host() + "/pushed:1"), r.manifest_digest);
    auto cli = support::run({support::bin("step07_full"), "--explain", "pull", reg.host() + "/secret:1"});
    EXPECT_EQ(cli.status, 0) << cli.err;
    EXPECT_EQ((cli.out + cli.err).find("s3cret"), std::string::npos);
}

// credsStore and credHelpers: docker-credential-NAME get, the server on stdin, JSON on stdout.
TEST_F(Images, CredentialHelpersFromDockerConfig) {
    must("htpasswd -Bbn alice s3cret-pw > " + g_tmp + "/htpasswd");
    Registry reg("auth:\n  htpasswd:\n    realm: test\n    path: " + g_tmp + "/htpasswd\n");
    copy_in(reg, "base", "secret:1", "--dest-creds alice:s3cret-pw");
    // Two helpers in a PATH of the test's own: "mini" knows this registry, "none" knows nothing.
    std::string bin = g_tmp + "/bin";
    must("mkdir -p " + bin + " " + g_tmp + "/docker");
    std::ofstream(bin + "/docker-credential-mini")
        << "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread server\necho \"$server\" >> " + g_tmp + "/asked\n"
           "if [ \"$server\" = " + reg.host() + " ]; then\n"
           "  printf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret-pw\"}\\n' \"$server\"\n"
           "else echo 'credentials not found in native keychain'; exit 1; fi\n";
    std::ofstream(bin + "/docker-credential-none") << "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n";
    std::ofstream(bin + "/docker-credential-broken") << "#!/bin/sh\necho 'the keyring is locked' >&1\nexit 4\n";
    must("chmod 0755 " + bin + "/*");
    ::setenv("PATH", (bin + ":" + std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin")).c_str(), 1);
    auto config = [&](const std::string& j) { std::ofstream(g_tmp + "/docker/config.json") << j; };

    // credsStore: the helper is asked with the registry's host, and its answer pulls.
    config("{\"credsStore\": \"mini\"}");
    auto r = store().pull(reg.host() + "/secret:1");
    EXPECT_EQ(r.image.layers.size(), 1u);
    EXPECT_NE(support::read_file(g_tmp + "/asked").find(reg.host() + "\n"), std::string::npos);
    // A helper that has nothing for the registry: anonymous, so refused by the registry.
    config("{\"credsStore\": \"none\"}");
    EXPECT_THROW(store().pull(reg.host() + "/secret:2"), Error);
    // credHelpers wins over credsStore for its registry (the store's helper is not even there),
    // and over an auths entry with a wrong password.
    ::unlink((g_tmp + "/asked").c_str());
    config("{\"credsStore\": \"absent\", \"credHelpers\": {\"" + reg.host() + "\": \"mini\"}, \"auths\": {\"" + reg.host() +
           "\": {\"auth\": \"" + must("printf alice:wrong | base64 -w0") + "\"}}}");
    store().tag(reg.host() + "/secret:1", reg.host() + "/pushed:1");
    EXPECT_EQ(store().push(reg.host() + "/pushed:1"), r.manifest_digest);
    EXPECT_NE(support::read_file(g_tmp + "/asked").find(reg.host()), std::string::npos);
    // A helper named but not installed, and one that fails: clear errors, no secret shown.
    config("{\"credsStore\": \"absent\"}");
    try {
        store().pull(reg.host() + "/secret:1");
        FAIL() << "a missing helper was ignored";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("docker-credential-absent"), std::string::npos) << e.what();
    }
    config("{\"credsStore\": \"broken\"}");
    try {
        store().pull(reg.host() + "/secret:1");
        FAIL() << "a failing helper was ignored";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("keyring is locked"), std::string::npos) << e.what();
    }
    // The CLI, with --explain, through the helper: the secret is never printed.
    config("{\"credHelpers\": {\"" + reg.host() + "\": \"mini\"}}");
    auto cli = support::run({support::bin("step07_full"), "--explain", "pull", reg.host() + "/secret:1"});
    EXPECT_EQ(cli.status, 0) << cli.err;
    EXPECT_NE((cli.out + cli.err).find("docker-credential-mini"), std::string::npos) << cli.out + cli.err;
    EXPECT_EQ((cli.out + cli.err).find("s3cret"), std::string::npos);
}

namespace {

std::string b64url(const std::string& in) {
    std::string out(((in.size() + 2) / 3) * 4 + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!out.empty() && out.back() == '=') out.pop_back();
    return out;
}

// A tiny token server (Docker's token spec): GET /token?service=..&scope=repository:NAME:ACTIONS
// with Basic alice:pw -> {"token": a JWT signed RS256 by key.pem, its cert in the x5c header and
// in the registry's rootcertbundle}. Anything else: 401. Hand-written HTTP is fine in a test.
class TokenServer {
public:
    explicit TokenServer(int port) {
        must("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + g_tmp + "/tkey.pem -out " + g_tmp +
             "/tcert.pem -subj /CN=token -days 1");
        cert_der_ = must("openssl x509 -in " + g_tmp + "/tcert.pem -outform DER | base64 -w0");
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd_, 16) < 0)
            throw std::runtime_error("token server bind");
        thread_ = std::thread([this] { serve(); });
    }
    ~TokenServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::atomic<int> issued{0};

private:
    std::string sign(const std::string& data) {
        FILE* f = std::fopen((g_tmp + "/tkey.pem").c_str(), "r");
        EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
        std::fclose(f);
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
        size_t len = 0;
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
        std::string sig(len, '\0');
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, reinterpret_cast<const unsigned char*>(data.data()),
                       data.size());
        sig.resize(len);
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(key);
        return sig;
    }
    static std::string unescape(const std::string& s) {
        std::string out;
        for (size_t i = 0; i < s.size(); i++) {
            if (s[i] == '%' && i + 2 < s.size()) {
                out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
                i += 2;
            } else out += s[i];
        }
        return out;
    }
    void serve() {
        while (!stop_) {
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::read(c, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, static_cast<size_t>(n));
            }
            std::string reply;
            // Every scope=repository:NAME:ACTIONS of the request line (a mount asks for two).
            std::string first_line = req.substr(0, req.find("\r\n"));
            nlohmann::json access = nlohmann::json::array();
            for (auto sp = first_line.find("scope="); sp != std::string::npos; sp = first_line.find("scope=", sp + 6)) {
                std::string scope = unescape(first_line.substr(sp + 6, first_line.find_first_of("& ", sp) - sp - 6));
                auto c1 = scope.find(':'), c2 = scope.rfind(':');
                nlohmann::json actions = nlohmann::json::array();
                std::istringstream as(scope.substr(c2 + 1));
                for (std::string a; std::getline(as, a, ',');) actions.push_back(a);
                access.push_back({{"type", "repository"}, {"name", scope.substr(c1 + 1, c2 - c1 - 1)}, {"actions", actions}});
            }
            if (req.find("Authorization: Basic " + must("printf alice:tok-pw | base64 -w0")) == std::string::npos ||
                access.empty()) {
                reply = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            } else {
                long now = static_cast<long>(std::time(nullptr));
                nlohmann::json header{{"alg", "RS256"}, {"typ", "JWT"}, {"x5c", {cert_der_}}};
                nlohmann::json claims{{"iss", "test-issuer"}, {"sub", "alice"},  {"aud", "test-service"},
                                      {"exp", now + 600},     {"nbf", now - 60}, {"iat", now - 60},
                                      {"jti", std::to_string(issued.load())}, {"access", access}};
                std::string signing = b64url(header.dump()) + "." + b64url(claims.dump());
                std::string body = nlohmann::json{{"token", signing + "." + b64url(sign(signing))}}.dump();
                issued++;
                reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n" + body;
            }
            (void)!::write(c, reply.data(), reply.size());
            ::close(c);
        }
    }
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::string cert_der_;
    std::thread thread_;
};

}  // namespace

TEST_F(Images, BearerTokenFromAChallenge) {
    TokenServer tokens(5001);
    Registry reg("auth:\n  token:\n    realm: http://127.0.0.1:5001/token\n    service: test-service\n"
                 "    issuer: test-issuer\n    rootcertbundle: " + g_tmp + "/tcert.pem\n");
    copy_in(reg, "base", "t:1", "--dest-creds alice:tok-pw");
    EXPECT_THROW(store().pull(reg.host() + "/t:1"), Error);  // anonymous: the token server says 401
    RegistryOptions o;
    o.credentials = Credentials{"alice", "tok-pw", ""};
    int before = tokens.issued;
    auto r = store().pull(reg.host() + "/t:1", o);
    EXPECT_EQ(r.image.layers.size(), 1u);
    EXPECT_GT(tokens.issued, before);
    store().tag(reg.host() + "/t:1", reg.host() + "/t2:1");
    EXPECT_EQ(store().push(reg.host() + "/t2:1", o), r.manifest_digest);
}

TEST_F(Images, TlsVerifiedWithTheRegistryCaFromCertsD) {
    std::string d = g_tmp + "/tls";
    must("mkdir -p " + d + " && cd " + d +
         " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=test-ca -days 1"
         " && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1"
         " && printf 'subjectAltName=IP:127.0.0.1\\n' > ext"
         " && openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 -extfile ext");
    Registry reg("", "  tls:\n    certificate: " + d + "/srv.crt\n    key: " + d + "/srv.key\n");
    copy_in(reg, "base", "s:1");
    RegistryOptions o;
    o.certs_dir = g_tmp + "/certs.d";
    try {
        store().pull(reg.host() + "/s:1", o);
        FAIL() << "an untrusted certificate was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.line().find("not trusted"), std::string::npos) << e.line();
    }
    must("mkdir -p " + o.certs_dir + "/" + reg.host() + " && cp " + d + "/ca.crt " + o.certs_dir + "/" + reg.host() + "/ca.crt");
    auto r = store().pull(reg.host() + "/s:1", o);
    EXPECT_EQ(r.image.layers.size(), 1u);
}

TEST_F(Images, TwoImagesSharingABaseStoreItOnce) {
    Registry reg;
    copy_in(reg, "multi", "a:1");
    copy_in(reg, "other", "b:1");
    // Both at once: the shared base layer is fetched and unpacked by one of them only.
    std::exception_ptr err;
    std::vector<Resolved> got(2);
    std::thread t1([&] {
        try {
            Store s(g_tmp + "/root");
            got[0] = s.pull(reg.host() + "/a:1");
        } catch (...) {
            err = std::current_exception();
        }
    });
    std::thread t2([&] {
        try {
            Store s(g_tmp + "/root");
            got[1] = s.pull(reg.host() + "/b:1");
        } catch (...) {
            err = std::current_exception();
        }
    });
    t1.join();
    t2.join();
    if (err) std::rethrow_exception(err);
    EXPECT_EQ(got[0].image.layers[0], got[1].image.layers[0]);
    EXPECT_EQ(store().list().size(), 2u);
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/layers | wc -l").out, "5\n");  // base, 3 of multi, 1 of other
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/tmp | wc -l").out, "0\n");
    EXPECT_EQ(sh("ls -A " + g_tmp + "/root/store/locks").out, "");  // each layer's lock removed by its holder
    // From the host: the layers take the base once, not once per image.
    std::uint64_t base = du_bytes(got[0].image.layers[0]);
    std::uint64_t all = du_bytes(g_tmp + "/root/store/layers");
    std::uint64_t per_image = 0;
    for (const auto& r : got)
        for (const auto& l : r.image.layers) per_image += du_bytes(l);
    EXPECT_LT(all, per_image - base / 2);
    // rmi of one keeps the shared base.
    store().remove(reg.host() + "/a:1");
    EXPECT_EQ(::access(got[1].image.layers[0].c_str(), F_OK), 0);
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/layers | wc -l").out, "2\n");
}

// Every layer's lock file is removed by whoever made the layer, and never under a waiter: four
// processes pulling two images that share a layer, then a pull that waits on a lock file the
// holder unlinks (the waiter must notice it holds a removed file and take the path again).
TEST_F(Images, LayerLockFilesAreRemovedAndWaitersRecheck) {
    Registry reg;
    copy_in(reg, "multi", "a:1");
    copy_in(reg, "other", "b:1");
    auto bin = support::bin("step07_full");
    std::string cmds;
    for (int i = 0; i < 4; i++) cmds += bin + " pull -q " + reg.host() + (i % 2 ? "/a:1" : "/b:1") + " >/dev/null 2>>" + g_tmp + "/errs & ";
    must(cmds + "wait");
    EXPECT_EQ(support::read_file(g_tmp + "/errs"), "");
    EXPECT_EQ(sh("ls -A " + g_tmp + "/root/store/locks").out, "");
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/layers | wc -l").out, "5\n");
    EXPECT_EQ(sh("ls -A " + g_tmp + "/root/store/tmp").out, "");
    // The store is intact: every blob is named by its digest, every layer complete.
    for (const auto& b : blobs()) EXPECT_EQ(sha256_of_file(store().blob_path(b)), b);
    for (const auto& ref : {"/a:1", "/b:1"}) {
        auto r = store().get(reg.host() + ref);
        for (const auto& l : r.image.layers) {
            EXPECT_EQ(::access((l + "/../layer.json").c_str(), F_OK), 0) << l;
            EXPECT_EQ(::access(l.c_str(), F_OK), 0) << l;
        }
    }
    // A waiter on a file its holder unlinks. We play the holder of b's top layer's lock.
    auto b = store().get(reg.host() + "/b:1");
    std::string top = b.config["rootfs"]["diff_ids"].back().get<std::string>();
    store().remove(reg.host() + "/b:1");
    ASSERT_NE(::access(store().layer_dir(top).c_str(), F_OK), 0);
    std::string lock = g_tmp + "/root/store/locks/" + top.substr(7);
    unique_fd held(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
    std::atomic<bool> finished{false};
    std::exception_ptr err;
    std::thread t([&] {
        try {
            Store s(g_tmp + "/root");
            s.pull(reg.host() + "/b:1");
        } catch (...) {
            err = std::current_exception();
        }
        finished = true;
    });
    ::usleep(1500000);  // the blobs of a local registry arrive well within this
    EXPECT_FALSE(finished) << "the pull did not wait for the layer's lock";
    // Release as a holder does: unlink while held, then close; but first a third taker makes
    // the path anew and holds that file. The waiter gets the old, unlinked file: it must see
    // that it is not the one at the path, take the path again and so wait for the third.
    ASSERT_EQ(::unlink(lock.c_str()), 0);
    unique_fd third(::open(lock.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_EQ(::flock(third.get(), LOCK_EX), 0);
    held.reset();
    ::usleep(1000000);
    EXPECT_FALSE(finished) << "the pull went on with a lock file that was no longer at its path";
    ASSERT_EQ(::unlink(lock.c_str()), 0);
    third.reset();
    t.join();
    if (err) std::rethrow_exception(err);
    EXPECT_EQ(::access(store().layer_dir(top).c_str(), F_OK), 0);
    EXPECT_EQ(sh("ls -A " + g_tmp + "/root/store/locks").out, "");
    // A lock file an older minibox left (nobody holds it) is removed by the next store operation.
    must("touch " + g_tmp + "/root/store/locks/" + std::string(64, 'a'));
    store().pull(reg.host() + "/a:1");
    EXPECT_EQ(sh("ls -A " + g_tmp + "/root/store/locks").out, "");
}

// step06's images (images/NAME, e.g. the default busybox: a bare rootfs, no tars) can be saved
// and pushed: their layer directories are written as layer tars, digests computed. The tar
// loads into another store and into podman with the same diff ids; the push pulls back with
// the same files; nothing is added to the store that saved or pushed it.
TEST_F(Images, SaveAndPushAStep06Image) {
    must("mkdir -p " + g_tmp + "/root/images/busybox && cp -a " + g_busybox + " " + g_tmp + "/root/images/busybox/rootfs");
    ASSERT_TRUE(store().get("busybox").legacy);
    auto bin = support::bin("step07_full");
    std::string tar = g_tmp + "/busybox.tar";
    auto save = support::run({bin, "save", "-o", tar, "busybox"});
    ASSERT_EQ(save.status, 0) << save.err;
    EXPECT_EQ(sh("ls -A " + g_tmp + "/root/store/tmp").out, "") << "the layer tars stayed";
    EXPECT_TRUE(store().list().size() == 1 && store().list()[0].legacy) << "save added to the store";
    // The same image twice gives the same bytes (entries in name order, files' own times).
    auto again = support::run({bin, "save", "-o", tar + ".2", "busybox"});
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_EQ(sha256_of_file(tar), sha256_of_file(tar + ".2"));
    // Loaded into a fresh store: the files are busybox's, with their modes, owners and links.
    Store other(g_tmp + "/other");
    unique_fd in(::open(tar.c_str(), O_RDONLY | O_CLOEXEC));
    auto lines = other.load(in.get());
    EXPECT_EQ(lines, (std::vector<std::string>{"Loaded image: busybox:latest"}));
    auto loaded = other.get("busybox");
    ASSERT_FALSE(loaded.legacy);
    ASSERT_EQ(loaded.image.layers.size(), 1u);
    EXPECT_EQ(tree(loaded.image.layers[0]), tree(g_busybox));
    EXPECT_EQ(loaded.config["config"]["Cmd"], store().get("busybox").config["config"]["Cmd"]);
    // podman reads it too (a private storage under a short directory: its runroot is limited).
    if (!support::sh("command -v podman").out.empty()) {
        char pt[] = "/tmp/pdXXXXXX";
        std::string pd = ::mkdtemp(pt);
        std::string pod = "podman --root " + pd + "/r --runroot " + pd + "/rr --tmpdir " + pd +
                          "/t --storage-driver vfs --events-backend none --cgroup-manager cgroupfs ";
        auto pl = sh(pod + "load -i " + tar + " 2>&1");
        EXPECT_EQ(pl.status, 0) << pl.out;
        auto layers = sh(pod + "image inspect --format '{{json .RootFS.Layers}}' docker.io/library/busybox:latest 2>&1");
        EXPECT_EQ(layers.status, 0) << layers.out;
        EXPECT_EQ(nlohmann::json::parse(layers.status == 0 ? layers.out : "[]"), loaded.config["rootfs"]["diff_ids"]) << layers.out;
        sh(pod + "rmi -a -f >/dev/null 2>&1; rm -rf " + pd);
    }
    // push busybox to a registry under another name (podman's DESTINATION), then pull it back.
    Registry reg;
    auto push = support::run({bin, "push", "busybox", reg.host() + "/x:1"});
    ASSERT_EQ(push.status, 0) << push.out << push.err;
    EXPECT_NE(push.out.find("Pushed"), std::string::npos) << push.out;
    EXPECT_EQ(sh("ls -A " + g_tmp + "/root/store/tmp").out, "");
    Store third(g_tmp + "/third");
    auto pulled = third.pull(reg.host() + "/x:1");
    ASSERT_EQ(pulled.image.layers.size(), 1u);
    EXPECT_EQ(tree(pulled.image.layers[0]), tree(g_busybox));
    EXPECT_EQ(pulled.id, loaded.id) << "push and save write the same image";
    std::string remote = must("skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://" + reg.host() + "/x:1");
    EXPECT_EQ(pulled.manifest_digest, remote.substr(0, remote.size() - 1));
    // An unknown image is still refused, and a digest as destination too.
    EXPECT_NE(support::run({bin, "push", "nosuch", reg.host() + "/x:2"}).status, 0);
    EXPECT_NE(support::run({bin, "push", "busybox", reg.host() + "/x@sha256:" + std::string(64, '0')}).status, 0);
}

TEST_F(Images, CliPullImagesSaveLoadRmi) {
    Registry reg;
    copy_in(reg, "other", "cli:1");
    auto bin = support::bin("step07_full");
    // --insecure-registry takes one value (a greedy list option would swallow REF).
    auto pull = support::run({bin, "pull", "--insecure-registry", reg.host(), reg.host() + "/cli:1"});
    ASSERT_EQ(pull.status, 0) << pull.err;
    EXPECT_NE(pull.out.find("Pull complete"), std::string::npos) << pull.out;  // plain lines: not a terminal
    EXPECT_NE(pull.out.find("Digest: sha256:"), std::string::npos) << pull.out;
    auto ls = support::run({bin, "images"});
    ASSERT_EQ(ls.status, 0) << ls.err;
    EXPECT_EQ(ls.out.rfind("REPOSITORY", 0), 0u) << ls.out;
    EXPECT_NE(ls.out.find(reg.host() + "/cli"), std::string::npos) << ls.out;
    auto id = store().get(reg.host() + "/cli:1").id;
    EXPECT_NE(ls.out.find(id.substr(7, 12)), std::string::npos) << ls.out;
    auto inspect = support::run({bin, "image", "inspect", reg.host() + "/cli:1"});
    ASSERT_EQ(inspect.status, 0);
    EXPECT_EQ(nlohmann::json::parse(inspect.out)[0]["Id"], id);
    ASSERT_EQ(support::run({bin, "tag", reg.host() + "/cli:1", "mine:2"}).status, 0);
    auto save = support::run({bin, "save", "-o", g_tmp + "/s.tar", "mine:2"});
    ASSERT_EQ(save.status, 0) << save.err;
    auto rmi = support::run({bin, "rmi", reg.host() + "/cli:1", "mine:2"});
    ASSERT_EQ(rmi.status, 0) << rmi.err;
    EXPECT_NE(rmi.out.find("Deleted: " + id), std::string::npos) << rmi.out;
    EXPECT_FALSE(store().find(id));
    auto load = support::run({bin, "load", "-i", g_tmp + "/s.tar"});
    ASSERT_EQ(load.status, 0) << load.err;
    EXPECT_EQ(load.out, "Loaded image: mine:2\n");
    EXPECT_EQ(store().get("mine:2").id, id);
    // podman reads our save too.
    auto missing = support::run({bin, "rmi", "nothing:here"});
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("No such image"), std::string::npos);
    // Held by a container: refused; prune -a keeps it too.
    store().hold(id, "abc123");
    EXPECT_EQ(support::run({bin, "rmi", "mine:2"}).status, 1);
    support::run({bin, "image", "prune", "-a", "-f"});
    EXPECT_TRUE(store().find("mine:2"));
    store().release("abc123");
}

TEST_F(Images, InterruptedPullLeavesNoHalfBlobAndResumes) {
    Registry reg;
    // Three incompressible 8 MB layers, so the pull takes a while (the kill may still come after it ended:
    // what is checked holds either way).
    std::string L = layout();
    for (int i = 0; i < 3; i++)
        must("mkdir -p " + g_tmp + "/big" + std::to_string(i) + " && head -c 8000000 /dev/urandom > " + g_tmp + "/big" +
             std::to_string(i) + "/data && umoci insert --image " + L + ":other " + g_tmp + "/big" + std::to_string(i) + " /big" +
             std::to_string(i));
    copy_in(reg, "other", "big:1");
    auto bin = support::bin("step07_full");
    for (int attempt = 0; attempt < 3; attempt++) {
        support::Background p({bin, "pull", "--max-concurrent-downloads", "1", reg.host() + "/big:1"});
        p.wait_for_line("Downloading", std::chrono::seconds(20));
        p.signal(SIGKILL);
        p.wait();
        // Whatever has a name in blobs/ is complete and verified.
        for (const auto& b : blobs()) EXPECT_EQ(sha256_of_file(store().blob_path(b)), b);
    }
    auto r = store().pull(reg.host() + "/big:1");
    EXPECT_EQ(r.image.layers.size(), 5u);
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/tmp | wc -l").out, "0\n");  // the dead pull's temp files reaped
}

TEST_F(Images, LoadsDockerAndOciArchivesThatSkopeoWrites) {
    // No registry: skopeo writes both archive formats from the umoci layout.
    std::string L = layout();
    must("skopeo --insecure-policy copy -q oci:" + L + ":multi docker-archive:" + g_tmp + "/d.tar:example.com/d:1");
    must("skopeo --insecure-policy copy -q oci:" + L + ":other oci-archive:" + g_tmp + "/o.tar:example.com/o:2");
    for (const auto& [file, name] : std::vector<std::pair<std::string, std::string>>{{"d.tar", "example.com/d:1"}, {"o.tar", ""}}) {
        unique_fd fd(::open((g_tmp + "/" + file).c_str(), O_RDONLY | O_CLOEXEC));
        ASSERT_TRUE(fd);
        auto lines = store().load(fd.get());
        ASSERT_EQ(lines.size(), 1u) << file;
        if (!name.empty()) {
            EXPECT_EQ(lines[0], "Loaded image: " + name);
        }
    }
    auto d = store().get("example.com/d:1");
    EXPECT_EQ(d.image.layers.size(), 4u);
    EXPECT_EQ(support::read_file(d.image.layers[1] + "/extra/sub/f"), "in\n");
    // Both share the busybox layer: one directory.
    EXPECT_EQ(sh("ls " + g_tmp + "/root/store/layers | wc -l").out, "5\n");
}

TEST_F(Images, ForeignLayersAreRefused) {
    // The registry accepts a manifest whose layer lives elsewhere (urls) when its config allows it;
    // the pull refuses it before fetching anything but the manifest.
    Registry reg("validation:\n  manifests:\n    urls:\n      allow:\n        - ^https?://\n");
    copy_in(reg, "base", "f:1");
    auto m = nlohmann::json::parse(must("skopeo inspect --raw --tls-verify=false docker://" + reg.host() + "/f:1"));
    m["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"},
                           {"digest", sha256_of("elsewhere")},
                           {"size", 9},
                           {"urls", {"https://example.invalid/layer"}}});
    std::ofstream(g_tmp + "/m.json") << m.dump();
    must("curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @" + g_tmp +
         "/m.json http://" + reg.host() + "/v2/f/manifests/foreign");
    try {
        store().pull(reg.host() + "/f:foreign");
        FAIL() << "a foreign layer was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("foreign layer"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(blobs().empty());
}
