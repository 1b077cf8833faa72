#!/usr/bin/env bash
# test: the whole suite. Builds with warnings as errors, then builds again with
# ASan+UBSan and runs every test (unit and integration) there through ctest.
# Integration tests start their own servers, or use TICKETSYNC_TEST_MONGODB_URI.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" "$ROOT/build" -DTICKETSYNC_WERROR=ON
"$ROOT/scripts/bootstrap.sh" "$ROOT/build-san" -DTICKETSYNC_WERROR=ON -DTICKETSYNC_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$ROOT/build-san"
ctest --output-on-failure -j2 "$@"
