"""Photos: checked by content (JPEG, PNG or WebP, whatever the file is called), bounded in bytes and
pixels, re-encoded without metadata (a phone's EXIF carries the home's GPS position), stored as one file
per photo under the media directory."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError

from services.wishes.errors import PhotoTooLarge, UnsupportedPhoto

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


@dataclass(frozen=True)
class StoredPhoto:
    id: uuid.UUID
    sha256: str
    content_type: str
    size: int
    width: int
    height: int
    path: str  # relative to the media directory


def _clean(data: bytes, max_pixels: int) -> tuple[bytes, str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in FORMATS:
                raise UnsupportedPhoto(
                    f"The file is {fmt or 'not an image'}; send a JPEG, PNG or WebP photo."
                )
            if probe.width * probe.height > max_pixels:
                raise PhotoTooLarge(
                    f"The image is {probe.width}×{probe.height} pixels; at most {max_pixels:,} pixels are accepted."
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)  # keep the orientation the EXIF data gave, then drop EXIF
            out = io.BytesIO()
            if fmt == "JPEG":
                img.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
            elif fmt == "PNG":
                img.save(out, "PNG", optimize=False)
            else:
                img.save(out, "WEBP", quality=88)
            return out.getvalue(), fmt, img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UnsupportedPhoto("The file is not a readable JPEG, PNG or WebP image.") from None


async def store_photo(data: bytes, media_dir: Path, *, max_bytes: int, max_pixels: int) -> StoredPhoto:
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"The photo is {len(data):,} bytes; at most {max_bytes:,} are accepted.")
    if not data:
        raise UnsupportedPhoto("The file is empty; send a JPEG, PNG or WebP photo.")
    clean, fmt, width, height = await anyio.to_thread.run_sync(_clean, data, max_pixels)
    content_type, ext = FORMATS[fmt]
    pid = uuid.uuid4()
    rel = f"{pid.hex[:2]}/{pid.hex}.{ext}"
    target = media_dir / rel

    def write() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(clean)
        tmp.replace(target)  # a reader never sees half a file

    await anyio.to_thread.run_sync(write)
    return StoredPhoto(pid, hashlib.sha256(clean).hexdigest(), content_type, len(clean), width, height, rel)
