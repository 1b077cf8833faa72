#!/usr/bin/env bash
# bench: the benchmark of README "Performance". Installs what is missing and builds in
# Release (build-release/), then runs ticketsync-bench: the documented requests.patch
# script (baseline), ticketsyncd, and the fake ExtraHop API's own ceiling, on this
# machine, against the MongoDB test server and the fake ExtraHop API over HTTPS.
#
# usage: scripts/bench.sh [--sizes 1000,10000] [--big] [--latency-ms 2] [...]
#   --big adds N=100,000; every other option is ticketsync-bench's (--help lists them).
# The table goes to stdout (and to build-release/bench-results.md); progress to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-release
# As in scripts/test.sh: libmongoc's shared-memory counters serve no benchmark, and
# mapping them can fail and print a warning into the progress output.
export MONGOC_DISABLE_SHM=1
"$ROOT/scripts/bootstrap.sh" "$BUILD" -DCMAKE_BUILD_TYPE=Release
exec "$BUILD/bin/ticketsync-bench" --markdown "$BUILD/bench-results.md" "$@"
