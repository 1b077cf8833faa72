#!/usr/bin/env bash
# test: the whole suite.
#  1. build/ with warnings as errors (the binaries the demo and benchmark use);
#  2. the daemon's end-to-end tests with ticketsyncd under valgrind memcheck (build/):
#     any leak or memory error makes the daemon exit 99, which the tests check;
#  3. every libFuzzer target for a short fixed budget (scripts/fuzz.sh 10);
#  4. build-san/ with ASan+UBSan, and every test (unit and integration) through ctest.
# Integration tests start their own servers, or use TICKETSYNC_TEST_MONGODB_URI.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# libmongoc maps its performance counters into /dev/shm when it loads, before any
# program can route its logs; with many test processes at once that can fail and it
# prints a warning on stderr, which tests that check stderr would count. The counters
# serve no test.
export MONGOC_DISABLE_SHM=1
"$ROOT/scripts/bootstrap.sh" "$ROOT/build" -DTICKETSYNC_WERROR=ON
"$ROOT/scripts/bootstrap.sh" "$ROOT/build-san" -DTICKETSYNC_WERROR=ON -DTICKETSYNC_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug

echo "== ticketsyncd under valgrind memcheck (end-to-end tests)"
(cd "$ROOT/build" && TICKETSYNC_TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --num-callers=30" \
  ctest --output-on-failure -R '^integration\.test_daemon$')

echo "== fuzzing: every parser for 10 s from the committed seeds"
"$ROOT/scripts/fuzz.sh" 10

echo "== the whole suite under ASan + UBSan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$ROOT/build-san"
ctest --output-on-failure -j2 "$@"
