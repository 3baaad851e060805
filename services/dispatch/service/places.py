"""Dispatch's copy of the registry's map, so intake places a point without a REST hop per report.

The registry publishes every area's code and name with the grid and micro-grid boundaries at
`GET /api/v1/map`, with its map revision as the ETag. Dispatch loads it at start and asks again every
few seconds with `If-None-Match` (an unchanged map is a bodiless 304), so a boundary edit reaches intake
as fast as it reaches the registry's own replicas. A point is then placed in-process with an STRtree:
micro-grids first, then grids. Until a copy has loaded (the registry was down at start), and for
address-only reports, intake asks `/api/v1/locate` instead.

The area chain comes from the codes themselves: a micro-grid's 18-digit code starts with its grid's 15,
its community's 12, its street's 9 and its district's 6 digits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, shape

from services.dispatch.clients import AreaRef, Place, RegistryClient
from shared.web import settle_heap

log = logging.getLogger("gridgov.dispatch.places")

LEVEL_LENGTHS = (("district", 6), ("street", 9), ("community", 12), ("grid", 15), ("micro_grid", 18))


class MapCopy:
    def __init__(self) -> None:
        self.rev: int | None = None
        self.etag: str | None = None
        self._names: dict[str, str] = {}
        self._trees: list[tuple[STRtree, list[str]]] = []

    @property
    def loaded(self) -> bool:
        return self.rev is not None

    def load(self, body: dict[str, Any], etag: str | None) -> None:
        names: dict[str, str] = {}
        polys: dict[str, tuple[list[Any], list[str]]] = {"micro_grid": ([], []), "grid": ([], [])}
        for a in body["areas"]:
            names[a["code"]] = a["name"]
            if a.get("boundary") and a["level"] in polys:
                geoms, codes = polys[a["level"]]
                geoms.append(shape(a["boundary"]))
                codes.append(a["code"])
        trees = [(STRtree(geoms), codes) for geoms, codes in (polys["micro_grid"], polys["grid"]) if geoms]
        self._names, self._trees = names, trees
        self.rev, self.etag = int(body["rev"]), etag

    def locate(self, lat: float, lng: float) -> Place | None:
        p = Point(lng, lat)
        for tree, codes in self._trees:
            hits = tree.query(p, predicate="intersects")
            if len(hits):
                return self.place(codes[int(min(hits))])
        return None

    def place(self, code: str) -> Place:
        refs: dict[str, AreaRef | None] = {}
        for level, n in LEVEL_LENGTHS:
            c = code[:n] if len(code) >= n else None
            refs[level] = AreaRef(c, self._names.get(c, "")) if c else None
        return Place(**refs)


async def refresh(copy: MapCopy, registry: RegistryClient) -> bool:
    """Fetch the map if it changed; True when a new copy was loaded."""
    got = await registry.map(copy.etag)
    if got is None:
        return False
    body, etag = got
    await asyncio.to_thread(copy.load, body, etag)  # building the trees is CPU work: off the loop
    settle_heap()
    log.info("map copy loaded", extra={"rev": copy.rev, "areas": len(body["areas"])})
    return True


async def refresh_quietly(copy: MapCopy, registry: RegistryClient) -> None:
    try:
        await refresh(copy, registry)
    except Exception as exc:  # the registry may be down: intake falls back to /locate (or pending)
        log.warning("map copy not refreshed; keeping the previous one", extra={"error": str(exc)})
