#!/usr/bin/env bash
# Configures (once) and builds everything into build/; binaries land in build/bin/.
# Installs what is missing first, unless called with --no-install (scripts/check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = --no-install ] || ./scripts/install-deps.sh
# The demo may have configured build/ its way (scripts/demo.sh: Quick, without the tests).
if [ ! -f build/build.ninja ] || grep -q -e '^BUILD_TESTING:BOOL=OFF' -e '^CMAKE_BUILD_TYPE:STRING=Quick' build/CMakeCache.txt; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON
fi
# Two cores on the reference machine; compiling Asio/Beast needs ~1 GiB per job.
cmake --build build --parallel "${VHOSTD_BUILD_JOBS:-$(nproc)}"
