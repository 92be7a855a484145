#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole suite (unit + integration) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
# The benchmarks in smoke mode (seconds): they prove the scripts work, never judge speed.
./bench/run.sh --smoke
./bench/front_cost.sh --smoke
cd build
ctest --output-on-failure --timeout 180 "$@"
