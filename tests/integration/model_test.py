#!/usr/bin/env python3
"""Randomized model test: one file in a vfsd mount mirrored on a local file, compared after every step.

  model_test.py --mount DIR --mirror FILE --vfsd 'CMD...' [--ops N] [--bucket B]

Starts vfsd itself (CMD, run through the shell) and restarts it for the remount operation.
Operations: pwrite at random offsets and sizes (biased to cross chunk/part boundaries of
--boundary bytes), ftruncate up and down, reads of random ranges, fsync, close and reopen,
remount. After every step: the size and the bytes around the step and a random range are
compared with the mirror; after fsync, reopen, remount and every 250th step, the whole
file; after each remount also the object in S3 (boto3, through s3check.py's client).
The seed is printed at start and on failure; VFS_MODEL_SEED=N replays a run.
"""

import argparse
import hashlib
import os
import random
import subprocess
import sys
import time

KIB = 1 << 10
MIB = 1 << 20


class Mismatch(Exception):
    pass


class Harness:
    def __init__(self, args):
        self.args = args
        self.path = os.path.join(args.mount, "model.bin")
        self.vfsd = None
        self.fd = None
        self.mirror = os.open(args.mirror, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self.remounts = 0

    def mounted(self):
        with open("/proc/mounts") as f:
            return any(line.split()[1] == self.args.mount and line.split()[2] == "fuse.vfs" for line in f)

    def start(self):
        log = open(self.args.log, "ab")
        self.vfsd = subprocess.Popen(self.args.vfsd, shell=True, stderr=log, start_new_session=True)
        log.close()
        for _ in range(300):
            if self.mounted():
                return
            if self.vfsd.poll() is not None:
                raise Mismatch(f"vfsd exited with {self.vfsd.returncode} before mounting")
            time.sleep(0.05)
        raise Mismatch("vfsd did not mount within 15 s")

    def stop(self):
        self.vfsd.terminate()
        try:
            status = self.vfsd.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.vfsd.kill()
            raise Mismatch("vfsd did not stop within 120 s of SIGTERM")
        self.vfsd = None
        if status != 0:
            raise Mismatch(f"vfsd stopped with exit status {status}")

    def open(self, truncate=False):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if truncate else 0), 0o644)

    def close(self):
        os.close(self.fd)
        self.fd = None

    # Reads exactly what is there (short reads retried), from the mount and from the mirror.
    @staticmethod
    def pread_all(fd, size, offset):
        out = bytearray()
        while len(out) < size:
            b = os.pread(fd, size - len(out), offset + len(out))
            if not b:
                break
            out += b
        return bytes(out)

    def compare_range(self, offset, size, what):
        size = max(0, size)
        a = self.pread_all(self.fd, size, offset)
        b = self.pread_all(self.mirror, size, offset)
        if a != b:
            first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            raise Mismatch(f"{what}: bytes differ in [{offset}, {offset + size}): first at "
                           f"{offset + first} (mount read {len(a)} bytes, mirror {len(b)})")

    def compare_size(self, what):
        a = os.fstat(self.fd).st_size
        b = os.fstat(self.mirror).st_size
        if a != b:
            raise Mismatch(f"{what}: size {a} through the mount, {b} in the mirror")
        return b

    def compare_all(self, what):
        size = self.compare_size(what)
        for off in range(0, size, 4 * MIB):
            self.compare_range(off, min(4 * MIB, size - off), what)

    def compare_s3(self, what):
        if not self.args.bucket:
            return
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "servers"))
        import s3check  # noqa: E402 (the same client the shell tests use)

        class A:
            endpoint = None
        body = s3check.client(A()).get_object(Bucket=self.args.bucket, Key="model.bin")["Body"].read()
        size = os.fstat(self.mirror).st_size
        mirror = self.pread_all(self.mirror, size, 0)
        if hashlib.sha256(body).digest() != hashlib.sha256(mirror).digest():
            raise Mismatch(f"{what}: the object in S3 ({len(body)} bytes) differs from the mirror ({size})")


def run(args, seed):
    rng = random.Random(seed)
    h = Harness(args)
    boundary = args.boundary
    limit = args.max_size
    counts, spent = {}, {}
    recent = []
    step, op = -1, ("mount",)
    try:
        h.start()
        h.open(truncate=True)
        for step in range(args.ops):
            size = os.fstat(h.mirror).st_size
            began = time.monotonic()
            r = rng.random()
            if r < 0.55:
                # pwrite: mostly small, some large; a third straddle a boundary.
                r2 = rng.random()
                if r2 < 0.01:
                    n = rng.randint(1, 6 * MIB)
                elif r2 < 0.06:
                    n = rng.randint(64 * KIB, 1 * MIB)
                else:
                    n = rng.choice((rng.randint(1, 512), 4 * KIB, rng.randint(1, 64 * KIB)))
                if rng.random() < 0.33:
                    k = rng.randint(1, max(1, limit // boundary))
                    off = max(0, k * boundary - rng.randint(0, n))
                elif rng.random() < 0.2:
                    off = size  # append
                else:
                    off = rng.randint(0, size + 256 * KIB)
                off = min(off, limit - 1)
                n = max(1, min(n, limit - off))
                data = rng.randbytes(n)
                op = ("write", off, n)
                wrote = os.pwrite(h.fd, data, off)
                os.pwrite(h.mirror, data, off)
                if wrote != n:
                    raise Mismatch(f"short write: {wrote} of {n}")
                h.compare_size("after write")
                h.compare_range(max(0, off - 4 * KIB), n + 8 * KIB, "after write")
            elif r < 0.65:
                new = rng.choice((rng.randint(0, size), rng.randint(size, min(limit, size + 3 * MIB)),
                                  rng.randint(1, limit // boundary) * boundary + rng.randint(-3, 3)))
                new = max(0, min(new, limit))
                op = ("truncate", new)
                os.ftruncate(h.fd, new)
                os.ftruncate(h.mirror, new)
                h.compare_size("after truncate")
                h.compare_range(max(0, min(new, size) - 8 * KIB), 16 * KIB + abs(new - size), "after truncate")
            elif r < 0.993:
                off = rng.randint(0, size + 10)
                n = rng.choice((rng.randint(1, 4 * KIB), rng.randint(1, 256 * KIB), rng.randint(1, 3 * MIB)
                                if rng.random() < 0.1 else 64 * KIB))
                op = ("read", off, n)
                h.compare_range(off, n, "read")
            elif r < 0.9965:
                op = ("fsync",)
                os.fsync(h.fd)
                h.compare_all("after fsync")
            elif r < 0.9993:
                op = ("reopen",)
                h.close()
                h.open()
                h.compare_all("after close and reopen")
            else:
                op = ("remount",)
                h.close()
                h.stop()
                h.remounts += 1
                h.compare_s3("after stop")
                h.start()
                h.open()
                h.compare_all("after remount")
            counts[op[0]] = counts.get(op[0], 0) + 1
            spent[op[0]] = spent.get(op[0], 0.0) + time.monotonic() - began
            recent = (recent + [op])[-20:]
            # A whole-file check every 250 steps, whatever the step was.
            if step % 250 == 249:
                h.compare_all(f"step {step + 1}")
        op = ("final close, stop and S3 check",)
        h.close()
        h.stop()
        h.compare_s3("at the end")
    except (Mismatch, OSError) as e:
        print(f"model: FAILED at step {step + 1} {op}: {e}", file=sys.stderr)
        print(f"model: seed {seed} (replay: VFS_MODEL_SEED={seed}); last steps:", file=sys.stderr)
        for o in recent:
            print(f"model:   {o}", file=sys.stderr)
        if h.vfsd is not None:
            h.vfsd.kill()
            h.vfsd.wait()
        return 1, counts, h.remounts
    print("model: seconds per kind: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(spent.items())), flush=True)
    return 0, counts, h.remounts


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mount", required=True)
    p.add_argument("--mirror", required=True)
    p.add_argument("--vfsd", required=True, help="shell command that runs vfsd in the foreground")
    p.add_argument("--log", default="/dev/null", help="vfsd's stderr is appended here")
    p.add_argument("--bucket", help="check the object in S3 after each stop (S3_ENDPOINT, AWS_*)")
    p.add_argument("--ops", type=int, default=10000)
    p.add_argument("--boundary", type=int, default=5 * MIB, help="chunk/part size to straddle")
    p.add_argument("--max-size", type=int, default=16 * MIB)
    args = p.parse_args()
    seed = int(os.environ.get("VFS_MODEL_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"model: seed {seed} (replay: VFS_MODEL_SEED={seed}), {args.ops} operations", flush=True)
    start = time.monotonic()
    status, counts, remounts = run(args, seed)
    elapsed = time.monotonic() - start
    total = sum(counts.values())
    print(f"model: {total} operations in {elapsed:.1f} s ({total / elapsed:.0f} ops/s): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
    if status == 0:
        print(f"model: every step matched the mirror; {remounts} remounts, S3 checked after each", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
