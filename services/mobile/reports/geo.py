"""Is a report's point in the district? Checked against the registry's map, cached in the app.

The registry publishes the grid and micro-grid boundaries at `GET /api/v1/map`, with its map revision
as the ETag. The district's outline here is the convex hull of every grid, widened by
`district_margin_m` (phone GPS is off by tens of metres at the edge): a hull, not the union of the grids,
because grids need not tile the district (a park or river between them is still the district's).
A point outside it (another city, a GPS fix at 0,0) is refused with 422 `outside-district`; a point
inside it that no grid contains is dispatch's to place (its triage queue).

The copy is re-checked every `map_refresh_s` with `If-None-Match` (an unchanged map is a bodiless 304).
If the registry cannot be reached and no copy was ever loaded, reports are accepted: dispatch places
them (or keeps them pending) and a dispatcher sees any that are not the district's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import anyio
import orjson
from shapely import Point, prepare
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from services.mobile.errors import OutsideDistrict
from services.mobile.settings import MobileSettings

log = logging.getLogger("gridgov.mobile.geo")

# Mainland China, generously (dispatch takes nothing outside it)
LAT_RANGE, LNG_RANGE = (3.8, 53.6), (73.4, 135.1)
METRES_PER_DEGREE = 111_320.0


class DistrictOutline:
    def __init__(self, settings: MobileSettings) -> None:
        self.margin_m = settings.district_margin_m
        self.refresh_s = settings.map_refresh_s
        self.shape: BaseGeometry | None = None
        self.etag: str | None = None
        self.checked_at = -math.inf
        self._lock = asyncio.Lock()

    def build(self, body: dict[str, Any]) -> BaseGeometry | None:
        geoms = [
            shape(a["boundary"])
            for a in body.get("areas", [])
            if a.get("boundary") and a.get("level") in ("grid", "micro_grid")
        ]
        if not geoms:
            return None
        hull = unary_union(geoms).convex_hull
        lat = hull.centroid.y
        # degrees of longitude are shorter away from the equator: widen by the larger of the two
        margin = self.margin_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.1))
        outline = hull.buffer(margin) if margin > 0 else hull
        prepare(outline)
        return outline

    async def refresh(self, registry: Any) -> None:
        """Fetch the map if it changed. Failures keep the previous outline (or none)."""
        async with self._lock:
            if time.monotonic() - self.checked_at < self.refresh_s:
                return  # another request refreshed it while we waited
            self.checked_at = time.monotonic()
            try:
                headers = {"If-None-Match": self.etag} if self.etag else {}
                r = await registry.request("GET", "/api/v1/map", headers=headers, idempotent=False)
                if r.status_code == 304:
                    return
                if r.status_code != 200:
                    raise RuntimeError(f"registry answered {r.status_code}")
                body = orjson.loads(r.content)
                self.shape = await anyio.to_thread.run_sync(self.build, body)
                self.etag = r.headers.get("etag")
                log.info("district outline loaded", extra={"rev": body.get("rev"), "etag": self.etag})
            except Exception as exc:
                # retry sooner than a full period, but not on every report
                self.checked_at -= max(0.0, self.refresh_s - 30.0)
                log.warning("district outline not refreshed", extra={"error": str(exc)})

    async def check(self, registry: Any, lat: float, lng: float) -> None:
        """Raise 422 `outside-district` for a point outside the district (or outside China)."""
        if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LNG_RANGE[0] <= lng <= LNG_RANGE[1]):
            raise OutsideDistrict(
                f"The location ({lat}, {lng}) is not in China; send the WGS84 position of the problem "
                "(wx.getLocation with type 'wgs84'), or leave lat and lng out and give an address.",
                lat=lat,
                lng=lng,
            )
        if time.monotonic() - self.checked_at >= self.refresh_s:
            await self.refresh(registry)
        outline = self.shape
        if outline is None:
            return  # no map yet: dispatch places it
        if not outline.contains(Point(lng, lat)):
            raise OutsideDistrict(
                f"The location ({lat}, {lng}) is outside the district this service covers. Report "
                "problems in your own district, or check that the phone's location is on "
                "(WGS84 coordinates).",
                lat=lat,
                lng=lng,
            )


def outline_of(app: Any) -> DistrictOutline:
    """The app's cached outline, made on first use."""
    outline = getattr(app.state, "district", None)
    if outline is None:
        outline = app.state.district = DistrictOutline(app.state.settings)
    return outline
