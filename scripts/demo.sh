#!/bin/bash
# The main job: a throwaway S3 server on 127.0.0.1 (Ceph RGW), a bucket mounted with
# vfsd, and a short tour through the mount, each step checked with boto3. Everything
# it starts, it stops. KEEP=1 leaves the mount up until you press Enter.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build

work=$(mktemp -d /tmp/vfs-demo.XXXXXX)
vfsd_pid=""
cleanup() {
  [ -n "$vfsd_pid" ] && kill -TERM "$vfsd_pid" 2>/dev/null && wait "$vfsd_pid" 2>/dev/null
  bash "$ROOT/tests/servers/rgw.sh" stop "$work/rgw" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
s3() { python3 "$ROOT/tests/servers/s3check.py" "$@"; }

step "Starting a throwaway Ceph RGW on 127.0.0.1"
bash tests/servers/rgw.sh start "$work/rgw" 2>&1 | tail -1
# shellcheck disable=SC1091
. "$work/rgw/env"
export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
s3 mb photos
echo "a note written by boto3, before the mount" > "$work/note.txt"
s3 put photos inbox/note.txt "$work/note.txt" >/dev/null

step "Mounting bucket 'photos' with vfsd"
mkdir "$work/mnt"
cat > "$work/photos.conf" <<CONF
# what /etc/vfs/photos.conf would say (see vfs.conf(5))
endpoint = $S3_ENDPOINT
path_style = true
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
mountpoint = $work/mnt
memory_limit = 512M
bus = none
CONF
chmod 600 "$work/photos.conf"
./build/src/daemon/vfsd --config "$work/photos.conf" &
vfsd_pid=$!
for _ in $(seq 100); do grep -q " $work/mnt fuse.vfs " /proc/mounts && break; sleep 0.1; done
grep " $work/mnt " /proc/mounts
M=$work/mnt

step "A tour through the mount"
run ls -l "$M" "$M/inbox"
run cat "$M/inbox/note.txt"
run mkdir "$M/2026"
head -c $((64 << 20)) /dev/urandom > "$work/holiday.raw"
run cp "$work/holiday.raw" "$M/2026/holiday.raw"
run ln -s 2026/holiday.raw "$M/latest"
run chmod 600 "$M/2026/holiday.raw"
printf 'edited' | run dd of="$M/2026/holiday.raw" bs=1 seek=1000000 conv=notrunc status=none
printf 'edited' | dd of="$work/holiday.raw" bs=1 seek=1000000 conv=notrunc status=none
run ls -l "$M" "$M/2026"

step "What another S3 client (boto3) sees"
run python3 "$ROOT/tests/servers/s3check.py" ls photos
echo "sha256 local copy : $(sha256sum < "$work/holiday.raw" | cut -d' ' -f1)"
echo "sha256 via boto3  : $(s3 sha256 photos 2026/holiday.raw)"
echo "sha256 via mount  : $(sha256sum < "$M/latest" | cut -d' ' -f1)"
[ "$(s3 sha256 photos 2026/holiday.raw)" = "$(sha256sum < "$work/holiday.raw" | cut -d' ' -f1)" ]
s3 head photos 2026/holiday.raw | grep -E '"(mode|uid|gid|mtime)"'

if [ "${KEEP:-0}" = 1 ]; then
  echo; read -r -p "Mounted at $M. Press Enter to unmount and clean up. "
fi

step "Stopping vfsd (SIGTERM: upload everything, unmount, exit 0)"
kill -TERM "$vfsd_pid"; wait "$vfsd_pid"; echo "vfsd exited with $?"; vfsd_pid=""
grep -q " $M " /proc/mounts && echo "still mounted?!" || echo "unmounted"
echo; echo "Demo done: everything it started has been stopped."
