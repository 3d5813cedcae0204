#!/bin/bash
# The benchmark's smoke run: scripts/bench.sh --quick must produce its tables with a figure in every row.
#   bench_smoke_test.sh VFSD VFS_NULLFS FS_IO
# Nothing here looks at how fast anything was: only that every workload ran and was measured.
set -u
[ $# -eq 3 ] || { echo "usage: bench_smoke_test.sh VFSD VFS_NULLFS FS_IO" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-bench-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
report=$work/report.md

VFSD=$1 VFS_NULLFS=$2 FS_IO=$3 bash "$ROOT/scripts/bench.sh" --quick --out "$report" >"$work/stdout" 2>"$work/stderr"
status=$?
check "bench.sh --quick exits 0" test "$status" = 0
[ "$status" = 0 ] || sed 's/^/    /' "$work/stderr"
check "the report was written and printed" bash -c "test -s '$report' && cmp -s '$report' '$work/stdout'"
check "the report names the machine" grep -q "^Command: .*Machine: [0-9]* cores, .*Linux " "$report"

# cell SERVER ROW COLUMN: one cell of a server's table (columns: 1 #, 2 workload, 3 vfsd,
# 4 null, 5 curl, 6 s3fs, 7 rclone, 8 ratio, 9 target, 10 verdict), blanks trimmed.
cell() {
  awk -F'|' -v s="### $1" -v id="$2" -v c=$(($3 + 1)) '
    /^### / { in_s = ($0 == s) }
    in_s { r = $2; gsub(/ /, "", r); if (r == id) { v = $c; gsub(/^ +| +$/, "", v); print v } }' "$report"
}
number() { [[ $(cell "$1" "$2" "$3") =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
judged() { [[ $(cell "$1" "$2" 8) =~ ^[0-9.]+× ]] && [[ $(cell "$1" "$2" 10) =~ ^(met|missed) ]]; }

for server in rgw s3rver; do
  check "$server: a table" grep -qx "### $server" "$report"
  for row in 1 2 3 4 5 5b 6 7a 7b 8a 8b; do
    check "$server: workload $row has a vfsd figure" number "$server" "$row" 3
  done
  # The figure each target is a ratio of, and the ratio itself.
  for rc in 1:4 2:4 3:5 4:5 6:6 7a:6 7b:6; do
    check "$server: workload ${rc%:*} has its reference's figure" number "$server" "${rc%:*}" "${rc#*:}"
    check "$server: workload ${rc%:*} has a ratio and a verdict" judged "$server" "${rc%:*}"
  done
  # The peers ran too (their figures feed no target but are the point of the table).
  for row in 1 2 3 4 6 7a 7b; do
    check "$server: workload $row has an s3fs figure" number "$server" "$row" 6
    check "$server: workload $row has an rclone figure" number "$server" "$row" 7
  done
done
check "nothing was left mounted" bash -c "! grep -q ' /tmp/vfs-bench\.' /proc/mounts"
summary
