"""Object-storage side of the backups (the backend virtualenv's python; the `minio` client; `age`).

    store.py [--offsite] put FILE KEY      upload FILE as KEY into the backups bucket
    store.py [--offsite] get KEY FILE      download KEY from the backups bucket
    store.py [--offsite] latest PREFIX     print the newest key under PREFIX (nothing if none)
    store.py [--offsite] prune PREFIX DAYS delete objects under PREFIX older than DAYS days
    store.py copy-buckets STAMP            copy every object of the other CDSS buckets, encrypted, to
                                           objects/STAMP/<bucket>/<key>.age, with an encrypted manifest
                                           objects/STAMP/manifest.json.age (each object's sha256)
    store.py [--offsite] restore-buckets STAMP [INTO]
                                           decrypt them back, each checked against the manifest's sha256,
                                           into their buckets, or all into the bucket INTO as <bucket>/<key>
                                           (a scratch bucket: the restore drill)
    store.py empty BUCKET                  delete every object of BUCKET (the drill's scratch bucket)
    store.py mirror                        copy every backup (db/, objects/) the off-site store lacks to it,
                                           then prune it there after OFFSITE_RETENTION_DAYS (35) days

--offsite: the second object store (OFFSITE_S3_ENDPOINT_URL, default S3_ENDPOINT_URL; OFFSITE_S3_ACCESS_KEY,
OFFSITE_S3_SECRET_KEY, OFFSITE_S3_REGION, bucket OFFSITE_S3_BUCKET) instead of the backups bucket.
Connection from the environment, as Django reads it: S3_ENDPOINT_URL, S3_ACCESS_KEY, S3_SECRET_KEY,
S3_REGION, S3_BUCKET_PREFIX. backup.sh signs in as the backup account (cdss-backup: reads the data
buckets, writes and prunes backups; and cdss-offsite off site), restore.sh as the admin (docs/security.md,
"Object-store accounts"). The backups bucket is settings.S3_BUCKETS["backups"], i.e. S3_BUCKET_PREFIX +
"cdss-backups" (BACKUP_BUCKET overrides it); the buckets copied weekly are ai-artifacts and dicom-thumbnails.
Encryption: age, to the public key(s) in BACKUP_AGE_RECIPIENTS_FILE; decryption with the private key in
the file BACKUP_AGE_IDENTITY (brought to the host for a restore only: docs/runbooks/backup-and-restore.md).
"""

import datetime
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from minio import Minio
from minio.error import S3Error

ROOT = Path(__file__).resolve().parents[1]
DATA_BUCKETS = ("ai-artifacts", "dicom-thumbnails")
MIRRORED = ("db/", "objects/")
STAMP = re.compile(r"\d{8}T\d{6}Z")  # backup.sh's UTC time stamp in every key


class Store:
    """One object store and the bucket the backups live in there."""

    def __init__(self, offsite: bool = False):
        env = os.environ
        if offsite:
            endpoint = env.get("OFFSITE_S3_ENDPOINT_URL") or env["S3_ENDPOINT_URL"]
            keys = env.get("OFFSITE_S3_ACCESS_KEY"), env.get("OFFSITE_S3_SECRET_KEY")
            if not all(keys):
                sys.exit("OFFSITE_S3_ACCESS_KEY/OFFSITE_S3_SECRET_KEY are not set (make env adds them to .env)")
            region = env.get("OFFSITE_S3_REGION") or env.get("S3_REGION", "us-east-1")
            self.bucket = env.get("OFFSITE_S3_BUCKET") or "cdss-offsite-backups"
        else:
            endpoint, keys = env["S3_ENDPOINT_URL"], (env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"])
            region = env.get("S3_REGION", "us-east-1")
            self.bucket = env.get("BACKUP_BUCKET") or prefix() + "cdss-backups"
        url = urlsplit(endpoint)
        self.s3 = Minio(url.netloc, access_key=keys[0], secret_key=keys[1], secure=url.scheme == "https", region=region)
        self.name = "off-site" if offsite else "backups"
        if not self.s3.bucket_exists(self.bucket):
            self.s3.make_bucket(self.bucket)

    def read(self, bucket: str, key: str) -> bytes:
        response = self.s3.get_object(bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def write(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(bucket, key, io.BytesIO(body), len(body))

    def keys(self, under: str) -> dict[str, object]:
        return {o.object_name: o for o in self.s3.list_objects(self.bucket, prefix=under, recursive=True)}


def prefix() -> str:
    return os.environ.get("S3_BUCKET_PREFIX", "")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _path(variable: str, default: str = "") -> Path:
    value = os.environ.get(variable) or default
    if not value:
        sys.exit(f"{variable} is not set")
    path = Path(value)
    return path if path.is_absolute() else ROOT / path


def encrypt(data: bytes) -> bytes:
    recipients = _path("BACKUP_AGE_RECIPIENTS_FILE", "var/backup-recipients.txt")
    if not recipients.is_file():
        sys.exit(f"no backup public key at {recipients} (make env makes the local one; the key ceremony: runbook)")
    return subprocess.run(["age", "-R", str(recipients)], input=data, capture_output=True, check=True).stdout  # noqa: S603,S607


def decrypt(data: bytes) -> bytes:
    identity = _path("BACKUP_AGE_IDENTITY")
    result = subprocess.run(["age", "-d", "-i", str(identity)], input=data, capture_output=True)  # noqa: S603,S607
    if result.returncode:
        sys.exit(f"cannot decrypt with {identity}: {result.stderr.decode().strip()}")
    return result.stdout


def put(store, path, key):
    store.s3.fput_object(store.bucket, key, path)


def get(store, key, path):
    store.s3.fget_object(store.bucket, key, path)


def latest(store, under):
    """The key with the newest UTC stamp in its name (database names sort otherwise)."""
    keys = sorted(store.keys(under), key=lambda key: (STAMP.findall(key)[-1:], key))
    if keys:
        print(keys[-1])


def prune(store, under, days):
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=float(days))
    for key, obj in store.keys(under).items():
        if obj.last_modified and obj.last_modified < cutoff:
            store.s3.remove_object(store.bucket, key)
            print(f"pruned s3://{store.bucket}/{key} ({store.name})")


def copy_buckets(store, stamp):
    manifest = {"stamp": stamp, "objects": []}
    for name in DATA_BUCKETS:
        source = prefix() + name
        if not store.s3.bucket_exists(source):
            continue
        for obj in store.s3.list_objects(source, recursive=True):
            body = store.read(source, obj.object_name)
            store.write(store.bucket, f"objects/{stamp}/{name}/{obj.object_name}.age", encrypt(body))
            entry = {"bucket": name, "key": obj.object_name, "size": len(body), "sha256": sha256(body)}
            manifest["objects"].append(entry)
    # The manifest names the objects (study and job ids): encrypted like them.
    store.write(store.bucket, f"objects/{stamp}/manifest.json.age", encrypt(json.dumps(manifest, indent=1).encode()))
    print(f"copied {len(manifest['objects'])} objects, encrypted, to s3://{store.bucket}/objects/{stamp}/")


def restore_buckets(store, stamp, into=""):
    live = Store() if store.name == "off-site" else store  # read off site, written to the live store
    manifest = json.loads(decrypt(store.read(store.bucket, f"objects/{stamp}/manifest.json.age")))
    for entry in manifest["objects"]:
        source_key = f"objects/{stamp}/{entry['bucket']}/{entry['key']}.age"
        body = decrypt(store.read(store.bucket, source_key))
        if sha256(body) != entry["sha256"]:
            sys.exit(f"checksum mismatch for {source_key}: refusing to restore it")
        if into:  # the scratch bucket: every bucket's objects under its name
            target, key = into, f"{entry['bucket']}/{entry['key']}"
        else:
            target, key = prefix() + entry["bucket"], entry["key"]
        if not live.s3.bucket_exists(target):
            live.s3.make_bucket(target)
        live.write(target, key, body)
    where = f"s3://{into}/" if into else "their buckets"
    count = len(manifest["objects"])
    print(f"restored {count} objects from s3://{store.bucket}/objects/{stamp}/ into {where}, sha256 verified")


def empty(store, bucket):
    if store.s3.bucket_exists(bucket):
        for obj in store.s3.list_objects(bucket, recursive=True):
            store.s3.remove_object(bucket, obj.object_name)


def mirror(store):
    offsite = Store(offsite=True)
    copied = 0
    for under in MIRRORED:
        there = offsite.keys(under)
        for key, obj in sorted(store.keys(under).items()):
            if key in there and there[key].size == obj.size:
                continue
            offsite.write(offsite.bucket, key, store.read(store.bucket, key))
            copied += 1
    print(f"off-site: {copied} new backup files copied to s3://{offsite.bucket}/")
    for under in MIRRORED:
        prune(offsite, under, os.environ.get("OFFSITE_RETENTION_DAYS", "35"))


COMMANDS = {
    "put": (put, 2, 2),
    "get": (get, 2, 2),
    "latest": (latest, 1, 1),
    "prune": (prune, 2, 2),
    "copy-buckets": (copy_buckets, 1, 1),
    "restore-buckets": (restore_buckets, 1, 2),
    "empty": (empty, 1, 1),
    "mirror": (mirror, 0, 0),
}


def main(argv):
    offsite = "--offsite" in argv
    argv = [a for a in argv if a != "--offsite"]
    if len(argv) < 2 or argv[1] not in COMMANDS or not COMMANDS[argv[1]][1] <= len(argv) - 2 <= COMMANDS[argv[1]][2]:
        sys.exit(__doc__)
    function = COMMANDS[argv[1]][0]
    try:
        function(Store(offsite=offsite), *argv[2:])
    except S3Error as error:
        sys.exit(f"object storage: {error.code}: {error.message}")


if __name__ == "__main__":
    main(sys.argv)
