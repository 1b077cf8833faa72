#!/usr/bin/env bash
# demo: install what is missing, build, then run ticketsyncd end to end against the
# MongoDB test server, the fake ExtraHop API and a fake Jira (ExtraHop's documented
# example, then ticket creation's whole loop).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" "$ROOT/build"
exec "$ROOT/build/bin/ticketsync-demo" "$ROOT" "$ROOT/build/bin"
