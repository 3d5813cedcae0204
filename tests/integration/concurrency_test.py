#!/usr/bin/env python3
"""Several processes on one vfsd mount at once: own files, one shared file, readers during the writes.

  concurrency_test.py --mount DIR --expect DIR [--writers N] [--readers N] [--seed N]

Writer i fills its own file (random chunk order and sizes, fsync and close/reopen on the
way, read back) and its disjoint region of shared.bin (chunks in random order, fsync and
close/reopen of the shared file from every writer). Readers read random ranges of
shared.bin meanwhile: every byte must be its old or its new value. At the end every file
is read back through the mount, and the expected bytes are left in --expect for a boto3
check. A process still running after --timeout seconds is a deadlock: the test fails.
"""

import argparse
import multiprocessing
import os
import random
import sys
import time

KIB = 1 << 10
MIB = 1 << 20


def chunks(start, end, rng, largest):
    out, pos = [], start
    while pos < end:
        n = min(end - pos, rng.randint(1, largest))
        out.append((pos, n))
        pos += n
    rng.shuffle(out)
    return out


def writer(i, args, old, new, own, failures):
    rng = random.Random(args.seed * 100 + i)
    try:
        shared = os.path.join(args.mount, "shared.bin")
        path = os.path.join(args.mount, f"own-{i}.bin")
        fd = os.open(shared, os.O_RDWR)
        mine = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        region = (i * args.region, (i + 1) * args.region)
        work = [("shared", c) for c in chunks(*region, rng, 512 * KIB)]
        work += [("own", c) for c in chunks(0, len(own), rng, 256 * KIB)]
        rng.shuffle(work)
        for what, (off, n) in work:
            if what == "shared":
                os.pwrite(fd, new[off:off + n], off)
            else:
                os.pwrite(mine, own[off:off + n], off)
            r = rng.random()
            if r < 0.04:
                os.fsync(fd if what == "shared" else mine)
            elif r < 0.06:
                os.close(fd)
                fd = os.open(shared, os.O_RDWR)
            elif r < 0.07:
                os.close(mine)
                mine = os.open(path, os.O_RDWR)
        os.fsync(mine)
        os.close(mine)
        os.fsync(fd)
        os.close(fd)
        with open(path, "rb") as f:
            if f.read() != own:
                failures.put(f"writer {i}: its own file reads back wrong")
    except OSError as e:
        failures.put(f"writer {i}: {e}")


def reader(j, args, old, new, done, failures, counts):
    rng = random.Random(args.seed * 100 + 50 + j)
    shared = os.path.join(args.mount, "shared.bin")
    reads = 0
    try:
        fd = os.open(shared, os.O_RDONLY)
        while not done.is_set():
            off = rng.randrange(len(old))
            n = min(len(old) - off, rng.randint(1, 1 * MIB))
            got = os.pread(fd, n, off)
            if len(got) != n:
                failures.put(f"reader {j}: short read {len(got)} of {n} at {off}")
                return
            # Window by window; only windows that mix old and new bytes are checked bytewise.
            for w in range(0, n, 4 * KIB):
                a, b = off + w, min(off + w + 4 * KIB, off + n)
                piece = got[w:w + (b - a)]
                if piece == old[a:b] or piece == new[a:b]:
                    continue
                for k in range(b - a):
                    if piece[k] != old[a + k] and piece[k] != new[a + k]:
                        failures.put(f"reader {j}: byte {a + k} is neither old nor new")
                        return
            reads += 1
            if rng.random() < 0.05:
                os.close(fd)
                fd = os.open(shared, os.O_RDONLY)
        os.close(fd)
    except OSError as e:
        failures.put(f"reader {j}: {e}")
    counts.put(reads)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mount", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--region", type=int, default=6 * MIB, help="each writer's share of shared.bin")
    p.add_argument("--own", type=int, default=8 * MIB, help="size of each writer's own file")
    p.add_argument("--timeout", type=int, default=240)
    p.add_argument("--seed", type=int, default=int(os.environ.get("VFS_CONCURRENCY_SEED", "0")) or None)
    args = p.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    print(f"concurrency: seed {args.seed} (replay: VFS_CONCURRENCY_SEED={args.seed}), "
          f"{args.writers} writers, {args.readers} readers", flush=True)
    rng = random.Random(args.seed)
    total = args.writers * args.region
    old = rng.randbytes(total)
    new = rng.randbytes(total)
    own = [rng.randbytes(args.own) for _ in range(args.writers)]
    with open(os.path.join(args.mount, "shared.bin"), "wb") as f:
        f.write(old)

    ctx = multiprocessing.get_context("fork")
    failures, counts, done = ctx.Queue(), ctx.Queue(), ctx.Event()
    writers = [ctx.Process(target=writer, args=(i, args, old, new, own[i], failures)) for i in range(args.writers)]
    readers = [ctx.Process(target=reader, args=(j, args, old, new, done, failures, counts))
               for j in range(args.readers)]
    start = time.monotonic()
    for proc in writers + readers:
        proc.start()
    deadline = start + args.timeout
    for proc in writers:
        proc.join(max(0, deadline - time.monotonic()))
    done.set()
    for proc in readers:
        proc.join(max(1, deadline - time.monotonic()))
    stuck = [proc for proc in writers + readers if proc.is_alive()]
    for proc in stuck:
        proc.kill()
    elapsed = time.monotonic() - start
    problems = []
    while not failures.empty():
        problems.append(failures.get())
    if stuck:
        problems.append(f"{len(stuck)} processes still running after {args.timeout} s: deadlock?")
    reads = 0
    while not counts.empty():
        reads += counts.get()
    if not stuck:
        with open(os.path.join(args.mount, "shared.bin"), "rb") as f:
            if f.read() != new:
                problems.append("shared.bin does not read back as the writers left it")
        for i in range(args.writers):
            with open(os.path.join(args.mount, f"own-{i}.bin"), "rb") as f:
                if f.read() != own[i]:
                    problems.append(f"own-{i}.bin does not read back as written")
    os.makedirs(args.expect, exist_ok=True)
    with open(os.path.join(args.expect, "shared.bin"), "wb") as f:
        f.write(new)
    for i in range(args.writers):
        with open(os.path.join(args.expect, f"own-{i}.bin"), "wb") as f:
            f.write(own[i])
    print(f"concurrency: {elapsed:.1f} s, {reads} concurrent reads checked", flush=True)
    for text in problems:
        print(f"concurrency: FAILED: {text} (seed {args.seed})", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
