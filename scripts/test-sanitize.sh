#!/bin/sh
# The sanitizer job of CI (issue 13): the suite built again with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (-DMINIBOX_FUZZ=ON implies both, and adds libFuzzer's targets), in
# build-sanitize/, then run: any heap overflow, use after free, leak or undefined behaviour in our
# code fails the test that hit it. `ctest -L fuzz` there runs each fuzz target from its corpus.
#
# Run it after scripts/setup.sh (or scripts/test.sh), as root:  sudo scripts/test-sanitize.sh
# Extra arguments go to ctest, e.g. scripts/test-sanitize.sh -L step03
#
# Left out: the benchmark smoke (times under ASan mean nothing), the tests whose subject is
# someone else's program (label clients: podman, ctr and dockerd driving the runtime), the
# chapters and the cgroup v2 VM. The plain job runs them; here the time goes to our code.
#
# NOT YET IN CI (.ci/run). Measured here (2 cores): the build of 117 objects about 20 min under
# load, the run 266 s: 420 of 423 tests pass and no sanitizer reported anything. The three that
# fail (step02 ExplainLinesComeInLaunchOrder, two of the shim's) see ASan's benign warning about
# the launcher's clone stack in output that does not go through tests/support's run() (a
# container's stderr in the shim's log). Until the launcher's child stops running on a stack of
# its own under ASan, or those paths filter it too, this job is run by hand.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null 2>&1; then
    echo "test-sanitize: clang++ is missing (scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
fi
[ -x build/bin/nsinfo ] || MINIBOX_QUIET=1 scripts/setup.sh  # the packages and the default image

echo "test-sanitize: building into build-sanitize/ (clang, -fsanitize=address,undefined)"
# Without -Werror: clang warns where gcc (the plain job, which has -Werror) does not, e.g. on
# the kernel's NLMSG_OK macro; this job's subject is what the sanitizers find at run time.
# Without the Docker half (MINIBOX_DOCKER_HALF=OFF: the image, docker, builder and engine
# modules, whose libcurl and Boost.Beast make most of the compile time): within CI's 45 minutes
# there is room for the runtime, the shim, steps 01-06 and the fuzz targets, not for all.
CC=clang CXX=clang++ cmake -S . -B build-sanitize -DMINIBOX_FUZZ=ON -DMINIBOX_FUZZ_SECONDS=10 \
    -DMINIBOX_DOCKER_HALF=OFF -DMINIBOX_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-sanitize -j "$(nproc)" >/dev/null

cd build-sanitize
# abort_on_error / halt_on_error: a report is a crash, which fails the test that hit it (with
# the report in its output); detect_leaks: LeakSanitizer at exit (a leak fails with exit 23).
# Our processes that become a container exec or _exit(2), which skip the leak check by design.
# ASan's one benign warning on the launcher's clone stack is taken out of the captured stderr
# by tests/support (without_asan_stack_warning). Reports are not sent to files (log_path): in
# that mode a clone child can hang on the report file's lock.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Also left out: the chapters (label docs: 08 and 09 need the Docker half; the plain job runs
# them all) and the cgroup v2 VM (a kernel boot under emulation, the plain job's).
exec ctest --output-on-failure --timeout 600 -LE 'bench|clients|docs' -E 'step05_vm_cgroup_v2' "$@"
