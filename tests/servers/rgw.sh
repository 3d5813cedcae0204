#!/bin/bash
# Starts and stops a throwaway Ceph RGW (one mon, one OSD, radosgw) on 127.0.0.1 for tests.
#
#   rgw.sh start DIR   DIR must be absent or empty; every file the cluster needs lives in it.
#                      Prints the endpoint and writes DIR/env, a shell file to source:
#                      S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
#                      RGW_PIDS CEPH_CONF.
#   rgw.sh stop DIR    kills the daemons that start launched (only PIDs whose command line
#                      names DIR/ceph.conf) and removes DIR. Safe on a half-started DIR.
#
# Optional environment for start:
#   RGW_OBJECTSTORE      bluestore (default) or memstore; see "Object store" below
#   RGW_BLUESTORE_GIB    size of bluestore's sparse block file in GiB (default 32)
#   RGW_MEMSTORE_GIB     memstore capacity in GiB (default 8)
#   RGW_ACCESS_KEY, RGW_SECRET_KEY   credentials of the S3 user (fixed test defaults)
#   RGW_START_TIMEOUT    seconds before start gives up (default 120)
#
# Object store: bluestore on a sparse file under DIR. Measured on the 2-core test machine:
# bluestore is ready in 4-6 s, keeps the OSD near 200 MiB RSS whatever it stores, and PUTs
# 1 GiB at ~300-400 MB/s. memstore is ready in 1-2 s but its OSD holds about twice the
# stored bytes in RAM (6.3 GiB RSS after three 1 GiB objects) and PUTs at ~150-250 MB/s;
# with tests writing several GiB on a 24 GiB machine shared with the build, that risks
# the OOM killer, so it is only an option. Disk use of bluestore grows with the bytes
# written (space freed inside Ceph is not given back to the host until stop).
#
# On any failure start prints why (with the tail of the daemon's log), kills what it
# launched, leaves DIR for inspection and exits 1; `rgw.sh stop DIR` then removes DIR.
set -euo pipefail

PROG=${0##*/}
MARKER="# ceph.conf written by vfs tests/servers/rgw.sh"

usage()
{
	echo "usage: $PROG start|stop DIR" >&2
	exit 2
}

# A free TCP port on 127.0.0.1 below the kernel's ephemeral range, so that no outgoing
# connection (ours, curl's, a test's) can be handed it between this check and the
# daemon's bind. A port taken meanwhile by another explicit bind makes the daemon die,
# and start says so.
free_port()
{
	python3 - <<-'PY'
	import random, socket
	with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
	    low = int(f.read().split()[0])
	for _ in range(200):
	    port = random.randrange(10000, max(low, 10001))
	    s = socket.socket()
	    try:
	        s.bind(("127.0.0.1", port))
	    except OSError:
	        continue
	    finally:
	        s.close()
	    print(port)
	    break
	else:
	    raise SystemExit("no free port")
	PY
}

# Our daemons: PIDs recorded in DIR/pids whose command line still names DIR/ceph.conf,
# so a recycled PID is never touched.
our_pids()
{
	local dir=$1 pid
	[ -f "$dir/pids" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] || continue
		{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$dir/ceph.conf" && echo "$pid"
	done <"$dir/pids"
	return 0
}

# True once PID is gone or a zombie (a zombie holds no ports or memory, and its parent
# may be a container's init that never reaps).
gone()
{
	[ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

kill_ours()
{
	local dir=$1 pids pid i
	pids=$(our_pids "$dir")
	[ -n "$pids" ] || return 0
	# The data is thrown away, so there is nothing to shut down cleanly.
	for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in $pids; do
		for ((i = 0; i < 200; i++)); do gone "$pid" && break; sleep 0.05; done
		gone "$pid" || echo "$PROG: PID $pid did not die" >&2
	done
	echo "$pids" | tr '\n' ' '
}

cmd_stop()
{
	local dir=$1 killed
	if [ ! -e "$dir" ]; then
		echo "$PROG: $dir does not exist, nothing to stop" >&2
		return 0
	fi
	dir=$(cd "$dir" && pwd)
	# Remove only what start made: an empty dir, or one holding our ceph.conf.
	if [ -n "$(ls -A "$dir")" ] && ! head -1 "$dir/ceph.conf" 2>/dev/null | grep -qxF "$MARKER"; then
		echo "$PROG: $dir was not made by '$PROG start'; not touching it" >&2
		return 1
	fi
	killed=$(kill_ours "$dir")
	rm -rf "$dir"
	echo "$PROG: stopped [${killed% }], removed $dir" >&2
}

cmd_start()
{
	local dir=$1
	local objectstore=${RGW_OBJECTSTORE:-bluestore}
	local access_key=${RGW_ACCESS_KEY:-VFSTESTACCESSKEY0001}
	local secret_key=${RGW_SECRET_KEY:-vfsTestSecretKey0000000000000000000000001}
	local deadline=$((SECONDS + ${RGW_START_TIMEOUT:-120}))
	local t0=$EPOCHREALTIME
	local tool

	for tool in ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin uuidgen curl python3; do
		command -v "$tool" >/dev/null || {
			echo "$PROG: '$tool' not found; run scripts/install-deps.sh" >&2
			exit 1
		}
	done
	case $objectstore in
	memstore | bluestore) ;;
	*) echo "$PROG: RGW_OBJECTSTORE must be memstore or bluestore, not '$objectstore'" >&2; exit 2 ;;
	esac

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -n "$(ls -A "$dir")" ]; then
		echo "$PROG: $dir is not empty" >&2
		exit 1
	fi
	mkdir -p "$dir"/{log,run,mon.a,osd.0,rgw}
	: >"$dir/pids"

	local conf=$dir/ceph.conf
	local ceph=(ceph -c "$conf" --connect-timeout 10)
	local mon_port rgw_port fsid osd_uuid osd_id
	mon_port=$(free_port)
	rgw_port=$mon_port
	while [ "$rgw_port" = "$mon_port" ]; do rgw_port=$(free_port); done
	fsid=$(uuidgen)
	local endpoint=http://127.0.0.1:$rgw_port

	# Everything from here on: on failure, say why, show the log, kill what we started.
	fail()
	{
		echo "$PROG: start failed: $1" >&2
		if [ -n "${2:-}" ] && [ -f "$2" ]; then
			echo "$PROG: last lines of $2:" >&2
			tail -n 15 "$2" | sed 's/^/    /' >&2
		fi
		exit 1
	}
	# Whatever ends start early (fail, or a command failing under set -e) kills the
	# daemons it launched.
	on_exit()
	{
		local status=$?
		[ "$status" -eq 0 ] && return
		# A global: an errexit may have unwound cmd_start's locals by now.
		kill_ours "$START_DIR" >/dev/null
		echo "$PROG: start failed (status $status); daemons killed; state left in $START_DIR ('$PROG stop $START_DIR' removes it)" >&2
	}
	START_DIR=$dir
	trap on_exit EXIT
	trap 'fail "interrupted"' INT TERM
	expired() { [ "$SECONDS" -ge "$deadline" ]; }
	since() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }
	# launch NAME LOG CMD...: runs a daemon in the foreground of a background job, so $!
	# is the daemon itself; its stdio goes to a file, never to our caller's pipes.
	launch()
	{
		local name=$1 out=$2
		shift 2
		"$@" </dev/null >"$out" 2>&1 &
		echo $! >>"$dir/pids"
		disown $!   # no "Killed" job notice from bash when stop or fail kills it
		eval "pid_$name=$!"
	}
	alive()
	{
		local pid_var=pid_$1
		gone "${!pid_var}" && fail "$1 exited" "$2"
		return 0
	}

	# Admin sockets are unix sockets, whose path is limited to 107 bytes; drop them for a
	# deep DIR rather than fail (nothing here needs them).
	local asok="$dir/run/\$name.asok"
	[ ${#dir} -le 80 ] || asok=""

	cat >"$conf" <<-EOF
	$MARKER
	[global]
	fsid = $fsid
	mon host = v2:127.0.0.1:$mon_port
	public addr = 127.0.0.1
	public network = 127.0.0.1/32
	cluster network = 127.0.0.1/32
	ms bind ipv4 = true
	ms bind ipv6 = false
	# No cephx: nothing to leak, and fewer steps.
	auth cluster required = none
	auth service required = none
	auth client required = none
	# radosgw defaults to "secure" mode for its mon session, which needs cephx; with
	# auth none it fails with EACCES and retries until a 300 s timeout. crc works.
	ms mon client mode = crc
	run dir = $dir/run
	admin socket = $asok
	pid file = $dir/run/\$name.pid
	log file = $dir/log/\$name.log
	mon cluster log file = $dir/log/cluster.log
	crash dir = $dir/log/crash
	keyring = $dir/keyring
	log to stderr = false
	err to stderr = true
	# One OSD: pools of size 1, few PGs, and health checks that would complain about it off.
	osd pool default size = 1
	osd pool default min size = 1
	osd pool default pg num = 8
	osd pool default pgp num = 8
	osd pool default pg autoscale mode = off
	osd crush chooseleaf type = 0
	mon allow pool size one = true
	mon allow pool delete = true
	mon max pg per osd = 1000
	mon warn on pool no redundancy = false
	mon warn on insecure global id reclaim allowed = false
	# The tests share a disk that may be nearly full; the mon must not refuse to run.
	mon data avail warn = 2
	mon data avail crit = 1
	# A single mon need not batch map changes for a second: without these every pool
	# creation costs ~1 s and radosgw creates several on first use.
	paxos propose interval = 0.01
	paxos min wait = 0.01

	[mon]
	mon data = $dir/mon.\$id

	[osd]
	osd data = $dir/osd.\$id
	osd objectstore = $objectstore
	memstore device bytes = $(( ${RGW_MEMSTORE_GIB:-8} << 30 ))
	bluestore block create = true
	bluestore block size = $(( ${RGW_BLUESTORE_GIB:-32} << 30 ))
	bluestore fsck on mkfs = false
	osd memory target = 1073741824
	osd crush update on start = true

	[client]
	rgw data = $dir/rgw
	client mount timeout = 30
	rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
	# Host names RGW treats as its own: a Host of <bucket>.localhost:<port> is then
	# virtual-hosted style; path style works whatever the Host.
	rgw dns name = localhost
	# Deleted and overwritten data is garbage-collected after 2 h by default; tests
	# that write GiBs need the space back sooner.
	rgw gc obj min wait = 30
	rgw gc processor period = 30
	EOF

	echo "$PROG: $dir: mon 127.0.0.1:$mon_port, S3 $endpoint, $objectstore" >&2

	# Monitor.
	ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' \
		>"$dir/log/keyring.out" 2>&1 || fail "ceph-authtool" "$dir/log/keyring.out"
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" \
		>"$dir/log/monmap.out" 2>&1 || fail "monmaptool" "$dir/log/monmap.out"
	ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" --keyring "$dir/keyring" \
		>"$dir/log/mon.a.mkfs" 2>&1 || fail "ceph-mon --mkfs" "$dir/log/mon.a.mkfs"
	launch mon "$dir/log/mon.a.out" ceph-mon -c "$conf" -i a -f
	until timeout 15 "${ceph[@]}" mon stat >/dev/null 2>&1; do
		alive mon "$dir/log/mon.a.log"
		expired && fail "the monitor did not answer" "$dir/log/mon.a.log"
		sleep 0.1
	done

	echo "$PROG: mon up after $(since)" >&2

	# OSD.
	osd_uuid=$(uuidgen)
	osd_id=$(timeout 30 "${ceph[@]}" osd new "$osd_uuid" 2>"$dir/log/osd-new.err") \
		|| fail "ceph osd new" "$dir/log/osd-new.err"
	[ "$osd_id" = 0 ] || fail "ceph osd new gave id '$osd_id', expected 0"
	ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd.0.mkfs" 2>&1 \
		|| fail "ceph-osd --mkfs" "$dir/log/osd.0.mkfs"
	echo "$PROG: osd mkfs done after $(since)" >&2
	launch osd "$dir/log/osd.0.out" ceph-osd -c "$conf" -i 0 -f
	until timeout 15 "${ceph[@]}" osd dump 2>/dev/null | grep -q '^osd\.0 up'; do
		alive osd "$dir/log/osd.0.log"
		expired && fail "osd.0 did not come up" "$dir/log/osd.0.log"
		sleep 0.1
	done

	echo "$PROG: osd up after $(since)" >&2

	# radosgw; it creates its pools, then answers an anonymous ListBuckets.
	launch rgw "$dir/log/client.rgw.out" radosgw -c "$conf" -n client.rgw -f
	until curl -s -m 2 "$endpoint/" 2>/dev/null | grep -q ListAllMyBucketsResult; do
		alive rgw "$dir/log/client.rgw.log"
		expired && fail "radosgw did not answer on $endpoint" "$dir/log/client.rgw.log"
		sleep 0.1
	done
	timeout 60 radosgw-admin -c "$conf" user create --uid=vfs-test --display-name=vfs-test \
		--access-key="$access_key" --secret-key="$secret_key" \
		>"$dir/log/user-create.out" 2>&1 || fail "radosgw-admin user create" "$dir/log/user-create.out"

	# A signed request proves the user is visible to radosgw; then make the first bucket,
	# object and multipart upload once, so the pools RGW creates lazily on them exist
	# before a test's first request (each costs a pool creation).
	s3()
	{
		curl -sS -f -m 30 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access_key:$secret_key" \
			-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
	}
	until s3 -o /dev/null "$endpoint/" 2>/dev/null; do
		alive rgw "$dir/log/client.rgw.log"
		expired && fail "signed ListBuckets never succeeded" "$dir/log/client.rgw.log"
		sleep 0.1
	done
	# "?uploads=" not "?uploads": curl 7.88 signs a bare "uploads" without the "=" that
	# SigV4's canonical query needs, and RGW rightly answers 403.
	local b=$endpoint/vfs-warmup upload_id
	{
		s3 -o /dev/null -X PUT "$b" &&
			s3 -o /dev/null -X PUT --data-binary warm "$b/o" &&
			upload_id=$(s3 -X POST "$b/o?uploads=" | sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p') &&
			[ -n "$upload_id" ] &&
			s3 -o /dev/null -X DELETE "$b/o?uploadId=$upload_id" &&
			s3 -o /dev/null -X DELETE "$b/o" &&
			s3 -o /dev/null -X DELETE "$b"
	} 2>"$dir/log/warmup.err" || fail "warm-up requests" "$dir/log/warmup.err"

	cat >"$dir/env" <<-EOF
	export S3_ENDPOINT=$endpoint
	export AWS_ACCESS_KEY_ID=$access_key
	export AWS_SECRET_ACCESS_KEY=$secret_key
	export AWS_DEFAULT_REGION=us-east-1
	export RGW_PIDS="$(tr '\n' ' ' <"$dir/pids" | sed 's/ $//')"
	export CEPH_CONF=$conf
	EOF
	trap - INT TERM EXIT
	echo "$PROG: ready after $(since): $endpoint (pids $(tr '\n' ' ' <"$dir/pids"))" >&2
	echo "$endpoint"
}

[ $# -eq 2 ] || usage
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
*) usage ;;
esac
