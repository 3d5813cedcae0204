#!/bin/bash
# End to end: the vfs .deb in a Debian bookworm container with a real systemd as PID 1.
#
#   tests/e2e/nspawn-e2e.sh [DEB]
#
# Does what a sysadmin does, and checks each step: installs the package with apt, writes
# /etc/vfs/demo.conf (secret through LoadCredential=), `systemctl start vfs@demo`, writes
# through the mount, `busctl call ... Flush` while a writer holds the file open, reads
# properties, confirms every byte with boto3 on the host (tests/servers/s3check.py),
# reinstalls the package under the running instance (an upgrade must not restart it),
# `systemctl stop vfs@demo` with unsaved data, and `apt-get purge` with unsaved data
# (removal stops the instances; nothing may be lost); then checks the package is gone.
#
# Needs root, systemd-nspawn, debootstrap, /dev/fuse, and the Debian mirror for the first
# debootstrap (the root file system is cached, keyed by its package list, under
# $VFS_E2E_CACHE, default /var/cache/vfs-e2e). Without DEB (or $VFS_E2E_DEB) the package is
# built first with packaging/build-deb.sh (nocheck, no lintian). The S3 server is Ceph RGW
# on the host's 127.0.0.1, which the container shares: the one with-servers.sh started
# ($RGW_ENV), else one this script starts with tests/servers/rgw.sh.
#
# The container is `systemd-nspawn -b --register=no --keep-unit --volatile=overlay`: the
# cached tree is never written. Commands run inside through nsenter. Everything started
# here is stopped by PID; the container is powered off; the cgroups nspawn leaves behind
# (payload/, supervisor/) and its /run/systemd/nspawn scratch directories are removed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
SRC_ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=../integration/lib.sh
. "$HERE/integration/lib.sh"

T0=$SECONDS
log()
{
	printf '[%s +%3ds] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*"
}
die()
{
	log "FATAL: $*"
	failed=$((failed + 1))
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (systemd-nspawn, debootstrap, nsenter)"
for tool in systemd-nspawn debootstrap nsenter flock python3; do
	command -v "$tool" >/dev/null || die "$tool is missing; run scripts/install-deps.sh"
done
[ -c /dev/fuse ] || die "/dev/fuse is missing on the host"

WORK=$(mktemp -d /tmp/vfs-e2e.XXXXXX)
CACHE=${VFS_E2E_CACHE:-/var/cache/vfs-e2e}
SUITE=bookworm
NSPAWN_PID="" WATCHDOG_PID="" CPID="" RGW_DIR="" BUCKET=""
WRITER_PIDS=()
# nspawn --keep-unit makes payload/ and supervisor/ cgroups next to ours and leaves them.
nspawn_cgroups()
{
	find /sys/fs/cgroup -maxdepth 6 -type d \( -name payload -o -name supervisor \) 2>/dev/null | sort
}
CG_BEFORE=$WORK/cgroups.before
nspawn_cgroups >"$CG_BEFORE"
NSPAWN_RUN_EXISTED=0
[ -d /run/systemd/nspawn ] && NSPAWN_RUN_EXISTED=1

# --- helpers ----------------------------------------------------------------------------

# inside CMD...: runs CMD inside the container (all its namespaces, its root).
inside()
{
	nsenter -t "$CPID" -a "$@"
}
# in_sh SCRIPT: a shell script inside the container.
in_sh()
{
	nsenter -t "$CPID" -a /bin/sh -c "$1"
}
s3()
{
	python3 "$HERE/servers/s3check.py" "$@"
}
sha()
{
	sha256sum <"$1" | cut -d' ' -f1
}
in_bucket()
{
	test "$(s3 sha256 "$BUCKET" "$1" 2>/dev/null)" = "$(sha "$2")"
}
# wait_for SECONDS CMD...: polls CMD every 0.2 s.
wait_for()
{
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 5; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
prop()
{
	inside busctl get-property "org.vfs.Vfs1.demo" /org/vfs/Vfs1 org.vfs.Vfs1.Mount "$1"
}
unit_prop()
{
	inside systemctl show -P "$1" vfs@demo.service
}
mounted()
{
	inside findmnt -n -o FSTYPE /run/vfs/demo 2>/dev/null | grep -q '^fuse'
}
not_mounted()
{
	! inside findmnt -n /run/vfs/demo >/dev/null 2>&1
}
is_active()
{
	test "$(inside systemctl is-active vfs@demo.service)" = active
}
is_inactive()
{
	test "$(inside systemctl is-active vfs@demo.service)" = inactive
}
absent()
{
	local p
	for p; do
		[ -e "/proc/$CPID/root$p" ] && { log "still there: $p"; return 1; }
	done
	return 0
}

# hold NAME BYTES: a writer inside the container opens /run/vfs/demo/NAME, writes BYTES
# bytes (the same as $WORK/NAME) and keeps the file open, unflushed, until release NAME.
# Returns once the bytes are written. Every close() of any descriptor of the file is a
# FUSE flush, which uploads; so the writer is a shell whose stdout is the file, written by
# a builtin, with no redirection of stdout afterwards (bash would dup and close it) and no
# child process (its exit would close an inherited copy). Builtins cannot write NUL bytes:
# the content is random base64 text. The host reads the progress from the writer's
# /proc/PID/fdinfo/1, which does not touch the file.
hold()
{
	local name=$1 bytes=$2 croot=/proc/$CPID/root nsenter_pid c
	head -c "$bytes" /dev/urandom | base64 -w0 | head -c "$bytes" >"$WORK/$name"
	cp "$WORK/$name" "$croot/root/$name"
	mkfifo "$croot/root/$name.fifo"
	nsenter -t "$CPID" -a bash -c 'data=$(<"/root/$1")
		exec >"/run/vfs/demo/$1" || exit 1
		printf %s "$data"
		read -r _ <"/root/$1.fifo"' _ "$name" 2>>"$WORK/writers.log" &
	nsenter_pid=$!
	WRITER_PIDS+=("$nsenter_pid")
	written()
	{
		for c in $(cat /proc/"$nsenter_pid"/task/*/children 2>/dev/null); do
			grep -qx "pos:[[:space:]]*$bytes" "/proc/$c/fdinfo/1" 2>/dev/null && return 0
		done
		return 1
	}
	wait_for 60 written
}
release()
{
	local fifo=/proc/$CPID/root/root/$1.fifo
	[ -p "$fifo" ] && timeout 5 sh -c "echo >'$fifo'"
	return 0
}

dump_service()
{
	[ -n "$CPID" ] || return 0
	log "--- systemctl status vfs@demo; journal of vfs@demo ---"
	inside systemctl status --no-pager vfs@demo.service 2>&1 | sed 's/^/    /'
	inside journalctl --no-pager -o short-monotonic -u vfs@demo.service 2>&1 | tail -60 | sed 's/^/    /'
}

cleanup()
{
	local status=$?
	trap - EXIT INT TERM
	[ "$failed" = 0 ] || { dump_service; [ -s "$WORK/writers.log" ] && sed 's/^/    writer: /' "$WORK/writers.log"; }
	log "cleanup"
	# Writers: release them; whatever is left dies with the container.
	if [ -n "$CPID" ]; then
		for f in "/proc/$CPID/root/root/"*.fifo; do
			[ -p "$f" ] && timeout 2 sh -c "echo >'$f'" 2>/dev/null
		done
	fi
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		[ -n "$CPID" ] && nsenter -t "$CPID" -a systemctl poweroff 2>/dev/null
		wait_for 30 eval '! kill -0 "$NSPAWN_PID" 2>/dev/null' ||
			{ log "container did not power off; SIGTERM to nspawn $NSPAWN_PID"; kill -TERM "$NSPAWN_PID"; }
		wait_for 15 eval '! kill -0 "$NSPAWN_PID" 2>/dev/null' ||
			{ log "SIGKILL to nspawn $NSPAWN_PID"; kill -KILL "$NSPAWN_PID"; }
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	if [ -n "$WATCHDOG_PID" ]; then
		kill -TERM "$WATCHDOG_PID" 2>/dev/null
		wait "$WATCHDOG_PID" 2>/dev/null
		rm -f "$CACHE/cgroups.$$"
	fi
	local p
	for p in "${WRITER_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# cgroups nspawn made and left (the container's systemd removes its own children at
	# poweroff, not payload/ and supervisor/): only new ones, deepest first, rmdir only.
	nspawn_cgroups | comm -13 "$CG_BEFORE" - | while read -r d; do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || log "could not remove cgroup $d"
	done
	if [ "$NSPAWN_RUN_EXISTED" = 0 ] && [ -d /run/systemd/nspawn ]; then
		rmdir /run/systemd/nspawn/locks /run/systemd/nspawn/propagate /run/systemd/nspawn 2>/dev/null
	fi
	if [ -n "$BUCKET" ] && [ -n "${S3_ENDPOINT:-}" ]; then
		s3 rb "$BUCKET" --force >/dev/null 2>&1
	fi
	if [ -n "$RGW_DIR" ]; then
		bash "$HERE/servers/rgw.sh" stop "$RGW_DIR" >/dev/null 2>&1
	fi
	# Nothing of ours may remain mounted on the host.
	if grep -qE "vfs-e2e|nspawn-volatile|/run/vfs/demo" /proc/self/mountinfo; then
		log "left mounted on the host:"; grep -E "vfs-e2e|nspawn-volatile|/run/vfs/demo" /proc/self/mountinfo
		status=1
	fi
	rm -rf "$WORK"
	log "done in $((SECONDS - T0)) s"
	[ "$status" = 0 ] && [ "$failed" = 0 ] || exit 1
	exit 0
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM

# --- the package ------------------------------------------------------------------------

DEB=${1:-${VFS_E2E_DEB:-}}
if [ -z "$DEB" ]; then
	log "building the .deb (packaging/build-deb.sh, nocheck)"
	t=$SECONDS
	DIST_DIR=$WORK/dist LINTIAN=0 DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
		bash "$SRC_ROOT/packaging/build-deb.sh" >"$WORK/build-deb.log" 2>&1 ||
		{ tail -40 "$WORK/build-deb.log"; die "build-deb.sh failed"; }
	DEB=$(ls "$WORK"/dist/vfs_*.deb)
	log "built $(basename "$DEB") in $((SECONDS - t)) s"
fi
[ -f "$DEB" ] || die "no package at '$DEB'"
DEB=$(realpath "$DEB")

# --- the root file system: cached, keyed by suite, mirror and package list --------------

MIRROR=${VFS_E2E_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# The package's own Depends (first of any alternatives, no versions) are in the rootfs,
# so installing it inside needs no network.
deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep -v '^$')
PKGS=$(printf '%s\n' systemd systemd-sysv dbus fuse3 $deps | sort -u | paste -sd, -)
KEY=$(printf '%s %s %s' "$SUITE" "$MIRROR" "$PKGS" | sha256sum | cut -c1-16)
ROOTFS=$CACHE/$SUITE-$KEY
mkdir -p "$CACHE"
(
	flock 9
	if [ ! -e "$ROOTFS.ok" ]; then
		log "debootstrap $SUITE ($PKGS) from $MIRROR into $ROOTFS"
		t=$SECONDS
		rm -rf "$ROOTFS.tmp"
		debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOTFS.tmp" "$MIRROR" \
			>"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; exit 1; }
		rm -rf "$ROOTFS"
		mv "$ROOTFS.tmp" "$ROOTFS"
		printf '%s\n' "$PKGS" >"$ROOTFS.ok"
		log "debootstrap took $((SECONDS - t)) s"
	else
		log "cached root file system $ROOTFS"
	fi
) 9>"$CACHE/lock" || die "debootstrap failed"

# --- S3 ---------------------------------------------------------------------------------

if [ -n "${RGW_ENV:-}" ]; then
	# shellcheck disable=SC1090
	. "$RGW_ENV"
else
	log "starting RGW (tests/servers/rgw.sh)"
	RGW_DIR=$WORK/rgw
	bash "$HERE/servers/rgw.sh" start "$RGW_DIR" >"$WORK/rgw.log" 2>&1 || { cat "$WORK/rgw.log"; die "RGW did not start"; }
	# shellcheck disable=SC1091
	. "$RGW_DIR/env"
fi
export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
BUCKET=e2e-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
s3 mb "$BUCKET" >/dev/null || die "cannot create bucket $BUCKET at $S3_ENDPOINT"
log "S3: $S3_ENDPOINT, bucket $BUCKET"

# --- boot -------------------------------------------------------------------------------

log "booting $ROOTFS (systemd-nspawn -b --volatile=overlay)"
t=$SECONDS
systemd-nspawn -D "$ROOTFS" -b --register=no --keep-unit --volatile=overlay \
	--console=read-only >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!
# If this script is killed outright (meson's timeout sends SIGKILL soon after SIGTERM),
# a watchdog in its own session stops the container (SIGTERM makes nspawn power it off),
# removes what nspawn left, and stops the RGW this script started.
setsid bash -c 'script=$1 nspawn=$2 rootfs=$3 before=$4 nspawn_run=$5 rgw_dir=$6 rgw_sh=$7 work=$8
	ours() { tr "\0" " " <"/proc/$nspawn/cmdline" 2>/dev/null | grep -qF -- "$rootfs"; }
	while kill -0 "$script" 2>/dev/null; do sleep 1; done
	if ours; then
		kill -TERM "$nspawn"
		for _ in $(seq 30); do ours || break; sleep 1; done
		ours && kill -KILL "$nspawn"
		sleep 1
	fi
	find /sys/fs/cgroup -maxdepth 6 -type d \( -name payload -o -name supervisor \) | sort |
		comm -13 "$before" - | while read -r d; do find "$d" -depth -type d -exec rmdir {} \; ; done
	rm -f "$before"
	[ "$nspawn_run" = 1 ] || rmdir /run/systemd/nspawn/locks /run/systemd/nspawn/propagate /run/systemd/nspawn
	[ -z "$rgw_dir" ] || bash "$rgw_sh" stop "$rgw_dir"
	rm -rf "$work"' watchdog $$ "$NSPAWN_PID" "$ROOTFS" "$CACHE/cgroups.$$" \
	"$NSPAWN_RUN_EXISTED" "$RGW_DIR" "$HERE/servers/rgw.sh" "$WORK" </dev/null >/dev/null 2>&1 &
WATCHDOG_PID=$!
cp "$CG_BEFORE" "$CACHE/cgroups.$$"
# The container's PID 1 (systemd) is nspawn's child.
container_init()
{
	local c
	for c in $(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ] && { CPID=$c; return 0; }
	done
	return 1
}
wait_for 30 container_init || { cat "$WORK/console.log"; die "no systemd in the container"; }
# is-system-running --wait needs systemd's private socket, which comes a moment after PID 1.
system_state()
{
	state=$(timeout 90 nsenter -t "$CPID" -a systemctl is-system-running --wait 2>&1)
	# "offline": PID 1 has not started its manager yet.
	case $state in *"connect to bus"* | offline) return 1 ;; esac
}
wait_for 30 system_state
log "booted in $((SECONDS - t)) s: systemd PID $CPID (host), system $state"
check "container: systemd is PID 1 and the system is running" \
	test "$(inside cat /proc/1/comm)" = systemd -a "$state" = running
inside mknod -m 666 /dev/fuse c 10 229 || die "mknod /dev/fuse"

# --- install ----------------------------------------------------------------------------

cp "$DEB" "/proc/$CPID/root/root/"
t=$SECONDS
# Every dependency is already in the rootfs: apt installs this one package, downloads nothing.
if inside env DEBIAN_FRONTEND=noninteractive apt-get install -y "/root/$(basename "$DEB")" \
	>"$WORK/apt-install.log" 2>&1; then
	check "apt-get install ./vfs_*.deb: only vfs is new, nothing downloaded" \
		eval 'grep -q "^0 upgraded, 1 newly installed" "$WORK/apt-install.log" &&
			! grep -Eq "^Get:[0-9]+ (http|ftp)" "$WORK/apt-install.log"'
else
	cat "$WORK/apt-install.log"
	die "apt-get install failed"
fi
log "installed in $((SECONDS - t)) s"
UNITDIR=$(inside sh -c 'pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system')
check "installed: vfsd, vfsctl" inside test -x /usr/sbin/vfsd -a -x /usr/bin/vfsctl
check "installed: vfs@.service in $UNITDIR" inside test -f "$UNITDIR/vfs@.service"
check "installed: D-Bus policy and interface XML" inside test -f /usr/share/dbus-1/system.d/org.vfs.Vfs1.conf \
	-a -f /usr/share/dbus-1/interfaces/org.vfs.Vfs1.Mount.xml
check "installed: man pages vfsd(8) vfsctl(8) vfs.conf(5) org.vfs.Vfs1(5)" inside test \
	-f /usr/share/man/man8/vfsd.8.gz -a -f /usr/share/man/man8/vfsctl.8.gz \
	-a -f /usr/share/man/man5/vfs.conf.5.gz -a -f /usr/share/man/man5/org.vfs.Vfs1.5.gz
check "installed: /etc/vfs/example.conf, mode 0600, a conffile" test \
	"$(inside stat -c %a /etc/vfs/example.conf)" = 600 -a \
	"$(inside dpkg-query -W -f='${Conffiles}' vfs | awk '{ print $1 }' | grep -c /etc/vfs/example.conf)" = 1
check "systemd knows vfs@.service (postinst ran daemon-reload)" \
	test "$(inside systemctl show -P LoadState vfs@demo.service)" = loaded

# --- configure and start ----------------------------------------------------------------

port=${S3_ENDPOINT##*:}
port=${port%%/*}
in_sh "umask 077
cat >/etc/vfs/demo.credentials <<EOF
$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY
EOF
cat >/etc/vfs/demo.conf <<EOF
# the e2e test's mount
bucket = $BUCKET
endpoint = http://127.0.0.1:$port
path_style = true
region = ${AWS_DEFAULT_REGION:-us-east-1}
credentials_file = s3
EOF
mkdir -p /etc/systemd/system/vfs@demo.service.d
cat >/etc/systemd/system/vfs@demo.service.d/credentials.conf <<EOF
[Service]
LoadCredential=s3:/etc/vfs/demo.credentials
EOF
umask 022
systemctl daemon-reload" || die "cannot write the configuration"

t=$SECONDS
inside systemctl start vfs@demo.service
start_status=$?
log "systemctl start vfs@demo: exit $start_status after $((SECONDS - t)) s"
check "systemctl start vfs@demo succeeds" test "$start_status" = 0
check "vfs@demo is Type=notify" test "$(unit_prop Type)" = notify
# Type=notify: start returns after READY=1, which comes only once the mount answers and
# the bus name is owned; so both must hold right now, without waiting.
check "active when start returns" is_active
check "mounted when start returns (fuse on /run/vfs/demo)" mounted
check "bus name org.vfs.Vfs1.demo owned when start returns" \
	eval 'inside busctl status org.vfs.Vfs1.demo >/dev/null'
check "STATUS= text reaches systemd" test -n "$(unit_prop StatusText)"
log "StatusText: $(unit_prop StatusText)"
MAINPID=$(unit_prop MainPID)

# --- write, Flush over D-Bus with the file still open, properties --------------------

small=$WORK/small
echo "hello from the e2e test $BUCKET" >"$small"
cp "$small" "/proc/$CPID/root/root/small"
check "write a file through the mount (closed: uploaded)" inside cp /root/small /run/vfs/demo/small.txt
check "boto3 on the host sees it" in_bucket small.txt "$small"

hold flushed.bin $((3 * 1024 * 1024 + 17)) || die "the writer of flushed.bin did not finish"
dirty=$(prop DirtyBytes)
log "DirtyBytes with flushed.bin open and unflushed: $dirty"
check "DirtyBytes > 0 while a writer holds unflushed data" test "${dirty#t }" -gt 0
check "boto3 does not see flushed.bin's bytes yet" eval '! in_bucket flushed.bin "$WORK/flushed.bin"'
reply=$(inside busctl call org.vfs.Vfs1.demo /org/vfs/Vfs1 org.vfs.Vfs1.Mount Flush 2>&1)
log "busctl call ... Flush -> $reply"
check "Flush returns the bytes uploaded (t N, N >= the file's size)" \
	eval 'test "${reply%% *}" = t -a "${reply#t }" -ge $((3 * 1024 * 1024 + 17))'
check "DirtyBytes is 0 after Flush" test "$(prop DirtyBytes)" = "t 0"
check "Bucket property names the bucket" test "$(prop Bucket)" = "s \"$BUCKET\""
check "boto3 sees flushed.bin while it is still open" in_bucket flushed.bin "$WORK/flushed.bin"
release flushed.bin

# --- an upgrade (reinstall) leaves the running instance alone -------------------------

inside env DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall \
	"/root/$(basename "$DEB")" >"$WORK/apt-reinstall.log" 2>&1
check "apt-get install --reinstall succeeds" test $? = 0
check "...and does not restart vfs@demo (same MainPID, still active, still mounted)" \
	test "$(unit_prop MainPID)" = "$MAINPID" -a "$(inside systemctl is-active vfs@demo.service)" = active
check "...mount still answers" mounted

# --- stop with unsaved data -----------------------------------------------------------

hold stopped.bin $((20 * 1024 * 1024 + 5)) || die "the writer of stopped.bin did not finish"
check "DirtyBytes > 0 before stop" test "$(prop DirtyBytes | cut -d' ' -f2)" -gt 0
t=$SECONDS
inside systemctl stop vfs@demo.service
log "systemctl stop vfs@demo: exit $? after $((SECONDS - t)) s"
check "stopped cleanly (inactive, Result=success, exit status 0)" \
	test "$(inside systemctl is-active vfs@demo.service)-$(unit_prop Result)-$(unit_prop ExecMainStatus)" = inactive-success-0
check "unmounted after stop" not_mounted
check "nothing lost: boto3 has every byte written before stop" in_bucket stopped.bin "$WORK/stopped.bin"
release stopped.bin

# --- purge with unsaved data: removal stops every instance ----------------------------

check "start again" inside systemctl start vfs@demo.service
check "the earlier files are there after the restart" inside cmp /root/stopped.bin /run/vfs/demo/stopped.bin
hold purged.bin $((5 * 1024 * 1024 + 3)) || die "the writer of purged.bin did not finish"
t=$SECONDS
inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y vfs >"$WORK/apt-purge.log" 2>&1
purge_status=$?
log "apt-get purge vfs: exit $purge_status after $((SECONDS - t)) s"
check "apt-get purge vfs succeeds" test "$purge_status" = 0
check "purge stopped vfs@demo (inactive, unmounted)" eval 'is_inactive && not_mounted'
check "nothing lost: boto3 has every byte written before the purge" in_bucket purged.bin "$WORK/purged.bin"
release purged.bin
check "package gone (dpkg: not installed)" \
	test "$(inside dpkg-query -W -f='${db:Status-Status}' vfs 2>/dev/null)" != installed
check "binaries, unit, D-Bus files, man pages, example.conf gone" absent \
	/usr/sbin/vfsd /usr/bin/vfsctl "$UNITDIR/vfs@.service" \
	/usr/share/dbus-1/system.d/org.vfs.Vfs1.conf /usr/share/dbus-1/interfaces/org.vfs.Vfs1.Mount.xml \
	/usr/share/man/man8/vfsd.8.gz /etc/vfs/example.conf /var/lib/vfs /var/cache/vfs
check "systemd forgot vfs@.service (postrm ran daemon-reload)" \
	test "$(inside systemctl show -P LoadState vfs@demo.service)" = not-found
check "the administrator's /etc/vfs/demo.conf is kept" inside test -f /etc/vfs/demo.conf

log "--- journal of vfs@demo ---"
inside journalctl --no-pager -o short-monotonic -u vfs@demo.service 2>&1 | tail -30 | sed 's/^/    /'
summary
