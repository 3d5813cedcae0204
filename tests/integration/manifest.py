#!/usr/bin/env python3
"""Prints one line per entry under a directory (sorted): what two mounts must agree on.

  manifest.py DIR [--no-dir-times]

Each line: path, type (f/d/l), permission bits (octal), uid, gid, mtime in nanoseconds,
size (files and symlinks), and the SHA-256 of a file's bytes or a symlink's target.
--no-dir-times leaves out directory mtimes (one client may not store them).
"""

import hashlib
import os
import stat
import sys


def describe(root, path, dir_times):
    st = os.lstat(path)
    rel = os.path.relpath(path, root)
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        kind, size, digest = "d", "-", "-"
        mtime = str(st.st_mtime_ns) if dir_times else "-"
    elif stat.S_ISLNK(mode):
        kind, size, digest = "l", str(st.st_size), "->" + os.readlink(path)
        mtime = str(st.st_mtime_ns)
    elif stat.S_ISREG(mode):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        kind, size, digest = "f", str(st.st_size), h.hexdigest()
        mtime = str(st.st_mtime_ns)
    else:
        kind, size, digest, mtime = "?", "-", "-", "-"
    return f"{rel} {kind} {stat.S_IMODE(mode):04o} {st.st_uid} {st.st_gid} {mtime} {size} {digest}"


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: manifest.py DIR [--no-dir-times]")
    root = sys.argv[1]
    dir_times = "--no-dir-times" not in sys.argv[2:]
    lines = []
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            lines.append(describe(root, os.path.join(parent, name), dir_times))
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
