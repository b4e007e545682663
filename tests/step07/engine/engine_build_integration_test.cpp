// POST /build through the real docker CLI (20.10, DOCKER_BUILDKIT=0: the classic builder): a
// context directory sent as a tar, Docker's JSON stream back, the image usable by `docker run`,
// a second build taken from the cache, and a broken Dockerfile failing with its line number.
#include "engine_harness.hpp"

namespace enginetest {
namespace {

class EngineBuildTest : public EngineTest {
protected:
    Out build(const std::vector<std::string>& args, std::chrono::seconds timeout = 120s) {
        std::vector<std::string> v = {docker_, "build"};
        v.insert(v.end(), args.begin(), args.end());
        auto env = env_;
        env.push_back("DOCKER_BUILDKIT=0");
        return run(v, transcript_, timeout, env);
    }

    std::string context(const std::string& name, const std::string& dockerfile) {
        std::string ctx = *dir_ / name;
        fs::create_directories(ctx);
        std::ofstream(ctx + "/Dockerfile") << dockerfile;
        return ctx;
    }

    static size_t count(const std::string& s, const std::string& what) {
        size_t n = 0;
        for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
        return n;
    }
};

TEST_F(EngineBuildTest, ClassicBuildRunCacheAndErrors) {
    std::string ctx = context("ctx", "FROM busybox\nRUN echo built > /f\nCMD cat /f\n");
    auto first = build({"-t", "built:1", ctx});
    ASSERT_EQ(first.status, 0) << first.out << first.err;
    EXPECT_NE(first.out.find("Step 1/3 : FROM busybox"), std::string::npos) << first.out;
    EXPECT_NE(first.out.find("Successfully tagged built:1"), std::string::npos) << first.out;
    EXPECT_EQ(count(first.out, "Using cache"), 0u) << first.out;

    // The image is in the engine's store, under the tag, and runs the CMD it was given.
    auto id = trim(docker({"image", "inspect", "-f", "{{.Id}}", "built:1"}).out);
    EXPECT_EQ(id.rfind("sha256:", 0), 0u) << id;
    EXPECT_NE(first.out.find("Successfully built " + id.substr(7, 12)), std::string::npos) << first.out << id;
    auto ran = docker({"run", "--rm", "--network", "none", "built:1"});
    EXPECT_EQ(ran.status, 0) << ran.err;
    EXPECT_EQ(trim(ran.out), "built");

    // Again: the RUN and CMD steps come from the cache, the same image id; -q prints only it.
    auto second = build({"-t", "built:1", ctx});
    ASSERT_EQ(second.status, 0) << second.out << second.err;
    EXPECT_EQ(count(second.out, "CACHED"), 2u) << second.out;
    size_t run_step = second.out.find("Step 2/3 : RUN echo built > /f");
    ASSERT_NE(run_step, std::string::npos) << second.out;
    EXPECT_EQ(second.out.find(" ---> Using cache (CACHED)", run_step), second.out.find('\n', run_step) + 1) << second.out;
    EXPECT_EQ(second.out.find("Running in"), std::string::npos) << second.out;
    auto quiet = build({"-q", "-t", "built:2", ctx});
    ASSERT_EQ(quiet.status, 0) << quiet.err;
    EXPECT_EQ(trim(quiet.out), id);

    // A Dockerfile the parser refuses: the CLI exits non-zero and says which line.
    std::string bad = context("bad", "FROM busybox\nBOGUS thing\nCMD true\n");
    auto failed = build({"-t", "bad:1", bad});
    EXPECT_NE(failed.status, 0) << failed.out;
    EXPECT_NE((failed.out + failed.err).find("Dockerfile:2"), std::string::npos) << failed.out << failed.err;
    EXPECT_NE((failed.out + failed.err).find("BOGUS"), std::string::npos) << failed.out << failed.err;
    EXPECT_NE(docker({"image", "inspect", "bad:1"}).status, 0);

    // A failing RUN: the CLI exits non-zero with the builder's message.
    std::string fails = context("fails", "FROM busybox\nRUN exit 3\n");
    auto r3 = build({"-t", "fails:1", fails});
    EXPECT_NE(r3.status, 0) << r3.out;
    EXPECT_NE((r3.out + r3.err).find("returned a non-zero code: 3"), std::string::npos) << r3.out << r3.err;
}

}  // namespace
}  // namespace enginetest
