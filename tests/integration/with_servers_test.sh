#!/bin/bash
# Tests with-servers.sh itself: exit status passed through, and nothing left behind after exit, failure, SIGTERM or SIGKILL.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WITH=$HERE/../servers/with-servers.sh
# Every server dir lives under $T, so "left behind" means: a process whose command line
# names $T, or anything but our own files in $T.
T=$(mktemp -d "${TMPDIR:-/tmp}/vfs-with-servers-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
export TMPDIR=$T/tmp
mkdir "$TMPDIR"

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi; }

# PIDs of live (non-zombie) processes whose command line mentions $T.
leftovers()
{
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '{ print $3 }' "$p/stat" 2>/dev/null)" = Z ] && continue
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$T/tmp" && echo "${p#/proc/}"
	done
	return 0
}

# clean NAME [SECONDS]: within SECONDS (default 0), no process and no file is left.
clean()
{
	local name=$1 wait=${2:-0} i left files
	for ((i = 0; i <= wait * 10; i++)); do
		left=$(leftovers | tr '\n' ' ')
		files=$(ls -A "$TMPDIR")
		[ -z "$left$files" ] && break
		sleep 0.1
	done
	check "$name: no process left" "" "$left"
	check "$name: no file left in TMPDIR" "" "$files"
}

# Wait for FILE to appear (the command inside with-servers.sh writes it once running).
await()
{
	local i
	for ((i = 0; i < 1200; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
	return 1
}

# 1. CMD's exit status is returned, CMD saw live servers, and everything is gone after.
"$WITH" bash -c 'curl -sf -o /dev/null "$S3RVER_ENDPOINT/" && curl -s "$RGW_ENDPOINT/" | grep -q ListAllMyBucketsResult &&
	echo "$RGW_PIDS $S3RVER_PIDS" >"'"$T"'/pids" && exit 7'
check "exit status of CMD" 7 "$?"
check "CMD saw both servers answer, and four PIDs" 4 "$(wc -w <"$T/pids" 2>/dev/null)"
for p in $(cat "$T/pids" 2>/dev/null); do
	[ -e "/proc/$p" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat")" != Z ] && bad "PID $p still alive after exit"
done
clean "after exit 7"

# 2. SIGTERM to the process group, as meson sends on a timeout: status 143, cleaned up.
setsid "$WITH" bash -c 'echo up >"'"$T"'/up2"; sleep 600' &
group=$!
if await "$T/up2"; then
	kill -TERM -- "-$group"
	{ wait "$group"; } 2>/dev/null
	check "status after SIGTERM" 143 "$?"
	clean "after SIGTERM"
else
	bad "SIGTERM case: CMD never ran"
	kill -KILL -- "-$group"
fi

# 3. SIGKILL to the whole group (no trap can run): the watchdog stops the servers.
setsid "$WITH" bash -c 'echo up >"'"$T"'/up3"; sleep 600' &
group=$!
if await "$T/up3"; then
	kill -KILL -- "-$group"
	{ wait "$group"; } 2>/dev/null
	clean "after SIGKILL (watchdog)" 10
else
	bad "SIGKILL case: CMD never ran"
	kill -KILL -- "-$group"
fi

# 4. A server that fails half-way through starting: status 1, CMD never runs, and the
#    daemons it had started and the other server are gone.
RGW_START_TIMEOUT=1 "$WITH" touch "$T/ran4" 2>"$T/err4"
check "status when RGW cannot start" 1 "$?"
[ ! -e "$T/ran4" ] && ok "CMD not run when a server failed" || bad "CMD ran although RGW failed"
grep -q 'rgw.sh: start failed' "$T/err4" && ok "start failure is reported" || bad "no start failure message: $(cat "$T/err4")"
clean "after a failed start"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
