// An image built by us, run by the real docker CLI against our engine after save/load (issue 12's
// test; the podman half is builder_integration_test's PodmanRunsAnImageWeBuilt). The image is
// built by `step07_full build` in a store of its own (MINIBOX_ROOT of this test, a copy of
// busybox), saved with `step07_full save`, then loaded by `docker load` into a private
// minibox-engine whose store is another directory (engine_harness.hpp: own mount and network
// namespace, engine stopped by pid), and run by `docker run`.
#include "engine/engine_harness.hpp"

namespace enginetest {
namespace {

TEST_F(EngineTest, DockerRunsAnImageWeBuiltAfterSaveLoad) {
    // Our build, in a store the engine does not know.
    std::string ours = *dir_ / "ours", ctx = *dir_ / "ctx";
    fs::create_directories(ours + "/images/busybox");
    fs::create_directories(ctx);
    ASSERT_EQ(run({"/bin/cp", "-a", support::busybox_rootfs(), ours + "/images/busybox/rootfs"}, transcript_).status, 0);
    std::ofstream(ctx + "/msg") << "built-by-minibox\n";
    std::ofstream(ctx + "/Dockerfile") << "FROM busybox\nCOPY msg /msg\nRUN echo ran >> /msg && rm /bin/ls\n"
                                          "ENV GREETING=hello\nWORKDIR /work\n"
                                          "CMD [\"sh\", \"-c\", \"cat /msg; echo $GREETING $(pwd); test ! -e /bin/ls && echo no-ls\"]\n";
    std::vector<std::string> our_env = {"MINIBOX_ROOT=" + ours, "MINIBOX_RUN=" + (*dir_ / "ours-run")};
    fs::create_directories(*dir_ / "ours-run");
    auto b = run({support::bin("step07_full"), "build", "-t", "dockertest:1", ctx}, transcript_, 180s, our_env);
    ASSERT_EQ(b.status, 0) << b.out << b.err;
    std::string archive = *dir_ / "dockertest.tar";
    auto save = run({support::bin("step07_full"), "save", "-o", archive, "dockertest:1"}, transcript_, 60s, our_env);
    ASSERT_EQ(save.status, 0) << save.err;
    auto our_id = trim(run({support::bin("step07_full"), "image", "inspect", "dockertest:1"}, transcript_, 30s, our_env).out);
    // The engine has no such image before the load.
    EXPECT_NE(docker({"image", "inspect", "dockertest:1"}).status, 0);
    auto load = docker({"load", "-i", archive});
    ASSERT_EQ(load.status, 0) << load.out << load.err;
    EXPECT_NE(load.out.find("Loaded image: dockertest:1"), std::string::npos) << load.out;
    // Same content address on both sides: the config's digest.
    std::string id = trim(docker({"image", "inspect", "-f", "{{.Id}}", "dockertest:1"}).out);
    EXPECT_EQ(id.rfind("sha256:", 0), 0u) << id;
    EXPECT_NE(our_id.find(id), std::string::npos) << "our id is not the engine's: " << id;
    auto ran = docker({"run", "--rm", "--network", "none", "dockertest:1"});
    EXPECT_EQ(ran.status, 0) << ran.err;
    EXPECT_EQ(ran.out, "built-by-minibox\nran\nhello /work\nno-ls\n") << ran.err;
    EXPECT_EQ(trim(docker({"image", "inspect", "-f", "{{.Config.WorkingDir}}", "dockertest:1"}).out), "/work");
    EXPECT_EQ(docker({"rmi", "dockertest:1"}).status, 0);
}

}  // namespace
}  // namespace enginetest
