#!/bin/bash
# Sequential read through a vfsd mount vs a curl GET of the same object, on the same RGW, same run.
#   scripts/bench-read.sh [SIZE_MIB (1024)] [ROUNDS (3)] [READAHEAD (64M)]
# vfsd is remounted for every round, so neither its cache nor the kernel's holds the object.
# Prints MB/s per round and the medians with the vfsd/curl ratio. See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
ROUNDS=${2:-3}
READAHEAD=${3:-64M}

bash scripts/install-deps.sh >/dev/null
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build src/daemon/vfsd >/dev/null

work=$(mktemp -d /tmp/vfs-bench-read.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  grep -q " $work/mnt " /proc/mounts && fusermount3 -u "$work/mnt"
  bash tests/servers/rgw.sh stop "$work/rgw" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
bash tests/servers/rgw.sh start "$work/rgw" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$work/rgw/env"
export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
python3 tests/servers/s3check.py mb bench >/dev/null

file=/dev/shm/vfs-bench-read.$$
head -c $((SIZE_MIB << 20)) /dev/urandom > "$file"
python3 tests/servers/s3check.py put bench object "$file" >/dev/null
want=$(sha256sum "$file" | cut -d' ' -f1)
rm -f "$file"
bytes=$((SIZE_MIB << 20))
EMPTY_HASH=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl_s3() { curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"; }
rate() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / 1e6 / t }'; }

mkdir -p "$work/mnt"
cat > "$work/bench.conf" <<CONF
bucket = bench
endpoint = $S3_ENDPOINT
path_style = true
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
mountpoint = $work/mnt
bus = none
memory_limit = 512M
readahead = $READAHEAD
CONF
chmod 600 "$work/bench.conf"
mount_vfsd() {
  ./build/src/daemon/vfsd --config "$work/bench.conf" 2>>"$work/vfsd.log" &
  pid=$!
  for _ in $(seq 100); do grep -q " $work/mnt fuse.vfs " /proc/mounts && return 0; sleep 0.1; done
  echo "bench-read: vfsd did not mount (see $work/vfsd.log)" >&2
  return 1
}
unmount_vfsd() { kill -TERM "$pid"; wait "$pid"; pid=""; }

declare -a cget vget
for r in $(seq "$ROUNDS"); do
  t=$(curl_s3 -o /dev/null -w '%{time_total}' -H "x-amz-content-sha256: $EMPTY_HASH" "$S3_ENDPOINT/bench/object")
  cget+=("$(rate "$t")")
  mount_vfsd
  stat "$work/mnt/object" >/dev/null # the lookup is not part of the read
  start=$(date +%s.%N)
  dd if="$work/mnt/object" of=/dev/null bs=1M status=none
  end=$(date +%s.%N)
  unmount_vfsd
  vget+=("$(rate "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")")
  echo "round $r: curl GET ${cget[-1]} | vfsd sequential read ${vget[-1]} (MB/s)"
done
# Untimed (sha256sum would be the bottleneck): the same read gives the right bytes.
mount_vfsd
got=$(dd if="$work/mnt/object" bs=1M status=none | sha256sum | cut -d' ' -f1)
unmount_vfsd
if [ "$got" != "$want" ]; then
  echo "bench-read: the mount read different bytes than were stored" >&2
  exit 1
fi
echo "SHA-256 through the mount matches"

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mc=$(median "${cget[@]}")
mv=$(median "${vget[@]}")
echo
echo "median of $ROUNDS rounds, ${SIZE_MIB} MiB object, RGW on 127.0.0.1, readahead $READAHEAD (MB/s):"
printf '%-40s %8s\n' "curl GET, one stream" "$mc"
printf '%-40s %8s\n' "vfsd mount, dd bs=1M" "$mv"
printf '%-40s %8s\n' "ratio vfsd / curl" "$(awk -v a="$mv" -v b="$mc" 'BEGIN { printf "%.2f", a / b }')"
