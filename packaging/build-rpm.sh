#!/bin/bash
# Builds the RPM from this tree into dist/ (a smoke build on Debian) and runs rpmlint.
#
#   packaging/build-rpm.sh
#
# Makes vfs-VERSION.tar.gz from the tree (tracked and untracked files that git does not
# ignore) and runs `rpmbuild -bb` on packaging/rpm/vfs.spec in a scratch _topdir. Where
# the Fedora macros are missing (Debian's rpm has no %meson or %_unitdir), it loads
# packaging/rpm/macros.shim and passes --nodeps (the BuildRequires name Fedora packages).
#
# Environment:
#   DIST_DIR     where the .rpm goes (default: dist/ in the tree)
#   RPM_NOCHECK=1  skip %check (the unit suite)
#   KEEP_WORK=1  keep the scratch _topdir
set -euo pipefail

PROG=${0##*/}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIST_DIR=${DIST_DIR:-$ROOT/dist}
SPEC=$ROOT/packaging/rpm/vfs.spec

say()
{
	echo "$PROG: $*" >&2
}

for tool in rpmbuild rpmspec git; do
	command -v "$tool" >/dev/null || { say "$tool is missing; run scripts/install-deps.sh"; exit 1; }
done

MACROS=()
BUILD_ARGS=()
if [ "$(rpm --eval '%{?meson:yes}')" != yes ]; then
	say "no Fedora meson/systemd macros here: loading packaging/rpm/macros.shim, --nodeps"
	MACROS+=(--load "$ROOT/packaging/rpm/macros.shim")
	BUILD_ARGS+=(--nodeps)
fi
[ "${RPM_NOCHECK:-0}" = 1 ] && BUILD_ARGS+=(--nocheck)

WORK=$(mktemp -d /tmp/vfs-rpm.XXXXXX)
cleanup()
{
	if [ "${KEEP_WORK:-0}" = 1 ]; then
		say "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
MACROS+=(--define "_topdir $WORK")

VERSION=$(rpmspec -q --srpm --qf '%{version}' "${MACROS[@]}" "$SPEC")
mkdir -p "$WORK/SOURCES" "$WORK/vfs-$VERSION"
# What git would commit: a stale build/ or dist/ never leaks into the tarball.
git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
	(cd "$ROOT" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
	tar -C "$ROOT" --null -T - -cf - | tar -C "$WORK/vfs-$VERSION" -xf -
tar -C "$WORK" -czf "$WORK/SOURCES/vfs-$VERSION.tar.gz" "vfs-$VERSION"

say "rpmbuild -bb vfs.spec (vfs $VERSION)"
start=$SECONDS
rpmbuild -bb "${MACROS[@]}" "${BUILD_ARGS[@]}" "$SPEC"
say "rpmbuild took $((SECONDS - start)) s"

mkdir -p "$DIST_DIR"
shopt -s nullglob
rpms=("$WORK"/RPMS/*/*.rpm)
[ ${#rpms[@]} -gt 0 ] || { say "rpmbuild made no .rpm"; exit 1; }
rm -f "$DIST_DIR"/vfs-*.rpm
cp "${rpms[@]}" "$DIST_DIR/"

if command -v rpmlint >/dev/null; then
	say "rpmlint"
	# Errors fail the build; the accepted findings are filtered, with reasons, in
	# packaging/rpm/vfs.rpmlintrc.
	rpmlint -r "$ROOT/packaging/rpm/vfs.rpmlintrc" "$SPEC" "${rpms[@]}"
else
	say "rpmlint is missing; run scripts/install-deps.sh"
	exit 1
fi
for r in "${rpms[@]}"; do
	say "wrote $DIST_DIR/$(basename "$r")"
done
