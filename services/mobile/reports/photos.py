"""Report photos: read with a byte limit, checked by content (JPEG, PNG or WebP, whatever the file is
called; Pillow decodes it with a pixel limit), and kept twice:

- the **original**, as sent, privately (`original_key`): the record of what the resident submitted;
- a **public copy**, re-encoded with the EXIF orientation applied and every metadata block dropped (a
  phone's EXIF carries the GPS position of the resident's home): the only one anyone is served.

Nothing is written until every photo of a report has passed, and `store` removes what it wrote if
writing fails half-way, so a refused report leaves no files behind.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError

from services.mobile.reports.storage import LocalStorage, S3Storage
from services.mobile.settings import MobileSettings
from shared.problems import Problem, Unprocessable

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
READ_CHUNK = 256 * 1024

log = logging.getLogger("gridgov.mobile.photos")


class PhotoTooLarge(Problem):
    status, type, title = 413, "photo-too-large", "Photo too large"


class UnsupportedPhoto(Problem):
    status, type, title = 415, "unsupported-photo", "Not a JPEG, PNG or WebP photo"


class TooManyPhotos(Unprocessable):
    type, title = "too-many-photos", "Too many photos"


@dataclass(frozen=True)
class CleanPhoto:
    id: uuid.UUID
    original: bytes
    public: bytes
    content_type: str
    ext: str
    width: int
    height: int
    sha256: str  # of the original, as sent

    @property
    def key(self) -> str:
        return f"public/{self.id.hex[:2]}/{self.id.hex}.{self.ext}"

    @property
    def original_key(self) -> str:
        return f"original/{self.id.hex[:2]}/{self.id.hex}.{self.ext}"


def public_url(settings: MobileSettings, photo_id: uuid.UUID | str) -> str:
    return f"{settings.public_url.rstrip('/')}/m/v1/photos/{photo_id}"


async def read_limited(upload: Any, max_bytes: int, *, index: int) -> bytes:
    """Read an uploaded file in chunks, refusing it as soon as it passes `max_bytes`."""
    buf = bytearray()
    while chunk := await upload.read(READ_CHUNK):
        buf += chunk
        if len(buf) > max_bytes:
            raise PhotoTooLarge(
                f"Photo {index + 1} ({upload.filename or 'unnamed'}) is larger than {max_bytes:,} bytes "
                f"({max_bytes // (1024 * 1024)} MB), the most a photo may be; send a smaller one.",
                limit=max_bytes,
            )
    if not buf:
        raise UnsupportedPhoto(f"Photo {index + 1} ({upload.filename or 'unnamed'}) is empty.")
    return bytes(buf)


def photo_id(secret: bytes, account_id: int, idem_key: str | None, index: int, sha: str) -> uuid.UUID:
    """Random ids, except for a report sent with an Idempotency-Key: then a retry of the same report gets
    the same ids (keyed with a server secret, so still unguessable), hence the same URLs, so dispatch
    recognises the retry as the same request."""
    if idem_key is None:
        return uuid.uuid4()
    mac = hmac.new(secret, f"{account_id}|{idem_key}|{index}|{sha}".encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=mac[:16], version=4)


def id_secret(settings: MobileSettings) -> bytes:
    return hashlib.sha256(b"gridgov-mobile-photo-id|" + settings.token_key.encode()).digest()


def _clean(data: bytes, max_pixels: int, index: int) -> tuple[bytes, str, int, int]:
    what = f"Photo {index + 1}"
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in FORMATS:
                raise UnsupportedPhoto(f"{what} is {fmt or 'not an image'}; send a JPEG, PNG or WebP photo.")
            if probe.width * probe.height > max_pixels:
                raise PhotoTooLarge(
                    f"{what} is {probe.width}×{probe.height} pixels; at most {max_pixels:,} pixels are "
                    "accepted.",
                    limit_pixels=max_pixels,
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)  # keep the orientation EXIF gave, then drop all metadata
            out = io.BytesIO()
            if fmt == "JPEG":
                img.convert("RGB").save(
                    out, "JPEG", quality=88
                )  # optimize=True: ~20 ms more per 1 MB photo for ~5% smaller
            elif fmt == "PNG":
                img.save(out, "PNG")
            else:
                img.save(out, "WEBP", quality=88)
            return out.getvalue(), fmt, img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UnsupportedPhoto(
            f"{what} is not a readable JPEG, PNG or WebP image (whatever its name says)."
        ) from None


def _prepare(
    originals: list[bytes], max_pixels: int, secret: bytes, account_id: int, idem_key: str | None
) -> list[CleanPhoto]:
    out = []
    for i, data in enumerate(originals):
        public, fmt, width, height = _clean(data, max_pixels, i)
        sha = hashlib.sha256(data).hexdigest()
        content_type, ext = FORMATS[fmt]
        pid = photo_id(secret, account_id, idem_key, i, sha)
        out.append(CleanPhoto(pid, data, public, content_type, ext, width, height, sha))
    return out


async def prepare(
    originals: list[bytes], settings: MobileSettings, *, account_id: int, idem_key: str | None
) -> list[CleanPhoto]:
    """Check and clean every photo (CPU work, off the event loop). Raises on the first bad one."""
    if not originals:
        return []
    return await anyio.to_thread.run_sync(
        _prepare, originals, settings.photo_max_pixels, id_secret(settings), account_id, idem_key
    )


async def store(storage: LocalStorage | S3Storage, photos: list[CleanPhoto]) -> None:
    """Write originals and public copies; on a failure remove whatever was written, then re-raise."""
    written: list[str] = []
    try:
        for p in photos:
            await storage.put(p.original_key, p.original, p.content_type)
            written.append(p.original_key)
            await storage.put(p.key, p.public, p.content_type)
            written.append(p.key)
    except BaseException:
        await remove_keys(storage, written)
        raise


async def remove(storage: LocalStorage | S3Storage, photos: list[CleanPhoto]) -> None:
    await remove_keys(storage, [k for p in photos for k in (p.original_key, p.key)])


async def remove_keys(storage: LocalStorage | S3Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:  # best effort: an orphan file is harmless, a masked error is not
            log.warning("could not remove photo object", extra={"key": key}, exc_info=True)
