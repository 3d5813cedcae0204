#!/bin/bash
# The FUSE session layer on a real kernel mount, through the null filesystem:
# mount, I/O through the kernel, /proc/mounts, SIGTERM unmounts and exits 0,
# and a daemon killed with SIGKILL leaves a dead mount that the next start detaches.
#   fuse_session_test.sh NULLFS_BINARY
set -u
NULLFS=${1:?usage: fuse_session_test.sh NULLFS_BINARY}
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-fuse-session.XXXXXX")
mnt=$work/mnt
mkdir "$mnt"
pid=""
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
mounted() { grep -q " $mnt fuse.vfs " /proc/mounts; }
wait_for() {  # wait_for CMD...: up to 10 s
  for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
  return 1
}
start() {
  "$NULLFS" "$mnt" 2>>"$work/nullfs.log" &
  pid=$!
  wait_for mounted
}
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  mounted && { umount -l "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null; }
  grep -q " $mnt " /proc/mounts && umount -l "$mnt" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

check "mounts" start
check "shows as fsname vfs-null, type fuse.vfs" grep -q "^vfs-null $mnt fuse.vfs " /proc/mounts
check "64 MiB written through the kernel" dd if=/dev/zero of="$mnt/file" bs=1M count=64 status=none
check "size seen by stat" test "$(stat -c %s "$mnt/file")" = $((64 << 20))
check "reads return zeros" cmp -s <(dd if="$mnt/file" bs=1M count=16 status=none) <(head -c $((16 << 20)) /dev/zero)
check "open with O_TRUNC truncates" bash -c ": > '$mnt/file' && test \$(stat -c %s '$mnt/file') = 0"

kill -TERM "$pid"
wait "$pid"; status=$?
pid=""
check "SIGTERM: exit status 0" test "$status" = 0
check "SIGTERM: unmounted" bash -c "! grep -q ' $mnt ' /proc/mounts"

check "mounts again" start
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=""
check "killed daemon leaves a dead mount (ENOTCONN)" bash -c "stat '$mnt' 2>&1 | grep -q 'not connected'"
# The stale mount is still listed until the new daemon detaches it: wait for the log line and
# for a mount that answers, not for a listed one.
"$NULLFS" "$mnt" 2>>"$work/nullfs.log" &
pid=$!
check "detach was logged" wait_for grep -q "detached a stale mount" "$work/nullfs.log"
check "next start detaches the stale mount and mounts" wait_for stat -c %s "$mnt/."
check "works after recovery" dd if=/dev/zero of="$mnt/again" bs=1M count=4 status=none
kill -TERM "$pid"; wait "$pid"; status=$?; pid=""
check "clean exit after recovery" test "$status" = 0
check "nothing left mounted" bash -c "! grep -q ' $mnt ' /proc/mounts"

summary
