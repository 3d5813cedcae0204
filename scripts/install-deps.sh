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
)

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
