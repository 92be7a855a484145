#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole suite (unit + integration) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 180 "$@"
