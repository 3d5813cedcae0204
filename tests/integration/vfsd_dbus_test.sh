#!/bin/bash
# vfsd's D-Bus service on a private system-like bus with the shipped policy, against RGW
# (run under with-servers.sh): properties, Flush with a writer, Shrink and RSS, refusals,
# vfsctl, and a Flush that S3 refuses.
#   vfsd_dbus_test.sh VFSD_BINARY VFSCTL_BINARY POLICY_FILE
set -u
VFSD=${1:?usage: vfsd_dbus_test.sh VFSD VFSCTL POLICY}
VFSCTL=${2:?usage: vfsd_dbus_test.sh VFSD VFSCTL POLICY}
POLICY=$(realpath "${3:?usage: vfsd_dbus_test.sh VFSD VFSCTL POLICY}")
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-dbus.XXXXXX")
# The bus socket must be reachable by the unprivileged caller.
chmod 755 "$work"
pid="" buspid=""
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  grep -q " $work/mnt " /proc/mounts && umount -l "$work/mnt"
  [ -n "$buspid" ] && kill -TERM "$buspid" 2>/dev/null && wait "$buspid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
s3() { python3 "$HERE/servers/s3check.py" "$@"; }
sha() { sha256sum < "$1" | cut -d' ' -f1; }
in_bucket() { test "$(s3 sha256 "$bucket" "$1" 2>/dev/null)" = "$(sha "$2")"; }

# A system bus of our own: the stock system.conf defaults, plus the shipped policy.
cat > "$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/bus.socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$POLICY</include>
</busconfig>
CONF
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile --print-address=3 3>"$work/bus.address" \
  2>"$work/bus.log" &
buspid=$!
for _ in $(seq 50); do [ -s "$work/bus.address" ] && break; sleep 0.1; done
address=$(head -n1 "$work/bus.address")
[ -n "$address" ] || { echo "not ok - the private bus did not start"; cat "$work/bus.log"; exit 1; }
export DBUS_SYSTEM_BUS_ADDRESS=$address
unset DBUS_SESSION_BUS_ADDRESS

bus() { busctl --address="$address" --timeout=300 "$@"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
instance=dbus-test name=org.vfs.Vfs1.dbus_2dtest
prop() { bus get-property "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount "$1" | cut -d' ' -f2-; }
# A writer that keeps one file open (a close, even of a dup'ed fd, makes FUSE flush):
# writer_open FILE; writer_append LOCAL_FILE...; writer_close.
writer_py='
import sys
with open(sys.argv[1], "wb", buffering=0) as f:
    for line in sys.stdin:
        with open(line.strip(), "rb") as src:
            while chunk := src.read(1 << 20):
                f.write(chunk)
        print("ok", flush=True)
'
writer_open() { coproc WRITER { python3 -c "$writer_py" "$1"; }; }
writer_append() { echo "$1" >&"${WRITER[1]}"; read -r _ <&"${WRITER[0]}"; }
writer_close() { local p=$WRITER_PID; eval "exec ${WRITER[1]}>&-"; wait "$p"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

. "$RGW_ENV"
bucket=vfs-dbus mnt=$work/mnt conf=$work/$instance.conf
mkdir -p "$mnt"
s3 mb "$bucket" >/dev/null
cat > "$conf" <<CONF
bucket = $bucket
endpoint = $S3_ENDPOINT
path_style = true
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
mountpoint = $mnt
bus = system
memory_limit = 512M
chunk_size = 64M
part_size = 8M
# Flush must find all of a large file unsent to show its progress; streaming has its own tests.
stream_uploads = false
CONF
chmod 600 "$conf"

start_vfsd() {
  "$VFSD" --config "$conf" 2>>"$work/vfsd.log" &
  pid=$!
  for _ in $(seq 100); do grep -q " $mnt fuse.vfs " /proc/mounts && return 0; sleep 0.1; done
  return 1
}
check "vfsd mounts with bus = system" start_vfsd
check "the name (the config's stem, escaped) is owned once 'mounted' is logged" \
  bash -c "grep -q 'serving $name on the system bus' '$work/vfsd.log' && busctl --address=$address list --no-legend | grep -q '^$name '"
check "'serving' is logged before 'mounted'" \
  bash -c "grep -n -e serving -e mounted '$work/vfsd.log' | head -n1 | grep -q serving"

# Every property reads, by root and by nobody (the policy lets anyone read).
props="Instance Bucket Endpoint MountPoint PoolLimitBytes PoolUsedBytes DirtyBytes CleanBytes ReservedBytes StagedBytes DirtyBlocks CleanBlocks UploadsInFlight FlushErrors BytesUploaded BytesDownloaded RequestsSent RequestErrors"
all_read=true
for p in $props; do
  v=$(prop "$p") || all_read=false
  [ -n "$v" ] || all_read=false
  nobody busctl --address="$address" get-property "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount "$p" >/dev/null || all_read=false
done
check "every property reads, as root and as nobody" $all_read
check "introspection lists all $(echo $props | wc -w) properties" \
  test "$(bus introspect "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount | grep -c ' property ')" = "$(echo $props | wc -w)"
check "Instance, Bucket, MountPoint" \
  test "$(prop Instance)|$(prop Bucket)|$(prop MountPoint)" = "\"$instance\"|\"$bucket\"|\"$mnt\""
check "PoolLimitBytes is memory_limit" test "$(prop PoolLimitBytes)" = $((512 << 20))
check "StagedBytes is 0 (no disk staging)" test "$(prop StagedBytes)" = 0
check "RequestsSent counts the bucket check" test "$(prop RequestsSent)" -gt 0

# Flush while a file is open and being written: its bytes reach S3 before close.
head -c $((3 << 20)) /dev/urandom > "$work/part1"
head -c $((2 << 20)) /dev/urandom > "$work/part2"
writer_open "$mnt/live.bin"
writer_append "$work/part1"
check "a file being written is dirty" test "$(prop DirtyBytes)" -ge $((3 << 20))
check "busctl Flush returns the bytes uploaded" test "$(bus call "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount Flush)" = "t $((3 << 20))"
check "...then DirtyBytes is 0 while the file is still open" test "$(prop DirtyBytes)" = 0
check "...and boto3 sees the data" in_bucket live.bin "$work/part1"
writer_append "$work/part2"
writer_close
cat "$work/part1" "$work/part2" > "$work/live"
check "the writer goes on; close uploads the rest" in_bucket live.bin "$work/live"

# Flushes from D-Bus while a writer streams into another file: none waits for the writer's end.
python3 - "$mnt/stream.bin" "$work/stream" <<'PY' &
import os, sys, time
data = os.urandom(64 << 10)
with open(sys.argv[1], "wb", buffering=0) as f, open(sys.argv[2], "wb") as local:
    end = time.monotonic() + 4
    while time.monotonic() < end:
        f.write(data); local.write(data); time.sleep(0.002)
PY
writer=$!
sleep 0.5
flushes_ok=true
for _ in 1 2 3 4 5; do
  timeout 60 busctl --address="$address" call "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount Flush >/dev/null || flushes_ok=false
  sleep 0.3
done
check "five Flushes return while a writer streams" $flushes_ok
check "...the writer finishes" wait "$writer"
check "...and S3 holds every byte it wrote" in_bucket stream.bin "$work/stream"

# vfsctl flush: progress (dirty bytes going down) while a large flush runs.
head -c $((160 << 20)) /dev/urandom > "$work/big"
writer_open "$mnt/big.bin"
writer_append "$work/big"
check "160 MiB dirty before vfsctl flush" test "$(prop DirtyBytes)" -ge $((160 << 20))
"$VFSCTL" flush "$instance" >"$work/flush.out" 2>"$work/flush.err"
rc=$?
check "vfsctl flush exits 0" test $rc = 0
check "...says what it uploaded" grep -q "^flushed $instance: uploaded 160.0 MiB ($((160 << 20)) bytes)" "$work/flush.out"
sed 's/^/# vfsctl: /' "$work/flush.err" | head -n 5
check "...showed progress while it ran" grep -q "^flushing $instance: 160.0 MiB dirty, .* sent, 1 file uploading" "$work/flush.err"
check "...bytes sent going up" test "$(grep -c "^flushing $instance: .* sent" "$work/flush.err")" -ge 2
writer_close
check "...boto3 reads the same 160 MiB" in_bucket big.bin "$work/big"
check "vfsctl status" bash -c "'$VFSCTL' status $instance > '$work/status' && grep -q 'Bucket: *$bucket at ' '$work/status' &&
  grep -q 'Mount point: *$mnt' '$work/status' && grep -q 'Dirty: *0 B' '$work/status' && grep -q 'Uploads:' '$work/status'"
check "vfsctl list" test "$("$VFSCTL" list)" = "$instance"
check "vfsctl status of a missing instance exits 3" bash -c "'$VFSCTL' status nobody-here 2>/dev/null; test \$? = 3"

# Shrink: read the large file back (the clean cache fills), then give the memory back.
cat "$mnt/big.bin" > /dev/null
used=$(prop PoolUsedBytes) rss=$(rss_kib)
check "reading 160 MiB back fills the clean cache" test "$used" -ge $((120 << 20))
released=$(bus call "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount Shrink | cut -d' ' -f2)
check "busctl Shrink returns at least the clean bytes" test "${released:-0}" -ge "$used"
check "...PoolUsedBytes drops to 0" test "$(prop PoolUsedBytes)" = 0
after=$(rss_kib)
echo "# RSS $rss KiB -> $after KiB, pool $used -> 0 bytes, Shrink released $released"
check "...vfsd's RSS drops by more than 100 MiB" test $((rss - after)) -gt $((100 << 10))
check "vfsctl shrink" bash -c "'$VFSCTL' shrink $instance | grep -q '^shrunk $instance: released '"

# The shipped policy: nobody may read but not call.
nobody busctl --address="$address" call "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount Flush >"$work/denied" 2>&1
check "nobody's busctl Flush is refused" test $? != 0
sed 's/^/# nobody: /' "$work/denied"
check "...Access denied" grep -qi "access denied" "$work/denied"
nobody dbus-send --system --print-reply --dest="$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount.Flush >"$work/denied3" 2>&1
sed 's/^/# nobody: /' "$work/denied3"
check "...by dbus-daemon's policy, before vfsd sees it" grep -q "AccessDenied: Rejected send message" "$work/denied3"
nobody busctl --address="$address" call "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount Shrink >/dev/null 2>&1
check "nobody's busctl Shrink is refused" test $? != 0
nobody "$VFSCTL" flush "$instance" >/dev/null 2>"$work/denied2"
check "nobody's vfsctl flush exits 4" test $? = 4
request_name() {
  dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.RequestName string:org.vfs.Vfs1.other uint32:0 2>&1
}
check "root may own an org.vfs.Vfs1.* name" bash -c "$(declare -f request_name); request_name | grep -q 'uint32 1'"
check "nobody may not" bash -c "$(declare -f request_name); setpriv --reuid=65534 --regid=65534 --clear-groups bash -c '$(declare -f request_name); request_name' | grep -q 'AccessDenied.*not allowed to own'"
check "nobody's vfsctl status works" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups '$VFSCTL' status $instance >/dev/null"

# S3 refuses: the bucket is gone. Flush fails naming the cause; the data stays dirty.
head -c $((1 << 20)) /dev/urandom > "$work/doomed"
writer_open "$mnt/doomed.bin"
writer_append "$work/doomed"
s3 rb --force "$bucket"
bus call "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount Flush >"$work/refused" 2>&1
check "Flush fails when S3 refuses" test $? != 0
sed 's/^/# refused: /' "$work/refused"
check "...the D-Bus error names the cause (NoSuchBucket)" grep -q "NoSuchBucket" "$work/refused"
check "...the data stays dirty" test "$(prop DirtyBytes)" -ge $((1 << 20))
check "...FlushErrors counts it" test "$(prop FlushErrors)" -ge 1
"$VFSCTL" flush "$instance" >/dev/null 2>"$work/refused2"
rc=$?
check "vfsctl flush exits 1" test $rc = 1
sed 's/^/# vfsctl: /' "$work/refused2"
check "...and names the error" grep -q 'org.vfs.Vfs1.Error.UploadFailed: .*NoSuchBucket' "$work/refused2"
s3 mb "$bucket" >/dev/null
check "with the bucket back, Flush uploads the kept bytes" \
  test "$(bus call "$name" /org/vfs/Vfs1 org.vfs.Vfs1.Mount Flush)" = "t $((1 << 20))"
check "...boto3 sees them" in_bucket doomed.bin "$work/doomed"
writer_close

# Stop: off the bus, flushed, unmounted, exit 0.
kill -TERM "$pid"; wait "$pid"; status=$?; pid=""
check "vfsd exits 0 on SIGTERM" test $status = 0
check "...its name is gone from the bus" bash -c "! busctl --address='$address' list --no-legend | grep -q '^$name '"
check "...and the mount is gone" bash -c "! grep -q ' $mnt ' /proc/mounts"
summary || { echo "# vfsd log:"; sed 's/^/# /' "$work/vfsd.log"; exit 1; }
