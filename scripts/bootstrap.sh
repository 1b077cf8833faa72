#!/usr/bin/env bash
# bootstrap: install what is missing (Debian packages, the test server's npm packages
# from the committed lockfile), then configure and build. Re-running when nothing
# changed installs nothing and only lets the build tool confirm it is up to date.
#
# usage: scripts/bootstrap.sh [BUILD_DIR [extra cmake -D options...]]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${1:-$ROOT/build}
shift || true

APT_PACKAGES=(
  build-essential cmake pkg-config ca-certificates openssl
  libmongoc-dev libbson-dev libcurl4-openssl-dev libssl-dev
  libevent-dev libinih-dev libcmocka-dev libcsv-dev libsystemd-dev
  python3 python3-requests valgrind clang libclang-rt-14-dev python3-yaml systemd prometheus
  dpkg-dev lintian
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
# Node.js: any packaged node (Debian's 18 or a newer one already present) will do.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The MongoDB test server's packages, exactly as the lockfile pins them.
NODE_DIR=$ROOT/tests/mongo-test-server
if [ -f "$NODE_DIR/package-lock.json" ]; then
  stamp=$NODE_DIR/node_modules/.ticketsync-lock
  if [ ! -f "$stamp" ] || ! cmp -s "$NODE_DIR/package-lock.json" "$stamp"; then
    echo "bootstrap: npm ci in tests/mongo-test-server"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$NODE_DIR/package-lock.json" "$stamp"
  fi
fi

# A cache without a Makefile is a configure that failed (a package was missing): redo it.
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] || [ ! -f "$BUILD_DIR/Makefile" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" "$@" >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" -- --no-print-directory | grep -v -E '^\[ *[0-9]+%\] (Built target|Building|Linking)' || true
# grep above only trims noise; the build's own status decides.
cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
