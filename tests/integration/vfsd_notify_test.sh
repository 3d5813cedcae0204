#!/bin/bash
# vfsd under systemd's notify protocol, against RGW (run under with-servers.sh): READY=1 only
# once the mount answers, WATCHDOG=1 pings at half of WATCHDOG_USEC, a stale mount from a
# SIGKILLed run cleaned at start under the unit's capability set, and on SIGTERM with a
# writer's data still dirty: STOPPING=1, EXTEND_TIMEOUT_USEC=, the data in S3, no mount, exit 0.
#   vfsd_notify_test.sh VFSD_BINARY
set -u
VFSD=${1:?usage: vfsd_notify_test.sh VFSD_BINARY}
HERE=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-notify.XXXXXX")
mnt=$work/mnt sock=$work/notify.sock log=$work/notify.log conf=$work/notify.conf bucket=notify-rgw
pid="" listener="" writer=""
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cleanup() {
  for p in $pid $writer $listener; do kill -KILL "$p" 2>/dev/null; done
  grep -q " $mnt " /proc/mounts && umount -l "$mnt"
  rm -rf "$work"
}
trap cleanup EXIT
s3() { python3 "$HERE/servers/s3check.py" "$@"; }
mounted() { grep -q " $mnt fuse.vfs " /proc/mounts; }
wait_for() {  # wait_for CMD...: up to 20 s
  for _ in $(seq 200); do "$@" && return 0; sleep 0.1; done
  return 1
}
logged() { grep -q "$1" "$log"; }
count() { grep -c "$1" "$log"; }

. "$RGW_ENV"
mkdir -p "$mnt"
s3 mb "$bucket" >/dev/null
cat > "$conf" <<CONF
bucket = $bucket
endpoint = $S3_ENDPOINT
path_style = true
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
mountpoint = $mnt
bus = none
CONF
chmod 600 "$conf"

python3 "$HERE/integration/notify_listener.py" "$sock" "$log" "$mnt" &
listener=$!
wait_for test -S "$sock" || { echo "the listener did not start"; exit 1; }

# As systemd starts a service: NOTIFY_SOCKET, WATCHDOG_USEC, and WATCHDOG_PID naming the
# daemon itself (the shell execs vfsd, so $$ is vfsd's pid). PREFIX: e.g. setpriv.
start_vfsd() {
  NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 "$@" bash -c 'export WATCHDOG_PID=$$; exec "$0" --config "$1"' \
    "$VFSD" "$conf" 2>>"$work/vfsd.log" &
  pid=$!
}

# Run 1: plain start, readiness and the watchdog.
start_vfsd
check "READY=1 arrives" wait_for logged "READY=1"
check "...and the mount answered when it did" logged "CHECK mount-answered"
check "...with a STATUS= naming the bucket and mountpoint" logged "STATUS=Mounted $bucket on $mnt; 0 dirty bytes, 0 uploads in flight"
check "...exactly once" test "$(count 'READY=1')" = 1
# WATCHDOG_USEC=1 s: a ping every 0.5 s, about 6 in 3 s; loose bounds for a busy machine.
before=$(count "WATCHDOG=1")
sleep 3
pings=$(( $(count "WATCHDOG=1") - before ))
echo "# $pings watchdog pings in 3 s"
check "WATCHDOG=1 at about half of WATCHDOG_USEC (3..9 in 3 s, got $pings)" test "$pings" -ge 3 -a "$pings" -le 9

# A daemon stopped hard answers nothing: the liveness probe hangs, so no pings go out.
kill -STOP "$pid"
sleep 0.2
before=$(count "WATCHDOG=1")
sleep 1.5
check "no WATCHDOG=1 while the daemon is stopped" test "$(count 'WATCHDOG=1')" = "$before"
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=""
check "SIGKILL leaves a dead mount behind" bash -c "! stat '$mnt' 2>/dev/null"

# Run 2: what the unit allows (bounding set CAP_SYS_ADMIN only, no new privileges).
: > "$log.run1"; cp "$log" "$log.run1"; : > "$log"
start_vfsd setpriv --bounding-set -all,+sys_admin --no-new-privs --
check "restart under the unit's capabilities: READY=1" wait_for logged "READY=1"
check "...after detaching the stale mount" grep -q "detached a stale mount at $mnt" "$work/vfsd.log"
check "...and the mount answered" logged "CHECK mount-answered"

# A writer keeps its file open with 3 MB written: dirty in vfsd, not yet in S3.
head -c 3000000 /dev/urandom > "$work/data"
python3 -c '
import sys, time
f = open(sys.argv[1], "wb")
f.write(open(sys.argv[2], "rb").read())
f.flush()
print("written", flush=True)
time.sleep(600)' "$mnt/held" "$work/data" > "$work/writer.out" &
writer=$!
check "the writer wrote" wait_for grep -q written "$work/writer.out"
not_in_s3() { s3 head "$1" "$2" 2>&1 | grep -q 'HTTP 404'; }
check "...and S3 has no object of it yet (the first flush makes it)" not_in_s3 "$bucket" held
check "...but the mount lists it" bash -c "ls '$mnt' | grep -qx held"
check "STATUS= shows the dirty bytes" wait_for logged "STATUS=Mounted $bucket on $mnt; 3000000 dirty bytes"

stop_at=$(awk 'END { print $1 }' "$log")
kill -TERM "$pid"
wait "$pid"; status=$?; pid=""
check "SIGTERM: exit 0 (got $status)" test "$status" = 0
check "...STOPPING=1" logged "STOPPING=1"
check "...a stopping STATUS=" logged "STATUS=Stopping: uploading to $bucket before unmounting $mnt"
check "...EXTEND_TIMEOUT_USEC= after STOPPING=1" \
  awk '/STOPPING=1/ { s = 1 } /EXTEND_TIMEOUT_USEC=[0-9]+$/ && s { e = 1 } END { exit !e }' "$log"
check "...the held file's data is in S3" test "$(s3 sha256 "$bucket" held)" = "$(sha256sum < "$work/data" | cut -d' ' -f1)"
check "...the mount is gone" bash -c "! grep -q ' $mnt ' /proc/mounts"
check "...no READY=1 after the stop began" \
  awk -v t="$stop_at" '$2 == "READY=1" && $1 > t { bad = 1 } END { exit bad }' "$log"
kill -KILL "$writer" 2>/dev/null; wait "$writer" 2>/dev/null; writer=""

echo "# notifications of run 2:"; sed 's/^/#   /' "$log" | grep -v WATCHDOG
echo "# vfsd log:"; sed 's/^/#   /' "$work/vfsd.log"
summary
