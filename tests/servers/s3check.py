#!/usr/bin/env python3
"""An independent S3 client (boto3, path-style) that shell tests use to cross-check vfs.

The endpoint is --endpoint or $S3_ENDPOINT; credentials and region come from the usual
AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION).

  s3check.py put BUCKET KEY FILE [--single] [--part-size MIB] [--meta K=V ...] [--content-type T]
  s3check.py putdir BUCKET PREFIX DIR   every file under DIR as PREFIX + its relative path (8 at a time)
  s3check.py get BUCKET KEY FILE
  s3check.py sha256 BUCKET KEY          prints the hex SHA-256 of the object's bytes
  s3check.py head BUCKET KEY            prints the HeadObject answer as JSON (with Metadata)
  s3check.py xattrs BUCKET KEY          one "NAME=VALUE" line per extended attribute s3fs-style
                                        (x-amz-meta-xattr: percent-encoded {"name":"base64",...})
  s3check.py ls BUCKET [PREFIX] [--json]  one "SIZE<TAB>ETAG<TAB>KEY" line per object
  s3check.py mb BUCKET
  s3check.py rb BUCKET [--force]        --force first deletes every object and upload

Exits 0 on success; on any error prints "s3check: ..." to stderr and exits 1 (2 for usage).
"""

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import sys
import urllib.parse

try:
    import boto3
    import boto3.s3.transfer
    import botocore.config
    import botocore.exceptions
except ImportError:
    sys.exit("s3check: python3-boto3 is missing; run scripts/install-deps.sh")

CHUNK = 1 << 20


class Failure(Exception):
    pass


def client(args):
    endpoint = args.endpoint or os.environ.get("S3_ENDPOINT")
    if not endpoint:
        raise Failure("no endpoint: pass --endpoint or set S3_ENDPOINT")
    config = botocore.config.Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=10,
        read_timeout=120,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=config,
    )


def cmd_put(s3, args):
    extra = {}
    if args.meta:
        meta = {}
        for item in args.meta:
            name, sep, value = item.partition("=")
            if not sep:
                raise Failure(f"--meta wants K=V, got {item!r}")
            meta[name] = value
        extra["Metadata"] = meta
    if args.content_type:
        extra["ContentType"] = args.content_type
    if args.single:
        with open(args.file, "rb") as f:
            s3.put_object(Bucket=args.bucket, Key=args.key, Body=f, **extra)
        return
    part = args.part_size << 20
    transfer = boto3.s3.transfer.TransferConfig(multipart_threshold=part, multipart_chunksize=part)
    s3.upload_file(args.file, args.bucket, args.key, ExtraArgs=extra, Config=transfer)


def cmd_putdir(s3, args):
    files = []
    for root, _, names in os.walk(args.dir):
        for name in names:
            path = os.path.join(root, name)
            files.append((path, args.prefix + os.path.relpath(path, args.dir)))

    def upload(item):
        with open(item[0], "rb") as f:
            s3.put_object(Bucket=args.bucket, Key=item[1], Body=f.read())

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for done in pool.map(upload, files):
            pass


def cmd_get(s3, args):
    body = s3.get_object(Bucket=args.bucket, Key=args.key)["Body"]
    with open(args.file, "wb") as f:
        for chunk in body.iter_chunks(CHUNK):
            f.write(chunk)


def cmd_sha256(s3, args):
    body = s3.get_object(Bucket=args.bucket, Key=args.key)["Body"]
    digest = hashlib.sha256()
    for chunk in body.iter_chunks(CHUNK):
        digest.update(chunk)
    print(digest.hexdigest())


def cmd_head(s3, args):
    answer = s3.head_object(Bucket=args.bucket, Key=args.key)
    answer.pop("ResponseMetadata", None)
    print(json.dumps(answer, default=str, sort_keys=True, indent=1))


def cmd_xattrs(s3, args):
    encoded = s3.head_object(Bucket=args.bucket, Key=args.key).get("Metadata", {}).get("xattr")
    if encoded is None:
        return
    text = urllib.parse.unquote(encoded)
    try:
        pairs = json.loads(text)
    except ValueError as e:
        raise Failure(f"x-amz-meta-xattr is not JSON after percent-decoding: {text!r}") from e
    for name in sorted(pairs):
        value = base64.b64decode(pairs[name], validate=True)
        print(f"{name}={value.decode('utf-8', 'backslashreplace')}")


def list_objects(s3, bucket, prefix=""):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def cmd_ls(s3, args):
    objects = list(list_objects(s3, args.bucket, args.prefix))
    if args.json:
        print(json.dumps([{"Key": o["Key"], "Size": o["Size"], "ETag": o["ETag"]} for o in objects],
                         indent=1))
        return
    for o in objects:
        print(f'{o["Size"]}\t{o["ETag"]}\t{o["Key"]}')


def cmd_mb(s3, args):
    s3.create_bucket(Bucket=args.bucket)


def cmd_rb(s3, args):
    if args.force:
        batch = []
        for o in list_objects(s3, args.bucket):
            batch.append({"Key": o["Key"]})
            if len(batch) == 1000:
                delete_batch(s3, args.bucket, batch)
                batch = []
        if batch:
            delete_batch(s3, args.bucket, batch)
        try:
            pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=args.bucket)
            for page in pages:
                for u in page.get("Uploads", []):
                    s3.abort_multipart_upload(Bucket=args.bucket, Key=u["Key"], UploadId=u["UploadId"])
        except botocore.exceptions.ClientError as e:
            # s3rver has no ListMultipartUploads; there is nothing to abort there.
            if e.response.get("Error", {}).get("Code") != "NotImplemented":
                raise
    s3.delete_bucket(Bucket=args.bucket)


def delete_batch(s3, bucket, batch):
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    errors = answer.get("Errors", [])
    if errors:
        e = errors[0]
        raise Failure(f"delete {bucket}/{e.get('Key')}: {e.get('Code')}: {e.get('Message')}")


def parser():
    p = argparse.ArgumentParser(prog="s3check.py", description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", help="S3 endpoint URL (default: $S3_ENDPOINT)")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("put", help="upload FILE to BUCKET/KEY")
    c.add_argument("bucket")
    c.add_argument("key")
    c.add_argument("file")
    c.add_argument("--single", action="store_true", help="one PutObject, never multipart")
    c.add_argument("--part-size", type=int, default=16, metavar="MIB",
                   help="multipart part size and threshold in MiB (default 16)")
    c.add_argument("--meta", action="append", metavar="K=V", help="user metadata (x-amz-meta-K)")
    c.add_argument("--content-type")
    c.set_defaults(run=cmd_put)

    c = sub.add_parser("putdir", help="upload a directory tree under PREFIX")
    c.add_argument("bucket")
    c.add_argument("prefix")
    c.add_argument("dir")
    c.set_defaults(run=cmd_putdir)

    for name, run, text in (("get", cmd_get, "download BUCKET/KEY to FILE"),
                            ("sha256", cmd_sha256, "print the SHA-256 of BUCKET/KEY"),
                            ("head", cmd_head, "print HeadObject of BUCKET/KEY as JSON"),
                            ("xattrs", cmd_xattrs, "print the s3fs-style extended attributes of BUCKET/KEY")):
        c = sub.add_parser(name, help=text)
        c.add_argument("bucket")
        c.add_argument("key")
        if name == "get":
            c.add_argument("file")
        c.set_defaults(run=run)

    c = sub.add_parser("ls", help="list objects")
    c.add_argument("bucket")
    c.add_argument("prefix", nargs="?", default="")
    c.add_argument("--json", action="store_true", help="a JSON list instead of lines")
    c.set_defaults(run=cmd_ls)

    c = sub.add_parser("mb", help="create a bucket")
    c.add_argument("bucket")
    c.set_defaults(run=cmd_mb)

    c = sub.add_parser("rb", help="delete a bucket")
    c.add_argument("bucket")
    c.add_argument("--force", action="store_true", help="delete its objects and uploads first")
    c.set_defaults(run=cmd_rb)
    return p


def main():
    args = parser().parse_args()
    what = " ".join(str(v) for v in (args.command, getattr(args, "bucket", ""), getattr(args, "key", "")) if v)
    try:
        args.run(client(args), args)
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        text = f"HTTP {status}"
        # A HEAD error has no body: botocore then gives the status as the code.
        if err.get("Code") and err["Code"] != str(status):
            text += f" {err['Code']}"
            if err.get("Message"):
                text += f": {err['Message']}"
        print(f"s3check: {what}: {text}", file=sys.stderr)
        return 1
    except (botocore.exceptions.BotoCoreError, OSError, Failure) as e:
        print(f"s3check: {what}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
