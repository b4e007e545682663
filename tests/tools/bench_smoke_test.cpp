// minibox-bench runs end to end and reports a ratio for every comparison (its timings are not
// asserted: they depend on the machine).
#include <regex>

#include "support.hpp"

using support::bin;
using support::run;

namespace {

TEST(BenchSmoke, PrintsARatioPerComparison) {
    REQUIRE_ROOT();
    auto r = run({bin("minibox-bench"), "--runs", "3", "--warmup", "1"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    for (const char* name : {"step01 uts", "step02 pid"}) {
        std::regex ratio(std::string("\n  ") + name + ": ratio [0-9]+\\.[0-9]{2} \\(goal [0-9.]+\\) (PASS|OVER)\n");
        EXPECT_TRUE(std::regex_search(r.out, ratio)) << name << " has no ratio line in:\n" << r.out;
    }
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  ours +step01_uts -- /bin/true +median +[0-9]+ +p90 +[0-9]+\n")))
        << r.out;
}

TEST(BenchSmoke, OnlyFiltersAndRejectsUnknownNames) {
    REQUIRE_ROOT();
    auto r = run({bin("minibox-bench"), "--runs", "2", "--warmup", "0", "--only", "step02"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find("step01 uts"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("step02 pid: ratio"), std::string::npos) << r.out;
    r = run({bin("minibox-bench"), "--only", "no-such-step"});
    EXPECT_EQ(r.status, 125);
    EXPECT_EQ(r.err, "minibox-bench: no comparison matches \"no-such-step\"\n");
    EXPECT_EQ(run({bin("minibox-bench"), "--runs", "0"}).status, 125);
}

}  // namespace
