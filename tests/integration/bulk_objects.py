#!/usr/bin/env python3
"""Creates or deletes many small objects in parallel with boto3, one key per line on stdin.

  bulk_objects.py put BUCKET [--threads N]      each object's body is its own key
  bulk_objects.py delete BUCKET [--threads N]

Endpoint and credentials as for s3check.py ($S3_ENDPOINT, AWS_*). Exits 1 on any error.
"""

import argparse
import concurrent.futures
import os
import sys
import threading

import boto3
import botocore.config

local = threading.local()


def client():
    if not hasattr(local, "s3"):
        config = botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                        retries={"max_attempts": 5, "mode": "standard"},
                                        max_pool_connections=4)
        local.s3 = boto3.session.Session().client(
            "s3", endpoint_url=os.environ["S3_ENDPOINT"],
            region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), config=config)
    return local.s3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=("put", "delete"))
    p.add_argument("bucket")
    p.add_argument("--threads", type=int, default=16)
    args = p.parse_args()
    keys = [line.rstrip("\n") for line in sys.stdin if line.strip()]

    # Two processes (boto3 is CPU-bound under the GIL), each with its share of the threads.
    half = len(keys) // 2
    with concurrent.futures.ProcessPoolExecutor(2) as procs:
        for f in [procs.submit(run, args.action, args.bucket, part, max(1, args.threads // 2))
                  for part in (keys[:half], keys[half:])]:
            f.result()
    return 0


def run(action, bucket, keys, threads):
    def one(k):
        if action == "put":
            client().put_object(Bucket=bucket, Key=k, Body=k.encode())
        else:
            client().delete_object(Bucket=bucket, Key=k)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for f in concurrent.futures.as_completed([pool.submit(one, k) for k in keys]):
            f.result()


if __name__ == "__main__":
    sys.exit(main())
