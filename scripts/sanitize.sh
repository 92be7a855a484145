#!/usr/bin/env bash
# Builds everything with sanitizers in a build directory of its own and runs the tests there.
#   scripts/sanitize.sh address,undefined   # build-asan/ (CI runs this one)
#   scripts/sanitize.sh thread              # build-tsan/
# Extra arguments go to ctest (-R, -E, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=${1:-address,undefined}
shift || true
case $sanitizers in
  thread) dir=build-tsan ;;
  *) dir=build-asan ;;
esac
./scripts/install-deps.sh
# -O1 -g, as the sanitizers' documentation advises: reports keep their lines, and CI's
# longest build compiles with less optimisation work than at -O2.
[ -f "$dir/build.ninja" ] || cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" -DVHOSTD_SANITIZE="$sanitizers"
cmake --build "$dir" --parallel "${VHOSTD_BUILD_JOBS:-$(nproc)}"
# Any report fails the test it happens in (vhostd's own reports go to its log, which the
# integration tests print when they fail); halt_on_error keeps a report from scrolling away.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}
cd "$dir"
ctest --output-on-failure --timeout 300 "$@"
