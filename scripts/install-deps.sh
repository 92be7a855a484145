#!/usr/bin/env bash
# Installs, on Debian 12, the packages vhostd needs to build and test that are not there yet.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev
  libtomlplusplus-dev libspdlog-dev libssl-dev libgtest-dev libbenchmark-dev
  curl openssl haproxy python3
  # tests/docker checks docker/ with these linters; no Docker engine needed
  docker-compose yamllint
)
# Debian has no Dockerfile linter: this one comes from npm, installed globally, pinned.
npm_packages=(dockerfile-utils@0.16.3)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Node.js for the Node SDK's tests: the machine's own when it has one (these machines come
# with Node 20, which the tests pin); Debian's otherwise.
command -v node > /dev/null || missing+=(nodejs)
command -v npm > /dev/null || missing+=(npm)
missing_npm=()
for package in "${npm_packages[@]}"; do
  command -v "${package%@*}" > /dev/null || missing_npm+=("$package")
done
[ ${#missing[@]} -eq 0 ] && [ ${#missing_npm[@]} -eq 0 ] && exit 0

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
