#!/bin/bash
# The randomized model test (model_test.py) on a real vfsd mount on RGW (under with-servers.sh):
# 10,000 operations on one file mirrored on a local file, with 5 MiB chunks and parts so that
# writes and truncates cross chunk and part boundaries and fsync/close take the multipart paths.
#   vfsd_model_test.sh VFSD_BINARY        (VFS_MODEL_SEED=N replays a run, VFS_MODEL_OPS=N)
set -u
VFSD=${1:?usage: vfsd_model_test.sh VFSD_BINARY}
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-model.XXXXXX")
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=vfsd_lib.sh
. "$(dirname "$0")/vfsd_lib.sh"
cleanup() {
  unmount_all "$work"
  rm -rf "$work"
}
trap cleanup EXIT

use_server rgw
mkdir -p "$work/mnt"
s3 mb model >/dev/null
# A long metadata TTL: only this mount changes the file, and stat need not ask S3 each second.
vfsd_conf "$work/conf" model "$work/mnt" part_size=5M chunk_size=5M memory_limit=256M metadata_ttl_ms=60000
check "10,000 random operations match the local mirror after every step" \
  python3 "$HERE/integration/model_test.py" --mount "$work/mnt" --mirror "$work/mirror" \
  --vfsd "exec '$VFSD' --config '$work/conf'" --log "$work/vfsd.log" --bucket model \
  --ops "${VFS_MODEL_OPS:-10000}" --boundary $((5 << 20)) --max-size $((12 << 20))
check "every stop uploaded everything (no failed uploads)" \
  test "$(grep -c 'session totals:' "$work/vfsd.log")" -gt 0 -a "$(grep 'session totals:' "$work/vfsd.log" | grep -vc ' 0 failed uploads')" = 0
echo "# $(grep 'session totals:' "$work/vfsd.log" | tail -1)"
check "the object in S3 is the mirror" test "$(s3 sha256 model model.bin)" = "$(sha "$work/mirror")"
summary
