#!/bin/bash
# vfsd on a real kernel mount against real S3 servers (run under with-servers.sh):
# configuration errors and unreachable buckets fail before anything is mounted;
# names, directories, symlinks and attributes are checked through the mount and
# through boto3 (tests/servers/s3check.py); SIGTERM unmounts and exits 0.
#   vfsd_namespace_test.sh VFSD_BINARY
set -u
VFSD=${1:?usage: vfsd_namespace_test.sh VFSD_BINARY}
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-vfsd.XXXXXX")
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
export -f s3
export HERE

for server in rgw s3rver; do
  case $server in
    rgw) endpoint=$RGW_ENDPOINT key=$RGW_ACCESS_KEY_ID secret=$RGW_SECRET_ACCESS_KEY ;;
    s3rver) endpoint=$S3RVER_ENDPOINT key=$S3RVER_ACCESS_KEY_ID secret=$S3RVER_SECRET_ACCESS_KEY ;;
  esac
  export S3_ENDPOINT=$endpoint AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1
  dir=$work/$server mnt=$work/$server/mnt
  mkdir -p "$mnt"
  bucket=vfsd-$server
  s3 mb "$bucket" >/dev/null
  printf 'hello\n' > "$dir/hello"
  s3 put "$bucket" dir/hello.txt "$dir/hello" >/dev/null
  s3 put "$bucket" deep/a/b/c.txt "$dir/hello" >/dev/null
  conf=$dir/$bucket.conf
  cat > "$conf" <<CONF
# written by vfsd_namespace_test.sh
endpoint = $endpoint
path_style = true
access_key_id = $key
secret_access_key = $secret
mountpoint = $mnt
bus = none
metadata_ttl_ms = 0
CONF
  chmod 600 "$conf"
  mounted() { grep -q " $mnt fuse.vfs " /proc/mounts; }

  # Refusals: one line, the right exit code, nothing mounted.
  out=$("$VFSD" --config "$conf" --set memory_limit=12Q 2>&1); status=$?
  check "$server: bad value: exit 2" test "$status" = 2
  check "$server: bad value: one line naming file and key" \
    test "$out" = "vfsd: $conf: memory_limit: '12Q' is not a size (use 512M, 2G, ...)"
  chmod 644 "$conf"
  out=$("$VFSD" --config "$conf" 2>&1); status=$?
  chmod 600 "$conf"
  check "$server: world-readable secret refused (exit 2)" test "$status" = 2
  check "$server: ...without echoing the secret" bash -c "! grep -qF -- '$secret' <<<'$out'"
  start=$SECONDS
  out=$("$VFSD" --config "$conf" --set endpoint=http://127.0.0.1:9 2>&1); status=$?
  check "$server: unreachable endpoint: exit 1" test "$status" = 1
  check "$server: ...within 15 s" test $((SECONDS - start)) -lt 15
  check "$server: ...with a clear message" grep -q "cannot reach bucket 'vfsd-$server'" <<<"$out"
  check "$server: nothing mounted after refusals" bash -c "! grep -q ' $mnt ' /proc/mounts"
  if [ "$server" = rgw ]; then
    out=$("$VFSD" --config "$conf" --set secret_access_key=wrong-secret-000 2>&1); status=$?
    check "rgw: wrong secret: exit 1, SignatureDoesNotMatch" \
      bash -c "test $status = 1 && grep -q SignatureDoesNotMatch <<<'$out'"
  fi

  "$VFSD" --config "$conf" 2>>"$dir/vfsd.log" &
  pid=$!
  for _ in $(seq 100); do mounted && break; sleep 0.1; done
  check "$server: mounted" mounted
  check "$server: fsname vfs:bucket" grep -q "^vfs:$bucket $mnt fuse.vfs " /proc/mounts
  check "$server: objects from boto3 listed" test "$(ls "$mnt/dir")" = hello.txt
  check "$server: implicit directories" test -d "$mnt/deep/a/b"
  check "$server: size from the object" test "$(stat -c %s "$mnt/dir/hello.txt")" = 6
  check "$server: awscli-style object gets 0644" test "$(stat -c %a "$mnt/dir/hello.txt")" = 644
  check "$server: mkdir" mkdir "$mnt/made"
  check "$server: ...writes an s3fs marker (mode 040755)" bash -c "s3 head $bucket made/ | grep -q '\"mode\": \"16877\"'"
  check "$server: chmod on a directory" chmod 700 "$mnt/made"
  check "$server: ...stored (mode 040700)" bash -c "s3 head $bucket made/ | grep -q '\"mode\": \"16832\"'"
  check "$server: ...and shown" test "$(stat -c %a "$mnt/made")" = 700
  check "$server: symlink" ln -s ../dir/hello.txt "$mnt/made/link"
  check "$server: ...readlink" test "$(readlink "$mnt/made/link")" = ../dir/hello.txt
  check "$server: ...stored as s3fs does (body = target)" bash -c "s3 get $bucket made/link /dev/stdout | grep -qx '../dir/hello.txt'"
  check "$server: ...type survives a listing" bash -c "ls -l '$mnt/made' >/dev/null && test -L '$mnt/made/link'"
  check "$server: rmdir of a non-empty directory fails" bash -c "! rmdir '$mnt/made' 2>&1 | grep -q . || rmdir '$mnt/made' 2>&1 | grep -q 'not empty'"
  check "$server: hard links refused with EPERM" bash -c "ln '$mnt/dir/hello.txt' '$mnt/hard' 2>&1 | grep -q 'not permitted'"
  check "$server: unlink" rm "$mnt/made/link"
  check "$server: ...gone from the bucket" bash -c "! s3 head $bucket made/link >/dev/null 2>&1"
  check "$server: rmdir" rmdir "$mnt/made"
  check "$server: ...marker gone" bash -c "! s3 head $bucket made/ >/dev/null 2>&1"
  check "$server: a key written behind our back shows up" bash -c "s3 put $bucket late.txt '$dir/hello' >/dev/null && test -f '$mnt/late.txt'"

  # Directory rename: a tree of 55 files moved by server-side copies, onto an empty directory, then to a new name.
  # Markers by mkdir, files by boto3; contents compared by ETag (MD5) in listings, and once read through the mount.
  mkdir -p "$dir/tree/a/b" "$mnt/tree/a/b" "$mnt/empty"
  for i in $(seq 50); do printf 'file %s\n' "$i" > "$dir/tree/f$i"; done
  printf 'deeper\n' > "$dir/tree/a/b/deep"
  for i in 1 2 3 4; do printf 'mid %s\n' "$i" > "$dir/tree/a/m$i"; done
  s3 putdir "$bucket" tree/ "$dir/tree"
  sums() { (cd "$1" && find . -type f | xargs -P 8 -n 8 sha256sum | sort -k 2); }
  # The keys under prefix $1 in the bucket listing $2, prefix cut: "SIZE<TAB>ETAG<TAB>REST".
  under() { awk -F'\t' -v p="$1" 'index($3, p) == 1 { print $1 "\t" $2 "\t" substr($3, length(p) + 1) }' <<<"$2" | sort -k 3; }
  all=$(s3 ls "$bucket")
  before=$(under tree/ "$all")
  check "$server: tree has 55 files and 3 markers in the bucket" test "$(wc -l <<<"$before")" = 58
  check "$server: mv -T a tree onto an empty directory" mv -T "$mnt/tree" "$mnt/empty"
  all=$(s3 ls "$bucket")
  check "$server: ...no key left under tree/" test -z "$(under tree/ "$all")"
  check "$server: ...every key under empty/, same sizes and ETags" test "$(under empty/ "$all")" = "$before"
  check "$server: mv a tree to a new name" mv "$mnt/empty" "$mnt/moved"
  all=$(s3 ls "$bucket")
  check "$server: ...no key left under empty/" test -z "$(under empty/ "$all")"
  check "$server: ...every key under moved/, same sizes and ETags" test "$(under moved/ "$all")" = "$before"
  check "$server: ...contents equal through the mount" test "$(sums "$mnt/moved")" = "$(sums "$dir/tree")"
  mkdir -p "$mnt/src2/x" "$mnt/full"
  printf 'x\n' > "$mnt/full/occupant"
  errno_of_rename() {
    python3 -c 'import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2]); print("ok")
except OSError as e:
    print(os.strerror(e.errno))' "$1" "$2"
  }
  check "$server: rename onto a non-empty directory: ENOTEMPTY" \
    test "$(errno_of_rename "$mnt/src2" "$mnt/full")" = "Directory not empty"
  check "$server: rename of a directory onto a file: ENOTDIR" \
    test "$(errno_of_rename "$mnt/src2" "$mnt/full/occupant")" = "Not a directory"
  check "$server: ...the refused source is whole" test -d "$mnt/src2/x"

  # Rename over an existing file replaces it.
  printf 'winner\n' > "$mnt/one"
  printf 'loser\n' > "$mnt/two"
  check "$server: mv a file over another" mv "$mnt/one" "$mnt/two"
  check "$server: ...the target has the source's contents" test "$(cat "$mnt/two")" = winner
  check "$server: ...in the bucket too" bash -c "s3 get $bucket two /dev/stdout | grep -qx winner"
  check "$server: ...the source name is gone" bash -c "! s3 head $bucket one >/dev/null 2>&1 && ! test -e '$mnt/one'"

  # Extended attributes: user.* in s3fs's x-amz-meta-xattr, read back by boto3.
  check "$server: setfattr on a file" setfattr -n user.colour -v blue "$mnt/two"
  check "$server: setfattr on a directory" setfattr -n user.kind -v tree "$mnt/moved"
  check "$server: getfattr reads it back" test "$(getfattr --only-values -n user.colour "$mnt/two")" = blue
  check "$server: ...boto3 finds it in s3fs's format" test "$(s3 xattrs "$bucket" two)" = user.colour=blue
  check "$server: ...the directory's on its marker" test "$(s3 xattrs "$bucket" moved/)" = user.kind=tree
  check "$server: ...the file's contents untouched" bash -c "s3 get $bucket two /dev/stdout | grep -qx winner"
  check "$server: setfattr -x removes it" setfattr -x user.colour "$mnt/two"
  check "$server: ...gone from the metadata" test -z "$(s3 xattrs "$bucket" two)"
  check "$server: security.* is refused" bash -c "! setfattr -n security.test -v x '$mnt/two' 2>/dev/null"

  # An unlinked open file stays readable and writable through its descriptor.
  head -c 300000 /dev/urandom > "$dir/payload"
  cp "$dir/payload" "$mnt/doomed"
  out=$(S3=$HERE/servers/s3check.py python3 - "$mnt/doomed" "$dir/payload" "$bucket" <<'PY'
import os, subprocess, sys
path, payload, bucket = sys.argv[1:]
expected = open(payload, "rb").read()
fd = os.open(path, os.O_RDWR)
first = os.pread(fd, 1000, 0)
os.unlink(path)
gone = not os.path.exists(path)
in_bucket = subprocess.run([sys.executable, os.environ["S3"], "head", bucket, "doomed"],
                           capture_output=True).returncode == 0
rest = os.pread(fd, len(expected), 1000)
os.pwrite(fd, b"appended", len(expected))
tail = os.pread(fd, 100, len(expected))
nlink = os.fstat(fd).st_nlink
os.close(fd)
print("gone" if gone else "still-there", "deleted" if not in_bucket else "in-bucket",
      "same" if first + rest == expected else "differ", tail.decode(errors="replace"), nlink)
PY
)
  check "$server: unlinked open file read through its fd (got: $out)" test "$out" = "gone deleted same appended 0"
  check "$server: ...and not resurrected at close" bash -c "! s3 head $bucket doomed >/dev/null 2>&1"

  kill -TERM "$pid"; wait "$pid"; status=$?; pid=""
  check "$server: SIGTERM: exit 0" test "$status" = 0
  check "$server: SIGTERM: unmounted" bash -c "! grep -q ' $mnt ' /proc/mounts"
done

summary
