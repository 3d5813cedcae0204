#!/bin/bash
# Lints vfs@.service: `systemd-analyze verify` without a single warning (man pages of
# Documentation= included), no setting that creates a namespace (it would hide the FUSE
# mount from the host), and an exposure score gate with `systemd-analyze security --offline`.
#   systemd_unit_test.sh UNIT VFSD THRESHOLD MANPAGE...
# UNIT is the built unit; its ExecStart= is pointed at VFSD (the built vfsd) in a copy,
# since verify insists the binary exists.
set -u
UNIT=${1:?usage: systemd_unit_test.sh UNIT VFSD THRESHOLD MANPAGE...}
VFSD=$(readlink -f "${2:?}") THRESHOLD=${3:?}
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-unit.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

exec_line=$(grep '^ExecStart=' "$UNIT")
check "ExecStart= runs vfsd --config /etc/vfs/%i.conf" \
  bash -c "[[ '$exec_line' =~ ^ExecStart=/.*/vfsd\ --config\ /etc/vfs/%i.conf$ ]]"
vfsd_path=${exec_line#ExecStart=}
vfsd_path=${vfsd_path%% *}
sed "s|^ExecStart=$vfsd_path |ExecStart=$VFSD |" "$UNIT" > "$work/vfs@.service"
cp "$work/vfs@.service" "$work/vfs@lint.service"

# `man` finds the built pages: verify checks every Documentation=man: reference.
for page in "$@"; do
  mkdir -p "$work/man/man${page##*.}"
  ln -s "$(cd "$(dirname "$page")" && pwd)/$(basename "$page")" "$work/man/man${page##*.}/"
done
export MANPATH=$work/man

verify() {
  local out
  out=$(cd "$work" && systemd-analyze verify "$1" 2>&1)
  local status=$?
  [ -n "$out" ] && echo "$out" | sed 's/^/#   /'
  [ "$status" = 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify: the template, no output" verify "$work/vfs@.service"
check "systemd-analyze verify: an instance, no output" verify "$work/vfs@lint.service"
sed 's|^ExecStart=.*|ExecStart=/nonexistent/vfsd --config /etc/vfs/%i.conf|' "$work/vfs@lint.service" > "$work/vfs@broken.service"
check "...and verify does catch a broken unit" bash -c "! (cd '$work' && systemd-analyze verify vfs@broken.service >/dev/null 2>&1)"

setting() { grep -q "^$1" "$UNIT"; }
check "Type=notify, NotifyAccess=main" bash -c "grep -qx 'Type=notify' '$UNIT' && grep -qx 'NotifyAccess=main' '$UNIT'"
check "WatchdogSec= set" setting "WatchdogSec="
check "ConditionPathExists=/etc/vfs/%i.conf" setting "ConditionPathExists=/etc/vfs/%i.conf$"
check "%i only, never %I" bash -c "! grep -v '^#' '$UNIT' | grep -q '%I'"
check "State/Cache/RuntimeDirectory=vfs/%i" \
  bash -c "grep -qx 'StateDirectory=vfs/%i' '$UNIT' && grep -qx 'CacheDirectory=vfs/%i' '$UNIT' && grep -qx 'RuntimeDirectory=vfs/%i' '$UNIT'"
check "After= and Wants=network-online.target" \
  bash -c "grep -qx 'After=network-online.target' '$UNIT' && grep -qx 'Wants=network-online.target' '$UNIT'"
check "LoadCredential=credentials:/etc/vfs/%i.credentials" setting "LoadCredential=credentials:/etc/vfs/%i.credentials$"
namespaced='^(PrivateTmp|PrivateDevices|PrivateMounts|PrivateNetwork|PrivateUsers|PrivateIPC|ProtectSystem|ProtectHome|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectHostname|ProtectProc|ProcSubset|ReadOnlyPaths|ReadWritePaths|InaccessiblePaths|ExecPaths|NoExecPaths|TemporaryFileSystem|BindPaths|BindReadOnlyPaths|RootDirectory|RootImage|MountAPIVFS|DynamicUser|NetworkNamespacePath|IPCNamespacePath|MountImages|ExtensionImages)='
check "no setting that creates a namespace" bash -c "! grep -Eq '$namespaced' '$UNIT'"
check "RestrictNamespaces=yes" bash -c "grep -qx 'RestrictNamespaces=yes' '$UNIT'"

score() {
  (cd "$work" && systemd-analyze security --offline=true --no-pager "$1" 2>/dev/null) |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
# --threshold counts tenths: 4.0 is 40.
tenths=$(awk -v t="$THRESHOLD" 'BEGIN { printf "%d", t * 10 + 0.5 }')
exposure=$(score vfs@lint.service)
echo "# exposure score: $exposure (gate: at most $THRESHOLD)"
check "systemd-analyze security --offline: a score was printed" test -n "$exposure"
check "...at most $THRESHOLD" awk -v e="$exposure" -v t="$THRESHOLD" 'BEGIN { exit !(e <= t) }'
check "...and --threshold=$tenths agrees" \
  bash -c "cd '$work' && systemd-analyze security --offline=true --no-pager --threshold=$tenths vfs@lint.service >/dev/null 2>&1"
sed '/^# Namespace-free hardening/,/^UMask=/d' "$work/vfs@lint.service" > "$work/vfs@bare.service"
bare=$(score vfs@bare.service)
echo "# the same unit without its hardening: $bare"
check "...and the gate fails the unit without its hardening" \
  bash -c "! (cd '$work' && systemd-analyze security --offline=true --no-pager --threshold=$tenths vfs@bare.service >/dev/null 2>&1)"
summary
