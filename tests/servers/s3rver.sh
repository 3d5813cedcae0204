#!/bin/bash
# Starts and stops s3rver (a small Node.js S3 server, pinned in package-lock.json) on 127.0.0.1.
#
#   s3rver.sh start DIR   DIR must be absent or empty; objects live in DIR/data.
#                         Prints the endpoint and writes DIR/env, a shell file to source:
#                         S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
#                         S3RVER_PIDS.
#   s3rver.sh stop DIR    kills the server start launched (only if its command line still
#                         names DIR/data) and removes DIR.
#
# What s3rver is not, so tests against it must not count on it:
#  - It does not verify SigV4 signatures: it only checks that the access key is one it
#    knows (S3RVER, whose secret is S3RVER) and that x-amz-content-sha256 is present. A
#    wrong secret is accepted; signature tests need RGW.
#  - No UploadPartCopy: PUT ?partNumber&uploadId with x-amz-copy-source is 501 NotImplemented.
#  - Each object is a file named after the key, with a suffix: a key component (between
#    slashes) longer than 240 bytes exceeds the file-name limit and comes back as a 500.
#
# Needs tests/servers/node_modules (scripts/install-deps.sh runs `npm ci` there).
# Optional environment: S3RVER_START_TIMEOUT seconds (default 30).
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$HERE/node_modules/s3rver/bin/s3rver.js
MARKER=.made-by-s3rver.sh

usage()
{
	echo "usage: $PROG start|stop DIR" >&2
	exit 2
}

# The PID in DIR/pid, if its command line still names DIR/data (never a recycled PID).
our_pid()
{
	local dir=$1 pid
	pid=$(cat "$dir/pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$dir/data" && echo "$pid"
	return 0
}

gone()
{
	[ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

kill_ours()
{
	local pid i
	pid=$(our_pid "$1")
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do gone "$pid" && break; sleep 0.05; done
	gone "$pid" || echo "$PROG: PID $pid did not die" >&2
	echo "$pid"
}

cmd_stop()
{
	local dir=$1 killed
	if [ ! -e "$dir" ]; then
		echo "$PROG: $dir does not exist, nothing to stop" >&2
		return 0
	fi
	dir=$(cd "$dir" && pwd)
	if [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/$MARKER" ]; then
		echo "$PROG: $dir was not made by '$PROG start'; not touching it" >&2
		return 1
	fi
	killed=$(kill_ours "$dir")
	rm -rf "$dir"
	echo "$PROG: stopped [$killed], removed $dir" >&2
}

cmd_start()
{
	local dir=$1
	local deadline=$((SECONDS + ${S3RVER_START_TIMEOUT:-30}))
	local t0=$EPOCHREALTIME
	local pid port endpoint

	command -v node >/dev/null || { echo "$PROG: node not found; run scripts/install-deps.sh" >&2; exit 1; }
	[ -f "$BIN" ] || { echo "$PROG: $BIN missing; run scripts/install-deps.sh" >&2; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -n "$(ls -A "$dir")" ]; then
		echo "$PROG: $dir is not empty" >&2
		exit 1
	fi
	touch "$dir/$MARKER"
	mkdir "$dir/data"

	fail()
	{
		echo "$PROG: start failed: $1" >&2
		echo "$PROG: last lines of $dir/s3rver.log:" >&2
		tail -n 15 "$dir/s3rver.log" 2>/dev/null | sed 's/^/    /' >&2
		exit 1
	}
	on_exit()
	{
		local status=$?
		[ "$status" -eq 0 ] && return
		# A global: an errexit may have unwound cmd_start's locals by now.
		kill_ours "$START_DIR" >/dev/null
		echo "$PROG: start failed (status $status); server killed; state left in $START_DIR ('$PROG stop $START_DIR' removes it)" >&2
	}
	START_DIR=$dir
	trap on_exit EXIT
	trap 'fail "interrupted"' INT TERM

	# Port 0: the kernel picks a free port and s3rver prints it, so no race for it.
	# Path-style only: with vhost buckets on, a Host that looks like a domain would be
	# taken for a bucket name.
	# s3rver's continuation tokens are DES-encrypted; Node's OpenSSL 3 keeps DES in the
	# legacy provider, without which every truncated listing answers 500.
	node --openssl-legacy-provider "$BIN" -d "$dir/data" -a 127.0.0.1 -p 0 --no-vhost-buckets </dev/null >"$dir/s3rver.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	disown "$pid"

	until port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]\+\)$/\1/p' "$dir/s3rver.log") && [ -n "$port" ]; do
		gone "$pid" && fail "s3rver exited"
		[ "$SECONDS" -lt "$deadline" ] || fail "s3rver did not say it was listening"
		sleep 0.05
	done
	endpoint=http://127.0.0.1:$port
	until curl -sS -f -m 5 -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$endpoint/" 2>/dev/null; do
		gone "$pid" && fail "s3rver exited"
		[ "$SECONDS" -lt "$deadline" ] || fail "signed ListBuckets on $endpoint never succeeded"
		sleep 0.05
	done

	cat >"$dir/env" <<-EOF
	export S3_ENDPOINT=$endpoint
	export AWS_ACCESS_KEY_ID=S3RVER
	export AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_DEFAULT_REGION=us-east-1
	export S3RVER_PIDS=$pid
	EOF
	trap - INT TERM EXIT
	echo "$PROG: ready after $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s: $endpoint (pid $pid)" >&2
	echo "$endpoint"
}

[ $# -eq 2 ] || usage
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
*) usage ;;
esac
