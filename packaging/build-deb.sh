#!/bin/bash
# Builds the Debian package from this tree into dist/ and runs lintian on it.
#
#   packaging/build-deb.sh
#
# The tree (tracked and untracked files that git does not ignore) is copied to a scratch
# directory with packaging/debian as ./debian, then `dpkg-buildpackage -us -uc -b` builds
# it (the unit test suite runs unless DEB_BUILD_OPTIONS has nocheck). Afterwards the
# package's file list is checked for everything issue 7 says it installs, and lintian
# must report no errors.
#
# Environment:
#   DIST_DIR            where the .deb files go (default: dist/ in the tree)
#   DEB_BUILD_OPTIONS   as usual; nocheck skips (and does not build) the test suites.
#                       parallel=2 is added when no parallel= is given.
#   LINTIAN=0           skip lintian (the e2e test does, to stay fast)
#   KEEP_WORK=1         keep the scratch build directory
set -euo pipefail

PROG=${0##*/}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIST_DIR=${DIST_DIR:-$ROOT/dist}

say()
{
	echo "$PROG: $*" >&2
}

for tool in dpkg-buildpackage dh git; do
	command -v "$tool" >/dev/null || { say "$tool is missing; run scripts/install-deps.sh"; exit 1; }
done

VERSION=$(dpkg-parsechangelog -l "$ROOT/packaging/debian/changelog" -S Version)
UPSTREAM=${VERSION%-*}
WORK=$(mktemp -d /tmp/vfs-deb.XXXXXX)
cleanup()
{
	if [ "${KEEP_WORK:-0}" = 1 ]; then
		say "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

SRC=$WORK/vfs-$UPSTREAM
mkdir -p "$SRC"
# What git would commit: a stale build/ or dist/ never leaks into the package.
git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
	(cd "$ROOT" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
	tar -C "$ROOT" --null -T - -cf - | tar -C "$SRC" -xf -
cp -a "$ROOT/packaging/debian" "$SRC/debian"

export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-}
case " $DEB_BUILD_OPTIONS " in
*" parallel="*) ;;
*) DEB_BUILD_OPTIONS="$DEB_BUILD_OPTIONS parallel=2" ;;
esac
PROFILE_ARGS=()
case " $DEB_BUILD_OPTIONS " in
*" nocheck "*) PROFILE_ARGS=(-Pnocheck) ;;
esac

say "building vfs $VERSION in $SRC (DEB_BUILD_OPTIONS='$DEB_BUILD_OPTIONS')"
start=$SECONDS
(cd "$SRC" && dpkg-buildpackage -us -uc -b "${PROFILE_ARGS[@]}")
say "dpkg-buildpackage took $((SECONDS - start)) s"

mkdir -p "$DIST_DIR"
shopt -s nullglob
debs=("$WORK"/*.deb)
[ ${#debs[@]} -gt 0 ] || { say "dpkg-buildpackage made no .deb"; exit 1; }
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
DEB=$DIST_DIR/vfs_${VERSION}_${ARCH}.deb
rm -f "$DIST_DIR"/vfs_*.deb "$DIST_DIR"/vfs-dbgsym_*.deb
cp "${debs[@]}" "$DIST_DIR/"

# Everything the package must install (issue 7); the unit directory is whatever
# systemd's pkg-config names (/lib/systemd/system on bookworm, /usr/lib/... later).
contents=$(dpkg-deb -c "$DEB")
missing=()
for re in \
	'usr/sbin/vfsd' \
	'usr/bin/vfsctl' \
	'(usr/)?lib/systemd/system/vfs@\.service' \
	'usr/share/dbus-1/system\.d/org\.vfs\.Vfs1\.conf' \
	'usr/share/dbus-1/interfaces/org\.vfs\.Vfs1\.Mount\.xml' \
	'usr/share/man/man8/vfsd\.8\.gz' \
	'usr/share/man/man8/vfsctl\.8\.gz' \
	'usr/share/man/man5/vfs\.conf\.5\.gz' \
	'usr/share/man/man5/org\.vfs\.Vfs1\.5\.gz'; do
	grep -Eq " \./$re\$" <<<"$contents" || missing+=("/$re")
done
grep -Eq '^-rw------- root/root .* \./etc/vfs/example\.conf$' <<<"$contents" ||
	missing+=("/etc/vfs/example.conf (mode 0600)")
if [ ${#missing[@]} -gt 0 ]; then
	say "the package lacks: ${missing[*]}"
	exit 1
fi
dpkg-deb -I "$DEB" conffiles | grep -qx /etc/vfs/example.conf ||
	{ say "/etc/vfs/example.conf is not a conffile"; exit 1; }

if [ "${LINTIAN:-1}" != 0 ]; then
	command -v lintian >/dev/null || { say "lintian is missing; run scripts/install-deps.sh"; exit 1; }
	say "lintian $DEB"
	# Errors fail the build; warnings and info are printed (the accepted ones are
	# overridden, with reasons, in packaging/debian/vfs.lintian-overrides).
	lintian --fail-on error --display-info "$DEB"
fi
say "wrote $DEB"
