#!/usr/bin/env bash
# demo: install what is missing, build, then run ticketsyncd end to end against the
# MongoDB test server and the fake ExtraHop API (ExtraHop's documented example).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" "$ROOT/build"
exec "$ROOT/build/bin/ticketsync-demo" "$ROOT" "$ROOT/build/bin"
