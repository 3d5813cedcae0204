#!/bin/bash
# Builds vfs and runs every test suite (unit and integration); prints "N passed, N failed".
#   scripts/test.sh                 all suites in ./build
#   BUILD_DIR=x SANITIZE=1 ...      an ASan+UBSan build in x: the unit suite, and the 'sanitize'
#                                   suite (vfsd_concurrency: the instrumented vfsd on a real mount)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build}
SETUP_ARGS=()
[ "${CI:-}" = true ] && SETUP_ARGS+=(-Dwerror=true)
SUITES=()
if [ "${SANITIZE:-0}" = 1 ]; then
  SETUP_ARGS+=(-Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=disabled)
  SUITES=(--suite unit --suite sanitize)
  export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fi

if [ -f "$BUILD_DIR/build.ninja" ]; then
  meson configure "$BUILD_DIR" "${SETUP_ARGS[@]}" >/dev/null
else
  meson setup "$BUILD_DIR" "${SETUP_ARGS[@]}"
fi
ninja -C "$BUILD_DIR"

status=0
meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 "${SUITES[@]}" || status=$?
python3 scripts/test-summary.py "$BUILD_DIR/meson-logs/testlog.junit.xml" || status=1
exit $status
