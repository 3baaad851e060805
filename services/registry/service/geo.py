"""Polygon rules and the in-memory location index.

PostGIS is not available in the embedded PostgreSQL, and a point-in-polygon answer for 2,000 grids is
a few microseconds in memory: every replica keeps an STRtree of the micro-grid and grid polygons and
answers `/locate` from it. Results are constant per polygon, so their JSON is built once per rebuild.
A replica rebuilds after its own edits and whenever the shared `map_revision` counter moves.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from rapidfuzz import fuzz, process
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.validation import explain_validity
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry.errors import PolygonInvalid
from services.registry.models import Area, Building, MapRevision
from shared.web import settle_heap

log = logging.getLogger("gridgov.registry.geo")

CHINA_BBOX = (73.0, 3.0, 136.0, 54.0)  # lng/lat box that mainland China, HK, Macao and Taiwan fit in
OVERLAP_TOLERANCE_M2 = 1.0  # shared edges digitised slightly apart should not count as overlap
_M_PER_DEG_LAT = 111_320.0


def parse_boundary(geojson: dict[str, Any]) -> Polygon | MultiPolygon:
    """GeoJSON → a valid polygon inside China, or a problem that says what to fix."""
    gtype = geojson.get("type") if isinstance(geojson, dict) else None
    if gtype not in ("Polygon", "MultiPolygon"):
        raise PolygonInvalid(f"boundary must be a GeoJSON Polygon or MultiPolygon, not {gtype!r}.")
    try:
        geom = shape(geojson)
    except Exception as exc:
        raise PolygonInvalid(f"boundary coordinates are malformed: {exc}.") from None
    if geom.is_empty:
        raise PolygonInvalid("boundary is empty.")
    coords = shapely.get_coordinates(geom)
    if not all(math.isfinite(v) for v in coords.flat):
        raise PolygonInvalid("boundary coordinates must be finite numbers.")
    minx, miny, maxx, maxy = geom.bounds
    if minx < CHINA_BBOX[0] or maxx > CHINA_BBOX[2] or miny < CHINA_BBOX[1] or maxy > CHINA_BBOX[3]:
        raise PolygonInvalid(
            "boundary lies outside China; coordinates are [longitude, latitude] in WGS84 "
            f"(got lng {minx:.4f}..{maxx:.4f}, lat {miny:.4f}..{maxy:.4f}).",
        )
    if not geom.is_valid:
        raise PolygonInvalid(f"boundary is not a valid polygon: {explain_validity(geom)}.")
    if area_m2(geom) < 10:
        raise PolygonInvalid("boundary encloses less than 10 m²; check the coordinate order and units.")
    return geom


def area_m2(geom: Polygon | MultiPolygon) -> float:
    """Area on a local equirectangular projection: accurate to well under 1% at grid scale."""
    if geom.is_empty:
        return 0.0
    lat0 = math.radians(geom.centroid.y)
    sx = _M_PER_DEG_LAT * math.cos(lat0)
    return abs(geom.area) * sx * _M_PER_DEG_LAT


def to_geojson(geom: Polygon | MultiPolygon) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(mapping(geom)))


@dataclass(slots=True)
class _Node:
    id: int
    level: str
    code: str
    name: str
    parent_id: int | None

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "name": self.name, "level": self.level}


_NUM_UNIT = re.compile(r"([0-9]+)幢")
_STRIP_PREFIX = re.compile(r"^(?:[^省市]{2,8}(?:省|自治区))?(?:[^市]{2,8}市)?")
_PUNCT = re.compile(r"[\s,，.。;；:：()（）\[\]【】#\-—_/\\]+")
_FULLWIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)})


_BUILDING_WORD = re.compile(r"([0-9]+)(?:号楼|栋|座|幢)")


def normalize_address(s: str) -> str:
    s = s.translate(_FULLWIDTH)
    s = _PUNCT.sub("", s)
    s = _BUILDING_WORD.sub(r"\1幢", s)
    return _STRIP_PREFIX.sub("", s) or s


class LocationIndex:
    def __init__(self) -> None:
        self.rev = -1
        self.nodes: dict[int, _Node] = {}
        self._micro_tree: shapely.STRtree | None = None
        self._micro_ids: list[int] = []
        self._grid_tree: shapely.STRtree | None = None
        self._grid_ids: list[int] = []
        self._json: dict[int, bytes] = {}
        self._addr_keys: list[str] = []
        self._addr_rows: list[
            tuple[str, dict[str, Any] | None, int]
        ] = []  # (matched text, building, area id)
        self._lock = asyncio.Lock()
        self.built_at = 0.0

    # -- building ---------------------------------------------------------------------------------
    async def load(self, session: AsyncSession) -> None:
        rev = (
            await session.execute(select(MapRevision.rev).where(MapRevision.id == 1))
        ).scalar_one_or_none() or 0
        areas = (
            await session.execute(
                select(Area.id, Area.level, Area.code, Area.name, Area.parent_id, Area.boundary)
            )
        ).all()
        buildings = (
            await session.execute(
                select(Building.id, Building.code, Building.name, Building.address, Building.micro_grid_id)
            )
        ).all()
        self._build(rev, areas, buildings)

    def _build(self, rev: int, areas: list[Any], buildings: list[Any]) -> None:
        t0 = time.perf_counter()
        nodes = {a.id: _Node(a.id, a.level, a.code, a.name, a.parent_id) for a in areas}
        micro_geoms, micro_ids, grid_geoms, grid_ids = [], [], [], []
        for a in areas:
            if a.boundary and a.level in ("micro_grid", "grid"):
                geom = shape(a.boundary)
                shapely.prepare(geom)
                if a.level == "micro_grid":
                    micro_geoms.append(geom)
                    micro_ids.append(a.id)
                else:
                    grid_geoms.append(geom)
                    grid_ids.append(a.id)
        json_cache: dict[int, bytes] = {}
        for node_id in (*micro_ids, *grid_ids):
            json_cache[node_id] = orjson.dumps(self._chain(nodes, node_id))
        addr_keys: list[str] = []
        addr_rows: list[tuple[str, dict[str, Any] | None, int]] = []
        for a in areas:
            if a.level == "community":
                addr_keys.append(normalize_address(a.name))
                addr_rows.append((a.name, None, a.id))
        for b in buildings:
            ref = {"id": b.id, "code": b.code, "name": b.name, "address": b.address}
            # Callers name a building by its full address or just its estate and number (香树湾5号楼).
            for key in {normalize_address(b.address), normalize_address(b.name)}:
                addr_keys.append(key)
                addr_rows.append((b.address, ref, b.micro_grid_id))
        self.nodes = nodes
        self._micro_tree = shapely.STRtree(micro_geoms) if micro_geoms else None
        self._micro_ids = micro_ids
        self._grid_tree = shapely.STRtree(grid_geoms) if grid_geoms else None
        self._grid_ids = grid_ids
        self._json = json_cache
        self._addr_keys = addr_keys
        self._addr_rows = addr_rows
        self.rev = rev
        self.built_at = time.monotonic()
        log.info(
            "location index built",
            extra={
                "rev": rev,
                "polygons": len(micro_ids) + len(grid_ids),
                "buildings": len(buildings),
                "ms": round((time.perf_counter() - t0) * 1000, 1),
            },
        )

    @staticmethod
    def _chain(nodes: dict[int, _Node], node_id: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {k: None for k in ("district", "street", "community", "grid", "micro_grid")}
        seen = 0
        while node_id is not None and seen < 6:
            node = nodes.get(node_id)
            if node is None:
                break
            out[node.level] = node.ref()
            node_id = node.parent_id
            seen += 1
        return out

    async def refresh_if_stale(self, maker: async_sessionmaker[AsyncSession]) -> bool:
        async with maker() as session:
            rev = (
                await session.execute(select(MapRevision.rev).where(MapRevision.id == 1))
            ).scalar_one_or_none() or 0
            if rev == self.rev:
                return False
            async with self._lock:
                await self.load(session)
        settle_heap()  # the new index is long-lived: take it out of the collector's reach
        return True

    # -- queries ----------------------------------------------------------------------------------
    def locate_json(self, lat: float, lng: float) -> bytes | None:
        p = Point(lng, lat)
        if self._micro_tree is not None:
            hits = self._micro_tree.query(p, predicate="intersects")
            if len(hits):
                return self._json[self._micro_ids[int(min(hits))]]
        if self._grid_tree is not None:
            hits = self._grid_tree.query(p, predicate="intersects")
            if len(hits):
                return self._json[self._grid_ids[int(min(hits))]]
        return None

    def chain(self, area_id: int) -> dict[str, Any]:
        return self._chain(self.nodes, area_id)

    def match_address(self, text: str, *, min_score: float = 0.6) -> dict[str, Any] | None:
        q = normalize_address(text)
        if len(q) < 2 or not self._addr_keys:
            return None
        want_num = _NUM_UNIT.findall(q)
        best: tuple[float, int] | None = None
        for _key, score, idx in process.extract(
            q, self._addr_keys, scorer=fuzz.partial_ratio, limit=25, score_cutoff=50
        ):
            matched, building, _ = self._addr_rows[idx]
            s = score / 100.0
            if building is not None:
                nums = _NUM_UNIT.findall(normalize_address(building["address"]))
                if want_num and nums:
                    s += 0.15 if nums[-1] in want_num else -0.3
                elif not want_num:
                    s -= 0.1  # the query names no building: prefer the community itself
            else:
                s -= 0.05 if want_num else 0.0
            # partial_ratio rewards a short key inside a long query; prefer longer, more specific keys.
            s += min(len(self._addr_keys[idx]), 30) / 600.0
            if best is None or s > best[0]:
                best = (s, idx)
        if best is None or best[0] < min_score:
            return None
        score, idx = best
        matched, building, area_id = self._addr_rows[idx]
        out = self.chain(area_id)
        out["building"] = building
        out["score"] = round(min(score, 1.0), 3)
        out["matched"] = matched
        return out
