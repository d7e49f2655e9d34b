"""Each service's object-store account (docs/security.md, "Object-store accounts"; the policies in
deploy/object-store/policies/) does what its code does and is refused the rest. Checked on the tests'
buckets (the same names behind `test-`), which the admin account created (conftest, ensure_buckets).

The ai-server parses untrusted DICOM: its account cannot read the database dumps in the backups bucket nor
replace a registered model. The application cannot delete an audit checkpoint nor create or reconfigure a
bucket (object lock)."""

import base64
import hashlib
import io
import os
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention

from core.storage import storage_client

BUCKETS = settings.S3_BUCKETS
PROBE = f"rights-probe/{uuid.uuid4().hex}"  # this run's objects


def account(name: str, *, secret: str | None = None) -> Minio:
    """A client signed with account `name`'s key from .env (APP_S3, AI_S3, BACKUP_S3, MODELS_S3)."""
    access = os.environ.get(f"{name}_ACCESS_KEY", "")
    assert access, f"{name}_ACCESS_KEY is set in .env (scripts/env.sh)"
    endpoint = urlsplit(settings.S3_ENDPOINT_URL)
    return Minio(
        endpoint.netloc,
        access_key=access,
        secret_key=secret or os.environ[f"{name}_SECRET_KEY"],
        secure=endpoint.scheme == "https",
        region=settings.S3_REGION,
    )


def put(client: Minio, purpose: str, key: str, body: bytes = b"probe", **kwargs) -> str:
    return client.put_object(BUCKETS[purpose], key, io.BytesIO(body), len(body), **kwargs).version_id


def get(client: Minio, purpose: str, key: str, **kwargs) -> bytes:
    response = client.get_object(BUCKETS[purpose], key, **kwargs)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def refused(act) -> None:
    with pytest.raises(S3Error) as caught:
        act()
    assert caught.value.code == "AccessDenied", caught.value


@pytest.fixture
def admin():
    """The admin client; afterwards it removes what this test wrote (checkpoints are locked: they stay)."""
    client = storage_client(admin=True)
    yield client
    for purpose in ("artifacts", "thumbnails", "backups", "models"):
        for item in client.list_objects(BUCKETS[purpose], prefix=PROBE, recursive=True):
            client.remove_object(BUCKETS[purpose], item.object_name)


def checkpoint(client: Minio, key: str) -> str:
    """Written as audit.checkpoints writes one: locked in COMPLIANCE mode, with its checksum."""
    body = b'{"probe": true}'
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return put(
        client,
        "audit",
        key,
        body,
        retention=Retention(COMPLIANCE, timezone.now() + timedelta(days=1)),
        metadata={"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": checksum},
    )


def test_the_application_reads_and_writes_its_buckets_only(admin):
    app = account("APP_S3")
    for purpose in ("artifacts", "thumbnails"):
        put(app, purpose, f"{PROBE}/a")
        assert get(app, purpose, f"{PROBE}/a") == b"probe"
    assert all(app.bucket_exists(BUCKETS[purpose]) for purpose in ("artifacts", "thumbnails", "audit"))
    put(admin, "backups", f"{PROBE}/db.sql.gz")
    put(admin, "models", f"{PROBE}/manifest.json")

    refused(lambda: get(app, "backups", f"{PROBE}/db.sql.gz"))
    refused(lambda: list(app.list_objects(BUCKETS["backups"], prefix=PROBE)))
    refused(lambda: put(app, "models", f"{PROBE}/manifest.json", b"other weights"))
    refused(lambda: app.remove_object(BUCKETS["artifacts"], f"{PROBE}/a"))
    refused(lambda: app.remove_object(BUCKETS["thumbnails"], f"{PROBE}/a"))


def test_the_application_appends_checkpoints_but_cannot_delete_them_nor_administer_buckets(admin):
    app = account("APP_S3")
    key = f"{PROBE}.json"
    version = checkpoint(app, key)
    assert app.stat_object(BUCKETS["audit"], key).version_id == version
    listed = app.list_objects(BUCKETS["audit"], prefix=key, include_version=True)
    assert [item.version_id for item in listed] == [version]
    assert get(app, "audit", key, version_id=version) == b'{"probe": true}'

    refused(lambda: app.remove_object(BUCKETS["audit"], key))  # a delete marker, which object lock allows
    refused(lambda: app.remove_object(BUCKETS["audit"], key, version_id=version))
    refused(lambda: app.make_bucket(f"test-rights-{uuid.uuid4().hex[:12]}"))
    refused(lambda: app.set_object_lock_config(BUCKETS["audit"], ObjectLockConfig(GOVERNANCE, 1, DAYS)))
    refused(lambda: app.set_object_retention(BUCKETS["audit"], key, Retention(GOVERNANCE, timezone.now()), version))
    assert get(admin, "audit", key, version_id=version) == b'{"probe": true}'


def test_the_ai_server_cannot_read_backups_nor_write_models(admin):
    ai = account("AI_S3")
    put(admin, "models", f"{PROBE}/manifest.json", b"registered")
    put(admin, "backups", f"{PROBE}/db.sql.gz", b"patients")
    assert get(ai, "models", f"{PROBE}/manifest.json") == b"registered"
    assert [item.object_name for item in ai.list_objects(BUCKETS["models"], prefix=PROBE, recursive=True)]
    put(ai, "artifacts", f"{PROBE}/result.json")
    assert get(ai, "artifacts", f"{PROBE}/result.json") == b"probe"

    refused(lambda: get(ai, "backups", f"{PROBE}/db.sql.gz"))
    refused(lambda: list(ai.list_objects(BUCKETS["backups"], prefix="db/")))
    refused(lambda: put(ai, "models", f"{PROBE}/manifest.json", b"other weights"))
    refused(lambda: ai.remove_object(BUCKETS["models"], f"{PROBE}/manifest.json"))
    refused(lambda: get(ai, "thumbnails", f"{PROBE}/a"))
    refused(lambda: list(ai.list_objects(BUCKETS["audit"], prefix="checkpoints/")))
    refused(lambda: ai.make_bucket(f"test-rights-{uuid.uuid4().hex[:12]}"))
    assert get(admin, "models", f"{PROBE}/manifest.json") == b"registered"


def test_the_backup_account_copies_data_buckets_and_keeps_backups_only(admin):
    backup = account("BACKUP_S3")
    put(admin, "artifacts", f"{PROBE}/mask.nii.gz", b"mask")
    put(admin, "thumbnails", f"{PROBE}/thumb.png", b"png")
    assert get(backup, "artifacts", f"{PROBE}/mask.nii.gz") == b"mask"
    assert get(backup, "thumbnails", f"{PROBE}/thumb.png") == b"png"
    put(backup, "backups", f"{PROBE}/db.sql.gz")
    assert [item.object_name for item in backup.list_objects(BUCKETS["backups"], prefix=PROBE, recursive=True)]
    assert get(backup, "backups", f"{PROBE}/db.sql.gz") == b"probe"
    backup.remove_object(BUCKETS["backups"], f"{PROBE}/db.sql.gz")  # retention: old backups are pruned

    refused(lambda: put(backup, "artifacts", f"{PROBE}/mask.nii.gz", b"other"))
    refused(lambda: backup.remove_object(BUCKETS["thumbnails"], f"{PROBE}/thumb.png"))
    refused(lambda: put(backup, "models", f"{PROBE}/manifest.json"))
    refused(lambda: list(backup.list_objects(BUCKETS["audit"], prefix="checkpoints/")))
    refused(lambda: backup.make_bucket(f"test-rights-{uuid.uuid4().hex[:12]}"))


def test_the_models_account_publishes_models_only(admin):
    models = account("MODELS_S3")
    put(models, "models", f"{PROBE}/manifest.json", b"registered")
    assert get(models, "models", f"{PROBE}/manifest.json") == b"registered"
    put(admin, "artifacts", f"{PROBE}/result.json")

    refused(lambda: models.remove_object(BUCKETS["models"], f"{PROBE}/manifest.json"))  # versions stay
    refused(lambda: get(models, "artifacts", f"{PROBE}/result.json"))
    refused(lambda: list(models.list_objects(BUCKETS["backups"], prefix="db/")))
    refused(lambda: models.make_bucket(f"test-rights-{uuid.uuid4().hex[:12]}"))


def test_unknown_keys_wrong_secrets_and_unsigned_requests_are_refused():
    refused(lambda: account("APP_S3", secret="not-the-secret").bucket_exists(BUCKETS["artifacts"]))
    endpoint = urlsplit(settings.S3_ENDPOINT_URL)
    stranger = Minio(endpoint.netloc, "stranger", "stranger-secret", secure=False, region=settings.S3_REGION)
    refused(lambda: stranger.bucket_exists(BUCKETS["artifacts"]))
    assert requests.get(f"{settings.S3_ENDPOINT_URL}/{BUCKETS['artifacts']}", timeout=5).status_code == 403
    # The local stand-in's control API (moto's: reset, authentication off, every key) is closed.
    assert requests.get(f"{settings.S3_ENDPOINT_URL}/moto-api/data.json", timeout=5).status_code == 403
