#!/usr/bin/env bash
# Configures (once) and builds everything into build/; binaries land in build/bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
"./scripts/install-deps.sh"
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Two cores on the reference machine; compiling Asio/Beast needs ~1 GiB per job.
cmake --build build --parallel "${VHOSTD_BUILD_JOBS:-$(nproc)}"
