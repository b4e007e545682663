// The docs harness checks itself: parsing of console blocks, the "..." wildcards, exit codes,
// and that a mismatch is reported (file:line, command, expected vs actual) instead of passing.
#include <gtest/gtest.h>

#include <sstream>

#include "console.hpp"

using docs::line_matches;
using docs::match;
using docs::parse;

namespace {

const char* kChapter = R"(# A chapter

Prose with `$ not a command`.

```console
$ echo one
one
$ false
[exit 1]
$ echo a \
>   b \
  c
a b c

$ true
```

```sh
$ this is not run
```

- a list item with an indented block:

  ```console
  $ echo indented
  indented
  ```
)";

TEST(DocsParse, FindsCommandsExpectedLinesAndExitCodes) {
    auto cmds = parse(kChapter, "ch.md");
    ASSERT_EQ(cmds.size(), 5u);
    EXPECT_EQ(cmds[0].file, "ch.md");
    EXPECT_EQ(cmds[0].line, 6);
    EXPECT_EQ(cmds[0].text, "echo one");
    EXPECT_EQ(cmds[0].expected, std::vector<std::string>{"one"});
    EXPECT_TRUE(cmds[0].check_output);
    EXPECT_EQ(cmds[0].exit, 0);

    EXPECT_EQ(cmds[1].text, "false");
    EXPECT_EQ(cmds[1].exit, 1);
    EXPECT_FALSE(cmds[1].check_output);  // only "[exit 1]": the status is checked, not the output

    EXPECT_EQ(cmds[2].line, 10);
    EXPECT_EQ(cmds[2].text, "echo a \\\n  b \\\n  c");  // "> " of a continuation is dropped
    EXPECT_EQ(cmds[2].expected, std::vector<std::string>{"a b c"});  // the empty line is trimmed

    EXPECT_EQ(cmds[3].text, "true");
    EXPECT_FALSE(cmds[3].check_output);

    EXPECT_EQ(cmds[4].text, "echo indented");
    EXPECT_EQ(cmds[4].expected, std::vector<std::string>{"indented"});
}

TEST(DocsParse, RejectsMalformedBlocks) {
    EXPECT_THROW(parse("```console\nstray text\n$ true\n```\n", "x.md"), std::runtime_error);
    EXPECT_THROW(parse("```console\n$ true\n", "x.md"), std::runtime_error);
    EXPECT_THROW(parse("```console\n$ echo \\\n```\n", "x.md"), std::runtime_error);
    try {
        parse("text\n```console\nstray\n```\n", "x.md");
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "x.md:3: text before the first \"$ \" command of a console block");
    }
}

TEST(DocsMatch, InlineDots) {
    EXPECT_TRUE(line_matches("abc", "abc"));
    EXPECT_FALSE(line_matches("abc", "abcd"));
    EXPECT_TRUE(line_matches("uts:[...]", "uts:[4026532201]"));
    EXPECT_FALSE(line_matches("uts:[...]", "pid:[4026532201]"));
    EXPECT_TRUE(line_matches("...", "anything"));
    EXPECT_TRUE(line_matches("a...b...c", "a-x-b-y-c"));
    EXPECT_TRUE(line_matches("a...b...c", "abc"));
    EXPECT_FALSE(line_matches("a...b...c", "a-c-b"));
    EXPECT_FALSE(line_matches("ab...ba", "aba"));  // prefix and suffix may not overlap
    EXPECT_TRUE(line_matches("[launch] clone(...) = ... - a child", "[launch] clone(CLONE_NEWUTS) = 42 - a child"));
}

TEST(DocsMatch, DotLinesMatchAnyNumberOfLines) {
    using V = std::vector<std::string>;
    EXPECT_TRUE(match({"a", "...", "z"}, V{"a", "z"}).ok);
    EXPECT_TRUE(match({"a", "...", "z"}, V{"a", "b", "c", "z"}).ok);
    EXPECT_FALSE(match({"a", "...", "z"}, V{"a", "b"}).ok);
    EXPECT_TRUE(match({"..."}, V{}).ok);
    EXPECT_TRUE(match({"...", "x", "..."}, V{"1", "x", "2"}).ok);
    EXPECT_TRUE(match({"...", "z"}, V{"z", "z"}).ok);  // needs backtracking past the first z
    EXPECT_FALSE(match({"a"}, V{"a", "extra"}).ok);
    EXPECT_FALSE(match({"a", "b"}, V{"a"}).ok);
}

TEST(DocsMatch, PointsAtTheFirstDifference) {
    auto m = match({"one", "two", "three"}, {"one", "TWO", "three"});
    EXPECT_FALSE(m.ok);
    EXPECT_EQ(m.expected_line, 1);
    EXPECT_EQ(m.actual_line, 1);
    m = match({"one"}, {"one", "two"});
    EXPECT_EQ(m.expected_line, -1);  // expected ended
    EXPECT_EQ(m.actual_line, 1);
}

TEST(DocsMatch, LinesOfTrimsTrailingSpaceAndEmptyLines) {
    EXPECT_EQ(docs::lines_of("a  \nb\n\n\n"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(docs::lines_of("no newline"), (std::vector<std::string>{"no newline"}));
}

// Running commands needs no root: bash -c with ordinary commands.
docs::Command one(const std::string& chapter) {
    auto cmds = parse(chapter, "t.md");
    EXPECT_EQ(cmds.size(), 1u);
    return cmds.at(0);
}

bool passes(const std::string& chapter, std::string* log = nullptr) {
    std::ostringstream out;
    bool ok = docs::check(one(chapter), "/nonexistent-bin", std::chrono::seconds(10), out);
    if (log) *log = out.str();
    return ok;
}

TEST(DocsRun, OutputStdoutAndStderrMerged) {
    EXPECT_TRUE(passes("```console\n$ echo out; echo err >&2; echo out2\nout\nerr\nout2\n```\n"));
}

TEST(DocsRun, ExitCodes) {
    EXPECT_TRUE(passes("```console\n$ exit 3\n[exit 3]\n```\n"));
    EXPECT_FALSE(passes("```console\n$ exit 3\n```\n"));
    EXPECT_FALSE(passes("```console\n$ true\n[exit 3]\n```\n"));
    EXPECT_TRUE(passes("```console\n$ echo x; exit 4\nx\n[exit 4]\n```\n"));
}

TEST(DocsRun, FreshDirectoryAndPath) {
    std::string log;
    EXPECT_TRUE(passes("```console\n$ ls -A | wc -l; pwd; echo \"$PATH\"\n0\n/tmp/minibox-docs...\n/nonexistent-bin:...\n```\n", &log)) << log;
}

TEST(DocsRun, AMismatchIsReported) {
    std::string log;
    EXPECT_FALSE(passes("text\n\n```console\n$ printf 'one\\ntwo\\n'\none\nthree\n```\n", &log));
    EXPECT_NE(log.find("t.md:4: FAILED"), std::string::npos) << log;
    EXPECT_NE(log.find("  $ printf 'one\\ntwo\\n'"), std::string::npos) << log;
    EXPECT_NE(log.find(">>| three"), std::string::npos) << log;
    EXPECT_NE(log.find(">>| two"), std::string::npos) << log;
    EXPECT_NE(log.find("first difference: expected \"three\", got \"two\""), std::string::npos) << log;
}

TEST(DocsRun, TimeoutKillsTheCommand) {
    std::ostringstream out;
    auto cmd = one("```console\n$ sleep 30\n```\n");
    EXPECT_FALSE(docs::check(cmd, "/nonexistent-bin", std::chrono::seconds(1), out));
    EXPECT_NE(out.str().find("timed out"), std::string::npos) << out.str();
}

TEST(DocsRun, ABackgroundProcessLeftRunningIsReported) {
    std::string log;
    EXPECT_FALSE(passes("```console\n$ sleep 60 >/dev/null 2>&1 &\n```\n", &log));
    EXPECT_NE(log.find("left processes running"), std::string::npos) << log;
    EXPECT_NE(log.find("(sleep)"), std::string::npos) << log;
}

}  // namespace
