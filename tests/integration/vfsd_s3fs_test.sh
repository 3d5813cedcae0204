#!/bin/bash
# Compatibility both ways with the real s3fs (Debian's s3fs-fuse) on RGW, under with-servers.sh:
# a tree written through s3fs reads the same through vfsd, and a tree written through vfsd
# reads the same through s3fs (names, types, sizes, modes, owners, mtimes, targets, bytes),
# both also equal to the same tree built on a local disk.
#   vfsd_s3fs_test.sh VFSD_BINARY
set -u
VFSD=${1:?usage: vfsd_s3fs_test.sh VFSD_BINARY}
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-s3fs.XXXXXX")
s3fs_pid=""
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=vfsd_lib.sh
. "$(dirname "$0")/vfsd_lib.sh"
cleanup() {
  [ -n "$vfsd_pid" ] && kill -KILL "$vfsd_pid" 2>/dev/null
  [ -n "$s3fs_pid" ] && kill -KILL "$s3fs_pid" 2>/dev/null
  unmount_all "$work"
  rm -rf "$work"
}
trap cleanup EXIT
manifest() { python3 "$HERE/integration/manifest.py" "$@"; }

if ! command -v s3fs >/dev/null; then
  echo "not ok - s3fs is not installed (scripts/install-deps.sh installs Debian's s3fs)"
  exit 1
fi
echo "# $(s3fs --version | head -1)"
use_server rgw
printf '%s:%s\n' "$key" "$secret" > "$work/passwd"
chmod 600 "$work/passwd"

# s3fs in the foreground (so that its PID is ours), path-style against RGW over http; no
# caches that could hide what the other client wrote.
s3fs_start() {
  s3fs "$1" "$2" -f -o "passwd_file=$work/passwd,url=$endpoint,use_path_request_style" \
    -o nomixupload,stat_cache_expire=1,enable_noobj_cache,dbglevel=warn >>"$work/s3fs.log" 2>&1 &
  s3fs_pid=$!
  for _ in $(seq 150); do
    grep -q " $2 fuse.s3fs " /proc/mounts && return 0
    kill -0 "$s3fs_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
s3fs_stop() {
  fusermount3 -u "$1" || return 1
  wait "$s3fs_pid"
  local s=$?
  s3fs_pid=""
  return $s
}

head -c 100 /dev/urandom | base64 > "$work/small"
head -c $((24 << 20)) /dev/urandom > "$work/big"

# populate DIR: the same kinds of things in any directory, local or mounted. Every entry
# ends with a known mtime (several distinct ones, with nanoseconds), set deepest first.
populate() {
  local m=$1
  cp "$work/small" "$m/small.txt" &&
    cp "$work/big" "$m/big.bin" &&
    : > "$m/empty-file" &&
    mkdir -p "$m/a/b/c" &&
    cp "$work/small" "$m/a/b/c/deep.txt" &&
    printf 'x' > "$m/a/one-byte" &&
    mkdir "$m/empty-dir" "$m/private" &&
    ln -s a/b/c/deep.txt "$m/link" &&
    ln -s /nowhere/at/all "$m/dangling" &&
    chmod 600 "$m/small.txt" && chmod 755 "$m/big.bin" && chmod 700 "$m/private" &&
    chmod 4750 "$m/a/one-byte" &&
    chown 1234:5678 "$m/a/b/c/deep.txt" && chown 42:43 "$m/private" &&
    find "$m" -mindepth 1 -depth -exec touch -h -d '2020-05-06 07:08:09.5' {} + &&
    touch -d '2001-02-03 04:05:06.123456789' "$m/small.txt" &&
    touch -d '1999-12-31 23:59:59' "$m/empty-dir" &&
    touch -h -d '2010-10-10 10:10:10.25' "$m/link"
}
mkdir "$work/local"
populate "$work/local"
manifest "$work/local" > "$work/local.manifest"

mkdir -p "$work/s3fs-mnt" "$work/vfs-mnt"
check "the local tree has 12 entries" test "$(wc -l < "$work/local.manifest")" = 12

# 1. s3fs writes, vfsd reads.
s3 mb from-s3fs >/dev/null
check "s3fs mounts RGW" s3fs_start from-s3fs "$work/s3fs-mnt"
check "s3fs writes the tree" populate "$work/s3fs-mnt"
check "s3fs unmounts (everything uploaded)" s3fs_stop "$work/s3fs-mnt"
check "s3fs remounts" s3fs_start from-s3fs "$work/s3fs-mnt"
manifest "$work/s3fs-mnt" > "$work/s3fs-written.manifest"
check "s3fs sees what it wrote as on a local disk" cmp -s "$work/local.manifest" "$work/s3fs-written.manifest"
check "s3fs unmounts" s3fs_stop "$work/s3fs-mnt"
check "the 24 MiB file is a multipart object (s3fs)" grep -q -- '-[0-9][0-9]*$' <<<"$(etag from-s3fs big.bin)"

vfsd_conf "$work/vfs1.conf" from-s3fs "$work/vfs-mnt" part_size=8M chunk_size=64M
check "vfsd mounts the bucket s3fs wrote" vfsd_start "$work/vfs1.conf" "$work/vfs-mnt" "$work/vfsd.log"
manifest "$work/vfs-mnt" > "$work/vfs-reads-s3fs.manifest"
check "vfsd sees every name, type, size, mode, owner, mtime, target and byte s3fs wrote" \
  cmp -s "$work/local.manifest" "$work/vfs-reads-s3fs.manifest"
diff "$work/local.manifest" "$work/vfs-reads-s3fs.manifest" | sed 's/^/# /'
check "...spot check: mode, owner, mtime of a.b.c/deep.txt" \
  test "$(stat -c '%a %u %g %Y' "$work/vfs-mnt/a/b/c/deep.txt")" = "644 1234 5678 1588748889"
check "...spot check: nanosecond mtime of small.txt" \
  test "$(stat -c '%.9Y' "$work/vfs-mnt/small.txt")" = 981173106.123456789
check "...spot check: symlink target" test "$(readlink "$work/vfs-mnt/link")" = a/b/c/deep.txt
check "...spot check: setuid file" test "$(stat -c '%A' "$work/vfs-mnt/a/one-byte")" = -rwsr-x---
check "vfsd stops (exit 0)" vfsd_stop

# 2. vfsd writes, s3fs reads.
s3 mb from-vfs >/dev/null
vfsd_conf "$work/vfs2.conf" from-vfs "$work/vfs-mnt" part_size=8M chunk_size=64M
check "vfsd mounts an empty bucket" vfsd_start "$work/vfs2.conf" "$work/vfs-mnt" "$work/vfsd.log"
check "vfsd writes the tree" populate "$work/vfs-mnt"
check "vfsd stops (exit 0)" vfsd_stop
check "the 24 MiB file is 3 parts of 8 MiB (vfsd)" grep -q -- '-3$' <<<"$(etag from-vfs big.bin)"
check "vfsd remounts" vfsd_start "$work/vfs2.conf" "$work/vfs-mnt" "$work/vfsd.log"
manifest "$work/vfs-mnt" > "$work/vfs-written.manifest"
check "vfsd sees what it wrote as on a local disk" cmp -s "$work/local.manifest" "$work/vfs-written.manifest"
diff "$work/local.manifest" "$work/vfs-written.manifest" | sed 's/^/# /'
check "vfsd stops (exit 0)" vfsd_stop
check "s3fs mounts the bucket vfsd wrote" s3fs_start from-vfs "$work/s3fs-mnt"
manifest "$work/s3fs-mnt" > "$work/s3fs-reads-vfs.manifest"
check "s3fs sees every name, type, size, mode, owner, mtime, target and byte vfsd wrote" \
  cmp -s "$work/local.manifest" "$work/s3fs-reads-vfs.manifest"
diff "$work/local.manifest" "$work/s3fs-reads-vfs.manifest" | sed 's/^/# /'
check "...spot check: s3fs reads the symlink target" test "$(readlink "$work/s3fs-mnt/link")" = a/b/c/deep.txt
check "...spot check: s3fs sees the empty directory as empty" test -z "$(ls -A "$work/s3fs-mnt/empty-dir")"
check "s3fs unmounts" s3fs_stop "$work/s3fs-mnt"
check "no s3fs errors logged" bash -c "! grep -qi ' err' '$work/s3fs.log'"

summary
