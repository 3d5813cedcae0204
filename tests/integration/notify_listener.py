#!/usr/bin/env python3
"""A NOTIFY_SOCKET for tests: records what a service tells systemd, one line per field.

    notify_listener.py SOCKET LOG MOUNTPOINT

Binds an AF_UNIX datagram socket at SOCKET and appends to LOG, for every field
of every datagram, "SECONDS FIELD" (seconds since the listener started). When a
datagram holds READY=1, it also checks, at that moment, whether MOUNTPOINT is a
FUSE mount in /proc/self/mountinfo that answers statvfs() within two seconds,
and logs "SECONDS CHECK mount-answered" or "SECONDS CHECK mount-not-answering".
Runs until SIGTERM.
"""
import os
import signal
import socket
import sys
import threading
import time


def mounted(mountpoint):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
            dash = fields.index("-")
            if fields[4] == mountpoint and fields[dash + 1].startswith("fuse"):
                return True
    return False


def answers(mountpoint, timeout=2.0):
    done = threading.Event()

    def probe():
        try:
            os.statvfs(mountpoint)
            done.set()
        except OSError:
            pass

    threading.Thread(target=probe, daemon=True).start()
    return done.wait(timeout)


def main():
    path, log_path, mountpoint = sys.argv[1:4]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(path):
        os.unlink(path)
    sock.bind(path)
    start = time.monotonic()
    with open(log_path, "a", buffering=1) as log:
        log.write("0.000 LISTENING\n")
        while True:
            data = sock.recv(65536)
            now = time.monotonic() - start
            fields = data.decode("utf-8", "replace").split("\n")
            for field in fields:
                if field:
                    log.write("%.3f %s\n" % (now, field))
            if "READY=1" in fields:
                ok = mounted(mountpoint) and answers(mountpoint)
                log.write("%.3f CHECK %s\n" % (now, "mount-answered" if ok else "mount-not-answering"))


if __name__ == "__main__":
    main()
