"""Where photos live: a directory (one file per key) or an S3-compatible bucket (MinIO, OSS, COS, S3).

Both keep every object private: photos reach clients only through `GET /m/v1/photos/{id}`, which serves
the public (EXIF-stripped) copy and never the original. `settings.storage` picks one; the object is made
once per app (`storage_of`). boto3 is synchronous, so each S3 call runs in a worker thread.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Protocol

import anyio

from services.mobile.errors import PhotoNotFound
from services.mobile.settings import MobileSettings


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; `PhotoNotFound` if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone."""
        ...

    def path(self, key: str) -> Path | None:
        """A local file to stream from, when the store is a directory."""
        ...


def _safe(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/") or "\x00" in key:
        raise ValueError(f"bad storage key {key!r}")
    return key


class LocalStorage:
    def __init__(self, media_dir: Path) -> None:
        self.root = Path(media_dir)

    def path(self, key: str) -> Path:
        return self.root / _safe(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        target = self.path(key)

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            tmp.write_bytes(data)
            tmp.replace(target)  # a reader never sees half a file

        await anyio.to_thread.run_sync(write)

    async def get(self, key: str) -> bytes:
        target = self.path(key)
        try:
            return await anyio.to_thread.run_sync(target.read_bytes)
        except FileNotFoundError:
            raise PhotoNotFound("The photo's file is gone.") from None

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.path(key).unlink(missing_ok=True))


class S3Storage:
    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.bucket = bucket
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=Config(
                    connect_timeout=2,
                    read_timeout=10,
                    retries={"max_attempts": 3, "mode": "standard"},
                    # MinIO and most Chinese clouds' S3 endpoints want path-style addressing
                    s3={"addressing_style": "path"},
                ),
            )
        self.client = client  # boto3 clients are thread-safe

    def path(self, key: str) -> None:
        return None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=_safe(key), Body=data, ContentType=content_type
            )
        )

    async def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        def read() -> bytes:
            try:
                obj = self.client.get_object(Bucket=self.bucket, Key=_safe(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                    raise PhotoNotFound("The photo's object is gone.") from None
                raise
            return obj["Body"].read()

        return await anyio.to_thread.run_sync(read)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.client.delete_object(Bucket=self.bucket, Key=_safe(key)))


def make_storage(settings: MobileSettings) -> LocalStorage | S3Storage:
    if settings.storage == "s3":
        return S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
        )
    return LocalStorage(settings.media_dir)


def storage_of(app: Any) -> LocalStorage | S3Storage:
    """The app's store, made on first use from its settings (tests may set `app.state.storage`)."""
    store = getattr(app.state, "storage", None)
    if store is None:
        store = app.state.storage = make_storage(app.state.settings)
    return store
