#!/bin/bash
# Runs a command against fresh S3 test servers (Ceph RGW and s3rver) on 127.0.0.1, then stops them.
#
#   with-servers.sh CMD [ARG...]
#
# Both servers start in parallel (they share nothing: own dirs, own ports) under one
# mktemp dir. CMD then runs with, exported:
#   RGW_ENDPOINT RGW_ACCESS_KEY_ID RGW_SECRET_ACCESS_KEY RGW_PIDS RGW_ENV
#   S3RVER_ENDPOINT S3RVER_ACCESS_KEY_ID S3RVER_SECRET_ACCESS_KEY S3RVER_PIDS S3RVER_ENV
#   AWS_DEFAULT_REGION
# (RGW_ENV / S3RVER_ENV name a file that sets S3_ENDPOINT and AWS_* for that server:
# `. "$RGW_ENV"` before running s3check.py against it.)
# WITH_SERVERS="rgw" or "s3rver" starts only that one (default: "rgw s3rver").
#
# The exit status is CMD's, or 1 when a server failed to start (CMD does not run).
# Servers are stopped however this script ends: normal exit, failure, or a signal. If it
# is killed outright (meson sends SIGKILL to the test's process group 0.5 s after
# SIGTERM on a timeout), a watchdog in its own session notices and stops them.
set -u

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ $# -eq 0 ]; then
	echo "usage: $PROG CMD [ARG...]" >&2
	exit 2
fi

servers=${WITH_SERVERS:-rgw s3rver}
for s in $servers; do
	case $s in
	rgw | s3rver) ;;
	*) echo "$PROG: unknown server '$s' in WITH_SERVERS" >&2; exit 2 ;;
	esac
done

root=$(mktemp -d "${TMPDIR:-/tmp}/vfs-servers.XXXXXX") || exit 1

# Stops every server under $root and removes it; each stop kills only PIDs it can prove
# it started. Used by the EXIT trap and, if this shell dies unannounced, the watchdog.
stop_all()
{
	local s pids=()
	for s in rgw s3rver; do
		[ -e "$root/$s" ] || continue
		"$HERE/$s.sh" stop "$root/$s" &
		pids+=($!)
	done
	# Not a bare wait: that would also wait for the watchdog, which waits for us.
	for s in "${pids[@]}"; do wait "$s"; done
	rm -rf "$root"
}

setsid bash -c '
	while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
	[ -e "$4/rgw" ] && "$2" stop "$4/rgw"
	[ -e "$4/s3rver" ] && "$3" stop "$4/s3rver"
	rm -rf "$4"' watchdog $$ "$HERE/rgw.sh" "$HERE/s3rver.sh" "$root" </dev/null >/dev/null 2>&1 &
watchdog=$!

cmd_pid=""
declare -A start_pid
cleanup()
{
	local status=$? pid
	trap '' INT TERM HUP
	# A start still running is told to give up first: it then kills what it launched,
	# and nothing new appears under $root while stop_all removes it.
	for pid in "${start_pid[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	if [ -n "$cmd_pid" ] && kill -0 "$cmd_pid" 2>/dev/null; then
		kill -TERM "$cmd_pid" 2>/dev/null
		wait "$cmd_pid" 2>/dev/null
	fi
	stop_all
	kill "$watchdog" 2>/dev/null
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

for s in $servers; do
	"$HERE/$s.sh" start "$root/$s" >/dev/null &
	start_pid[$s]=$!
done
failed=""
for s in $servers; do
	wait "${start_pid[$s]}" || failed="$failed $s"
done
start_pid=()
if [ -n "$failed" ]; then
	echo "$PROG: could not start:$failed (its log is above)" >&2
	exit 1
fi

# Export each server's env file under a prefix (its PIDs variable already has it); AWS_*
# stay unset so that a test says which server it talks to.
load()
{
	local prefix=$1 file=$2 pids_var=${1}_PIDS
	# shellcheck disable=SC1090
	eval "$(. "$file" && printf 'export %s_ENDPOINT=%q %s_ACCESS_KEY_ID=%q %s_SECRET_ACCESS_KEY=%q %s=%q\n' \
		"$prefix" "$S3_ENDPOINT" "$prefix" "$AWS_ACCESS_KEY_ID" "$prefix" "$AWS_SECRET_ACCESS_KEY" \
		"$pids_var" "${!pids_var}")"
	export "${prefix}_ENV=$file" AWS_DEFAULT_REGION=us-east-1
}
for s in $servers; do
	case $s in
	rgw) load RGW "$root/rgw/env" ;;
	s3rver) load S3RVER "$root/s3rver/env" ;;
	esac
done

# CMD runs as a background job so that a signal to this shell is handled at once (a
# foreground child would defer the trap until it exits); <&0 keeps our stdin for it.
"$@" <&0 &
cmd_pid=$!
wait "$cmd_pid"
status=$?
cmd_pid=""
exit "$status"
