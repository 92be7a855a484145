#!/usr/bin/env bash
# Installs a build into DIR as if DIR were /: prefix /usr/local (or $PREFIX), binaries
# stripped. The Docker image copies what this stages, and tests/install checks it: one
# command for both.
#   [BUILD_DIR=build] [PREFIX=/usr/local] scripts/stage.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: [BUILD_DIR=build] [PREFIX=/usr/local] scripts/stage.sh DIR" >&2; exit 2; }
destination="$(realpath -m "$1")"
cd "$(dirname "$0")/.."
DESTDIR="$destination" cmake --install "${BUILD_DIR:-build}" --prefix "${PREFIX:-/usr/local}" --strip
