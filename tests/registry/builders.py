"""Plain builders for registry test data, written straight to the test transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.crypto import id_check_digit, parse_id_number
from services.registry.models import Area, Building, Household, MapRevision, Resident
from services.registry.service.geo import area_m2
from services.registry.service.people import PiiCodec

X0, Y0 = 119.950, 31.810
W, H = 0.004, 0.0032


def rect(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def id_number(born: date = date(1980, 5, 17), order: int = 123, region: str = "320411") -> str:
    first17 = f"{region}{born:%Y%m%d}{order:03d}"
    return first17 + id_check_digit(first17)


async def make_area(
    session: AsyncSession,
    *,
    level: str,
    code: str,
    name: str,
    parent: Area | None = None,
    boundary: dict[str, Any] | None = None,
    **kw: Any,
) -> Area:
    from shapely.geometry import shape

    area = Area(
        level=level, code=code, name=name, parent_id=parent.id if parent else None, boundary=boundary, **kw
    )
    if boundary:
        g = shape(boundary)
        area.min_lng, area.min_lat, area.max_lng, area.max_lat = g.bounds
        area.area_m2 = area_m2(g)
    if level == "grid":
        area.grid_kind = kw.get("grid_kind", "residential")
        area.management_type = kw.get("management_type", "routine")
    session.add(area)
    await session.flush()
    return area


@dataclass
class World:
    district: Area
    streets: list[Area]
    communities: list[Area]
    grids: list[Area]
    micro: list[Area]
    buildings: list[Building] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    residents: list[Resident] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)


async def make_world(
    session: AsyncSession,
    codec: PiiCodec,
    *,
    households_per_building: int = 2,
    residents_per_household: int = 2,
) -> World:
    """District 320411 → streets 001/002 → one community each → grids → two micro-grids per grid,
    a building per micro-grid, households and residents with valid identity numbers."""
    d = await make_area(session, level="district", code="320411", name="新北区")
    s1 = await make_area(session, level="street", code="320411001", name="三井街道", parent=d)
    s2 = await make_area(session, level="street", code="320411002", name="河海街道", parent=d)
    c1 = await make_area(session, level="community", code="320411001001", name="龙锦社区", parent=s1)
    c2 = await make_area(session, level="community", code="320411002001", name="春江社区", parent=s2)
    g1 = await make_area(
        session,
        level="grid",
        code="320411001001001",
        name="龙锦第1网格",
        parent=c1,
        boundary=rect(X0, Y0, X0 + W, Y0 + H),
    )
    g2 = await make_area(
        session,
        level="grid",
        code="320411001001002",
        name="龙锦第2网格",
        parent=c1,
        boundary=rect(X0 + W, Y0, X0 + 2 * W, Y0 + H),
        grid_kind="commercial",
    )
    g3 = await make_area(
        session,
        level="grid",
        code="320411002001001",
        name="春江第1网格",
        parent=c2,
        boundary=rect(X0 + 4 * W, Y0, X0 + 5 * W, Y0 + H),
    )
    micro = []
    for g in (g1, g2, g3):
        gx0 = g.min_lng
        for m in range(2):
            micro.append(
                await make_area(
                    session,
                    level="micro_grid",
                    code=f"{g.code}{m + 1:03d}",
                    name=f"{g.name}-{m + 1}",
                    parent=g,
                    boundary=rect(gx0 + m * W / 2, Y0, gx0 + (m + 1) * W / 2, Y0 + H),
                )
            )
    world = World(d, [s1, s2], [c1, c2], [g1, g2, g3], micro)
    order = 1
    for i, mg in enumerate(micro):
        b = Building(
            code=f"{mg.code}001",
            micro_grid_id=mg.id,
            area_code=mg.code,
            name=f"{mg.name}{i + 1}幢",
            address=f"新北区{'三井街道龙锦社区' if mg.code.startswith('320411001') else '河海街道春江社区'}"
            f"测试苑{i + 1}幢",
            unit_count=1,
            lat=Y0 + H / 2,
            lng=mg.min_lng + W / 4,
        )
        session.add(b)
        await session.flush()
        world.buildings.append(b)
        for k in range(households_per_building):
            h = Household(
                code=f"{b.code}-1-{k + 101}",
                building_id=b.id,
                area_code=mg.code,
                unit_no="1",
                room_no=str(k + 101),
            )
            session.add(h)
            await session.flush()
            world.households.append(h)
            for j in range(residents_per_household):
                number = id_number(date(1950 + order % 60, 1 + order % 12, 1 + order % 28), order)
                order += 1
                num, born, gender = parse_id_number(number)
                id_hash, cipher, masked = codec.seal_id(num)
                r = Resident(
                    household_id=h.id,
                    area_code=mg.code,
                    name=f"居民{order}",
                    gender=gender,
                    birth_date=born,
                    id_hash=id_hash,
                    id_cipher=cipher,
                    id_masked=masked,
                    phone=f"139{order:08d}",
                    relation="户主" if j == 0 else "配偶",
                    tags=["独居老人"] if order % 5 == 0 else (["党员"] if order % 3 == 0 else []),
                )
                session.add(r)
                world.residents.append(r)
                world.numbers.append(num)
    await session.flush()
    await session.execute(update(MapRevision).where(MapRevision.id == 1).values(rev=MapRevision.rev + 1))
    return world
