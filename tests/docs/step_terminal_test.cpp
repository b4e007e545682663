// --step on a real (pseudo-)terminal, for every step 01-06, as an instructor uses it: Enter at
// each pause, the host commands it prints run from the host (through the demo's host-pane feed,
// $MINIBOX_HOST_PANE), and the tool must end normally: not stopped by SIGTTIN or failing with
// EIO when a cleanup pause reads the terminal after the container had it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "pty_session.hpp"
#include "support.hpp"

namespace {

using docs::PtySession;
using support::bin;

struct PaneLine {
    std::string when, layer, call, command, comment;
};

// The demo's host-pane feed: one line per command, tab-separated.
std::vector<PaneLine> read_pane(const std::string& path) {
    std::vector<PaneLine> out;
    std::ifstream f(path);
    for (std::string line; std::getline(f, line);) {
        std::vector<std::string> fields;
        std::stringstream ss(line);
        for (std::string field; std::getline(ss, field, '\t');) fields.push_back(field);
        fields.resize(5);
        out.push_back({fields[0], fields[1], fields[2], fields[3], fields[4]});
    }
    return out;
}

std::string host_name() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

class StepTerminal : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/minibox-pty-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        pane_ = dir_ + "/pane";
    }
    void TearDown() override { support::sh("rm -rf '" + dir_ + "'"); }

    // The last pane line so far whose call contains `call` and whose kind is `when`.
    PaneLine pane_line(const std::string& when, const std::string& call) {
        PaneLine found;
        for (auto& l : read_pane(pane_))
            if (l.when == when && l.call.find(call) != std::string::npos) found = l;
        return found;
    }

    // Presses Enter at every pause; calls at_pause(block) first with the text since the last
    // one, and at_ready() when the container prints READY (it then waits for a line).
    struct Run {
        int status = -1;
        int pauses = 0;
        std::string out;
    };
    Run drive(const std::vector<std::string>& argv, const std::function<void(const std::string&)>& at_pause = {},
              const std::function<void()>& at_ready = {}) {
        PtySession s(argv, {"MINIBOX_HOST_PANE=" + pane_});
        Run r;
        size_t last = 0;
        for (;;) {
            int i = s.wait_for_any({"press Enter to continue", "READY"});
            if (i < 0) break;
            std::string text = s.consumed();
            if (i == 0) {
                ++r.pauses;
                if (at_pause) at_pause(text.substr(last));
            } else if (at_ready) {
                at_ready();
            }
            last = text.size();
            s.send("\n");
        }
        r.status = s.wait_exit();
        r.out = s.output();
        return r;
    }

    static void expect_fits(const std::string& out, size_t columns = 80) {
        for (auto& line : docs::split_lines(out)) {
        EXPECT_LE(line.size(), columns) << line;
    }
    }
    static int count(const std::string& text, const std::string& needle) {
        int n = 0;
        for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
        return n;
    }

    std::string dir_, pane_;
};

// step01: the pause shows the state before sethostname (both names the host's), the line after
// it the state after (the container renamed), as the comment says.
TEST_F(StepTerminal, Step01BeforeAndAfterMatchWhatIsSaid) {
    REQUIRE_ROOT();
    std::string before_out, after_out;
    auto r = drive(
        {bin("step01_uts"), "--step", "--hostname", "box", "sh", "-c", "echo READY; read x"},
        [&](const std::string& block) {
            if (block.find("next: sethostname") == std::string::npos) return;
            auto l = pane_line("before", "sethostname");
            ASSERT_FALSE(l.command.empty());
            before_out = support::sh(l.command).out;
        },
        [&] { after_out = support::sh(pane_line("after", "sethostname").command).out; });
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.pauses, 3) << r.out;  // clone, send(go), sethostname
    std::string h = host_name();
    EXPECT_EQ(before_out, h + "\n" + h + "\n");
    EXPECT_EQ(after_out, h + "\nbox\n");
    EXPECT_NE(r.out.find("host, after:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("container exited: status 0"), std::string::npos) << r.out;
    expect_fits(r.out);
}

// --step=LAYER pauses in that layer only; the others are explained.
TEST_F(StepTerminal, Step02PausesOnlyInTheChosenLayer) {
    REQUIRE_ROOT();
    std::string ps_after;
    auto r = drive({bin("step02_pid"), "--step=pid", "--init", "sh", "-c", "echo READY; read x"}, {},
                   [&] { ps_after = support::sh(pane_line("after", "fork()").command).out; });
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.pauses, count(r.out, "[pid] next:")) << r.out;
    EXPECT_GE(r.pauses, 1) << r.out;
    EXPECT_EQ(count(r.out, "[launch] next:"), 0) << r.out;
    EXPECT_NE(r.out.find("[launch] clone("), std::string::npos) << r.out;  // explained
    EXPECT_NE(ps_after.find("sh -c echo READY"), std::string::npos) << ps_after;  // init's child
    expect_fits(r.out);
}

TEST_F(StepTerminal, UnknownLayerIsRefused) {
    auto r = drive({bin("step02_pid"), "--step=nett", "true"});
    EXPECT_EQ(r.status, 125) << r.out;
    EXPECT_NE(r.out.find("no layer named nett"), std::string::npos) << r.out;
}

// step03: at the mknod pause the host command lists the container's new (empty) /dev, not the
// host's; after it, the six nodes.
TEST_F(StepTerminal, Step03DevCommandShowsTheContainersDev) {
    REQUIRE_ROOT();
    std::string before_out, after_out;
    auto r = drive({bin("step03_mnt"), "--step=mnt", "--", "sh", "-c", "echo READY; read x"},
                   [&](const std::string& block) {
                       if (block.find("next: symlink(") != std::string::npos)  // right after mknod
                           after_out = support::sh(pane_line("after", "mknod(").command).out;
                       if (block.find("next: mknod(") != std::string::npos)
                           before_out = support::sh(pane_line("before", "mknod(").command).out;
                   });
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_GE(r.pauses, 5) << r.out;
    EXPECT_EQ(before_out.find("null"), std::string::npos) << before_out;
    EXPECT_NE(after_out.find("urandom"), std::string::npos) << after_out;
    EXPECT_EQ(after_out.find("tty0"), std::string::npos) << after_out;  // not the host's /dev
    expect_fits(r.out);
}

// step04 in a lab namespace: the printed network commands enter it, and the cleanup's pauses
// come after the terminal was taken back.
TEST_F(StepTerminal, Step04InALabNamespaceCommandsEnterIt) {
    REQUIRE_ROOT();
    std::string ns = "mbpty" + std::to_string(::getpid());
    ASSERT_EQ(support::sh("ip netns add " + ns + " && ip netns exec " + ns + " ip link set lo up").status, 0);
    std::string veth_after;
    auto r = drive({"ip", "netns", "exec", ns, bin("step04_net"), "--step=net", "--", "sh", "-c", "echo READY; read x"},
                   {}, [&] { veth_after = support::sh(pane_line("after", "kind=veth").command).out; });
    auto veth = pane_line("after", "kind=veth");
    support::sh("ip netns exec " + ns + " " + bin("step04_net") + " --remove-bridge; ip netns del " + ns);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_GE(r.pauses, 5) << r.out;
    EXPECT_EQ(veth.command.rfind("ip netns exec " + ns + " ", 0), 0u) << veth.command;
    EXPECT_NE(veth_after.find("mbv"), std::string::npos) << veth_after;  // the host end, on the bridge
    for (auto& l : read_pane(pane_)) {
        if (l.layer == "net") {
            EXPECT_EQ(l.command.rfind("ip netns exec " + ns + " ", 0), 0u) << l.command;
        }
    }
    EXPECT_NE(r.out.find("container exited: status 0"), std::string::npos) << r.out;
    expect_fits(r.out);
}

// step05 (the issue's case): the cleanup's rmdir pause is answered, and a write reads as one call.
TEST_F(StepTerminal, Step05CleanupPauseAfterTheContainer) {
    REQUIRE_ROOT();
    std::string pids_max;
    auto r = drive({bin("step05_cgroups"), "--network", "none", "--step", "-m", "64m", "--pids-limit", "20", "--", "sh",
                    "-c", "echo READY; read x"},
                   {}, [&] { pids_max = support::sh(pane_line("after", "pids.max").command).out; });
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("next: rmdir("), std::string::npos) << r.out;
    EXPECT_EQ(pids_max, "20\n");
    std::regex double_eq(R"(\bwrite\b[^\n]* = [^\n]* = )");
    EXPECT_FALSE(std::regex_search(r.out, double_eq)) << r.out;
    expect_fits(r.out);
}

// step06: a whole run with every layer pausing ends normally (no stop, no EIO at cleanup).
TEST_F(StepTerminal, Step06WholeRunEndsNormally) {
    REQUIRE_ROOT();
    std::string mounts;
    auto r = drive({bin("step06_overlay"), "run", "--step=overlay", "--network", "none", "busybox", "--", "sh", "-c",
                    "echo READY; read x"},
                   {}, [&] { mounts = support::sh(pane_line("after", "mount(\"overlay\"").command).out; });
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_GE(r.pauses, 4) << r.out;
    EXPECT_NE(r.out.find("next: umount2("), std::string::npos) << r.out;  // a cleanup pause
    EXPECT_NE(mounts.find("overlay"), std::string::npos) << mounts;
    EXPECT_NE(r.out.find("container exited: status 0"), std::string::npos) << r.out;
    expect_fits(r.out);
}

}  // namespace

namespace {

// The instructor's demo commands (workshop/instructor/demo.sh): one per chapter at least, each
// naming layers its tool accepts (a typo in --step=LAYER would stop a live demo at once).
TEST(InstructorDemos, EveryChapterHasDemosWithValidLayers) {
    std::string demo = support::source_dir() + "/workshop/instructor/demo.sh";
    for (const char* chapter : {"01", "02", "03", "04", "05", "06"}) {
        auto r = support::run({demo, "--list", chapter});
        ASSERT_EQ(r.status, 0) << chapter << r.err;
        auto lines = docs::split_lines(r.out);
        EXPECT_GE(lines.size(), 1u) << chapter;
        for (auto& line : lines) {
            std::smatch m;
            ASSERT_TRUE(std::regex_search(line, m, std::regex(R"((step0[1-6]_[a-z]+)( run)? .*--step(=[a-z,]+)?)")))
                << line;
            std::vector<std::string> argv = {bin(m[1].str())};
            if (m[2].matched) argv.push_back("run");
            argv.push_back("--step" + m[3].str());
            if (m[2].matched) argv.push_back("busybox");
            argv.push_back("true");
            auto t = support::run(argv);  // stdin is not a terminal: refused after the layers were checked
            EXPECT_EQ(t.status, 125) << line;
            EXPECT_NE(t.err.find("needs a terminal"), std::string::npos) << line << "\n" << t.err;
        }
    }
}

}  // namespace

namespace {

// The demo itself, in a tmux server of its own: the left pane runs chapter 01's second demo,
// Enter is pressed at the pause, and the right pane (host-pane.sh) must have run the host
// command before the operation (the host's name twice) and after it (the host's, then "box").
TEST(InstructorDemos, TmuxHostPaneShowsBeforeAndAfter) {
    REQUIRE_ROOT();
    if (support::run({"sh", "-c", "command -v tmux"}).status != 0) GTEST_SKIP() << "no tmux";
    std::string sock = "minibox-test-" + std::to_string(::getpid());
    std::string feed = "/tmp/" + sock + ".feed";
    std::string env = "MINIBOX_DEMO_SOCKET=" + sock + " MINIBOX_DEMO_FEED=" + feed +
                      " MINIBOX_DEMO_NO_ATTACH=1 MINIBOX_BIN=" + std::string(MINIBOX_BIN_DIR) + " ";
    std::string demo = support::source_dir() + "/workshop/instructor/demo.sh";
    std::string tmux = "tmux -L " + sock + " ";
    ASSERT_EQ(support::sh(env + demo + " 01 2").status, 0);
    support::sh("sleep 1; " + tmux + "send-keys -t minibox-demo:0.0 Enter; sleep 2; " + tmux +
                "send-keys -t minibox-demo:0.0 Enter; sleep 2");
    std::string right = support::sh(tmux + "capture-pane -p -t minibox-demo:0.1").out;
    std::string left = support::sh(tmux + "capture-pane -p -t minibox-demo:0.0").out;
    support::sh(tmux + "kill-server; rm -f " + feed);
    std::string h = host_name();
    EXPECT_NE(right.find("-- before sethostname(\"box\")"), std::string::npos) << right;
    EXPECT_NE(right.find(h + "\n" + h + "\n\n-- after sethostname(\"box\")"), std::string::npos) << right;
    EXPECT_NE(right.find("container renamed)\n$ hostname; nsenter"), std::string::npos) << right;
    EXPECT_NE(right.find("\n" + h + "\nbox"), std::string::npos) << right;
    EXPECT_NE(left.find("host, after:"), std::string::npos) << left;
}

}  // namespace
