#!/bin/bash
# File contents through a real vfsd mount on both servers (run under with-servers.sh),
# every result checked through the mount, against a local copy, and with boto3.
#   vfsd_files_test.sh VFSD_BINARY
set -u
VFSD=${1:?usage: vfsd_files_test.sh VFSD_BINARY}
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-files.XXXXXX")
pid=""
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  for m in "$work"/*/mnt; do grep -q " $m " /proc/mounts && umount -l "$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
s3() { python3 "$HERE/servers/s3check.py" "$@"; }
sha() { sha256sum < "$1" | cut -d' ' -f1; }
same() { test "$(sha "$1")" = "$(sha "$2")"; }
in_bucket() { test "$(s3 sha256 "$bucket" "$1")" = "$(sha "$2")"; }
not_in_s3() { s3 head "$bucket" "$1" 2>&1 | grep -q 'HTTP 404'; }

start_vfsd() {
  "$VFSD" --config "$conf" "$@" 2>>"$dir/vfsd.log" &
  pid=$!
  for _ in $(seq 100); do grep -q " $mnt fuse.vfs " /proc/mounts && return 0; sleep 0.1; done
  return 1
}
stop_vfsd() { kill -TERM "$pid"; wait "$pid"; local s=$?; pid=""; return $s; }

for server in rgw s3rver; do
  case $server in
    rgw) endpoint=$RGW_ENDPOINT key=$RGW_ACCESS_KEY_ID secret=$RGW_SECRET_ACCESS_KEY ;;
    s3rver) endpoint=$S3RVER_ENDPOINT key=$S3RVER_ACCESS_KEY_ID secret=$S3RVER_SECRET_ACCESS_KEY ;;
  esac
  export S3_ENDPOINT=$endpoint AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1
  dir=$work/$server mnt=$dir/mnt bucket=files-$server conf=$dir/files.conf
  mkdir -p "$mnt"
  s3 mb "$bucket" >/dev/null
  head -c 3000001 /dev/urandom > "$dir/boto"
  s3 put "$bucket" from-boto "$dir/boto" >/dev/null
  cat > "$conf" <<CONF
bucket = $bucket
endpoint = $endpoint
path_style = true
access_key_id = $key
secret_access_key = $secret
mountpoint = $mnt
bus = none
part_size = 8M
chunk_size = 64M
CONF
  chmod 600 "$conf"
  check "$server: mounted" start_vfsd

  check "$server: reads an object boto3 wrote" cmp -s "$dir/boto" "$mnt/from-boto"
  echo hello > "$mnt/small.txt"
  check "$server: small file, visible to boto3 after close" test "$(s3 get "$bucket" small.txt /dev/stdout)" = hello
  check "$server: ...with s3fs metadata (mode 0100644)" bash -c "python3 '$HERE/servers/s3check.py' head $bucket small.txt | grep -q '\"mode\": \"33188\"'"

  # A new file is this mount's alone until its first flush (close): listed here, no object
  # yet. One process holds the descriptors (every close() of a shared one would flush).
  mkdir "$mnt/fresh"
  mkfifo "$dir/go"
  python3 - "$mnt/fresh" "$dir/go" > "$dir/writer.out" 2>&1 <<'PY' &
import os, sys
d, go = sys.argv[1:]
fd = os.open(d + "/pending.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"pending")
print("written", flush=True)
open(go).read()
os.close(fd)
# Never flushed, then unlinked or renamed while open.
fd = os.open(d + "/gone.txt", os.O_WRONLY | os.O_CREAT, 0o644)
os.unlink(d + "/gone.txt")
os.write(fd, b"lost")
os.close(fd)
fd = os.open(d + "/draft.txt", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"draft")
os.rename(d + "/draft.txt", d + "/final.txt")
os.write(fd, b" done")
os.close(fd)
print("done", flush=True)
PY
  writer=$!
  for _ in $(seq 100); do grep -q written "$dir/writer.out" && break; sleep 0.1; done
  check "$server: a file not closed yet: ls lists it" test "$(ls "$mnt/fresh")" = pending.txt
  check "$server: ...ls -l with its size" bash -c "ls -l '$mnt/fresh' | grep -q ' 7 .* pending.txt\$'"
  check "$server: ...boto3 sees no object yet" not_in_s3 fresh/pending.txt
  echo > "$dir/go"
  wait "$writer"; status=$?
  check "$server: ...closed, then an unlink and a rename while open, without an error" \
    bash -c "test $status = 0 && grep -qx done '$dir/writer.out'"
  check "$server: ...boto3 sees it after close" test "$(s3 get "$bucket" fresh/pending.txt /dev/stdout)" = pending
  check "$server: unlinked before its first flush: nothing reaches S3" not_in_s3 fresh/gone.txt
  check "$server: renamed before its first flush: the new name holds every byte written" \
    test "$(s3 get "$bucket" fresh/final.txt /dev/stdout)" = "draft done"
  check "$server: ...the old name has no object" not_in_s3 fresh/draft.txt
  check "$server: ...ls agrees" test "$(ls "$mnt/fresh" | tr '\n' ' ')" = "final.txt pending.txt "

  head -c $((40 << 20)) /dev/urandom > "$dir/big"
  check "$server: 40 MiB cp (multipart from pool memory)" cp "$dir/big" "$mnt/big"
  check "$server: ...reads back through the mount" same "$dir/big" "$mnt/big"
  check "$server: ...boto3 reads the same bytes" in_bucket big "$dir/big"

  printf 'PATCHED!' | dd of="$mnt/big" bs=1 seek=20000000 conv=notrunc status=none
  printf 'PATCHED!' | dd of="$dir/big" bs=1 seek=20000000 conv=notrunc status=none
  check "$server: 8-byte patch in the middle (part copy or its fallback)" in_bucket big "$dir/big"

  echo more >> "$mnt/small.txt"
  check "$server: append" test "$(s3 get "$bucket" small.txt /dev/stdout | tr '\n' '|')" = "hello|more|"
  truncate -s 3 "$mnt/small.txt"
  check "$server: truncate down" test "$(s3 get "$bucket" small.txt /dev/stdout)" = hel
  truncate -s 6 "$mnt/small.txt"
  printf 'hel\0\0\0' > "$dir/expect6"
  check "$server: truncate up reads zeros, not old bytes" in_bucket small.txt "$dir/expect6"
  : > "$mnt/big"
  check "$server: O_TRUNC empties the object" test "$(s3 head "$bucket" big | python3 -c 'import json,sys; print(json.load(sys.stdin)["ContentLength"])')" = 0

  head -c 1234567 /dev/urandom > "$dir/sparse"
  dd if="$dir/sparse" of="$mnt/sparse" bs=4096 status=none
  check "$server: 4 KiB writes" in_bucket sparse "$dir/sparse"
  mv "$mnt/small.txt" "$mnt/renamed.txt"
  check "$server: mv a file" bash -c "test -f '$mnt/renamed.txt' && ! test -e '$mnt/small.txt'"
  check "$server: ...the bucket agrees" in_bucket renamed.txt "$dir/expect6"
  check "$server: ...old key gone" bash -c "! python3 '$HERE/servers/s3check.py' head $bucket small.txt >/dev/null 2>&1"
  # An editor's save: write a temporary file, rename it over the original.
  printf 'saved by an editor\n' > "$mnt/.renamed.txt.swp" && mv -f "$mnt/.renamed.txt.swp" "$mnt/renamed.txt"
  check "$server: rename over an existing file" test "$(s3 get "$bucket" renamed.txt /dev/stdout)" = "saved by an editor"
  mkdir -p "$mnt/tree/sub" && echo leaf > "$mnt/tree/sub/leaf"
  check "$server: mv of a directory (EXDEV: mv copies the tree)" mv "$mnt/tree" "$mnt/moved-tree"
  check "$server: ...contents moved" test "$(cat "$mnt/moved-tree/sub/leaf")" = leaf
  check "$server: ...old tree gone from the bucket" bash -c "! python3 '$HERE/servers/s3check.py' head $bucket tree/sub/leaf >/dev/null 2>&1"
  check "$server: SIGTERM: exit 0" stop_vfsd
  check "$server: remount" start_vfsd
  check "$server: contents survive a remount" same "$dir/sparse" "$mnt/sparse"
  check "$server: SIGTERM again: exit 0" stop_vfsd

  # The read path: a 64 MiB object boto3 wrote, read sequentially (readahead, parallel GETs).
  head -c $((64 << 20)) /dev/urandom > "$dir/seq"
  s3 put "$bucket" seq "$dir/seq" >/dev/null
  # Memory pressure: a file 3x memory_limit is written by uploading along the way.
  head -c $((200 << 20)) /dev/urandom > "$dir/huge"
  check "$server: remount with memory_limit=64M" start_vfsd --set memory_limit=64M
  check "$server: 64 MiB sequential read of a boto3 object, same SHA-256" \
    test "$(dd if="$mnt/seq" bs=1M status=none | sha256sum | cut -d' ' -f1)" = "$(sha "$dir/seq")"
  check "$server: 200 MiB written through 64M of memory" dd if="$dir/huge" of="$mnt/huge" bs=1M status=none
  check "$server: ...boto3 reads the same bytes" in_bucket huge "$dir/huge"
  # Had the file been held in memory until close, vfsd's peak RSS would exceed its 200 MiB.
  hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
  check "$server: ...vfsd's peak RSS stayed under 160 MiB (was $((hwm >> 10)) MiB)" test "$hwm" -lt $((160 << 10))
  check "$server: SIGTERM after the big write: exit 0" stop_vfsd
  rm -f "$dir/huge" "$dir/seq"
done

summary
