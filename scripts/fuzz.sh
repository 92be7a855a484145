#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each on its
# seed corpus (fuzz/corpus/) for SECONDS (default 60). A crash fails the run and leaves the
# input in build-fuzz/fuzz/; make it a regression test, then fix it.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
missing=()
for package in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$package" 2> /dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DVHOSTD_FUZZ=ON -DVHOSTD_FUZZ_SECONDS="${1:-60}" > /dev/null
cmake --build build-fuzz --target fuzz-short --parallel "${VHOSTD_BUILD_JOBS:-$(nproc)}"
