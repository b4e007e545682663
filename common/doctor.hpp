// Doctor and cleanup: two lists that every step grows.
//
//   minibox doctor            runs every Check: can this machine run the steps?
//   minibox cleanup [--remove]  runs every Finder: what did the toolkit leave on the host?
//
// A step never edits the lists of the steps before it: its library offers functions returning
// its own checks and finders (uts::checks() in step01_uts/uts_doctor.hpp, ...), and
// tools/minibox.cpp calls the functions of every step it links, one line each.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace doctor {

// ---------------------------------------------------------------------------------------------
// Checks

enum class Status { ok, warn, fail };

struct CheckResult {
    Status status = Status::ok;
    std::string detail;  // what was found: "6.18.44 (>= 5.6)"
    std::string fix;     // warn/fail: the command (or action) that fixes it

    static CheckResult ok(std::string detail) { return {Status::ok, std::move(detail), {}}; }
    static CheckResult warn(std::string detail, std::string fix) {
        return {Status::warn, std::move(detail), std::move(fix)};
    }
    static CheckResult fail(std::string detail, std::string fix) {
        return {Status::fail, std::move(detail), std::move(fix)};
    }
};

struct Check {
    std::string name;  // short and stable, e.g. "root", "kernel", "uts": tests grep for it
    std::function<CheckResult()> run;
};

// Runs `checks` in order (an exception escaping a check counts as a failure) and prints one
// line per check, the fix under every warning and failure, and a summary:
//
//   ok    root        running as uid 0
//   FAIL  overlayfs   no overlay in /proc/filesystems and no module
//         fix: modprobe overlay
//   doctor: 12 checks: 11 ok, 0 warnings, 1 failed
//
// Returns 0 when no check failed, 1 otherwise.
int run_checks(const std::vector<Check>& checks, std::ostream& out);

// Runs `probe` in a forked child and returns its exit status (128+N if a signal N ended it),
// so a check can try a kernel operation (unshare, sethostname, ...) without changing the doctor
// itself. By convention the probe returns 0 on success and an errno value on failure.
int in_child(const std::function<int()>& probe);

// ---------------------------------------------------------------------------------------------
// Leftovers

struct Leftover {
    std::string kind;               // "run-dir", "mount", "cgroup", "veth", ...
    std::string what;               // precise: a path, an interface name; plus why, in ()
    std::function<void()> remove;   // throws Error when it cannot
};

// Finds what dead containers (or crashed tools) left behind; must not change anything.
using Finder = std::function<std::vector<Leftover>()>;

// Runs every finder and prints one line per leftover, "KIND WHAT"; with `remove`, removes each
// in the order found and prints "removed KIND WHAT". Prints exactly "nothing left behind" when
// the finders found nothing. Returns 0, or 1 when a removal failed (reported on `err`).
int run_cleanup(const std::vector<Finder>& finders, bool remove, std::ostream& out, std::ostream& err);

// The generic finder: records in state::run_dir() whose owner is dead (see state::record_owner).
// Run it last: a step's finder may read a record to find the host resources it names.
std::vector<Leftover> stale_run_records();

// rm -r PATH, refusing (Error) when a mount point lies at or under PATH: what is mounted there
// belongs to a step's own finder, and removing through a mount would delete another tree's files.
void remove_tree(const std::string& path);

}  // namespace doctor
