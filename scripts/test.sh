#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole suite (unit + integration) with ctest,
# then the same suite in an ASan+UBSan build, then every fuzz target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
# The benchmarks in smoke mode (seconds): they prove the scripts work, never judge speed.
./bench/run.sh --smoke
./bench/front_cost.sh --smoke
./bench/upgrade.sh --smoke
(cd build && ctest --output-on-failure --timeout 180 "$@")
# The dashboard test drives Chromium and docker.image builds an image with podman, not
# vhostd's code paths under a sanitizer: once is enough.
./scripts/sanitize.sh address,undefined -E '^(dashboard|docker\.image)$' "$@"
./scripts/fuzz.sh "${VHOSTD_FUZZ_SECONDS:-10}"
