#!/bin/bash
# Issue 6's benchmarks: every workload against vfsd and, in the same run, its references and peers.
#
#   scripts/bench.sh [--size MIB] [--quick] [--only LIST] [--servers LIST] [--workloads LIST]
#                    [--out FILE] [--memory-limit MIB] [--build DIR]
#
#   --size MIB      the large file of workloads 1, 3, 4, 5 (default 1024)
#   --quick         small sizes (16 MiB, 4 MiB of 4 KiB writes, 50 small files, 200 listed
#                   objects): the CI smoke run; its figures mean nothing
#   --only LIST     systems, comma-separated, of: vfsd null curl s3fs rclone (default all)
#   --servers LIST  rgw,s3rver (default both; one table each)
#   --workloads LIST  workload numbers 1..8, comma-separated (default all); the report has
#                   rows for these only. 5 patches the object 3 writes and 8 is the peak RSS
#                   of 1 and 3, so 5 runs 3 too and 8 runs 1 and 3
#   --out FILE      where the markdown report goes (default BUILD/bench/latest.md)
#   --memory-limit MIB  vfsd's memory_limit (default 512, issue 6's workload 8)
#   --build DIR     the meson build directory (default $BUILD_DIR or build); the script
#                   builds vfsd, tests/vfs-nullfs and tests/fs_io there with ninja, unless
#                   VFSD, VFS_NULLFS and FS_IO name the binaries (as the meson test does)
#
# Systems: vfsd (memory_limit = 512M unless told, otherwise defaults); null = tests/vfs-nullfs, the FUSE
# ceiling (same session layer, max_write and threads as vfsd); curl = one signed stream PUT
# and GET of the same bytes, the server's ceiling; s3fs (Debian) with its defaults plus the
# options its manual names for speed; rclone mount --vfs-cache-mode full. Servers: Ceph RGW
# and s3rver on 127.0.0.1, started here (tests/servers/). Prints the report (markdown: the
# machine, then per server a table of absolute figures, ratios and issue 6's targets) and
# writes it to --out. Nothing asserts on timing; exit status 1 only when the run itself broke
# (a server did not start, or vfsd could not mount or finish a workload).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROG=bench.sh

SIZE_MIB=1024
SIZE_SET=""
QUICK=0
SYSTEMS="vfsd,null,curl,s3fs,rclone"
SERVERS="rgw,s3rver"
WORKLOADS="1,2,3,4,5,6,7,8"
OUT=""
BUILD=${BUILD_DIR:-build}
MEMORY_LIMIT_MIB=512
usage()
{
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--size) SIZE_MIB=${2:?}; SIZE_SET=1; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--only) SYSTEMS=${2:?}; shift 2 ;;
	--servers) SERVERS=${2:?}; shift 2 ;;
	--workloads) WORKLOADS=${2:?}; shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	--memory-limit) MEMORY_LIMIT_MIB=${2:?}; shift 2 ;;
	--build) BUILD=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) echo "$PROG: unknown argument '$1'" >&2; usage ;;
	esac
done
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || { echo "$PROG: --size takes a number of MiB" >&2; exit 2; }
[[ $MEMORY_LIMIT_MIB =~ ^[1-9][0-9]*$ ]] || { echo "$PROG: --memory-limit takes a number of MiB" >&2; exit 2; }
for s in ${SYSTEMS//,/ }; do
	case $s in vfsd | null | curl | s3fs | rclone) ;; *) echo "$PROG: unknown system '$s'" >&2; exit 2 ;; esac
done
for s in ${SERVERS//,/ }; do
	case $s in rgw | s3rver) ;; *) echo "$PROG: unknown server '$s'" >&2; exit 2 ;; esac
done
for w in ${WORKLOADS//,/ }; do
	case $w in [1-8]) ;; *) echo "$PROG: unknown workload '$w' (1..8)" >&2; exit 2 ;; esac
done
has() { [[ ",$SYSTEMS," == *",$1,"* ]]; }
# What runs: the workloads asked for, and those they need (5 patches 3's object; 8 is 1's and 3's peak).
RUN=",$WORKLOADS,"
[[ $RUN == *,5,* ]] && RUN+="3,"
[[ $RUN == *,8,* ]] && RUN+="1,3,"
wl() { [[ $RUN == *",$1,"* ]]; }

# Workload sizes: issue 6's, or the smoke run's.
if [ "$QUICK" = 1 ]; then
	[ -n "$SIZE_SET" ] || SIZE_MIB=16
	W2_MIB=4 SMALL_N=50 LIST_N=200 STEP_TIMEOUT=120 UPLOAD_WAIT=60
else
	W2_MIB=100 SMALL_N=1000 LIST_N=10000 STEP_TIMEOUT=1800 UPLOAD_WAIT=300
fi
SIZE=$((SIZE_MIB << 20))
PART_MIB=8 # vfsd's default part_size, used as is
BUCKET=bench

# Tools and binaries.
need=(curl python3 awk)
has s3fs && need+=(s3fs)
has rclone && need+=(rclone)
for t in "${need[@]}"; do
	command -v "$t" >/dev/null || { echo "$PROG: '$t' not found; run scripts/install-deps.sh (or leave it out with --only)" >&2; exit 1; }
done
if [ -n "${VFSD:-}" ] && [ -n "${VFS_NULLFS:-}" ] && [ -n "${FS_IO:-}" ]; then
	:
else
	[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null || exit 1
	ninja -C "$BUILD" -j2 src/daemon/vfsd tests/vfs-nullfs tests/fs_io >/dev/null || { echo "$PROG: build failed" >&2; exit 1; }
	VFSD=$BUILD/src/daemon/vfsd VFS_NULLFS=$BUILD/tests/vfs-nullfs FS_IO=$BUILD/tests/fs_io
fi
for b in "$VFSD" "$VFS_NULLFS" "$FS_IO"; do
	[ -x "$b" ] || { echo "$PROG: $b is not an executable" >&2; exit 1; }
done
[ -n "$OUT" ] || OUT=$BUILD/bench/latest.md

work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-bench.XXXXXX") || exit 1
shm=$(mktemp -d /dev/shm/vfs-bench.XXXXXX) || exit 1
declare -a started=()  # PIDs of the daemons this script started
declare -a servers_up=()
declare -a starting=() # PIDs of server starts still running

cleanup()
{
	local m pid s
	trap '' INT TERM HUP
	for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts); do
		umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
	done
	for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	# A server start still running is told to give up first (it kills what it launched),
	# so that nothing appears in its directory after stop removed it.
	for pid in "${starting[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	for s in "${servers_up[@]}"; do bash "$ROOT/tests/servers/$s.sh" stop "$work/srv-$s" >/dev/null 2>&1; done
	rm -rf "$work" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

log() { echo "$PROG: $*" >&2; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", b - a }'; }
# field KEY LINE: the value of KEY=VALUE in fs_io's output line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.6f", b / 1e6 / t }'; }

declare -A R=()     # R[server.system.metric] = a number
declare -a NOTES=() # lines for the report's notes
note() { NOTES+=("$*"); log "$*"; }
set_r() { R[$server.$1.$2]=$3; }
# fail_r SYSTEM METRIC: the cell says the step failed, and why when fs_io said.
fail_r() { R[$server.$1.$2]="failed${IO_ERR:+ ($IO_ERR)}"; IO_ERR=""; }

# --- the machine and the run --------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CMDLINE="scripts/bench.sh"
[ "$QUICK" = 1 ] && CMDLINE+=" --quick"
[ -n "$SIZE_SET" ] && CMDLINE+=" --size $SIZE_MIB"
[ "$SYSTEMS" != "vfsd,null,curl,s3fs,rclone" ] && CMDLINE+=" --only $SYSTEMS"
[ "$SERVERS" != "rgw,s3rver" ] && CMDLINE+=" --servers $SERVERS"
[ "$WORKLOADS" != "1,2,3,4,5,6,7,8" ] && CMDLINE+=" --workloads $WORKLOADS"
[ "$MEMORY_LIMIT_MIB" != 512 ] && CMDLINE+=" --memory-limit $MEMORY_LIMIT_MIB"

# Cold means cold: every cold workload starts on a fresh mount, and the kernel's page cache,
# dentries and inodes are dropped first when this process may (root, not in a container
# that forbids it). The S3 server's own caches (RGW's OSD) stay: they are the server's.
DROP_OK=1
drop_caches()
{
	sync
	if ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
		[ "$DROP_OK" = 1 ] && note "could not write /proc/sys/vm/drop_caches (not root, or forbidden here): cold workloads had fresh mounts only; the kernel's page cache was not dropped"
		DROP_OK=0
	fi
}

# --- the source bytes ---------------------------------------------------------------------
# Only what the chosen workloads read: 1, 3, 4 (curl's object) and 5 the large file, 2 the other.
SRC_SHA=""
if wl 1 || wl 3 || wl 4; then
	log "writing ${SIZE_MIB} MiB of random bytes to $shm"
	head -c "$SIZE" /dev/urandom >"$shm/src" || exit 1
	SRC_SHA=$(sha256sum "$shm/src" | cut -d' ' -f1)
fi
if wl 2; then
	log "writing ${W2_MIB} MiB of random bytes to $shm"
	head -c $((W2_MIB << 20)) /dev/urandom >"$shm/src2" || exit 1
fi
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# --- servers ------------------------------------------------------------------------------
declare -A pids=()
for s in ${SERVERS//,/ }; do
	servers_up+=("$s")
	bash "$ROOT/tests/servers/$s.sh" start "$work/srv-$s" >/dev/null 2>"$work/srv-$s.log" &
	pids[$s]=$!
	starting+=("$!")
done
for s in ${SERVERS//,/ }; do
	if ! wait "${pids[$s]}"; then
		cat "$work/srv-$s.log" >&2
		log "could not start $s"
		exit 1
	fi
done
starting=()

# s3 ARGS...: a signed curl request to the current server (ENDPOINT, KEY, SECRET).
s3() { curl -sS -f -m 600 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET" "$@"; }
# head_field KEY HEADER: one response header of HeadObject (empty when absent).
head_field()
{
	s3 -I -H "x-amz-content-sha256: $EMPTY_SHA" "$ENDPOINT/$BUCKET/$1" 2>/dev/null |
		tr -d '\r' | awk -v h="$(tr 'A-Z' 'a-z' <<<"$2")" -F': ' 'tolower($1) == h { print $2 }'
}
# until_in_s3 KEY SIZE [OLD_ETAG]: waits (up to UPLOAD_WAIT s) until S3 holds KEY at SIZE
# bytes, with an ETag other than OLD_ETAG. rclone uploads after close, in the background.
until_in_s3()
{
	local deadline=$((SECONDS + UPLOAD_WAIT)) len etag
	while [ $SECONDS -lt $deadline ]; do
		len=$(head_field "$1" Content-Length)
		etag=$(head_field "$1" ETag)
		[ "$len" = "$2" ] && [ -n "$etag" ] && [ "$etag" != "${3:-}" ] && return 0
		sleep 0.02
	done
	return 1
}

# --- mounts -------------------------------------------------------------------------------
# fs_start SYSTEM: mounts SYSTEM on $mnt (a fresh process), sets PID; fs_stop unmounts it
# and waits for the process to exit. vfsd's stop line (its session totals) lands in STOP_LINE.
PID=""
STOP_LINE=""
wait_mounted()
{
	local i
	for ((i = 0; i < 600; i++)); do
		awk -v m="$mnt" '$2 == m { found = 1 } END { exit !found }' /proc/mounts && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
fs_start()
{
	local sys=$1
	mkdir -p "$mnt"
	case $sys in
	vfsd)
		cat >"$dir/vfsd.conf" <<-CONF
		bucket = $BUCKET
		endpoint = $ENDPOINT
		path_style = true
		access_key_id = $KEY
		secret_access_key = $SECRET
		mountpoint = $mnt
		bus = none
		memory_limit = ${MEMORY_LIMIT_MIB}M
		CONF
		chmod 600 "$dir/vfsd.conf"
		"$VFSD" --config "$dir/vfsd.conf" </dev/null >/dev/null 2>>"$dir/log" &
		;;
	null)
		"$VFS_NULLFS" "$mnt" </dev/null >/dev/null 2>>"$dir/log" &
		;;
	s3fs)
		printf '%s:%s\n' "$KEY" "$SECRET" >"$dir/passwd"
		chmod 600 "$dir/passwd"
		# Defaults, plus the two options s3fs(1) names for performance: remembering
		# absent objects, and knowing only "dir/" directory objects (all this bucket has).
		# dbglevel=warn: its warnings and errors reach its log (the default logs only critical ones).
		s3fs "$BUCKET" "$mnt" -f -o "url=$ENDPOINT,use_path_request_style,passwd_file=$dir/passwd,enable_noobj_cache,notsup_compat_dir,dbglevel=warn" \
			</dev/null >>"$dir/log" 2>&1 &
		;;
	rclone)
		cat >"$dir/rclone.conf" <<-CONF
		[bench]
		type = s3
		provider = Other
		access_key_id = $KEY
		secret_access_key = $SECRET
		endpoint = $ENDPOINT
		region = us-east-1
		force_path_style = true
		CONF
		# A fresh cache for each mount: its on-disk copy must not serve a cold read.
		rm -rf "$dir/rclone-cache"
		# The environment may name an AWS_CA_BUNDLE (this machine's does), which rclone's
		# S3 backend refuses to combine with its own HTTP transport even for plain http.
		env -u AWS_CA_BUNDLE rclone --config "$dir/rclone.conf" mount "bench:$BUCKET" "$mnt" --vfs-cache-mode full \
			--cache-dir "$dir/rclone-cache" </dev/null >/dev/null 2>>"$dir/log" &
		;;
	esac
	PID=$!
	started+=("$PID")
	if ! wait_mounted; then
		note "$server: $sys did not mount; last lines of its log: $(tail -n 3 "$dir/log" | tr '\n' ' ')"
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
		PID=""
		return 1
	fi
}
fs_stop()
{
	local sys=$1 status i
	[ -n "$PID" ] || return 0
	case $sys in
	vfsd | null) kill -TERM "$PID" ;;
	*) umount "$mnt" 2>>"$dir/log" || umount -l "$mnt" ;;
	esac
	for ((i = 0; i < STEP_TIMEOUT * 10; i++)); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$PID" 2>/dev/null; then
		note "$server: $sys did not exit within ${STEP_TIMEOUT} s of its unmount; killed"
		kill -KILL "$PID"
	fi
	wait "$PID"
	status=$?
	PID=""
	STOP_LINE=$(grep 'session totals' "$dir/log" | tail -n 1)
	if [ "$status" != 0 ] && [ "$sys" != rclone ]; then
		note "$server: $sys exited with status $status: $(tail -n 2 "$dir/log" | tr '\n' ' ')"
		return 1
	fi
	return 0
}
# peak_rss: VmHWM of the running daemon in MiB.
peak_rss() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }

# io NAME ARGS...: runs fs_io with a time limit; its output line in IO (fails loudly).
IO="" IO_ERR=""
# log_tail: the daemon's error lines if it marks them (s3fs: [ERR], [WAN]), else its last two lines.
log_tail()
{
	{ grep -E '\[(ERR|CRT|WAN)\]' "$dir/log" | grep -v LowSetLogLevel | tail -n 2 || tail -n 2 "$dir/log"; } | tr '\n' ' '
}
io()
{
	local what=$1
	shift
	IO_ERR=""
	if ! IO=$(timeout "$STEP_TIMEOUT" "$FS_IO" "$@" 2>"$dir/io.err"); then
		IO_ERR=$(head -n 1 "$dir/io.err" | sed 's/.*: //')
		[ -n "$IO_ERR" ] || IO_ERR="timed out after $STEP_TIMEOUT s"
		note "$server: $sys: $what failed: $(tr '\n' ' ' <"$dir/io.err")(its log: $(log_tail))"
		return 1
	fi
}

# --- the workloads ------------------------------------------------------------------------
# Each returns non-zero when a step failed; the cells it could not fill stay empty.
bench_curl()
{
	local t t0 i sha
	local -a puts=()
	if wl 3 || wl 4; then
		# curl is handed the payload hash precomputed (not timed): the strictest baseline.
		t=$(s3 -o /dev/null -w '%{time_total}' -H "x-amz-content-sha256: $SRC_SHA" -T "$shm/src" \
			"$ENDPOINT/$BUCKET/curl-object") || { note "$server: curl PUT failed"; return 1; }
		set_r curl w3 "$t"
		t=$(s3 -o /dev/null -w '%{time_total}' -H "x-amz-content-sha256: $EMPTY_SHA" \
			"$ENDPOINT/$BUCKET/curl-object") || { note "$server: curl GET failed"; return 1; }
		set_r curl w4 "$t"
	fi
	if wl 6; then
		# 6's ceiling: as many 4 KiB PUTs, one after another on one connection (close()
		# returns only once S3 holds the file, so no filesystem that keeps that promise
		# creates small files much faster one at a time). Roughly: curl waits for
		# "100 Continue" before each body (dropping the header with -H "Expect:" made RGW
		# refuse the signature of curl's --aws-sigv4 with 403).
		head -c 4096 /dev/urandom >"$shm/small"
		sha=$(sha256sum "$shm/small" | cut -d' ' -f1)
		for ((i = 0; i < SMALL_N; i++)); do
			puts+=(-T "$shm/small" "$ENDPOINT/$BUCKET/curl-small/f$i")
		done
		t0=$(now)
		s3 -H "x-amz-content-sha256: $sha" "${puts[@]}" >/dev/null || { note "$server: curl small PUTs failed"; return 1; }
		set_r curl w6 "$(awk -v n="$SMALL_N" -v t="$(elapsed "$t0")" 'BEGIN { printf "%.1f", n / t }')"
	fi
}

bench_null()
{
	wl 1 || wl 2 || wl 4 || wl 6 || return 0
	fs_start null || return 1
	wl 1 && io "1 MiB writes" write "$mnt/w1" "$shm/src" 1M "$SIZE" && set_r null w1 "$(mbps "$SIZE" "$(field write_s "$IO")")"
	wl 2 && io "4 KiB writes" write "$mnt/w2" "$shm/src2" 4K $((W2_MIB << 20)) && set_r null w2 "$(mbps $((W2_MIB << 20)) "$(field write_s "$IO")")"
	# Reads return zeros up to the file's size: the FUSE read ceiling.
	wl 4 && truncate -s "$SIZE" "$mnt/w4" && io "read" read "$mnt/w4" 1M && set_r null w4 "$(field total_s "$IO")"
	wl 6 && io "small files" smallfiles "$mnt" "$SMALL_N" 4K && set_r null w6 "$(field files_per_s "$IO")"
	fs_stop null
}

# The filesystems: vfsd, s3fs, rclone.
bench_fs()
{
	local sys=$1 t0 etag n ok=0 patched=0
	local big=$sys-w3 mid=$(((SIZE >> 1) + (1 << 20)))

	# 1 and 2 in one mount; for vfsd a fresh process, so its VmHWM is the peak of 1.
	if wl 1 || wl 2; then
		fs_start "$sys" || return 1
		if wl 1; then
			io "1 MiB writes" write "$mnt/$sys-w1" "$shm/src" 1M "$SIZE" && set_r "$sys" w1 "$(mbps "$SIZE" "$(field write_s "$IO")")" || { fail_r "$sys" w1; ok=1; }
			[ "$sys" = vfsd ] && [ -n "$PID" ] && set_r vfsd w8a "$(peak_rss)"
		fi
		if wl 2; then
			io "4 KiB writes" write "$mnt/$sys-w2" "$shm/src2" 4K $((W2_MIB << 20)) && set_r "$sys" w2 "$(mbps $((W2_MIB << 20)) "$(field write_s "$IO")")" || { fail_r "$sys" w2; ok=1; }
		fi
		fs_stop "$sys" || ok=1
	fi

	# 3: a fresh process again (vfsd's peak of 3 alone); the clock stops when S3 has it all.
	if wl 3; then
		fs_start "$sys" || return 1
		t0=$(now)
		if io "durable write" write "$mnt/$big" "$shm/src" 1M "$SIZE" fsync && until_in_s3 "$big" "$SIZE"; then
			set_r "$sys" w3 "$(elapsed "$t0")"
		else
			note "$server: $sys: $big never reached S3 at $SIZE bytes"
			fail_r "$sys" w3
			ok=1
		fi
		[ "$sys" = vfsd ] && [ -n "$PID" ] && set_r vfsd w8b "$(peak_rss)"
		fs_stop "$sys" || ok=1
	fi

	# 4: cold read of the object curl wrote (the same bytes curl's GET timed): fresh mount,
	# kernel caches dropped.
	if wl 4; then
		drop_caches
		fs_start "$sys" || return 1
		if io "cold read" read "$mnt/curl-object" 1M; then
			if [ "$(field bytes "$IO")" = "$SIZE" ]; then
				set_r "$sys" w4 "$(field total_s "$IO")"
			else
				note "$server: $sys: cold read returned $(field bytes "$IO") bytes, not $SIZE"
				fail_r "$sys" w4
				ok=1
			fi
		else
			fail_r "$sys" w4
			ok=1
		fi
		fs_stop "$sys" || ok=1
	fi

	# 5: 4 KiB overwritten inside a part of the middle of the object 3 wrote, then fsync,
	# on a mount that has not seen it (vfsd: its own process, so its totals are this alone).
	if ! wl 5; then
		:
	elif ! etag=$(head_field "$big" ETag) || [ "$(head_field "$big" Content-Length)" != "$SIZE" ]; then
		note "$server: $sys: no $SIZE-byte object from 3 to patch; 5 skipped"
		IO_ERR="no object from 3"
		fail_r "$sys" w5
		ok=1
	else
		fs_start "$sys" || return 1
		t0=$(now)
		if io "patch" patch "$mnt/$big" "$mid" 4K && until_in_s3 "$big" "$SIZE" "$etag"; then
			set_r "$sys" w5 "$(elapsed "$t0")"
			patched=1
		else
			note "$server: $sys: the patched $big never reached S3"
			fail_r "$sys" w5
			ok=1
		fi
		if fs_stop "$sys" && [ "$sys" = vfsd ] && [ "$patched" = 1 ]; then
			if [[ $STOP_LINE =~ totals:\ ([0-9]+)\ bytes\ uploaded,\ ([0-9]+)\ bytes\ copied ]]; then
				set_r vfsd w5sent "${BASH_REMATCH[1]}"
				set_r vfsd w5copied "${BASH_REMATCH[2]}"
			else
				note "$server: vfsd printed no session totals at stop"
				ok=1
			fi
		fi
	fi

	# 6: small files, in a directory that mkdir makes just before.
	if wl 6; then
		fs_start "$sys" || return 1
		if mkdir "$mnt/small-$sys" && io "small files" smallfiles "$mnt/small-$sys" "$SMALL_N" 4K; then
			set_r "$sys" w6 "$(field files_per_s "$IO")"
		else
			fail_r "$sys" w6
			ok=1
		fi
		fs_stop "$sys" || ok=1
	fi

	# 7: ls -l of the listing directory, on a fresh mount with caches dropped, then again.
	wl 7 || return $ok
	drop_caches
	fs_start "$sys" || return 1
	t0=$(now)
	n=$(timeout "$STEP_TIMEOUT" ls -l "$mnt/list" | grep -c '^-')
	set_r "$sys" w7a "$(elapsed "$t0")"
	if [ "$n" != "$LIST_N" ]; then
		note "$server: $sys: cold ls -l listed $n files, not $LIST_N"
		fail_r "$sys" w7a
		ok=1
	fi
	t0=$(now)
	n=$(timeout "$STEP_TIMEOUT" ls -l "$mnt/list" | grep -c '^-')
	set_r "$sys" w7b "$(elapsed "$t0")"
	if [ "$n" != "$LIST_N" ]; then
		note "$server: $sys: warm ls -l listed $n files, not $LIST_N"
		fail_r "$sys" w7b
		ok=1
	fi
	fs_stop "$sys" || ok=1
	return $ok
}

# The listing directory: LIST_N small objects under list/ (with s3fs's mode metadata, so
# every peer shows them as plain files), and the list/ marker that s3fs's notsup_compat_dir
# wants.
populate_list()
{
	python3 - "$ENDPOINT" "$KEY" "$SECRET" "$BUCKET" "$LIST_N" <<-'PY'
	import concurrent.futures, sys
	import boto3, botocore.config
	endpoint, key, secret, bucket, n = sys.argv[1:6]
	c = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
	                 region_name="us-east-1",
	                 config=botocore.config.Config(s3={"addressing_style": "path"}, max_pool_connections=16))
	c.put_object(Bucket=bucket, Key="list/", Body=b"", ContentType="application/x-directory",
	             Metadata={"mode": "16877"})
	def put(i):
	    c.put_object(Bucket=bucket, Key="list/f%05d" % i, Body=b"x" * 100, Metadata={"mode": "33188"})
	with concurrent.futures.ThreadPoolExecutor(16) as pool:
	    list(pool.map(put, range(int(n))))
	PY
}

broken=0
for server in ${SERVERS//,/ }; do
	# shellcheck disable=SC1090
	. "$work/srv-$server/env"
	ENDPOINT=$S3_ENDPOINT KEY=$AWS_ACCESS_KEY_ID SECRET=$AWS_SECRET_ACCESS_KEY
	s3 -o /dev/null -X PUT -H "x-amz-content-sha256: $EMPTY_SHA" "$ENDPOINT/$BUCKET" || { log "$server: cannot create the bucket"; exit 1; }
	if wl 7; then
		log "$server: $LIST_N objects under list/"
		populate_list || { log "$server: could not populate list/"; exit 1; }
	fi
	# curl first: workload 4 of every filesystem reads the object it PUTs.
	if wl 3 || wl 4 || wl 6; then
		log "$server: curl"
		bench_curl || broken=1
	fi
	for sys in null vfsd s3fs rclone; do
		has "$sys" || continue
		dir=$work/$server/$sys mnt=$dir/mnt
		mkdir -p "$mnt"
		log "$server: $sys"
		if [ "$sys" = null ]; then
			bench_null || { note "$server: the null filesystem did not finish"; broken=1; }
		elif ! bench_fs "$sys"; then
			[ "$sys" = vfsd ] && broken=1
		fi
		[ -n "$PID" ] && fs_stop "$sys"
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the report ---------------------------------------------------------------------------
# cell SYSTEM METRIC [DECIMALS]: the figure, or "—" when there is none.
cell()
{
	local v=${R[$server.$1.$2]:-}
	if [ -z "$v" ]; then
		echo "—"
	elif [[ $v =~ ^[0-9.]+$ ]]; then
		awk -v v="$v" -v d="${3:-2}" 'BEGIN { printf "%.*f", d, v }'
	else
		echo "$v"
	fi
}
# verdict RATIO OP TARGET: "met" or how far off; RATIO may be empty.
verdict()
{
	[[ $1 =~ ^[0-9.]+$ ]] || { echo "—"; return; }
	awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN {
		if (op == ">=") { if (r >= t) print "met"; else printf "missed by %.0f%%\n", (t - r) / t * 100 }
		else { if (r <= t) print "met"; else printf "missed by %.0f%%\n", (r - t) / t * 100 } }'
}
# ratio A B: A / B to 2 decimals, empty when either is missing (or not a number).
ratio()
{
	[[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}
get() { echo "${R[$server.$1.$2]:-}"; }
row()
{
	# row ID WHAT UNIT DECIMALS METRIC RATIO_TEXT TARGET VERDICT
	local id=$1 what=$2 d=$3 m=$4 rtext=$5 target=$6 v=$7
	[[ ${R[$server.vfsd.$m]:-} == failed* ]] && v="missed: vfsd failed"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$id" "$what" \
		"$(cell vfsd "$m" "$d")" "$(cell null "$m" "$d")" "$(cell curl "$m" "$d")" \
		"$(cell s3fs "$m" "$d")" "$(cell rclone "$m" "$d")" "$rtext" "$target" "$v"
}
rt() { [ -n "$1" ] && echo "$1× $2" || echo "—"; }

report()
{
	local r sent
	echo "## Filesystems: vfsd against the ceilings and the peers"
	echo
	echo "Command: \`$CMDLINE\`, $START_DATE. Machine: $(nproc) cores, $CPU, ${MEM_GIB} GiB," \
		"Linux $(uname -r); load average $LOAD_START at the start, $LOAD_END at the end."
	local v
	v="$(curl --version | head -1 | cut -d' ' -f1-2)"
	has s3fs && v+=", s3fs $(s3fs --version 2>&1 | sed -n 's/.*File System V\([0-9.]*\).*/\1/p' | head -1)"
	has rclone && v+=", rclone $(rclone version 2>/dev/null | head -1 | cut -d' ' -f2)"
	[[ ,$SERVERS, == *,rgw,* ]] && v+=", $(radosgw --version 2>/dev/null | cut -d' ' -f1-3)"
	[[ ,$SERVERS, == *,s3rver,* ]] && v+=", s3rver $(sed -n 's/^ *"version": "\([^"]*\)".*/\1/p' "$ROOT/tests/servers/node_modules/s3rver/package.json" 2>/dev/null | head -1)"
	echo "Versions: $v."
	[ "$QUICK" = 1 ] && echo && echo "**Quick (smoke) run: tiny sizes, the figures mean nothing.**"
	echo
	echo "MB/s are 10^6 bytes per second; times in seconds; one run of each (no medians)."
	for server in ${SERVERS//,/ }; do
		echo
		echo "### $server"
		echo
		echo "| # | workload | vfsd | null FUSE | curl | s3fs | rclone | vfsd ratio | target | verdict |"
		echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
		r=$(ratio "$(get vfsd w1)" "$(get null w1)")
		wl 1 && row 1 "write ${SIZE_MIB} MiB, 1 MiB writes, to the last write() (MB/s)" 0 w1 "$(rt "$r" "null")" "≥ 0.85×" "$(verdict "$r" ">=" 0.85)"
		r=$(ratio "$(get vfsd w2)" "$(get null w2)")
		wl 2 && row 2 "write ${W2_MIB} MiB as $((W2_MIB * 256)) writes of 4 KiB (MB/s)" 0 w2 "$(rt "$r" "null")" "≥ 0.8×" "$(verdict "$r" ">=" 0.8)"
		r=$(ratio "$(get vfsd w3)" "$(get curl w3)")
		wl 3 && row 3 "write ${SIZE_MIB} MiB + fsync + close, until in S3 (s; curl: PUT)" 2 w3 "$(rt "$r" "curl")" "≤ 1.15×" "$(verdict "$r" "<=" 1.15)"
		r=$(ratio "$(get vfsd w4)" "$(get curl w4)")
		wl 4 && row 4 "cold read of ${SIZE_MIB} MiB, 1 MiB reads (s; curl: GET; null: zeros)" 2 w4 "$(rt "$r" "curl")" "≤ 1.15×" "$(verdict "$r" "<=" 1.15)"
		wl 5 && row 5 "4 KiB patch in the middle of ${SIZE_MIB} MiB, fsync, until in S3 (s)" 2 w5 "—" "—" "—"
		if wl 5; then
			sent=$(get vfsd w5sent)
			r=""
			[ -n "$sent" ] && r=$(awk -v b="$sent" 'BEGIN { printf "%.3f", b / 1048576 }')
			local t5="≤ ${PART_MIB} MiB (one part)" v5
			if [ "$server" = s3rver ]; then
				t5="none: s3rver has no UploadPartCopy"
				v5="fallback"
			else
				v5=$(verdict "$r" "<=" "$PART_MIB")
			fi
			printf '| 5b | bytes vfsd sent to S3 for 5 (MiB; %s MiB copied server-side) | %s | — | — | — | — | — | %s | %s |\n' \
				"$(awk -v b="$(get vfsd w5copied)" 'BEGIN { if (b != "") printf "%.1f", b / 1048576; else printf "—" }')" \
				"${r:-—}" "$t5" "$v5"
		fi
		r=$(ratio "$(get vfsd w6)" "$(get s3fs w6)")
		wl 6 && row 6 "$SMALL_N files: create, write 4 KiB, close (files/s)" 0 w6 "$(rt "$r" "s3fs")" "≥ 3×" "$(verdict "$r" ">=" 3)"
		r=$(ratio "$(get s3fs w7a)" "$(get vfsd w7a)")
		wl 7 && row 7a "ls -l of $LIST_N objects, cold (s)" 3 w7a "$(rt "$r" "s3fs's speed")" "≥ 3×" "$(verdict "$r" ">=" 3)"
		r=$(ratio "$(get s3fs w7b)" "$(get vfsd w7b)")
		wl 7 && row 7b "ls -l of $LIST_N objects, warm (s)" 3 w7b "$(rt "$r" "s3fs's speed")" "≥ 3×" "$(verdict "$r" ">=" 3)"
		local lim=$((MEMORY_LIMIT_MIB + 64))
		wl 8 && row 8a "vfsd peak RSS during 1, memory_limit ${MEMORY_LIMIT_MIB}M (MiB)" 0 w8a "—" "≤ $lim MiB" "$(verdict "$(get vfsd w8a)" "<=" "$lim")"
		wl 8 && row 8b "vfsd peak RSS during 3 (MiB)" 0 w8b "—" "≤ $lim MiB" "$(verdict "$(get vfsd w8b)" "<=" "$lim")"
	done
	echo
	echo "How each figure is taken (scripts/bench.sh): 1 and 2 time the writes alone, from"
	echo "open()'s return to the last write()'s (creating and closing the file are not counted;"
	echo "6 measures creation). 3 and 5 stop when a HEAD shows the new object in S3 (rclone"
	echo "uploads after close, by default 5 s later). 4 and 7a start on a fresh mount with the"
	echo "kernel's caches dropped, and every filesystem reads the object curl PUT. vfsd runs"
	echo "in a fresh process for 1+2, 3, 4, 5, 6 and 7, so 8a/8b are the peaks of 1 and 3"
	echo "and 5b its totals for 5 alone. 6's curl figure is as many 4 KiB PUTs one after"
	echo "another on one connection: the ceiling of a filesystem whose close() waits for S3."
	echo "s3fs: defaults plus enable_noobj_cache and notsup_compat_dir (what s3fs(1) names"
	echo "for speed). rclone: --vfs-cache-mode full."
	if [ ${#NOTES[@]} -gt 0 ]; then
		echo
		echo "Notes from this run:"
		echo
		printf -- '- %s\n' "${NOTES[@]}"
	fi
}

mkdir -p "$(dirname "$OUT")"
report >"$OUT"
cat "$OUT"
log "report written to $OUT"
exit $broken
