#!/bin/bash
# The main job. Today: builds vfs and runs the block-pool benchmark of the seed's
# write scenario. The mount of a local throwaway S3 bucket replaces this once vfsd
# can mount (issue 4).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
./build/src/daemon/vfsd --version
exec ./build/tests/bench/pool_bench "$@"
