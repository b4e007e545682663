// minibox-bench: start latency of each step against the standard tool doing the same, on this
// machine, in one run.
//
//   minibox-bench [--runs N] [--warmup N] [--only TEXT]
//
// For every comparison: the median and p90 of each side in microseconds, the ratio of the
// medians and PASS (within the goal) or OVER. The verdict is information: the exit status is 0
// unless a command could not run (1).
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <CLI/CLI.hpp>

#include "bench.hpp"
#include "error.hpp"
#include "state.hpp"

namespace bench {

std::string find_program(const std::string& name) {
    const char* env = std::getenv("PATH");
    std::string path = std::string(env && *env ? env : "") + ":/usr/sbin:/usr/bin:/sbin:/bin";
    for (size_t start = 0; start < path.size();) {
        size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string dir = path.substr(start, end - start);
        start = end + 1;
        if (dir.empty() || dir[0] != '/') continue;
        std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

}  // namespace bench

namespace {

using bench::Comparison;
using bench::Side;

template <class T>
void append(std::vector<T>& to, std::vector<T> more) {
    for (auto& x : more) to.push_back(std::move(x));
}

// Every step's comparisons, in step order.
std::vector<Comparison> all_comparisons(const bench::Env& env) {
    std::vector<Comparison> all;
    append(all, bench::step01(env));
    append(all, bench::step02(env));
    append(all, bench::step03(env));
    append(all, bench::step04(env));
    append(all, bench::step05(env));
    append(all, bench::step06(env));
    append(all, bench::step07(env));
#ifdef MINIBOX_BENCH_ENGINE
    append(all, bench::engine(env));
#endif
#ifdef MINIBOX_BENCH_IMAGES
    append(all, bench::images(env));
#endif
#ifdef MINIBOX_BENCH_BUILD
    append(all, bench::build(env));
#endif
    return all;
}

double now_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// A side, ready to run: its argv as execv(2) wants it, and its samples.
struct Runner {
    const Side* side;
    std::vector<char*> argv;
    std::vector<double> samples;

    explicit Runner(const Side& s) : side(&s) {
        for (auto& a : s.argv) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
    }

    // One run, fork to reaped; throws Error unless the command exits 0. `quiet`: its output goes
    // to /dev/null (a first, untimed run lets stderr through, so a failure explains itself).
    double once(bool quiet) {
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0) throw SysError("open(\"/dev/null\")", errno);
        double start = now_us();
        pid_t pid = ::fork();
        if (pid == 0) {
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDOUT_FILENO);
            if (quiet) ::dup2(devnull, STDERR_FILENO);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        int err = errno;
        int status = 0;
        if (pid > 0) {
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        }
        double end = now_us();
        ::close(devnull);
        if (pid < 0) throw SysError("fork()", err);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            throw Error(side->label + ": " +
                        (WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                           : std::string("killed by ") + ::sigabbrev_np(WTERMSIG(status))));
        }
        return end - start;
    }
};

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return 0;
    if (p == 50 && v.size() % 2 == 0) return (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// Runs and reports one comparison; false when a command failed.
bool measure(const Comparison& c, int runs, int warmup, size_t label_width) {
    std::printf("\n%s\n", c.name.c_str());
    if (!c.skip.empty()) {
        std::printf("  skipped: %s\n", c.skip.c_str());
        return true;
    }
    Runner ours(c.ours), ref(c.reference);
    bool ok = true;
    try {
        if (c.setup) c.setup();
        ours.once(false);
        ref.once(false);
        for (int i = 0; i < warmup; ++i) {
            ours.once(true);
            ref.once(true);
        }
        // Interleaved: A B, B A, A B, ... so that neither side always runs first.
        for (int i = 0; i < runs; ++i) {
            Runner& first = i % 2 == 0 ? ours : ref;
            Runner& second = i % 2 == 0 ? ref : ours;
            first.samples.push_back(first.once(true));
            second.samples.push_back(second.once(true));
        }
    } catch (const Error& e) {
        std::printf("  error: %s\n", e.line().c_str());
        ok = false;
    }
    if (c.teardown) c.teardown();
    if (!ok) return false;

    for (auto* r : {&ours, &ref}) {
        std::printf("  %-9s  %-*s  median %8.0f  p90 %8.0f\n", r == &ours ? "ours" : "reference",
                    static_cast<int>(label_width), r->side->label.c_str(), percentile(r->samples, 50),
                    percentile(r->samples, 90));
    }
    double ratio = percentile(ours.samples, 50) / percentile(ref.samples, 50);
    std::printf("  %s: ratio %.2f (goal %.2f) %s\n", c.name.c_str(), ratio, c.goal,
                ratio <= c.goal ? "PASS" : "OVER");
    return true;
}

std::string self_dir() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string exe(buf, static_cast<size_t>(n));
    return exe.substr(0, exe.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Time container starts of each step against unshare(1) doing the same namespaces.",
                 "minibox-bench"};
    int runs = 200, warmup = 20;
    std::string only;
    app.add_option("--runs", runs, "timed runs per side (default 200)")->check(CLI::Range(1, 1000000));
    app.add_option("--warmup", warmup, "untimed runs per side first (default 20)")->check(CLI::Range(0, 1000000));
    app.add_option("--only", only, "only the comparisons whose name contains TEXT (e.g. step02)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "minibox-bench: %s\n", e.what());
        return exit_code::tool_failed;
    }

    if (::geteuid() != 0) {
        std::fprintf(stderr, "minibox-bench: needs root (new namespaces need CAP_SYS_ADMIN): run it with sudo\n");
        return 1;
    }
    bench::Env env{self_dir(), state::default_rootfs()};
    auto comparisons = all_comparisons(env);
    if (!only.empty())
        std::erase_if(comparisons, [&](const Comparison& c) { return c.name.find(only) == std::string::npos; });
    if (comparisons.empty()) {
        std::fprintf(stderr, "minibox-bench: no comparison matches \"%s\"\n", only.c_str());
        return exit_code::tool_failed;
    }
    size_t width = 0;
    for (auto& c : comparisons) width = std::max({width, c.ours.label.size(), c.reference.label.size()});

    std::printf("minibox-bench: %d timed runs per side, interleaved, after %d warm-up runs;\n"
                "wall time from fork to waitpid in microseconds (CLOCK_MONOTONIC)\n",
                runs, warmup);
    std::fflush(stdout);
    bool all_ok = true;
    for (auto& c : comparisons) {
        all_ok = measure(c, runs, warmup, width) && all_ok;
        std::fflush(stdout);
    }
    return all_ok ? 0 : 1;
}
