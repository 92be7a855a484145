#!/usr/bin/env bash
# Installs, on Debian 12, the packages vhostd needs that are not there yet.
#   scripts/install-deps.sh          everything the build and the tests need (scripts/test.sh)
#   scripts/install-deps.sh build    only what building the shipped programs needs: the
#                                    compiler, CMake, Ninja and the libraries' -dev packages
#                                    (the Docker image's build stage)
#   scripts/install-deps.sh demo     the build's packages plus openssl, for the demo's
#                                    certificates (scripts/demo.sh)
set -euo pipefail

case "$*" in
  "") mode=test ;;
  build) mode=build ;;
  demo) mode=demo ;;
  *) echo "usage: scripts/install-deps.sh [build|demo]" >&2; exit 2 ;;
esac

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev
  libtomlplusplus-dev libspdlog-dev libssl-dev
)
npm_packages=()
[ "$mode" = demo ] && packages+=(openssl)
if [ "$mode" = test ]; then
  packages+=(
    libgtest-dev libbenchmark-dev
    curl openssl haproxy python3
    # tests/docker checks docker/ with these linters; no Docker engine needed
    docker-compose yamllint
    # tests/docker builds the image and runs it (image_test.py): podman builds, buildah
    # runs, debootstrap makes the debian:12 base when no registry is reachable
    podman buildah debootstrap
    # the ACME client's tests run against Debian's test CA
    pebble
  )
  # Debian has no Dockerfile linter: this one comes from npm, installed globally, pinned.
  npm_packages=(dockerfile-utils@0.16.3)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
missing_npm=()
if [ "$mode" = test ]; then
  # Node.js for the Node SDK's tests: the machine's own when it has one (these machines come
  # with Node 20, which the tests pin); Debian's otherwise.
  command -v node > /dev/null || missing+=(nodejs)
  command -v npm > /dev/null || missing+=(npm)
  for package in "${npm_packages[@]}"; do
    command -v "${package%@*}" > /dev/null || missing_npm+=("$package")
  done
fi
# Test dependencies of the project's own folders, pinned by each one's package-lock.json
# (tests/affinity: socket.io and its client). Installed again when the lock file is newer
# than the install.
npm_folders=()
if [ "$mode" = test ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  for folder in tests/affinity; do
    [ "$root/$folder/node_modules/.package-lock.json" -nt "$root/$folder/package-lock.json" ] || npm_folders+=("$root/$folder")
  done
fi
[ ${#missing[@]} -eq 0 ] && [ ${#missing_npm[@]} -eq 0 ] && [ ${#npm_folders[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ${#missing_npm[@]} -gt 0 ]; then
  echo "installing from npm: ${missing_npm[*]}"
  $sudo npm install --global --no-fund --no-audit "${missing_npm[@]}"
fi
for folder in "${npm_folders[@]}"; do
  echo "installing from npm into $folder (its package-lock.json)"
  (cd "$folder" && npm ci --no-fund --no-audit --loglevel=error)
done
