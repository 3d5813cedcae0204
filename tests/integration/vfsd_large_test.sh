#!/bin/bash
# Big files and big directories through a real vfsd mount on both servers (under with-servers.sh).
# On RGW: a 1 GiB file written through the mount and a 1 GiB object put by boto3, SHA-256 equal
# on both paths and after a remount; a 4 KiB patch into the 1 GiB object uploads at most one
# part's bytes, the rest by UploadPartCopy (from vfsd's own totals); a directory of 5,055
# entries listed, stat'ed and re-listed after the metadata TTL. On s3rver the same with a
# 64 MiB file (the patch by the fallback without UploadPartCopy) and 1,005 entries.
#   vfsd_large_test.sh VFSD_BINARY
set -u
VFSD=${1:?usage: vfsd_large_test.sh VFSD_BINARY}
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-large.XXXXXX")
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
GiB=$((1 << 30)) part=$((8 << 20))
# Deterministic incompressible bytes, much faster than /dev/urandom: AES-CTR of zeros.
generate() { openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:$1" < /dev/zero 2>/dev/null | head -c "$2"; }
timed() { local t=$SECONDS; "$@"; local s=$?; echo "# ${*:1:3}...: $((SECONDS - t)) s" >&2; return $s; }

# RGW gets the full sizes. s3rver stores every object as a file and lists by walking its
# directory (each lookup's LIST is O(entries) there), so it gets a 64 MiB file and 1,005
# entries (still more than one 1,000-key page): the same paths in a fraction of the time.
src=$work/src boto=$work/boto
head -c 4096 /dev/urandom > "$work/patch"
patch_at=$((30 * (1 << 20) + 12345)) # inside part 4
patched() { { head -c "$patch_at" "$1"; cat "$work/patch"; tail -c +$((patch_at + 4096 + 1)) "$1"; }; }

for server in rgw s3rver; do
  use_server "$server"
  case $server in
    rgw) size=$GiB files=4900 ;;
    s3rver) size=$((64 << 20)) files=850 ;;
  esac
  nparts=$((size / part)) mib=$((size >> 20)) entries=$((files + 50 + 105))
  src_sha=$(generate "vfs-large-$server" "$size" | tee "$src" | sha256sum | cut -d' ' -f1)
  patched_sha=$(patched "$src" | sha256sum | cut -d' ' -f1)
  dir=$work/$server mnt=$work/$server/mnt bucket=large-$server log=$work/$server/vfsd.log
  mkdir -p "$mnt"
  s3 mb "$bucket" >/dev/null
  # The whole 1 GiB stays in memory until close (no write-back under pressure yet).
  vfsd_conf "$dir/conf" "$bucket" "$mnt" memory_limit=1280M part_size=8M

  # (a) The big file both ways (1 GiB on RGW).
  check "$server: mounted" vfsd_start "$dir/conf" "$mnt" "$log"
  check "$server: $mib MiB written through the mount (dd bs=1M, close uploads)" \
    timed dd if="$src" of="$mnt/big" bs=1M status=none
  check "$server: ...boto3 reads the same SHA-256" test "$(timed s3 sha256 "$bucket" big)" = "$src_sha"
  check "$server: stop: exit 0" vfsd_stop
  check "$server: ...totals: $mib MiB uploaded as $nparts parts, nothing left at stop" \
    test "$(vfsd_total "$log" 'bytes uploaded')/$(vfsd_total "$log" parts)" = "$size/$nparts"
  if [ "$server" = rgw ]; then
    check "rgw: ...multipart ETag with 128 parts" grep -q -- '-128$' <<<"$(etag "$bucket" big)"
    boto_sha=$(generate vfs-boto "$GiB" | tee "$boto" | sha256sum | cut -d' ' -f1)
    check "rgw: boto3 puts a 1 GiB object (16 MiB parts)" timed s3 put "$bucket" from-boto "$boto"
    rm -f "$boto"
  fi
  check "$server: remounted" vfsd_start "$dir/conf" "$mnt" "$log"
  check "$server: after a remount, the $mib MiB file reads back with its SHA-256" \
    test "$(timed sha "$mnt/big")" = "$src_sha"
  if [ "$server" = rgw ]; then
    check "rgw: boto3's 1 GiB object reads through the mount with its SHA-256" \
      test "$(timed sha "$mnt/from-boto")" = "$boto_sha"
  fi
  check "$server: stop: exit 0" vfsd_stop

  # (c) A 4 KiB patch into the big object, in a session of its own so that the totals are its.
  : > "$log.patch"
  check "$server: mounted for the patch" vfsd_start "$dir/conf" "$mnt" "$log.patch"
  check "$server: 4 KiB patch (dd conv=notrunc) at $patch_at" \
    timed dd if="$work/patch" of="$mnt/big" bs=4096 seek="$patch_at" oflag=seek_bytes conv=notrunc status=none
  check "$server: stop: exit 0" vfsd_stop
  uploaded=$(vfsd_total "$log.patch" 'bytes uploaded') copied=$(vfsd_total "$log.patch" 'bytes copied server-side')
  copies=$(vfsd_total "$log.patch" 'part copies') parts=$(vfsd_total "$log.patch" parts)
  echo "# $server patch: $uploaded bytes uploaded in $parts parts, $copies part copies ($copied bytes)"
  if [ "$server" = rgw ]; then
    check "rgw: ...at most one part's bytes uploaded (<= $part)" test "${uploaded:-x}" -le "$part"
    # Untouched ranges go as few large copies: before the patched part, and after it.
    check "rgw: ...one part sent, the rest in 2 server-side copies" test "$parts/$copies" = 1/2
    check "rgw: ...the rest, 1 GiB - 8 MiB, by UploadPartCopy" test "$copied" = $((GiB - part))
    check "rgw: ...3 parts now (copy, patched part, copy)" grep -q -- '-3$' <<<"$(etag "$bucket" big)"
  else
    # Part copies count requests: the few in flight when the refusal was learnt.
    check "s3rver: ...no UploadPartCopy there: the fallback sent all $nparts parts as bytes" \
      test "$parts/$copied/$uploaded" = "$nparts/0/$size"
  fi
  check "$server: ...the object in S3 equals a locally patched copy (SHA-256)" \
    test "$(timed s3 sha256 "$bucket" big)" = "$patched_sha"
  patched "$src" | tail -c +$((patch_at - 999)) | head -c 10000 > "$dir/around-patch"

  # (b) A directory of 5,055 entries on RGW: 4,900 objects and 50 implied directories from
  # boto3 (in parallel), 100 files and 5 directories through the mount.
  seq -f 'many/f-%05g' 1 "$files" > "$dir/boto-keys"
  seq -f 'many/sub-%02g/inner' 1 50 >> "$dir/boto-keys"
  check "$server: boto3 puts $((files + 50)) objects" \
    timed python3 "$HERE/integration/bulk_objects.py" put "$bucket" < "$dir/boto-keys"
  check "$server: mounted" vfsd_start "$dir/conf" "$mnt" "$log"
  check "$server: after a remount, the patched bytes read back through the mount" \
    cmp -s "$dir/around-patch" <(tail -c +$((patch_at - 999)) "$mnt/big" | head -c 10000)
  made=0
  for i in $(seq 1 100); do printf 'many/m-%03d' "$i" > "$mnt/many/m-$(printf %03d "$i")" && made=$((made + 1)); done
  for i in 1 2 3 4 5; do mkdir "$mnt/many/dir-$i" && made=$((made + 1)); done
  check "$server: 100 files and 5 directories made through the mount" test "$made" = 105
  {
    seq -f 'f-%05g f 12' 1 "$files"
    seq -f 'sub-%02g d' 1 50
    seq -f 'm-%03g f 10' 1 100
    seq -f 'dir-%g d' 1 5
  } | sort > "$dir/expect"
  cut -d' ' -f1 "$dir/expect" > "$dir/expect-names"
  check "$server: ls | wc -l = $entries" test "$(ls "$mnt/many" | wc -l)" = "$entries"
  check "$server: ls: names exact" cmp -s "$dir/expect-names" <(ls "$mnt/many" | LC_ALL=C sort)
  check "$server: find -type f | wc -l = $((entries - 5))" test "$(find "$mnt/many" -type f | wc -l)" = $((entries - 5))
  # Stat of every entry: type and size (directories: no size).
  check "$server: stat of all $entries entries: names, types, sizes" cmp -s "$dir/expect" \
    <(timed find "$mnt/many" -mindepth 1 -maxdepth 1 -printf '%P %y %s\n' | sed 's/ d [0-9]*$/ d/' | LC_ALL=C sort)
  # Other clients' changes show after the TTL (default 1 s): 20 new keys, 20 deleted.
  seq -f 'many/g-%05g' 1 20 | python3 "$HERE/integration/bulk_objects.py" put "$bucket"
  seq -f 'many/f-%05g' 1 20 | python3 "$HERE/integration/bulk_objects.py" delete "$bucket"
  sleep 1.5
  { grep -v '^f-000[01][0-9]$\|^f-00020$' "$dir/expect-names"; seq -f 'g-%05g' 1 20; } | LC_ALL=C sort > "$dir/expect-names2"
  check "$server: readdir after the TTL: 20 added and 20 deleted by boto3 show, names exact" \
    cmp -s "$dir/expect-names2" <(ls "$mnt/many" | LC_ALL=C sort)
  check "$server: ...a deleted one is gone for stat too" bash -c "! stat '$mnt/many/f-00001' 2>/dev/null"
  check "$server: ...a new one reads its bytes" test "$(cat "$mnt/many/g-00007")" = many/g-00007
  check "$server: stop: exit 0" vfsd_stop
  check "$server: boto3 lists the 100 files made through the mount" \
    test "$(s3 ls "$bucket" many/m- | wc -l)" = 100
done

summary
