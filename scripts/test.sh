#!/bin/sh
# The second README command: the whole test suite. Sets up first when needed (a fresh clone in
# CI has nothing built), runs ctest (it ends with its summary), then the sanitizer job
# (scripts/test-sanitize.sh: the suite rebuilt with AddressSanitizer and UndefinedBehaviorSanitizer).
# Extra arguments go to ctest, e.g. scripts/test.sh -L step02; with them the sanitizer job is
# left out (it is part of the whole suite only). MINIBOX_SANITIZE=0 leaves it out too.
set -eu
cd "$(dirname "$0")/.."
MINIBOX_QUIET=1 MINIBOX_WERROR="${MINIBOX_WERROR:-ON}" scripts/setup.sh
status=0
(cd build && ctest --output-on-failure --timeout 600 "$@") || status=$?
if [ $# -eq 0 ] && [ "${MINIBOX_SANITIZE:-1}" != 0 ]; then
    scripts/test-sanitize.sh || status=$?
fi
exit "$status"
