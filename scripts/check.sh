#!/usr/bin/env bash
# The edit-build-test loop: builds into build/ and runs the unit and integration tests with
# ctest. Installs nothing (run ./scripts/test.sh or ./scripts/install-deps.sh once first),
# builds no sanitizer variant, fuzzes nothing, and leaves out the Docker image build
# (docker.image, ~15 minutes). Arguments go to ctest: ./scripts/check.sh -R conf
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh --no-install
cd build
exec ctest --output-on-failure --timeout 180 -E '^docker\.image$' "$@"
