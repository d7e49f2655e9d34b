"""Object storage (MinIO in production, any S3 API elsewhere) through the minio SDK.

Buckets are named by purpose in settings.S3_BUCKETS ("artifacts", "thumbnails", "backups", "audit").
"""

from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.objectlockconfig import DAYS, ObjectLockConfig


def storage_client(*, timeout: float = 10.0, retries: int = 2) -> Minio:
    endpoint = urlsplit(settings.S3_ENDPOINT_URL)
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
        retries=urllib3.Retry(total=retries, backoff_factor=0.2, status_forcelist=(502, 503, 504)),
        maxsize=10,
    )
    return Minio(
        endpoint.netloc,
        access_key=settings.S3_ACCESS_KEY,
        secret_key=settings.S3_SECRET_KEY,
        secure=endpoint.scheme == "https",
        region=settings.S3_REGION,
        http_client=http,
    )


def ensure_buckets(client: Minio | None = None) -> list[str]:
    """Create the buckets that do not exist yet; returns the names created. The audit bucket is created
    with object lock (versioned; every version kept in COMPLIANCE mode by default, audit.checkpoints)."""
    client = client or storage_client()
    created = []
    for purpose, name in settings.S3_BUCKETS.items():
        if not client.bucket_exists(name):
            client.make_bucket(name, object_lock=purpose == "audit")
            if purpose == "audit":
                days = settings.AUDIT_CHECKPOINT_RETENTION_DAYS
                client.set_object_lock_config(name, ObjectLockConfig(COMPLIANCE, days, DAYS))
            created.append(name)
    return created
