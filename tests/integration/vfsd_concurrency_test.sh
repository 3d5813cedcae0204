#!/bin/bash
# Several processes at once on a real vfsd mount on RGW (under with-servers.sh), via
# concurrency_test.py: own files and disjoint regions of one shared file written with fsync
# and close/reopen from every process, readers checking the shared file during the writes;
# then everything checked through the mount and with boto3. No deadlock (bounded waits).
# With an ASan+UBSan vfsd (scripts/test.sh SANITIZE=1) any sanitizer report fails the test.
#   vfsd_concurrency_test.sh VFSD_BINARY
set -u
VFSD=${1:?usage: vfsd_concurrency_test.sh VFSD_BINARY}
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-concurrency.XXXXXX")
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=vfsd_lib.sh
. "$(dirname "$0")/vfsd_lib.sh"
cleanup() {
  [ -n "$vfsd_pid" ] && kill -KILL "$vfsd_pid" 2>/dev/null
  unmount_all "$work"
  rm -rf "$work"
}
trap cleanup EXIT

use_server rgw
mnt=$work/mnt log=$work/vfsd.log
mkdir -p "$mnt"
s3 mb concurrency >/dev/null
# 5 MiB parts: the shared file (24 MiB) and the own files (8 MiB) are multipart uploads.
vfsd_conf "$work/conf" concurrency "$mnt" part_size=5M chunk_size=5M
check "mounted" vfsd_start "$work/conf" "$mnt" "$log"
check "4 writers and 2 readers: no corruption, no deadlock, everything reads back" \
  timeout 300 python3 "$HERE/integration/concurrency_test.py" --mount "$mnt" --expect "$work/expect"
check "stop: exit 0 (every byte uploaded; a sanitizer abort or leak would fail this)" vfsd_stop
check "no sanitizer report in vfsd's log" no_sanitizer_report "$log"
for f in shared.bin own-0.bin own-1.bin own-2.bin own-3.bin; do
  check "boto3 reads $f as the writers left it" test "$(s3 sha256 concurrency "$f")" = "$(sha "$work/expect/$f")"
done
grep -E 'Sanitizer|runtime error' "$log" | head -20 | sed 's/^/# /'
summary
