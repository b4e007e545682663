// minibox-bench: how long does a container start take, next to the standard tool that makes
// the same namespaces? One Comparison per question; each step adds a file (bench/stepNN.cpp)
// returning its comparisons and one line in bench/main.cpp.
//
// A sample is the wall time, on CLOCK_MONOTONIC, from fork() to waitpid() of one run of a
// command (stdout and stderr to /dev/null). The two sides of a comparison run alternately
// (A B, B A, A B, ...) so that a drift of the machine (another job, frequency scaling) falls
// on both alike.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace bench {

struct Side {
    std::string label;              // as the report shows it: "step01_uts -- /bin/true"
    std::vector<std::string> argv;  // argv[0] an absolute path
};

struct Comparison {
    std::string name;    // "step01 uts"
    Side ours;
    Side reference;
    double goal = 1.5;   // ours' median should be within goal x the reference's median
    std::string skip;    // not empty: the comparison cannot run here, and this says why
    std::function<void()> setup;     // once before the runs (may be empty)
    std::function<void()> teardown;  // once after them, also when a run failed (may be empty)
};

// What a step's file needs to build its comparisons.
struct Env {
    std::string bin_dir;  // where step01_uts, step02_pid, ... are (next to minibox-bench)
    std::string rootfs;   // the default image's root filesystem
};

// The absolute path of `name` in $PATH (or the usual sbin/bin directories), "" when absent.
std::string find_program(const std::string& name);

// One function per step, in bench/stepNN.cpp.
std::vector<Comparison> step01(const Env& env);
std::vector<Comparison> step02(const Env& env);
std::vector<Comparison> step03(const Env& env);
std::vector<Comparison> step04(const Env& env);
std::vector<Comparison> step05(const Env& env);
std::vector<Comparison> step06(const Env& env);
std::vector<Comparison> step07(const Env& env);
// The Docker half: each in its own file, compiled in when it exists (see CMakeLists.txt).
std::vector<Comparison> engine(const Env& env);
std::vector<Comparison> images(const Env& env);
std::vector<Comparison> build(const Env& env);

}  // namespace bench
