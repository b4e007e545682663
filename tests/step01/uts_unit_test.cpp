// step01 without root: hostname validation, the command-line tail, flags.
#include <sched.h>

#include "cli.hpp"
#include "error.hpp"
#include "support.hpp"
#include "uts.hpp"

namespace {

// Parse a command line the way step01_uts's main() does.
struct Parsed {
    std::optional<int> status;
    cli::Common common;
    uts::Config uts;
};

Parsed parse(std::vector<std::string> args) {
    Parsed p;
    CLI::App app{"test", "step01_uts"};
    cli::add_common(app, p.common);
    uts::add_options(app, p.uts);
    args.insert(args.begin(), "step01_uts");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    p.status = cli::parse(app, static_cast<int>(argv.size()), argv.data(), p.common);
    return p;
}

TEST(Hostname, AcceptsLettersDigitsDashDot) {
    EXPECT_EQ(uts::validate_hostname("box"), "");
    EXPECT_EQ(uts::validate_hostname("web-1.example"), "");
    EXPECT_EQ(uts::validate_hostname(std::string(64, 'a')), "");
}

TEST(Hostname, RejectsEmptyLongAndOddCharacters) {
    EXPECT_NE(uts::validate_hostname(""), "");
    EXPECT_NE(uts::validate_hostname(std::string(65, 'a')), "");
    EXPECT_NE(uts::validate_hostname("a b"), "");
    EXPECT_NE(uts::validate_hostname("a_b"), "");
    EXPECT_NE(uts::validate_hostname("box;reboot"), "");
}

TEST(CommandLine, CommandKeepsItsOwnOptions) {
    auto p = parse({"--hostname", "box", "sh", "-c", "exit 7"});
    EXPECT_FALSE(p.status);
    EXPECT_EQ(p.uts.hostname, "box");
    EXPECT_EQ(p.common.command, (std::vector<std::string>{"sh", "-c", "exit 7"}));
}

TEST(CommandLine, DoubleDashStartsTheCommand) {
    auto p = parse({"--explain", "--", "ls", "--hostname"});
    EXPECT_FALSE(p.status);
    EXPECT_TRUE(p.common.explain);
    EXPECT_EQ(p.uts.hostname, "minibox");
    EXPECT_EQ(p.common.command, (std::vector<std::string>{"ls", "--hostname"}));
}

TEST(CommandLine, BadInputIsExit125) {
    EXPECT_EQ(parse({"--hostname", "bad name", "true"}).status, 125);
    EXPECT_EQ(parse({"--bogus", "true"}).status, 125);
    EXPECT_EQ(parse({}).status, 125);
    EXPECT_EQ(parse({"--hostname"}).status, 125);
}

TEST(CommandLine, StepNeedsATerminal) {
    // ctest gives the test no terminal on stdin.
    if (::isatty(STDIN_FILENO)) GTEST_SKIP() << "stdin is a terminal here";
    EXPECT_EQ(parse({"--step", "true"}).status, 125);
}

TEST(Layer, AsksForANewUtsNamespace) {
    uts::Layer layer{{}};
    EXPECT_EQ(layer.clone_flags(), CLONE_NEWUTS);
}

TEST(Errors, FlagsAreSpelledSymbolically) {
    EXPECT_EQ(spell_flags(CLONE_NEWUTS | CLONE_NEWPID, {{CLONE_NEWUTS, "CLONE_NEWUTS"}, {CLONE_NEWPID, "CLONE_NEWPID"}}),
              "CLONE_NEWUTS|CLONE_NEWPID");
    EXPECT_EQ(spell_flags(0x1 | CLONE_NEWUTS, {{CLONE_NEWUTS, "CLONE_NEWUTS"}}), "CLONE_NEWUTS|0x1");
}

TEST(Errors, SysErrorCarriesCallErrnoAndContext) {
    try {
        check(-1, "write(\"pids.max\")");
    } catch (...) {
    }
    errno = EBUSY;
    try {
        check(-1, "write 100 to pids.max");
        FAIL() << "check(-1) did not throw";
    } catch (Error& e) {
        e.context("cgroup");
        EXPECT_EQ(e.err(), EBUSY);
        EXPECT_EQ(e.exit_status(), 125);
        EXPECT_EQ(e.message(), "cgroup: write 100 to pids.max: Device or resource busy");
    }
}

}  // namespace
