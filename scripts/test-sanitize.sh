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
# Part of the whole suite: scripts/test.sh runs it after the plain job (and so does CI).
# Measured on the 2-core VM: about 10-20 minutes of building (117 objects, depending on load)
# and about 5 minutes of tests.
set -eu
cd "$(dirname "$0")/.."
# clang and its sanitizer runtime come from scripts/setup.sh's optional packages. Where the
# distribution lacks them the job is skipped with a message, as a privileged test skips
# without root; with CI=true a skip fails instead.
probe=$(mktemp -d)
echo 'int main(){return 0;}' > "$probe/p.cpp"
usable=yes
command -v clang++ >/dev/null 2>&1 &&
    clang++ -fsanitize=address,undefined,fuzzer-no-link "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1 || usable=
rm -rf "$probe"
if [ -z "$usable" ]; then
    echo "test-sanitize: SKIPPED: clang++ with its sanitizer runtime is missing (scripts/setup.sh installs clang and libclang-rt-14-dev where the distribution has them)" >&2
    [ "${CI:-}" = true ] && exit 1
    exit 0
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
# Reports are not sent to files (log_path): in that mode a clone child can hang on the report
# file's lock.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Also left out: the chapters (label docs: 08 and 09 need the Docker half; the plain job runs
# them all) and the cgroup v2 VM (a kernel boot under emulation, the plain job's).
# And RunsUnderA512KiBMemoryLimit: the runtime's child is charged to the container's memory
# cgroup from its cgroup join to its exec; under ASan the pages it touches meanwhile (its copies
# of the tool's stack, with redzones, and their shadow) need 1-2 MiB, so at 512 KiB the OOM
# killer ends it (137; measured: passes at 2 MiB). The plain job runs it.
exec ctest --output-on-failure --timeout 600 -LE 'bench|clients|docs' \
    -E 'step05_vm_cgroup_v2|RunsUnderA512KiBMemoryLimit' "$@"
