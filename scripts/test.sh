#!/bin/sh
# The second README command: the whole test suite. Sets up first when needed (a fresh clone in
# CI has nothing built), then runs ctest, which ends with its summary.
# Extra arguments go to ctest, e.g. scripts/test.sh -L step02
set -eu
cd "$(dirname "$0")/.."
MINIBOX_QUIET=1 MINIBOX_WERROR="${MINIBOX_WERROR:-ON}" scripts/setup.sh
cd build
exec ctest --output-on-failure --timeout 600 "$@"
