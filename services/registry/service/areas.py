"""Areas: the district → street → community → grid → micro-grid tree, boundaries and sizing norms."""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import scope as sc
from services.registry.errors import (
    AreaCodeInvalid,
    AreaCodeTaken,
    AreaInUse,
    AreaNotFound,
    ParentAreaInvalid,
    PolygonInvalid,
    PolygonOverlap,
)
from services.registry.models import (
    CODE_LENGTH,
    PARENT_LEVEL,
    Area,
    Building,
    GridStaff,
    MapRevision,
    PartyOrg,
)
from services.registry.schemas import AreaCreate, AreaUpdate
from services.registry.service.geo import OVERLAP_TOLERANCE_M2, area_m2, parse_boundary, to_geojson
from shared.auth import Principal

GRID_MAX_HOUSEHOLDS = 400
GRID_MAX_RESIDENTS = 1200
MICRO_MAX_HOUSEHOLDS = 100


async def get_area(session: AsyncSession, area_id: int, *, level: str | None = None) -> Area:
    area = await session.get(Area, area_id)
    if area is None or (level is not None and area.level != level):
        what = (level or "area").replace("_", "-")
        raise AreaNotFound(f"No {what} with id {area_id}.")
    return area


async def get_visible_area(
    session: AsyncSession, principal: Principal, area_id: int, *, level: str | None = None
) -> Area:
    area = await get_area(session, area_id, level=level)
    if not sc.can_see_area(principal, area.code):
        raise sc.OutOfScope(f"Area {area.code} is outside your scope ({' '.join(principal.scope)}).")
    return area


async def list_areas(
    session: AsyncSession,
    principal: Principal,
    *,
    level: str | None,
    parent_id: int | None,
    q: str | None,
    code_prefix: str | None,
    limit: int,
    offset: int,
    grid_kind: str | None = None,
    management_type: str | None = None,
) -> tuple[list[Area], int]:
    stmt = select(Area).where(sc.area_visible_filter(principal, Area.code))
    if grid_kind:
        stmt = stmt.where(Area.grid_kind == grid_kind)
    if management_type:
        stmt = stmt.where(Area.management_type == management_type)
    if level:
        stmt = stmt.where(Area.level == level)
    if parent_id:
        stmt = stmt.where(Area.parent_id == parent_id)
    if q:
        stmt = stmt.where(Area.name.contains(q, autoescape=True))
    if code_prefix:
        stmt = stmt.where(Area.code.startswith(code_prefix))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(Area.code).limit(limit).offset(offset))).scalars().all()
    return list(rows), total


async def _lock_map(session: AsyncSession) -> None:
    """Serialise boundary edits: the non-overlap check must see every committed polygon."""
    await session.execute(select(MapRevision.rev).where(MapRevision.id == 1).with_for_update())


async def bump_map_revision(session: AsyncSession) -> int:
    return (
        await session.execute(
            update(MapRevision)
            .where(MapRevision.id == 1)
            .values(rev=MapRevision.rev + 1)
            .returning(MapRevision.rev)
        )
    ).scalar_one()


async def _check_boundary(
    session: AsyncSession, *, level: str, geom: Any, parent: Area | None, self_id: int | None
) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if level == "micro_grid" and parent is not None and parent.boundary:
        outside = geom.difference(shape(parent.boundary))
        if not outside.is_empty and area_m2(outside) > OVERLAP_TOLERANCE_M2:
            raise PolygonInvalid(
                f"A micro-grid must lie inside its grid {parent.code} {parent.name}; "
                f"{area_m2(outside):.0f} m² of this boundary is outside it.",
            )
    stmt = select(Area.id, Area.code, Area.name, Area.boundary).where(
        Area.level == level,
        Area.boundary.is_not(None),
        Area.max_lng >= minx,
        Area.min_lng <= maxx,
        Area.max_lat >= miny,
        Area.min_lat <= maxy,
    )
    if self_id is not None:
        stmt = stmt.where(Area.id != self_id)
    for other in (await session.execute(stmt)).all():
        inter = geom.intersection(shape(other.boundary))
        if not inter.is_empty and area_m2(inter) > OVERLAP_TOLERANCE_M2:
            noun = "grid" if level == "grid" else "micro-grid"
            raise PolygonOverlap(
                f"This boundary overlaps {noun} {other.code} {other.name} by {area_m2(inter):.0f} m²; "
                "grids may share edges but not area.",
                overlaps={"id": other.id, "code": other.code, "name": other.name},
            )


def _apply_geom(area: Area, geom: Any | None) -> None:
    if geom is None:
        area.boundary = None
        area.min_lng = area.min_lat = area.max_lng = area.max_lat = area.area_m2 = None
        return
    area.boundary = to_geojson(geom)
    area.min_lng, area.min_lat, area.max_lng, area.max_lat = geom.bounds
    area.area_m2 = round(area_m2(geom), 1)


def _check_grid_fields(level: str, data: AreaCreate | AreaUpdate) -> None:
    if level != "grid" and (data.grid_kind or data.management_type):
        raise AreaCodeInvalid("grid_kind and management_type apply to grids only.")
    if level not in ("grid", "micro_grid") and data.boundary is not None:
        raise PolygonInvalid("Boundaries are drawn on grids and micro-grids; omit boundary for this level.")


async def create_area(session: AsyncSession, principal: Principal, data: AreaCreate) -> Area:
    level = data.level
    if len(data.code) != CODE_LENGTH[level]:
        raise AreaCodeInvalid(
            f"A {level.replace('_', '-')} code has {CODE_LENGTH[level]} digits; got {data.code}."
        )
    _check_grid_fields(level, data)
    parent: Area | None = None
    if level == "district":
        sc.require_role(principal, {"service"}, "create districts (a deployment creates its district)")
        if data.parent_id is not None:
            raise ParentAreaInvalid("A district has no parent.")
    else:
        allowed = {role for role, levels in sc.AREA_WRITERS.items() if level in levels}
        sc.require_role(principal, allowed, f"create a {level.replace('_', '-')}")
        if data.parent_id is None:
            raise ParentAreaInvalid(f"A {level.replace('_', '-')} needs parent_id (a {PARENT_LEVEL[level]}).")
        parent = await session.get(Area, data.parent_id)
        if parent is None or parent.level != PARENT_LEVEL[level]:
            got = "does not exist" if parent is None else f"is a {parent.level}"
            raise ParentAreaInvalid(
                f"parent_id {data.parent_id} {got}; a {level.replace('_', '-')} belongs to a {PARENT_LEVEL[level]}.",
            )
        sc.ensure_area(principal, parent.code, f"Parent {parent.level} {parent.name}")
        if not data.code.startswith(parent.code):
            raise AreaCodeInvalid(f"Code {data.code} must start with its parent's code {parent.code}.")
    geom = parse_boundary(data.boundary) if data.boundary is not None else None
    area = Area(
        level=level,
        code=data.code,
        name=data.name,
        parent_id=data.parent_id,
        grid_kind=data.grid_kind if level == "grid" else None,
        management_type=data.management_type if level == "grid" else None,
    )
    if geom is not None:
        await _lock_map(session)
        await _check_boundary(session, level=level, geom=geom, parent=parent, self_id=None)
    _apply_geom(area, geom)
    if level == "grid":
        area.grid_kind = area.grid_kind or "residential"
        area.management_type = area.management_type or "routine"
    session.add(area)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AreaCodeTaken(f"Code {data.code} is already used by another area.") from None
    if geom is not None:
        await bump_map_revision(session)
    return area


async def update_area(
    session: AsyncSession, principal: Principal, area_id: int, data: AreaUpdate, *, level: str | None = None
) -> Area:
    area = await get_area(session, area_id, level=level)
    allowed = {role for role, levels in sc.AREA_WRITERS.items() if area.level in levels}
    sc.require_role(principal, allowed, f"edit a {area.level.replace('_', '-')}")
    sc.ensure_area(principal, area.code, f"{area.level.capitalize()} {area.name}")
    _check_grid_fields(area.level, data)
    fields = data.model_fields_set
    if "name" in fields and data.name:
        area.name = data.name
    if area.level == "grid":
        if "grid_kind" in fields and data.grid_kind:
            area.grid_kind = data.grid_kind
        if "management_type" in fields and data.management_type:
            area.management_type = data.management_type
    if "boundary" in fields:
        await _lock_map(session)
        if data.boundary is None:
            _apply_geom(area, None)
        else:
            geom = parse_boundary(data.boundary)
            parent = await session.get(Area, area.parent_id) if area.parent_id else None
            await _check_boundary(session, level=area.level, geom=geom, parent=parent, self_id=area.id)
            if area.level == "grid":
                children = (
                    await session.execute(
                        select(Area.code, Area.boundary).where(
                            Area.parent_id == area.id, Area.boundary.is_not(None)
                        )
                    )
                ).all()
                for child in children:
                    outside = shape(child.boundary).difference(geom)
                    if not outside.is_empty and area_m2(outside) > OVERLAP_TOLERANCE_M2:
                        raise PolygonInvalid(
                            f"Micro-grid {child.code} would fall partly outside the new boundary "
                            f"({area_m2(outside):.0f} m²); redraw it first.",
                        )
            _apply_geom(area, geom)
        await bump_map_revision(session)
    area.updated_at = func.now()
    await session.flush()
    await session.refresh(area)
    return area


async def delete_area(
    session: AsyncSession, principal: Principal, area_id: int, *, level: str | None = None
) -> None:
    area = await get_area(session, area_id, level=level)
    allowed = {role for role, levels in sc.AREA_WRITERS.items() if area.level in levels}
    sc.require_role(principal, allowed, f"delete a {area.level.replace('_', '-')}")
    sc.ensure_area(principal, area.code, f"{area.level.capitalize()} {area.name}")
    checks = [
        (select(func.count()).where(Area.parent_id == area.id), "child areas"),
        (select(func.count()).where(Building.micro_grid_id == area.id), "buildings"),
        (select(func.count()).where(GridStaff.grid_id == area.id), "grid staff"),
        (select(func.count()).where(PartyOrg.community_id == area.id), "party organisations"),
    ]
    for stmt, what in checks:
        n = (await session.execute(stmt)).scalar_one()
        if n:
            raise AreaInUse(f"{area.name} still has {n} {what}; move or delete them first.")
    had_boundary = area.boundary is not None
    await session.delete(area)
    await session.flush()
    if had_boundary:
        await bump_map_revision(session)


def sizing_warnings(level: str, households: int, residents: int) -> list[str]:
    w: list[str] = []
    if level == "grid":
        if households > GRID_MAX_HOUSEHOLDS:
            w.append(f"grid has {households} households; the norm is at most {GRID_MAX_HOUSEHOLDS}")
        if residents > GRID_MAX_RESIDENTS:
            w.append(f"grid has {residents} residents; the norm is at most {GRID_MAX_RESIDENTS}")
    elif level == "micro_grid" and households > MICRO_MAX_HOUSEHOLDS:
        w.append(f"micro-grid has {households} households; the norm is 90–{MICRO_MAX_HOUSEHOLDS}")
    return w


async def warnings_for(session: AsyncSession, areas: list[Area]) -> dict[int, list[str]]:
    sized = [a for a in areas if a.level in ("grid", "micro_grid")]
    if not sized:
        return {}
    counts = await sizing_counts(session, [a.code for a in sized])
    return {a.id: sizing_warnings(a.level, *counts.get(a.code, (0, 0))) for a in sized}


_COUNTS_SQL = text("""
    SELECT c.code,
           (SELECT count(*) FROM registry.household h WHERE h.area_code >= c.code AND h.area_code < c.code || ':'),
           (SELECT count(*) FROM registry.resident r WHERE r.area_code >= c.code AND r.area_code < c.code || ':')
    FROM unnest(CAST(:codes AS text[])) AS c(code)
""")


async def sizing_counts(session: AsyncSession, codes: list[str]) -> dict[str, tuple[int, int]]:
    """Households and residents under each code: one index range scan per code (':' sorts after '9')."""
    rows = (await session.execute(_COUNTS_SQL, {"codes": codes})).all()
    return {code: (hh, rs) for code, hh, rs in rows}
