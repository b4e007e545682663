// build and commit, run for real (root): every Dockerfile instruction, the cache, .dockerignore,
// a failing RUN, multi-stage COPY --from, commit of a container with deletions, and an image we
// built loaded and run by podman. Each test has its own MINIBOX_ROOT and MINIBOX_RUN (temporary
// directories) with a copy of the default busybox image; results are checked from the store
// (config, layer tars and unpacked layers, read by the test itself) and from inside (a RUN step of
// a following build, which runs in a container of the image just built).
#include <archive.h>
#include <archive_entry.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "clients/harness.hpp"
#include "image/store.hpp"
#include "support.hpp"

namespace {

using json = nlohmann::json;

std::string quote(const std::string& s) { return "'" + std::regex_replace(s, std::regex("'"), "'\\''") + "'"; }

int count(const std::string& hay, const std::string& needle) {
    int n = 0;
    for (size_t k = hay.find(needle); k != std::string::npos; k = hay.find(needle, k + 1)) ++n;
    return n;
}

class Build : public ::testing::Test {
protected:
    std::string tmp, root, run, ctx;

    void SetUp() override {
        REQUIRE_ROOT();
        char t[] = "/tmp/mbxb.XXXXXX";
        ASSERT_NE(::mkdtemp(t), nullptr);
        tmp = t;
        root = tmp + "/root";
        run = tmp + "/run";
        ctx = tmp + "/ctx";
        std::string src = support::busybox_rootfs();
        ASSERT_EQ(::access(src.c_str(), F_OK), 0) << "no default image at " << src << " (scripts/make-image.sh)";
        auto r = support::sh("mkdir -p " + root + "/images/busybox " + run + " " + ctx + " && cp -a " + quote(src) + " " + root +
                             "/images/busybox/rootfs");
        ASSERT_EQ(r.status, 0) << r.err;
        ::setenv("MINIBOX_ROOT", root.c_str(), 1);
        ::setenv("MINIBOX_RUN", run.c_str(), 1);
        mounts_before_ = support::host_mounts();
    }
    void TearDown() override {
        if (tmp.empty()) return;
        // every mount a build made is gone (from the host's view)
        auto after = support::host_mounts();
        for (const auto& m : after) EXPECT_EQ(m.find(tmp), std::string::npos) << "a mount was left: " << m;
        support::sh("for m in $(grep " + tmp + " /proc/self/mounts | cut -d' ' -f2 | sort -r); do umount -l $m; done; rm -rf " + tmp);
        ::unsetenv("MINIBOX_ROOT");
        ::unsetenv("MINIBOX_RUN");
    }

    void file(const std::string& rel, const std::string& text, mode_t mode = 0644) {
        std::string p = ctx + "/" + rel;
        support::sh("mkdir -p " + quote(p.substr(0, p.rfind('/'))));
        std::ofstream(p) << text;
        ::chmod(p.c_str(), mode);
    }

    support::Result build(const std::vector<std::string>& args, const std::string& context = "") {
        std::vector<std::string> argv{support::bin("step07_full"), "build"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back(context.empty() ? ctx : context);
        return support::run(argv);
    }

    images::Resolved image(const std::string& ref) {
        images::Store s(root);
        auto r = s.find(ref);
        if (!r) ADD_FAILURE() << "no image " << ref;
        return r.value_or(images::Resolved{});
    }

    // The file as the image's root shows it: the topmost layer that has it (no whiteouts between).
    std::string in_image(const images::Resolved& img, const std::string& path, struct stat* st = nullptr) {
        for (auto it = img.image.layers.rbegin(); it != img.image.layers.rend(); ++it) {
            std::string p = *it + path;
            struct stat s;
            if (::lstat(p.c_str(), &s) == 0) {
                if (st) *st = s;
                return S_ISREG(s.st_mode) ? support::read_file(p) : std::string("<not a file>");
            }
        }
        return "<absent>";
    }

    // Names in the step directories, the runtime's state and the temporary contexts: all empty
    // after a build, whatever its end.
    std::vector<std::string> leftovers() {
        std::vector<std::string> out;
        for (const auto& d : {root + "/builder/containers", root + "/builder/contexts", root + "/builder/tmp"}) {
            for (const auto& e : clients::entries(d)) out.push_back(d + "/" + e);
        }
        return out;
    }

private:
    std::vector<std::string> mounts_before_;
};

TEST_F(Build, EveryInstruction) {
    file("a.txt", "A\n");
    file("b.txt", "B\n");
    file("dir/inner", "inner\n", 0600);
    file("script.sh", "#!/bin/sh\necho script\n", 0755);
    auto tar = support::sh("mkdir -p " + tmp + "/t/sub && echo from-tar > " + tmp + "/t/sub/t.txt && tar -C " + tmp + "/t -czf " + ctx +
                           "/files.tar.gz sub");
    ASSERT_EQ(tar.status, 0);
    file("Dockerfile", R"(# a comment
ARG BASE=busybox
FROM ${BASE}
ARG VERSION=1.0
ARG FROMCLI
ENV A=1 B="two words"
ENV OLD legacy form
LABEL org.test.version=$VERSION "with space"=yes
WORKDIR /app
WORKDIR sub
RUN echo "in $(pwd) A=$A B=$B V=$VERSION C=$FROMCLI" > run.txt && \
    echo run-output-line
RUN ["/bin/sh", "-c", "echo exec-form > /exec.txt"]
COPY --chown=1:2 a.txt /copied/
COPY *.txt /glob/
COPY dir /dirc
COPY --chmod=0750 script.sh ${DEST:-/opt}/s.sh
ADD files.tar.gz /unpacked/
ADD b.txt /added-b
USER nobody
EXPOSE 80 443/udp
SHELL ["/bin/sh", "-xc"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
STOPSIGNAL SIGTERM
VOLUME /data
)");
    auto r = build({"-t", "every:1", "--build-arg", "FROMCLI=cli"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Step 1/24 : ARG BASE=busybox"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Step 2/24 : FROM ${BASE}"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" ---> Running in "), std::string::npos);
    EXPECT_NE(r.out.find("run-output-line"), std::string::npos) << "RUN's output is shown";
    EXPECT_NE(r.out.find("Successfully built "), std::string::npos);
    EXPECT_NE(r.out.find("Successfully tagged every:1"), std::string::npos) << r.out;
    EXPECT_TRUE(leftovers().empty());

    auto img = image("every:1");
    // "Successfully built ID": ID is the image's
    EXPECT_NE(r.out.find("Successfully built " + img.id.substr(7, 12)), std::string::npos) << img.id;
    const json& c = img.config["config"];
    std::vector<std::string> env = c.value("Env", std::vector<std::string>{});
    auto has = [&](const std::string& kv) { return std::find(env.begin(), env.end(), kv) != env.end(); };
    EXPECT_TRUE(has("A=1"));
    EXPECT_TRUE(has("B=two words"));
    EXPECT_TRUE(has("OLD=legacy form"));
    EXPECT_FALSE(has("VERSION=1.0")) << "ARGs are not kept in the image";
    EXPECT_EQ(c["Labels"].value("org.test.version", ""), "1.0");
    EXPECT_EQ(c["Labels"].value("with space", ""), "yes");
    EXPECT_EQ(c.value("WorkingDir", ""), "/app/sub");
    EXPECT_EQ(c.value("User", ""), "nobody");
    EXPECT_TRUE(c["ExposedPorts"].contains("80/tcp"));
    EXPECT_TRUE(c["ExposedPorts"].contains("443/udp"));
    EXPECT_EQ(c["Shell"], json({"/bin/sh", "-xc"}));
    EXPECT_EQ(c["Entrypoint"], json({"/bin/sh", "-c"}));
    EXPECT_EQ(c["Cmd"], json({"echo hi"}));
    EXPECT_EQ(c.value("StopSignal", ""), "SIGTERM");
    EXPECT_TRUE(c["Volumes"].contains("/data"));
    // history: one entry per instruction after FROM plus the base's, created_by as Docker writes it
    auto hist = img.config["history"];
    std::string all = hist.dump();
    EXPECT_NE(all.find("/bin/sh -c #(nop)  ENV A=1 B=two words"), std::string::npos) << all;
    EXPECT_NE(all.find("|2 VERSION=1.0 FROMCLI=cli /bin/sh -c echo"), std::string::npos) << all;
    EXPECT_NE(all.find("/bin/sh -c #(nop) WORKDIR /app/sub"), std::string::npos);
    EXPECT_EQ(img.config["rootfs"]["diff_ids"].size(), img.image.layers.size());

    EXPECT_EQ(in_image(img, "/app/sub/run.txt"), "in /app/sub A=1 B=two words V=1.0 C=cli\n");
    EXPECT_EQ(in_image(img, "/exec.txt"), "exec-form\n");
    struct stat st;
    EXPECT_EQ(in_image(img, "/copied/a.txt", &st), "A\n");
    EXPECT_EQ(st.st_uid, 1u);
    EXPECT_EQ(st.st_gid, 2u);
    EXPECT_EQ(in_image(img, "/glob/a.txt"), "A\n");
    EXPECT_EQ(in_image(img, "/glob/b.txt"), "B\n");
    EXPECT_EQ(in_image(img, "/dirc/inner", &st), "inner\n");  // the directory's contents, not the directory
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(in_image(img, "/opt/s.sh", &st), "#!/bin/sh\necho script\n");
    EXPECT_EQ(st.st_mode & 07777, 0750u);
    EXPECT_EQ(in_image(img, "/unpacked/sub/t.txt"), "from-tar\n");
    EXPECT_EQ(in_image(img, "/added-b"), "B\n");  // not an archive: copied as it is
    EXPECT_EQ(in_image(img, "/files.tar.gz"), "<absent>");

    // from inside: a container of the image sees all of it (and runs as its USER)
    std::string ctx2 = tmp + "/ctx2";
    support::sh("mkdir -p " + ctx2);
    std::ofstream(ctx2 + "/Dockerfile") << "FROM every:1\nSHELL [\"/bin/sh\", \"-c\"]\n"
                                        << "RUN id -u; test \"$(id -u)\" = 65534 && test \"$(cat /app/sub/run.txt)\" = "
                                           "'in /app/sub A=1 B=two words V=1.0 C=cli' && test \"$(pwd)\" = /app/sub "
                                           "&& test -f /opt/s.sh && test \"$A\" = 1 && echo inside-ok\n";
    auto r2 = build({"-t", "every:2"}, ctx2);
    EXPECT_EQ(r2.status, 0) << r2.out << r2.err;
    EXPECT_NE(r2.out.find("inside-ok"), std::string::npos) << r2.out;
}

TEST_F(Build, FromScratchAndMultiStage) {
    file("hello.txt", "hello\n");
    file("Dockerfile", R"(FROM busybox AS builder
RUN mkdir /out && echo built-in-stage-one > /out/artifact && ln -s artifact /out/link
FROM scratch
COPY --from=builder /out/ /result/
COPY hello.txt /
CMD ["/nothing"]
)");
    auto r = build({"-t", "multi"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    auto img = image("multi");
    EXPECT_EQ(img.image.layers.size(), 2u) << "scratch + two COPY layers, nothing of busybox";
    EXPECT_EQ(in_image(img, "/result/artifact"), "built-in-stage-one\n");
    struct stat st;
    in_image(img, "/result/link", &st);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(in_image(img, "/hello.txt"), "hello\n");
    EXPECT_EQ(in_image(img, "/bin/sh"), "<absent>");
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(Build, CacheSecondBuildIsAllCachedAndFaster) {
    file("f.txt", "v1\n");
    file("Dockerfile", "FROM busybox\nENV X=1\nRUN echo slow-step && sleep 1\nCOPY f.txt /f.txt\nRUN cat /f.txt\nCMD [\"sh\"]\n");
    auto t0 = std::chrono::steady_clock::now();
    auto first = build({"-t", "cached"});
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_EQ(first.status, 0) << first.out << first.err;
    EXPECT_EQ(count(first.out, "Using cache"), 0);
    auto id1 = image("cached").id;
    auto t2 = std::chrono::steady_clock::now();
    auto second = build({"-t", "cached"});
    auto t3 = std::chrono::steady_clock::now();
    ASSERT_EQ(second.status, 0) << second.err;
    EXPECT_EQ(count(second.out, " ---> Using cache"), 5) << second.out;
    EXPECT_EQ(count(second.out, "Running in"), 0) << second.out;
    EXPECT_EQ(second.out.find("\nslow-step\n"), std::string::npos) << "the RUN did not run again";
    EXPECT_NE(first.out.find("\nslow-step\n"), std::string::npos);
    EXPECT_EQ(image("cached").id, id1) << "the same image";
    auto d1 = std::chrono::duration<double>(t1 - t0).count(), d2 = std::chrono::duration<double>(t3 - t2).count();
    EXPECT_LT(d2, d1 / 4) << "first " << d1 << " s, cached " << d2 << " s";

    // touching a copied file keeps the cache; changing it invalidates COPY and what follows
    support::sh("touch -d '2001-01-01' " + ctx + "/f.txt");
    auto touched = build({"-t", "cached"});
    EXPECT_EQ(count(touched.out, " ---> Using cache"), 5) << touched.out;
    file("f.txt", "v2\n");
    auto changed = build({"-t", "cached"});
    ASSERT_EQ(changed.status, 0) << changed.err;
    EXPECT_EQ(count(changed.out, " ---> Using cache"), 2) << changed.out;  // ENV, RUN sleep
    EXPECT_NE(changed.out.find("v2"), std::string::npos) << "RUN cat ran again: " << changed.out;
    EXPECT_NE(image("cached").id, id1);
    // --no-cache runs everything
    auto nocache = build({"--no-cache", "-t", "cached"});
    EXPECT_EQ(count(nocache.out, "Using cache"), 0);
    EXPECT_EQ(count(nocache.out, "Running in"), 2);
    // a build arg RUN sees is part of its key
    file("Dockerfile", "FROM busybox\nARG V=a\nRUN echo v=$V\n");
    auto a = build({"-t", "arg"});
    auto a2 = build({"-t", "arg", "--build-arg", "V=b"});
    EXPECT_NE(a2.out.find("v=b"), std::string::npos) << a2.out;
    auto a3 = build({"-t", "arg", "--build-arg", "V=b"});
    EXPECT_EQ(count(a3.out, " ---> Using cache"), 2) << a3.out;
}

// A build's untagged steps are intermediate images: `images` hides them (parents, not tagged),
// `images -a` shows them, and `image prune` removes only untagged heads and their untagged
// parents, never the steps a tagged image still builds on (they are its cache).
TEST_F(Build, IntermediateImagesHiddenAndPruneKeepsTheCache) {
    auto cli = [&](std::vector<std::string> args) {
        args.insert(args.begin(), support::bin("step07_full"));
        auto r = support::run(args);
        EXPECT_EQ(r.status, 0) << r.out << r.err;
        return r.out;
    };
    file("Dockerfile", "FROM busybox\nENV A=1\nRUN echo one > /one\nCMD [\"sh\"]\n");
    ASSERT_EQ(build({"-t", "keep"}).status, 0);
    EXPECT_EQ(count(cli({"images"}), "<none>"), 0);
    EXPECT_EQ(count(cli({"images", "-a"}), "<none>"), 2 * 2);  // ENV, RUN: REPOSITORY and TAG columns
    EXPECT_EQ(image("keep").parent.empty(), false);
    EXPECT_NE(cli({"image", "inspect", "keep"}).find("\"Parent\": \"sha256:"), std::string::npos);
    // An untagged build: its last image is dangling (shown), its step before it intermediate.
    std::string other = tmp + "/other";
    support::sh("mkdir -p " + other + " && printf 'FROM busybox\\nENV B=2\\nRUN echo two > /two\\n' > " + other + "/Dockerfile");
    ASSERT_EQ(build({}, other).status, 0);
    EXPECT_EQ(count(cli({"images"}), "<none>"), 2);
    EXPECT_EQ(count(cli({"images", "-a"}), "<none>"), 4 * 2);
    auto all_before = count(cli({"images", "-a", "-q"}), "\n");
    // prune: the dangling image and its untagged parent go; keep's steps stay.
    auto pruned = cli({"image", "prune", "-f"});
    EXPECT_EQ(count(pruned, "deleted: sha256:"), 2 + 1) << pruned;  // two images, one RUN layer
    EXPECT_EQ(count(cli({"images", "-a", "-q"}), "\n"), all_before - 2);
    EXPECT_EQ(count(cli({"images"}), "<none>"), 0);
    EXPECT_EQ(count(cli({"images", "-a"}), "<none>"), 2 * 2);
    // ... so the tagged build is still all cache.
    auto again = build({"-t", "keep"});
    EXPECT_EQ(count(again.out, " ---> Using cache"), 3) << again.out;
    // From the host: the pruned RUN's layer is gone, keep's is there.
    EXPECT_EQ(in_image(image("keep"), "/one"), "one\n");
    images::Store s(root);
    std::set<std::string> used;
    for (const auto& img : s.list())
        for (const auto& l : img.image.layers) used.insert(l.substr(0, l.rfind('/')));
    for (const auto& e : clients::entries(root + "/store/layers"))
        EXPECT_TRUE(used.count(root + "/store/layers/" + e)) << "a layer nothing uses stayed: " << e;
}

// ONBUILD: triggers stored in the image's config (as written) and run, in order, as the first
// steps of a build FROM it, then gone from the child; HEALTHCHECK: config.Healthcheck with its
// options in nanoseconds, inherited, and NONE clearing it.
TEST_F(Build, OnbuildTriggersAndHealthcheck) {
    file("Dockerfile", "FROM busybox\nONBUILD RUN echo triggered-$(cat /etc/hostname | wc -c) > /trig\nONBUILD ENV FROM_TRIGGER=yes\n"
                       "HEALTHCHECK --interval=1m30s --timeout=5s --start-period=2s --retries=4 CMD wget -q -O- http://localhost/ || exit 1\n");
    auto base = build({"-t", "onbase"});
    ASSERT_EQ(base.status, 0) << base.out << base.err;
    auto b = image("onbase");
    EXPECT_EQ(b.config["config"]["OnBuild"], json::array({"RUN echo triggered-$(cat /etc/hostname | wc -c) > /trig", "ENV FROM_TRIGGER=yes"}));
    EXPECT_EQ(in_image(b, "/trig"), "<absent>") << "a trigger ran in the image that declares it";
    json hc = b.config["config"]["Healthcheck"];
    EXPECT_EQ(hc["Test"], json::array({"CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"})) << hc.dump();
    EXPECT_EQ(hc.value("Interval", 0LL), 90'000'000'000LL);
    EXPECT_EQ(hc.value("Timeout", 0LL), 5'000'000'000LL);
    EXPECT_EQ(hc.value("StartPeriod", 0LL), 2'000'000'000LL);
    EXPECT_EQ(hc.value("Retries", 0), 4);
    // The child: both triggers ran first (the RUN's file is in its layers, the ENV in its config),
    // its own RUN sees them, and it passes no trigger on.
    std::string child = tmp + "/child";
    support::sh("mkdir -p " + child);
    std::ofstream(child + "/Dockerfile") << "FROM onbase\nRUN echo \"env=$FROM_TRIGGER $(cat /trig | cut -c1-9)\" > /seen\n"
                                            "HEALTHCHECK CMD [\"/bin/true\", \"x\"]\n";
    auto c = build({"-t", "onchild"}, child);
    ASSERT_EQ(c.status, 0) << c.out << c.err;
    EXPECT_NE(c.out.find("# Executing 2 build triggers"), std::string::npos) << c.out;
    auto ci = image("onchild");
    EXPECT_EQ(in_image(ci, "/seen"), "env=yes triggered\n");
    EXPECT_TRUE(ci.config["config"].value("OnBuild", json()).empty()) << ci.config["config"].dump();
    EXPECT_EQ(ci.config["config"]["Healthcheck"]["Test"], json::array({"CMD", "/bin/true", "x"}));
    EXPECT_FALSE(ci.config["config"]["Healthcheck"].contains("Interval")) << "a new HEALTHCHECK replaces the whole check";
    // Again: the triggers are steps like the others, so they come from the cache too.
    auto again = build({"-t", "onchild"}, child);
    EXPECT_EQ(count(again.out, " ---> Using cache"), 4) << again.out;
    EXPECT_EQ(image("onchild").id, ci.id);
    // A grandchild: no trigger runs (the child has none); HEALTHCHECK NONE clears the check.
    std::string grand = tmp + "/grand";
    support::sh("mkdir -p " + grand);
    std::ofstream(grand + "/Dockerfile") << "FROM onchild\nHEALTHCHECK NONE\n";
    auto g = build({"-t", "ongrand"}, grand);
    ASSERT_EQ(g.status, 0) << g.out << g.err;
    EXPECT_EQ(g.out.find("build trigger"), std::string::npos) << g.out;
    EXPECT_EQ(image("ongrand").config["config"]["Healthcheck"]["Test"], json::array({"NONE"}));
    // and the engine-facing inspect shows both fields (docker's names)
    auto ins = support::run({support::bin("step07_full"), "image", "inspect", "onbase"});
    EXPECT_NE(ins.out.find("\"OnBuild\""), std::string::npos);
    EXPECT_NE(ins.out.find("\"Healthcheck\""), std::string::npos);
    EXPECT_TRUE(leftovers().empty());
}

// RUN's network: host (the default here) sees the host's interfaces, none only lo, bridge an
// eth0 with a leased address on step04's bridge; the cache tells them apart; nothing of the
// bridge's step (veth, netns mount, lease) stays. In a network namespace of the test's own,
// with an interface (a bridge) standing for the host's.
TEST_F(Build, RunNetworkHostNoneBridge) {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
    ASSERT_EQ(support::sh("ip link set lo up && ip link add mbxhost0 type bridge").status, 0);
    file("Dockerfile", "FROM busybox\nRUN cat /proc/net/dev > /dev.txt; cat /proc/net/fib_trie > /fib.txt; true\n");
    auto links = [&](const std::string& tag) {
        std::string dev = in_image(image(tag), "/dev.txt");
        std::set<std::string> names;
        std::istringstream in(dev);
        for (std::string l; std::getline(in, l);)
            if (auto c = l.find(':'); c != std::string::npos && l.find('|') == std::string::npos) {
                std::string n = l.substr(0, c);
                n.erase(0, n.find_first_not_of(' '));
                names.insert(n);
            }
        return names;
    };
    auto host = build({"-t", "nethost"});
    ASSERT_EQ(host.status, 0) << host.out << host.err;
    EXPECT_TRUE(links("nethost").count("mbxhost0")) << in_image(image("nethost"), "/dev.txt");
    auto none = build({"--network", "none", "-t", "netnone"});
    ASSERT_EQ(none.status, 0) << none.out << none.err;
    EXPECT_EQ(count(none.out, "Using cache"), 0) << "the network is part of RUN's cache key";
    EXPECT_EQ(links("netnone"), (std::set<std::string>{"lo"})) << in_image(image("netnone"), "/dev.txt");
    auto bridge = build({"--network", "bridge", "-t", "netbridge"});
    ASSERT_EQ(bridge.status, 0) << bridge.out << bridge.err;
    EXPECT_EQ(links("netbridge"), (std::set<std::string>{"lo", "eth0"})) << in_image(image("netbridge"), "/dev.txt");
    EXPECT_NE(in_image(image("netbridge"), "/fib.txt").find("10.61."), std::string::npos) << "no leased address";
    // From the host side: the bridge is there, the step's veth and namespace are not.
    EXPECT_EQ(support::sh("ip -o link show type veth").out, "");
    EXPECT_NE(support::sh("ip -o link show minibox0").out, "");
    EXPECT_TRUE(leftovers().empty());
    auto bad = build({"--network", "container:x", "-t", "netbad"});
    EXPECT_EQ(bad.status, 125) << bad.out << bad.err;
    EXPECT_NE(bad.err.find("host (the default), none or bridge"), std::string::npos) << bad.err;
}

TEST_F(Build, DockerIgnore) {
    file("keep.txt", "keep\n");
    file("secret.key", "SECRET\n");
    file("logs/a.log", "log\n");
    file("logs/important.log", "important\n");
    file("src/x.c", "x\n");
    file("src/tmp/junk", "junk\n");
    file(".dockerignore", "*.key\nlogs\n!logs/important.log\n**/tmp\n");
    file("Dockerfile", "FROM busybox\nCOPY . /ctx/\n");
    auto r = build({"-t", "ign"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    auto img = image("ign");
    EXPECT_EQ(in_image(img, "/ctx/keep.txt"), "keep\n");
    EXPECT_EQ(in_image(img, "/ctx/secret.key"), "<absent>");
    EXPECT_EQ(in_image(img, "/ctx/logs/a.log"), "<absent>");
    EXPECT_EQ(in_image(img, "/ctx/logs/important.log"), "important\n");
    EXPECT_EQ(in_image(img, "/ctx/src/x.c"), "x\n");
    EXPECT_EQ(in_image(img, "/ctx/src/tmp/junk"), "<absent>");
    // an ignored file changing does not invalidate the cache
    file("secret.key", "OTHER\n");
    auto again = build({"-t", "ign"});
    EXPECT_EQ(count(again.out, " ---> Using cache"), 1) << again.out;
    // naming an ignored file is an error
    file("Dockerfile", "FROM busybox\nCOPY secret.key /\n");
    auto bad = build({"-t", "ign2"});
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.err.find("excluded by .dockerignore"), std::string::npos) << bad.err;
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(Build, FailingRunShowsOutputAndLeavesNothing) {
    file("Dockerfile", "FROM busybox\nRUN echo before-fail\nRUN echo about-to-fail; echo on-stderr >&2; exit 7\nRUN echo never\n");
    auto r = build({"-t", "fails"});
    EXPECT_EQ(r.status, 7) << r.out << r.err;
    EXPECT_NE(r.out.find("about-to-fail"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("on-stderr"), std::string::npos) << "stderr of RUN is shown too: " << r.out;
    EXPECT_EQ(r.out.find("never"), std::string::npos);
    EXPECT_NE(r.err.find("The command '/bin/sh -c echo about-to-fail; echo on-stderr >&2; exit 7' returned a non-zero code: 7"),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(leftovers().empty()) << leftovers().front();
    images::Store s(root);
    EXPECT_FALSE(s.find("fails").has_value());
    // no container of the runtime left either, and no process of it
    for (const auto& e : clients::entries(run)) {
        EXPECT_TRUE(clients::entries(run + "/" + e).empty() || e.find("lock") != std::string::npos) << run << "/" << e;
    }
}

TEST_F(Build, MalformedDockerfileNamesLineAndColumnAndTouchesNothing) {
    file("Dockerfile", "FROM busybox\nRUN echo ok\nCOPY --bogus=1 a b\n");
    auto r = build({"-t", "bad"});
    EXPECT_EQ(r.status, 125);
    EXPECT_NE(r.err.find("Dockerfile:3:6: unknown flag: --bogus"), std::string::npos) << r.err;
    file("Dockerfile", "FROM busybox\nENV A=\"open\n");
    r = build({"-t", "bad"});
    EXPECT_NE(r.err.find("Dockerfile:2:7"), std::string::npos) << r.err;
    EXPECT_EQ(::access((root + "/builder").c_str(), F_OK), -1) << "nothing was made";
    r = build({"-t", "Bad Tag!"});
    EXPECT_EQ(r.status, 125);
    EXPECT_NE(r.err.find("invalid argument"), std::string::npos) << r.err;
}

// A container of the front end, made as docker/manager.hpp lays it out (record + upper dir over
// busybox), its changes made by a real container of our runtime on the overlay.
TEST_F(Build, CommitWritesWhiteoutsThatApplyWhenTheImageRuns) {
    std::string id(64, 'a');
    for (size_t i = 0; i < 64; ++i) id[i] = "0123456789abcdef"[(i * 7 + 3) % 16];
    std::string cdir = root + "/docker/containers/" + id;
    std::string lower = root + "/images/busybox/rootfs";
    auto mk = support::sh("mkdir -p " + cdir + "/upper " + cdir + "/work " + cdir + "/bundle/rootfs && mount -t overlay overlay -o lowerdir=" +
                          lower + ",upperdir=" + cdir + "/upper,workdir=" + cdir + "/work " + cdir + "/bundle/rootfs");
    ASSERT_EQ(mk.status, 0) << mk.err;
    // the changes: a deleted file, a replaced directory (opaque), a new file, a chmod
    auto spec = support::sh("cd " + cdir + "/bundle && " + support::bin("step07_full") + " spec && sed -i 's/\"terminal\": true/\"terminal\": false/' config.json");
    ASSERT_EQ(spec.status, 0) << spec.err;
    json cfg = json::parse(support::read_file(cdir + "/bundle/config.json"));
    cfg["process"]["args"] = {"/bin/sh", "-c", "rm /bin/ls && rm -rf /etc && mkdir /etc && echo only > /etc/only && echo new > /new && chmod 700 /home"};
    cfg["process"]["terminal"] = false;
    std::ofstream(cdir + "/bundle/config.json") << cfg.dump();
    auto ran = support::run({support::bin("step07_full"), "--root", tmp + "/rt", "run", "--bundle", cdir + "/bundle", "committest"});
    support::sh("umount " + cdir + "/bundle/rootfs");
    ASSERT_EQ(ran.status, 0) << ran.out << ran.err;
    json rec{{"Id", id}, {"Name", "/mycontainer"}, {"Image", ""}, {"Path", "/bin/sh"}, {"Args", {"-c", "rm ..."}},
             {"Config", {{"Image", "busybox"}, {"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}}}};
    std::ofstream(cdir + "/config.v2.json") << rec.dump();

    auto c = support::run({support::bin("step07_full"), "commit", "-c", "CMD [\"cat\", \"/etc/only\"]", "-c", "ENV COMMITTED=yes", "-m",
                           "my message", "mycont", "committed:1"});
    EXPECT_NE(c.status, 0) << "a prefix of a name is not a name";
    c = support::run({support::bin("step07_full"), "commit", "-c", "CMD [\"cat\", \"/etc/only\"]", "-c", "ENV COMMITTED=yes", "-m", "my message",
                      "mycontainer", "committed:1"});
    ASSERT_EQ(c.status, 0) << c.out << c.err;
    auto img = image("committed:1");
    EXPECT_EQ(img.id + "\n", c.out);
    EXPECT_EQ(img.config["config"]["Cmd"], json({"cat", "/etc/only"}));
    EXPECT_NE(img.config["config"].dump().find("COMMITTED=yes"), std::string::npos);
    EXPECT_EQ(img.config["history"].back().value("comment", ""), "my message");
    // the layer tar as stored: whiteout and opaque entries, read by libarchive here
    std::string diff = img.config["rootfs"]["diff_ids"].back();
    std::string meta = support::read_file(root + "/store/layers/" + diff.substr(7) + "/layer.json");
    ASSERT_FALSE(meta.empty()) << "layer.json of " << diff;
    std::string blob = root + "/store/blobs/sha256/" + json::parse(meta)["digest"].get<std::string>().substr(7);
    std::set<std::string> names;
    struct archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    ASSERT_EQ(archive_read_open_filename(a, blob.c_str(), 65536), ARCHIVE_OK);
    archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) names.insert(archive_entry_pathname(e));
    archive_read_free(a);
    EXPECT_TRUE(names.count("bin/.wh.ls")) << "whiteout for /bin/ls";
    EXPECT_TRUE(names.count("etc/.wh..wh..opq")) << "opaque /etc";
    EXPECT_TRUE(names.count("etc/only"));
    EXPECT_TRUE(names.count("new"));
    EXPECT_FALSE(names.count("bin/busybox")) << "unchanged files are not in the layer";
    // ... and applied when the image runs: a build on it looks from inside
    std::string ctx2 = tmp + "/ctx2";
    support::sh("mkdir -p " + ctx2);
    std::ofstream(ctx2 + "/Dockerfile") << "FROM committed:1\nRUN test ! -e /bin/ls && test \"$(ls /etc)\" = only && test \"$(cat /new)\" = new "
                                           "&& test \"$COMMITTED\" = yes && echo whiteouts-applied\n";
    auto r = build({"-t", "aftercommit"}, ctx2);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("whiteouts-applied"), std::string::npos) << r.out;
    auto none = support::run({support::bin("step07_full"), "commit", "nosuchcontainer", "x"});
    EXPECT_EQ(none.status, 1);
    EXPECT_NE(none.err.find("No such container: nosuchcontainer"), std::string::npos) << none.err;
}

// Our image, saved by our `save`, loaded and run by podman (its own runtime, its own storage in
// a private directory, in the test's own mount and network namespaces: clients/harness.hpp).
TEST_F(Build, PodmanRunsAnImageWeBuilt) {
    if (clients::which("podman").empty()) GTEST_SKIP() << "podman is not installed";
    std::string why = clients::enter_sandbox();
    ASSERT_TRUE(why.empty()) << why;
    file("msg", "built-by-minibox\n");
    file("Dockerfile", "FROM busybox\nCOPY msg /msg\nRUN echo ran >> /msg && rm /bin/ls\nENV GREETING=hello\nCMD [\"sh\", \"-c\", \"cat /msg; echo $GREETING; test ! -e /bin/ls && echo no-ls\"]\n");
    auto r = build({"-t", "localhost/podtest:1"});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    std::string archive = tmp + "/podtest.tar";
    auto save = support::run({support::bin("step07_full"), "save", "-o", archive, "localhost/podtest:1"});
    ASSERT_EQ(save.status, 0) << save.err;
    clients::TempDir d;  // short: podman's --runroot must stay under 50 characters
    // podman (cgroupfs) makes <parent>/conmon in every hierarchy and never removes it: the test
    // owns its parent, removes all of it on every path, and fails when any of it stays.
    const std::string parent = "minibox-builder-podman";
    clients::kill_stale(parent);
    clients::remove_cgroup_parent(parent);
    struct RemoveParent {
        std::string name;
        ~RemoveParent() { clients::remove_cgroup_parent(name); }
    } remove_parent{parent};
    std::vector<std::string> pod{clients::which("podman"), "--root", d / "r", "--runroot", d / "rr", "--tmpdir", d / "t",
                                 "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"};
    // runc, not podman's default crun: crun refuses this host's hybrid cgroup layout
    std::string runc = clients::which("runc");
    if (!runc.empty()) {
        pod.push_back("--runtime");
        pod.push_back(runc);
    }
    auto with = [&](std::vector<std::string> extra) {
        auto v = pod;
        v.insert(v.end(), extra.begin(), extra.end());
        return v;
    };
    auto load = support::run(with({"load", "-i", archive}));
    ASSERT_EQ(load.status, 0) << load.out << load.err;
    auto out = support::run(with({"run", "--rm", "--network", "none", "--cgroup-parent", "/" + parent, "--ulimit", "nofile=1024:1024",
                                  "--ulimit", "nproc=1024:1024", "--pull", "never", "localhost/podtest:1"}));
    EXPECT_EQ(out.status, 0) << out.out << out.err;
    EXPECT_EQ(out.out, "built-by-minibox\nran\nhello\nno-ls\n") << out.err;
    support::run(with({"rmi", "-a", "-f"}));
    EXPECT_EQ(clients::remove_cgroup_parent(parent), "") << "cgroups left on the host";
}

}  // namespace
