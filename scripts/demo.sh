#!/usr/bin/env bash
# Installs what is missing, builds, and runs vhostd on 127.0.0.1:8080 with two demo sites.
#   curl -H 'Host: blog.example' 127.0.0.1:8080
#   curl -H 'Host: shop.example' 127.0.0.1:8080
# Ctrl-C stops it (and its workers).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
exec build/bin/vhostd -c examples/demo.toml "$@"
