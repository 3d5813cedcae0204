#!/bin/bash
# Installs, idempotently, every Debian package that building, testing and benchmarking vfs need.
set -euo pipefail

PACKAGES=(
  # build
  build-essential pkg-config meson ninja-build
  libfuse3-dev libcurl4-openssl-dev libxml2-dev libssl-dev
  libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  scdoc
  # run and test
  fuse3 dbus curl python3 uuid-runtime procps
  # integration tests: setfattr/getfattr on the mount
  attr
  # the D-Bus tests: a private dbus-daemon, busctl, dbus-send, setpriv
  dbus-daemon dbus-bin systemd util-linux
  # systemd-analyze (the unit lint and security gate) and man (verify checks Documentation=)
  systemd man-db
  # integration tests: a throwaway Ceph RGW (tests/servers/rgw.sh; ceph-common has the
  # ceph CLI, ceph-authtool and monmaptool) and an independent S3 client (s3check.py)
  radosgw ceph-mon ceph-osd ceph-common
  python3-boto3
  # the peers: s3fs for the compatibility test (both ways) and the benchmarks, rclone for the benchmarks
  s3fs rclone
  # packages (packaging/build-deb.sh, build-rpm.sh) and their end-to-end test under a
  # real systemd (tests/e2e/nspawn-e2e.sh)
  debhelper lintian fakeroot rpm rpmlint
  systemd-container debootstrap
)
# s3rver (tests/servers/s3rver.sh) runs on Node.js. Ask for Debian's nodejs and npm only
# when the commands are absent: a machine may already have a Node.js build that bundles
# npm and conflicts with Debian's npm package.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#PACKAGES[@]} packages present" >&2
fi

# s3rver itself, pinned by tests/servers/package-lock.json, into tests/servers/node_modules;
# again when that lock file changed since (or an earlier npm ci was cut short).
SERVERS_DIR=$(cd "$(dirname "$0")/../tests/servers" && pwd)
if [ ! -f "$SERVERS_DIR/node_modules/s3rver/bin/s3rver.js" ] ||
   [ "$SERVERS_DIR/package-lock.json" -nt "$SERVERS_DIR/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in $SERVERS_DIR" >&2
  (cd "$SERVERS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "install-deps: s3rver present in $SERVERS_DIR/node_modules" >&2
fi
