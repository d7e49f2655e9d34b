"""Object storage (MinIO in production, any S3 API elsewhere) through the minio SDK.

Buckets are named by purpose in settings.S3_BUCKETS ("artifacts", "thumbnails", "backups", "audit",
"models"). Each service has an account of its own (docs/security.md, "Object-store accounts"): the
processes use settings.S3_ACCESS_KEY's (the application's: deploy/object-store/policies/cdss-app.json),
bucket creation the admin account's.
"""

from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.objectlockconfig import DAYS, ObjectLockConfig

# The buckets the application reads and writes; the backups and the models belong to other accounts.
APPLICATION_BUCKETS = ("artifacts", "thumbnails", "audit")


def storage_client(*, timeout: float = 10.0, retries: int = 2, admin: bool = False) -> Minio:
    """A client signed with this process's key, or with the admin key (S3_ADMIN_ACCESS_KEY) if `admin`."""
    access_key, secret_key = settings.S3_ACCESS_KEY, settings.S3_SECRET_KEY
    if admin:
        access_key, secret_key = settings.S3_ADMIN_ACCESS_KEY, settings.S3_ADMIN_SECRET_KEY
        if not access_key or not secret_key:
            raise ImproperlyConfigured("S3_ADMIN_ACCESS_KEY/S3_ADMIN_SECRET_KEY are not set: buckets are the admin's")
    endpoint = urlsplit(settings.S3_ENDPOINT_URL)
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
        retries=urllib3.Retry(total=retries, backoff_factor=0.2, status_forcelist=(502, 503, 504)),
        maxsize=10,
    )
    return Minio(
        endpoint.netloc,
        access_key=access_key,
        secret_key=secret_key,
        secure=endpoint.scheme == "https",
        region=settings.S3_REGION,
        http_client=http,
    )


def ensure_buckets(client: Minio | None = None) -> list[str]:
    """Create the buckets that do not exist yet; returns the names created. The audit bucket is created
    with object lock (versioned; every version kept in COMPLIANCE mode by default, audit.checkpoints).
    As the admin account: no service account may create buckets or change their object lock."""
    client = client or storage_client(admin=True)
    created = []
    for purpose, name in settings.S3_BUCKETS.items():
        if not client.bucket_exists(name):
            client.make_bucket(name, object_lock=purpose == "audit")
            if purpose == "audit":
                days = settings.AUDIT_CHECKPOINT_RETENTION_DAYS
                client.set_object_lock_config(name, ObjectLockConfig(COMPLIANCE, days, DAYS))
            created.append(name)
    return created
