// The narration's formatting, as --explain and --step print it (no root needed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "narrate.hpp"

namespace {

// What `body` writes to stderr.
template <class F>
std::string stderr_of(F&& body) {
    std::fflush(stderr);
    char path[] = "/tmp/minibox-narrate.XXXXXX";
    int fd = ::mkstemp(path);
    int saved = ::dup(2);
    ::dup2(fd, 2);
    body();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fd);
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    ::unlink(path);
    return ss.str();
}

TEST(Narrate, AFailedCallNamesItsErrno) {
    narrate::set_mode(narrate::Mode::explain);
    std::string out = stderr_of([] {
        EXPECT_THROW(narrate::sys({"net", "RTM_DELLINK(\"mbv1\")", "the pair goes", ""},
                                  [] {
                                      errno = ENODEV;
                                      return -1;
                                  }),
                     Error);
    });
    narrate::set_mode(narrate::Mode::quiet);
    EXPECT_NE(out.find("RTM_DELLINK(\"mbv1\") = -1 ENODEV (No such device)  - the pair goes"), std::string::npos) << out;
}

TEST(Narrate, ASuccessIsOneEqualsSign) {
    narrate::set_mode(narrate::Mode::explain);
    std::string out = stderr_of([] { narrate::sys({"cgroup", "write(\"/x/pids.max\", \"20\")", "why", ""}, [] { return 0; }); });
    narrate::set_mode(narrate::Mode::quiet);
    EXPECT_NE(out.find("[cgroup] write(\"/x/pids.max\", \"20\") = 0  - why\n"), std::string::npos) << out;
}

TEST(Narrate, StepLayersAreChecked) {
    EXPECT_NO_THROW(narrate::set_step_layers("net,cgroup"));
    EXPECT_NO_THROW(narrate::set_step_layers("all"));
    EXPECT_THROW(narrate::set_step_layers("net,nett"), Error);
    narrate::set_step_layers("");
}

}  // namespace
