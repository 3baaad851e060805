"""Plain builders for wishes tests, written straight to the test transaction, and small API helpers.

The registry world (tests/registry/builders.py): community 龙锦 320411001001 with grids …001 (residents
0–7) and …002 (residents 8–15); community 春江 320411002001 with grid 320411002001001 (residents 16–23).
"""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes.models import MemberUnit, Volunteer

STREET = "320411001"
COMMUNITY, OTHER_COMMUNITY = "320411001001", "320411002001"
GRID, OTHER_GRID, FAR_GRID = "320411001001001", "320411001001002", "320411002001001"


async def make_unit(
    session: AsyncSession,
    code: str = "MU001",
    *,
    area_code: str = COMMUNITY,
    kind: str = "企事业单位",
    name: str | None = None,
    **kw: Any,
) -> MemberUnit:
    unit = MemberUnit(code=code, name=name or f"成员单位{code}", kind=kind, area_code=area_code, **kw)
    session.add(unit)
    await session.flush()
    return unit


async def make_volunteer(
    session: AsyncSession,
    name: str = "志愿者",
    *,
    phone: str | None = None,
    area_code: str = COMMUNITY,
    unit: MemberUnit | None = None,
    points: int = 0,
    **kw: Any,
) -> Volunteer:
    """A volunteer with a starting balance: the ledger gets an `adjust` row for it, as the API would."""
    from services.wishes.models import PointsEntry

    v = Volunteer(
        name=name,
        phone=phone or f"138{abs(hash(name)) % 10**8:08d}",
        area_code=area_code,
        unit_id=unit.id if unit else None,
        points=points,
        **kw,
    )
    session.add(v)
    await session.flush()
    if points:
        session.add(
            PointsEntry(
                volunteer_id=v.id,
                kind="adjust",
                delta=points,
                balance_after=points,
                note="opening",
                actor="test",
            )
        )
        await session.flush()
    return v


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), exif_gps: bool = False) -> bytes:
    img = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    kw: dict[str, Any] = {}
    if exif_gps and fmt == "JPEG":
        exif = Image.Exif()
        exif[0x8825] = {1: "N", 2: (31.0, 48.0, 41.0), 3: "E", 4: (119.0, 57.0, 3.0)}  # GPSInfo
        kw["exif"] = exif
    img.save(out, fmt, **kw)
    return out.getvalue()


async def upload_photo(client: httpx.AsyncClient, headers: dict[str, str], fmt: str = "JPEG") -> str:
    ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
    r = await client.post(
        "/api/v1/photos",
        headers=headers,
        files={"file": (f"p.{ext}", image_bytes(fmt), f"image/{ext}")},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]
