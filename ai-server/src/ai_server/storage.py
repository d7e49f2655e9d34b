"""Object storage (MinIO in production, any S3 API elsewhere): models in, artifacts out."""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import S3Error

from .config import Settings


class BucketMissing(Exception):
    """The store answered NoSuchBucket: the bucket was deleted, or the settings name another. A configuration
    error that no retry mends (unlike a store that does not answer), so a job meeting it ends FAILED."""

    def __init__(self, bucket: str):
        super().__init__(f"the object store has no bucket {bucket!r} (deleted, or not the one configured)")
        self.bucket = bucket


@contextmanager
def _bucket_named(bucket: str) -> Iterator[None]:
    try:
        yield
    except S3Error as exc:
        if exc.code == "NoSuchBucket":
            raise BucketMissing(bucket) from exc
        raise


class ObjectStore:
    def __init__(self, settings: Settings, *, timeout: float = 30.0):
        endpoint = urlsplit(settings.s3_endpoint_url)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=timeout),
            retries=urllib3.Retry(total=3, backoff_factor=0.3, status_forcelist=(502, 503, 504)),
            maxsize=4,
        )
        self.client = Minio(
            endpoint.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=endpoint.scheme == "https",
            region=settings.s3_region,
            http_client=http,
        )

    def ensure_bucket(self, bucket: str) -> None:
        if not self.client.bucket_exists(bucket):
            self.client.make_bucket(bucket)

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> int:
        with _bucket_named(bucket):
            self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        return len(data)

    def get(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object (BucketMissing: no such bucket)."""
        try:
            with _bucket_named(bucket):
                response = self.client.get_object(bucket, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        for key, _ in self.sizes(bucket, prefix):
            yield key

    def sizes(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, int]]:
        """(key, size in bytes) of each object under `prefix`."""
        with _bucket_named(bucket):
            for item in self.client.list_objects(bucket, prefix=prefix, recursive=True):
                yield item.object_name, item.size
