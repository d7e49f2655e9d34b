"""Object-storage side of the backups (the backend virtualenv's python; the `minio` client).

    store.py put FILE KEY                upload FILE as KEY into the backups bucket
    store.py get KEY FILE                download KEY from the backups bucket
    store.py latest PREFIX               print the newest key under PREFIX (nothing if none)
    store.py prune PREFIX DAYS           delete objects under PREFIX older than DAYS days
    store.py copy-buckets STAMP          copy every object of the other CDSS buckets to
                                         objects/STAMP/<bucket>/<key>, with objects/STAMP/manifest.json
    store.py restore-buckets STAMP       copy them back (the manifest's checksums are verified)

Connection from the environment, as Django reads it: S3_ENDPOINT_URL, S3_ACCESS_KEY, S3_SECRET_KEY,
S3_REGION, S3_BUCKET_PREFIX. backup.sh signs in as the backup account (cdss-backup: reads the data
buckets, writes and prunes backups), restore.sh as the admin (docs/security.md, "Object-store accounts").
The backups bucket is settings.S3_BUCKETS["backups"], i.e. S3_BUCKET_PREFIX + "cdss-backups"
(BACKUP_BUCKET overrides it); the buckets copied weekly are ai-artifacts and dicom-thumbnails.
"""

import datetime
import hashlib
import io
import json
import os
import sys
from urllib.parse import urlsplit

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error

DATA_BUCKETS = ("ai-artifacts", "dicom-thumbnails")


def client() -> Minio:
    url = urlsplit(os.environ["S3_ENDPOINT_URL"])
    return Minio(
        url.netloc,
        access_key=os.environ["S3_ACCESS_KEY"],
        secret_key=os.environ["S3_SECRET_KEY"],
        secure=url.scheme == "https",
        region=os.environ.get("S3_REGION", "us-east-1"),
    )


def prefix() -> str:
    return os.environ.get("S3_BUCKET_PREFIX", "")


def backups_bucket(s3: Minio) -> str:
    name = os.environ.get("BACKUP_BUCKET") or prefix() + "cdss-backups"
    if not s3.bucket_exists(name):
        s3.make_bucket(name)
    return name


def sha256_of(data) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: data.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def put(s3, path, key):
    s3.fput_object(backups_bucket(s3), key, path)


def get(s3, key, path):
    s3.fget_object(backups_bucket(s3), key, path)


def latest(s3, under):
    keys = sorted(o.object_name for o in s3.list_objects(backups_bucket(s3), prefix=under, recursive=True))
    if keys:
        print(keys[-1])


def prune(s3, under, days):
    bucket = backups_bucket(s3)
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=float(days))
    for obj in s3.list_objects(bucket, prefix=under, recursive=True):
        if obj.last_modified and obj.last_modified < cutoff:
            s3.remove_object(bucket, obj.object_name)
            print(f"pruned s3://{bucket}/{obj.object_name}")


def copy_buckets(s3, stamp):
    bucket = backups_bucket(s3)
    manifest = {"stamp": stamp, "objects": []}
    for name in DATA_BUCKETS:
        source = prefix() + name
        if not s3.bucket_exists(source):
            continue
        for obj in s3.list_objects(source, recursive=True):
            response = s3.get_object(source, obj.object_name)
            try:
                checksum = sha256_of(response)
            finally:
                response.close()
                response.release_conn()
            target = f"objects/{stamp}/{name}/{obj.object_name}"
            s3.copy_object(bucket, target, CopySource(source, obj.object_name))
            manifest["objects"].append({"bucket": name, "key": obj.object_name, "size": obj.size, "sha256": checksum})
    body = json.dumps(manifest, indent=1).encode()
    s3.put_object(
        bucket, f"objects/{stamp}/manifest.json", io.BytesIO(body), len(body), content_type="application/json"
    )
    print(f"copied {len(manifest['objects'])} objects to s3://{bucket}/objects/{stamp}/")


def restore_buckets(s3, stamp):
    bucket = backups_bucket(s3)
    response = s3.get_object(bucket, f"objects/{stamp}/manifest.json")
    try:
        manifest = json.loads(response.read())
    finally:
        response.close()
        response.release_conn()
    for entry in manifest["objects"]:
        source_key = f"objects/{stamp}/{entry['bucket']}/{entry['key']}"
        response = s3.get_object(bucket, source_key)
        try:
            checksum = sha256_of(response)
        finally:
            response.close()
            response.release_conn()
        if checksum != entry["sha256"]:
            sys.exit(f"checksum mismatch for {source_key}: refusing to restore it")
        target = prefix() + entry["bucket"]
        if not s3.bucket_exists(target):
            s3.make_bucket(target)
        s3.copy_object(target, entry["key"], CopySource(bucket, source_key))
    print(f"restored {len(manifest['objects'])} objects from s3://{bucket}/objects/{stamp}/")


def main(argv):
    commands = {
        "put": (put, 2),
        "get": (get, 2),
        "latest": (latest, 1),
        "prune": (prune, 2),
        "copy-buckets": (copy_buckets, 1),
        "restore-buckets": (restore_buckets, 1),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.exit(__doc__)
    function, _ = commands[argv[1]]
    try:
        function(client(), *argv[2:])
    except S3Error as error:
        sys.exit(f"object storage: {error.code}: {error.message}")


if __name__ == "__main__":
    main(sys.argv)
