// The builder's pure parts, without root: the Dockerfile parser and expander, .dockerignore,
// the layer writer (read back with libarchive, digests recomputed independently) and the cache.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "cache.hpp"
#include "image/digest.hpp"
#include "dockerfile.hpp"
#include "dockerignore.hpp"
#include "error.hpp"
#include "layer.hpp"
#include "support.hpp"

using namespace builder;

namespace {

Pos fault_of(const std::string& text) {
    try {
        parse(text);
    } catch (const ParseError& e) {
        return {e.line(), e.column()};
    }
    ADD_FAILURE() << "no ParseError for:\n" << text;
    return {0, 0};
}

std::string ex(const std::string& raw, const Env& env = {}) { return expand(Word{raw, {1, 1}}, env); }

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/mbxb-unit.XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { support::sh("rm -rf '" + path + "'"); }
};

void write_file(const std::string& p, const std::string& text, mode_t mode = 0644) {
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
}

struct TarEntry {
    mode_t mode = 0;
    std::string link, hardlink, content;
    uid_t uid = 0;
    std::map<std::string, std::string> xattrs;
};

// Reads a layer back (any compression), entries by path.
std::map<std::string, TarEntry> read_tar(const std::string& path) {
    std::map<std::string, TarEntry> out;
    struct archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 65536), ARCHIVE_OK) << archive_error_string(a);
    archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        TarEntry t;
        t.mode = archive_entry_mode(e);
        t.uid = static_cast<uid_t>(archive_entry_uid(e));
        if (archive_entry_symlink(e)) t.link = archive_entry_symlink(e);
        if (archive_entry_hardlink(e)) t.hardlink = archive_entry_hardlink(e);
        archive_entry_xattr_reset(e);
        const char* n;
        const void* v;
        size_t sz;
        while (archive_entry_xattr_next(e, &n, &v, &sz) == ARCHIVE_OK) t.xattrs[n] = std::string(static_cast<const char*>(v), sz);
        char buf[4096];
        la_ssize_t r;
        while ((r = archive_read_data(a, buf, sizeof buf)) > 0) t.content.append(buf, static_cast<size_t>(r));
        out[archive_entry_pathname(e)] = t;
    }
    archive_read_free(a);
    return out;
}

}  // namespace

// ---- the parser ------------------------------------------------------------------------------

TEST(Dockerfile, EveryInstructionAndBothForms) {
    auto df = parse(R"(# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
run echo one && \
    echo two
RUN ["/bin/echo", "exec form"]
COPY --chown=1:2 --from=other a b /dst/
ADD x.tar /
ENV A=1 B="two words"
ENV OLD old style value
LABEL k=v "with space"=yes
EXPOSE 80 443/udp
WORKDIR /app
USER nobody
CMD ["sh"]
ENTRYPOINT /bin/sh -c
SHELL ["/bin/bash", "-c"]
VOLUME /data
)");
    ASSERT_EQ(df.instructions.size(), 16u);
    const auto& in = df.instructions;
    EXPECT_EQ(in[0].keyword, "ARG");
    EXPECT_EQ(in[0].pairs[0].key.raw, "BASE");
    EXPECT_EQ(in[0].pairs[0].value.raw, "busybox");
    EXPECT_EQ(in[1].args.size(), 3u);
    EXPECT_EQ(in[2].keyword, "RUN");  // keywords are case-insensitive
    EXPECT_FALSE(in[2].json);
    EXPECT_EQ(in[2].args[0].raw, "echo one &&     echo two");  // continuation joined
    EXPECT_EQ(in[2].original, "run echo one &&     echo two");
    EXPECT_TRUE(in[3].json);
    EXPECT_EQ(in[3].args[1].raw, "exec form");
    EXPECT_EQ(in[4].flags.at("chown").raw, "1:2");
    EXPECT_EQ(in[4].flags.at("from").raw, "other");
    EXPECT_EQ(in[4].args.size(), 3u);
    EXPECT_EQ(in[6].pairs.size(), 2u);
    EXPECT_EQ(ex(in[6].pairs[1].value.raw), "two words");
    EXPECT_EQ(in[7].pairs[0].key.raw, "OLD");
    EXPECT_EQ(in[7].pairs[0].value.raw, "old style value");
    EXPECT_EQ(ex(in[8].pairs[1].key.raw), "with space");
    EXPECT_EQ(in[9].args.size(), 2u);
    EXPECT_TRUE(in[12].json);
    EXPECT_FALSE(in[13].json);
    EXPECT_TRUE(in[14].json);
}

TEST(Dockerfile, CommentsInsideContinuationsAndEscapeDirective) {
    auto df = parse("# escape=`\nFROM scratch\nRUN a `\n# a comment\n  b\nCOPY c:\\x d\n");
    EXPECT_EQ(df.escape, '`');
    ASSERT_EQ(df.instructions.size(), 3u);
    EXPECT_EQ(df.instructions[1].args[0].raw, "a   b");
    // with ` as escape, a backslash is an ordinary character (Windows paths)
    EXPECT_EQ(expand(df.instructions[2].args[0], {}, '`'), "c:\\x");
}

TEST(Dockerfile, ErrorsNameLineAndColumn) {
    Pos p = fault_of("FROM busybox\n  FOO bar\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 3);
    p = fault_of("FROM busybox\nCOPY --bogus=1 a b\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 6);
    p = fault_of("FROM busybox\nENV A=\"unterminated\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 7);
    p = fault_of("FROM busybox\nWORKDIR ${X:-a\n");
    EXPECT_EQ(p.line, 2);
    p = fault_of("RUN echo\n");  // before any FROM
    EXPECT_EQ(p.line, 1);
    p = fault_of("FROM busybox\nCOPY onlyone\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 6);
    p = fault_of("FROM a b\n");
    EXPECT_EQ(p.line, 1);
    p = fault_of("# escape=x\nFROM a\n");
    EXPECT_EQ(p.line, 1);
    p = fault_of("FROM busybox\nENV A=1 B\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 9);
    p = fault_of("FROM busybox\nSHELL /bin/sh\n");
    EXPECT_EQ(p.line, 2);
    p = fault_of("FROM busybox\nRUN\n");
    EXPECT_EQ(p.line, 2);
    // the message carries the place too
    try {
        parse("FROM busybox\nBOGUS x\n");
        FAIL();
    } catch (const ParseError& e) {
        EXPECT_NE(std::string(e.what()).find("Dockerfile:2:1: unknown instruction: BOGUS"), std::string::npos) << e.what();
    }
}

// ONBUILD keeps its trigger as written and checks it as the instruction it is; HEALTHCHECK
// takes CMD (both forms) or NONE and Docker's duration flags, each fault at its place.
TEST(Dockerfile, OnbuildAndHealthcheck) {
    auto df = parse("FROM busybox\nONBUILD RUN echo $X > /t\nONBUILD  COPY a /b\n"
                    "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --retries=5 CMD wget -q http://x/ || exit 1\n"
                    "HEALTHCHECK CMD [\"/bin/check\", \"-v\"]\nHEALTHCHECK none\n");
    ASSERT_EQ(df.instructions.size(), 6u);
    EXPECT_EQ(df.instructions[1].keyword, "ONBUILD");
    EXPECT_EQ(df.instructions[1].args.at(0).raw, "RUN echo $X > /t");
    EXPECT_EQ(df.instructions[2].args.at(0).raw, "COPY a /b");
    const auto& h = df.instructions[3];
    EXPECT_EQ(h.args.at(0).raw, "CMD");
    EXPECT_FALSE(h.json);
    EXPECT_EQ(h.args.at(1).raw, "wget -q http://x/ || exit 1");
    EXPECT_EQ(h.flags.at("interval").raw, "1m30s");
    EXPECT_EQ(h.flags.at("retries").raw, "5");
    EXPECT_TRUE(df.instructions[4].json);
    EXPECT_EQ(df.instructions[4].args.size(), 3u);
    EXPECT_EQ(df.instructions[5].args.at(0).raw, "NONE");
    // faults: the trigger's own, at its place in the file; chained ONBUILD; FROM as a trigger
    Pos p = fault_of("FROM busybox\nONBUILD COPY onlyone\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 14);
    p = fault_of("FROM busybox\nONBUILD ONBUILD RUN x\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 9);
    p = fault_of("FROM busybox\nONBUILD FROM x\n");
    EXPECT_EQ(p.line, 2);
    p = fault_of("FROM busybox\nONBUILD\n");
    EXPECT_EQ(p.line, 2);
    p = fault_of("FROM busybox\nHEALTHCHECK --interval=5 CMD true\n");  // no unit: at the value
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 24);
    p = fault_of("FROM busybox\nHEALTHCHECK --timeout=100us CMD true\n");  // under 1ms
    EXPECT_EQ(p.line, 2);
    p = fault_of("FROM busybox\nHEALTHCHECK --retries=-1 CMD true\n");
    EXPECT_EQ(p.line, 2);
    p = fault_of("FROM busybox\nHEALTHCHECK --bogus=1 CMD true\n");
    EXPECT_EQ(p.line, 2);
    p = fault_of("FROM busybox\nHEALTHCHECK NONE extra\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 18);
    p = fault_of("FROM busybox\nHEALTHCHECK RUN true\n");
    EXPECT_EQ(p.line, 2);
    EXPECT_EQ(p.column, 13);
    p = fault_of("FROM busybox\nHEALTHCHECK CMD\n");
    EXPECT_EQ(p.line, 2);
    // Go's durations
    std::string why;
    EXPECT_EQ(parse_duration("1m30s", why).value_or(-1), 90'000'000'000LL);
    EXPECT_EQ(parse_duration("1.5h", why).value_or(-1), 5'400'000'000'000LL);
    EXPECT_EQ(parse_duration("250ms", why).value_or(-1), 250'000'000LL);
    EXPECT_EQ(parse_duration("0", why).value_or(-1), 0);
    EXPECT_FALSE(parse_duration("10", why));
    EXPECT_FALSE(parse_duration("5x", why));
    EXPECT_FALSE(parse_duration("", why));
}

TEST(Dockerfile, Expansion) {
    Env env{{"A", "x"}, {"E", ""}, {"S", "two words"}};
    EXPECT_EQ(ex("$A/${A}/$B", env), "x/x/");
    EXPECT_EQ(ex("${B:-def}", env), "def");
    EXPECT_EQ(ex("${E:-def}", env), "def");
    EXPECT_EQ(ex("${E-def}", env), "");
    EXPECT_EQ(ex("${A:+alt}", env), "alt");
    EXPECT_EQ(ex("${E:+alt}", env), "");
    EXPECT_EQ(ex("${E+alt}", env), "alt");
    EXPECT_EQ(ex("${B:-${A}y}", env), "xy");
    EXPECT_EQ(ex("'$A'", env), "$A");
    EXPECT_EQ(ex("\"$A z\"", env), "x z");
    EXPECT_EQ(ex("\\$A", env), "$A");
    EXPECT_EQ(ex("a\\ b", env), "a b");
    EXPECT_EQ(ex("\"a\\nb\"", env), "a\\nb");  // only $ " \ are escaped inside double quotes
    EXPECT_EQ(ex("$", env), "$");
    EXPECT_THROW(ex("${A:?must be set}x${B:?B is required}", env), ParseError);
    auto w = expand_words(Word{"a \"b c\" $S ''", {1, 1}}, env);
    ASSERT_EQ(w.size(), 5u);
    EXPECT_EQ(w[1], "b c");
    EXPECT_EQ(w[2], "two");
    EXPECT_EQ(w[4], "");
    EXPECT_EQ(env_from_list({"PATH=/bin", "X=a=b"}).at("X"), "a=b");
}

// ---- .dockerignore ---------------------------------------------------------------------------

TEST(DockerIgnore, DockersRules) {
    auto ig = Ignore::parse("# comment\n*.log\n/build\n**/tmp\ndocs/*.md\n!docs/keep.md\nsecret?\n  spaced  \n");
    EXPECT_TRUE(ig.excluded("a.log"));
    EXPECT_FALSE(ig.excluded("dir/a.log"));  // * does not cross /
    EXPECT_TRUE(ig.excluded("build"));
    EXPECT_TRUE(ig.excluded("build/x/y.o"));  // below an excluded directory
    EXPECT_TRUE(ig.excluded("tmp"));
    EXPECT_TRUE(ig.excluded("a/b/tmp/c"));
    EXPECT_TRUE(ig.excluded("docs/a.md"));
    EXPECT_FALSE(ig.excluded("docs/keep.md"));
    EXPECT_TRUE(ig.excluded("secret1"));
    EXPECT_FALSE(ig.excluded("secret12"));
    EXPECT_TRUE(ig.excluded("spaced"));
    EXPECT_FALSE(ig.excluded("src/main.c"));
    EXPECT_TRUE(ig.excluded("./a.log"));
    EXPECT_TRUE(ig.may_reinclude_below("docs"));
    EXPECT_FALSE(ig.may_reinclude_below("build"));

    auto last = Ignore::parse("*\n!src\nsrc/gen\n");  // the last match decides
    EXPECT_TRUE(last.excluded("README"));
    EXPECT_FALSE(last.excluded("src/a.c"));
    EXPECT_TRUE(last.excluded("src/gen/x.c"));
    EXPECT_TRUE(Ignore::parse("").empty());
    EXPECT_THROW(Ignore::parse("[a-"), Error);
    EXPECT_EQ(clean_path("./a//b/../c/"), "a/c");
    EXPECT_EQ(clean_path("/x"), "x");
}

// ---- the layer writer ------------------------------------------------------------------------

TEST(Layer, FilesLinksModesAndDigests) {
    TempDir t;
    std::string up = t.path + "/upper";
    ASSERT_EQ(::mkdir(up.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((up + "/etc").c_str(), 0750), 0);
    write_file(up + "/etc/conf", "hello\n", 0640);
    write_file(up + "/run.sh", "#!/bin/sh\n", 04755);
    ASSERT_EQ(::chmod((up + "/run.sh").c_str(), 04755), 0);
    ASSERT_EQ(::symlink("etc/conf", (up + "/link").c_str()), 0);
    ASSERT_EQ(::link((up + "/etc/conf").c_str(), (up + "/hard").c_str()), 0);
    ASSERT_EQ(::mkfifo((up + "/fifo").c_str(), 0600), 0);
    bool have_xattr = ::setxattr((up + "/run.sh").c_str(), "user.test", "v1", 2, 0) == 0;

    auto r = write_layer(up, t.path + "/layer.tar.gz");
    auto tar = read_tar(r.path);
    ASSERT_TRUE(tar.count("etc/"));
    EXPECT_TRUE(S_ISDIR(tar["etc/"].mode));
    EXPECT_EQ(tar["etc/"].mode & 07777, 0750u);
    EXPECT_EQ(tar["etc/conf"].content, "hello\n");
    EXPECT_EQ(tar["etc/conf"].mode & 07777, 0640u);
    EXPECT_EQ(tar["run.sh"].mode & 07777, 04755u);
    EXPECT_EQ(tar["link"].link, "etc/conf");
    EXPECT_TRUE(S_ISFIFO(tar["fifo"].mode));
    EXPECT_EQ(tar["etc/conf"].uid, ::getuid());
    // one of the two names is the file, the other a hard link to it ("etc/conf" < "hard")
    EXPECT_EQ(tar["hard"].hardlink, "etc/conf");
    if (have_xattr) {
        EXPECT_EQ(tar["run.sh"].xattrs["user.test"], "v1");
    }
    EXPECT_EQ(r.entries, tar.size());
    EXPECT_EQ(r.whiteouts, 0u);

    // the digest is the file's sha256, the diff id the plain tar's (gunzip'ed by another tool)
    EXPECT_EQ(r.digest, images::sha256_of_file(r.path));
    auto plain = support::sh("gzip -dc '" + r.path + "' | sha256sum | cut -d' ' -f1");
    ASSERT_EQ(plain.status, 0);
    EXPECT_EQ(r.diff_id, "sha256:" + plain.out.substr(0, 64));
    EXPECT_NE(r.digest, r.diff_id);
    struct stat st;
    ASSERT_EQ(::stat(r.path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), r.size);

    // the same tree twice: the same diff id (entries in name order, no atime/ctime)
    auto again = write_layer(up, t.path + "/again.tar");
    EXPECT_EQ(again.diff_id, r.diff_id);
    // gzip level 0: a plain tar, digest == diff id
    auto flat = write_layer(up, t.path + "/flat.tar", LayerOptions{0});
    EXPECT_EQ(flat.digest, flat.diff_id);
    EXPECT_EQ(flat.diff_id, r.diff_id);
}

TEST(Layer, WhiteoutsAndOpaqueDirectories) {
    TempDir t;
    std::string up = t.path + "/upper";
    ASSERT_EQ(::mkdir(up.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((up + "/etc").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((up + "/opq").c_str(), 0755), 0);
    write_file(up + "/opq/new", "n");
    // a whiteout is a 0/0 character device; Linux >= 5.8 lets anyone make one
    if (::mknod((up + "/etc/gone").c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) GTEST_SKIP() << "mknod 0/0: " << std::strerror(errno);
    const char* opq_attr = support::is_root() ? "trusted.overlay.opaque" : "user.overlay.opaque";
    if (::setxattr((up + "/opq").c_str(), opq_attr, "y", 1, 0) != 0) GTEST_SKIP() << "setxattr " << opq_attr << ": " << std::strerror(errno);
    // a real character device that is not 0/0 would be content: only 0/0 is a whiteout
    auto r = write_layer(up, t.path + "/l.tar.gz");
    auto tar = read_tar(r.path);
    EXPECT_TRUE(tar.count("etc/.wh.gone"));
    EXPECT_FALSE(tar.count("etc/gone"));
    EXPECT_TRUE(S_ISREG(tar["etc/.wh.gone"].mode));
    EXPECT_TRUE(tar["etc/.wh.gone"].content.empty());
    EXPECT_TRUE(tar.count("opq/.wh..wh..opq"));
    EXPECT_TRUE(tar.count("opq/new"));
    // overlayfs's own xattr is bookkeeping, not content
    EXPECT_FALSE(tar["opq/"].xattrs.count(opq_attr));
    EXPECT_EQ(r.whiteouts, 1u);
    EXPECT_EQ(r.opaques, 1u);
}

TEST(Layer, MissingDirectoryIsAnErrorAndLeavesNoFile) {
    TempDir t;
    EXPECT_THROW(write_layer(t.path + "/nope", t.path + "/x.tar"), Error);
    EXPECT_NE(::access((t.path + "/x.tar").c_str(), F_OK), 0);
}

// ---- the cache -------------------------------------------------------------------------------

TEST(Cache, KeyFollowsParentInstructionAndContentNotMtime) {
    TempDir t;
    std::string ctx = t.path + "/ctx";
    ASSERT_EQ(::mkdir(ctx.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((ctx + "/d").c_str(), 0755), 0);
    write_file(ctx + "/a", "one");
    write_file(ctx + "/d/b", "two");
    std::vector<CopySource> src{{ctx + "/a", "dst/a"}, {ctx + "/d", "dst/d"}};
    std::string d1 = files_digest(src);
    EXPECT_EQ(d1, files_digest(src));
    support::sh("touch -d '2001-01-01' '" + ctx + "/a'");
    EXPECT_EQ(d1, files_digest(src)) << "mtime alone must not change the digest";
    write_file(ctx + "/d/b", "TWO");
    std::string d2 = files_digest(src);
    EXPECT_NE(d1, d2);
    ::chmod((ctx + "/a").c_str(), 0600);
    std::string d3 = files_digest(src);
    EXPECT_NE(d2, d3);
    // the destination name counts: the same file copied elsewhere is another layer
    EXPECT_NE(d3, files_digest({{ctx + "/a", "other/a"}, {ctx + "/d", "dst/d"}}));
    // an ignored file is left out
    write_file(ctx + "/d/ignored", "x");
    EXPECT_NE(d3, files_digest(src));
    EXPECT_EQ(d3, files_digest(src, [](const std::string& rel) { return rel == "ignored"; }));

    EXPECT_NE(cache_key("sha256:a", "RUN x"), cache_key("sha256:b", "RUN x"));
    EXPECT_NE(cache_key("sha256:a", "RUN x"), cache_key("sha256:a", "RUN y"));
    EXPECT_NE(cache_key("sha256:a", "COPY a b", d1), cache_key("sha256:a", "COPY a b", d2));
    EXPECT_EQ(cache_key("sha256:a", "RUN x"), cache_key("sha256:a", "RUN x"));

    Cache c(t.path + "/cache/dir");
    EXPECT_FALSE(c.get("k").has_value());
    c.put("k", "sha256:1234");
    EXPECT_EQ(c.get("k").value_or(""), "sha256:1234");
    c.put("k", "sha256:5678");
    EXPECT_EQ(c.get("k").value_or(""), "sha256:5678");
}
