"""Counts per area: households, residents, residents by tag, grid staff, sizing warnings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Area, GridStaff
from services.registry.service.areas import sizing_counts, sizing_warnings

_TAGS_SQL = text("""
    SELECT t, count(*) FROM registry.resident r, unnest(r.tags) AS t
    WHERE r.area_code >= :code AND r.area_code < :code || ':' GROUP BY t ORDER BY t
""")


async def area_stats(session: AsyncSession, area: Area, *, with_children: bool = True) -> dict[str, Any]:
    children: list[Area] = []
    if with_children:
        children = list(
            (
                await session.execute(select(Area).where(Area.parent_id == area.id).order_by(Area.code))
            ).scalars()
        )
    codes = [area.code, *[c.code for c in children]]
    counts = await sizing_counts(session, codes)
    by_tag = dict((await session.execute(_TAGS_SQL, {"code": area.code})).all())
    child_key = func.left(Area.code, len(area.code) + 3)  # every level adds three digits
    staff = dict(
        (
            await session.execute(
                select(child_key, func.count())
                .join(GridStaff, GridStaff.grid_id == Area.id)
                .where(Area.code.startswith(area.code))
                .group_by(child_key)
            )
        ).all()
    )
    total_staff = sum(staff.values())

    def one(a: Area, with_tags: dict[str, int] | None) -> dict[str, Any]:
        hh, rs = counts.get(a.code, (0, 0))
        return {
            "area": {"id": a.id, "code": a.code, "name": a.name, "level": a.level},
            "households": hh,
            "residents": rs,
            "by_tag": with_tags or {},
            "staff": total_staff if a is area else staff.get(a.code, 0),
            "warnings": sizing_warnings(a.level, hh, rs),
            "children": [],
        }

    out = one(area, by_tag)
    out["children"] = [one(c, None) for c in children]
    return out
