"""The handling-standards catalog: versions in the database, and the in-memory router built from them.

Every replica holds one `Catalog` (current standard rows by code, the units, and a `Router` over the
active standards plus dispatchers' corrections). An edit or a correction bumps `catalog_revision`;
each replica checks it every few seconds and rebuilds, so all replicas route alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch import catalog as shipped
from services.dispatch.errors import StandardConflict, StandardNotFound, UnknownUnit
from services.dispatch.models import CatalogRevision, Department, RoutingCorrection
from services.dispatch.models import Standard as StandardRow
from services.dispatch.routing import Router
from shared.web import settle_heap

log = logging.getLogger("gridgov.dispatch.catalog")

_STANDARD_FIELDS = [f.name for f in fields(shipped.Standard)]


@dataclass(frozen=True)
class StandardRef:
    """What intake and transitions need from the current version of a standard."""

    id: int
    code: str
    version: int
    title: str
    unit: str
    level: str
    response_hours: float
    handling_hours: float
    urgency: str
    verify_on_site: bool
    channel_rule: str
    active: bool


# The last router built, by what it was built from (active standard versions, corrections): apps in one
# process (the test suite builds hundreds) share it instead of segmenting 285 standards each time.
_built: dict[tuple[tuple[int, ...], tuple[int, ...]], Router] = {}


class Catalog:
    def __init__(
        self,
        rev: int,
        departments: dict[str, Department],
        current: dict[str, StandardRef],
        router: Router,
        key: tuple[tuple[int, ...], tuple[int, ...]] = ((), ()),
    ) -> None:
        self.rev = rev
        self.departments = departments
        self.current = current
        self.router = router
        self._key = key

    def learn(self, text: str, code: str) -> None:
        """Teach this replica's router a correction now (the others learn it at their next refresh).
        The router no longer matches what it was built from, so it stops being shared."""
        if _built.get(self._key) is self.router:
            _built.pop(self._key)
        self.router.learn(text, code)

    def active(self, code: str) -> StandardRef | None:
        ref = self.current.get(code)
        return ref if ref is not None and ref.active else None


def _to_catalog_standard(row: StandardRow) -> shipped.Standard:
    values = {name: getattr(row, name) for name in _STANDARD_FIELDS}
    values["keywords"] = tuple(row.keywords)
    values["examples"] = tuple(row.examples)
    return shipped.Standard(**values)


def _ref(row: StandardRow) -> StandardRef:
    return StandardRef(
        id=row.id,
        code=row.code,
        version=row.version,
        title=row.title,
        unit=row.unit,
        level=row.level,
        response_hours=row.response_hours,
        handling_hours=row.handling_hours,
        urgency=row.urgency,
        verify_on_site=row.verify_on_site,
        channel_rule=row.channel_rule,
        active=row.status == "active",
    )


async def current_revision(session: AsyncSession) -> int:
    return (await session.execute(select(CatalogRevision.rev).where(CatalogRevision.id == 1))).scalar_one()


async def load_catalog(session: AsyncSession) -> Catalog:
    t0 = time.perf_counter()
    rev = await current_revision(session)
    departments = {d.code: d for d in (await session.execute(select(Department))).scalars()}
    rows = (
        (await session.execute(select(StandardRow).where(StandardRow.status != "superseded"))).scalars().all()
    )
    corrections = (
        await session.execute(
            select(RoutingCorrection.id, RoutingCorrection.text, RoutingCorrection.to_code).order_by(
                RoutingCorrection.id
            )
        )
    ).all()
    active = [_to_catalog_standard(r) for r in rows if r.status == "active"]
    key = (tuple(r.id for r in rows if r.status == "active"), tuple(c.id for c in corrections))
    router = _built.get(key)
    if router is None:
        # Building the index segments every standard (about a second): keep it off the event loop.
        router = await asyncio.to_thread(Router, active, [(c.text, c.to_code) for c in corrections])
        _built.clear()
        _built[key] = router
    cat = Catalog(rev, departments, {r.code: _ref(r) for r in rows}, router, key)
    log.info(
        "catalog loaded",
        extra={
            "rev": rev,
            "standards": len(active),
            "corrections": len(corrections),
            "ms": round((time.perf_counter() - t0) * 1000),
        },
    )
    return cat


async def refresh_if_stale(holder: Any, maker: async_sessionmaker[AsyncSession]) -> bool:
    """`holder.catalog` is swapped for a fresh one when the revision moved."""
    async with maker() as session:
        rev = await current_revision(session)
        if rev == holder.catalog.rev:
            return False
        holder.catalog = await load_catalog(session)
    settle_heap()
    return True


async def bump_revision(session: AsyncSession) -> int:
    return (
        await session.execute(
            update(CatalogRevision)
            .where(CatalogRevision.id == 1)
            .values(rev=CatalogRevision.rev + 1)
            .returning(CatalogRevision.rev)
        )
    ).scalar_one()


# ---- queries and edits ------------------------------------------------------------------------------


async def list_standards(
    session: AsyncSession,
    *,
    q: str | None,
    unit: str | None,
    level: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[StandardRow], int]:
    stmt = select(StandardRow).where(StandardRow.status != "superseded")
    if status:
        stmt = stmt.where(StandardRow.status == status)
    if unit:
        stmt = stmt.where(StandardRow.unit == unit)
    if level:
        stmt = stmt.where(StandardRow.level == level)
    if q:
        stmt = stmt.where(
            or_(
                StandardRow.code.contains(q, autoescape=True),
                StandardRow.title.icontains(q, autoescape=True),
                StandardRow.category_l1.icontains(q, autoescape=True),
                StandardRow.category_l2.icontains(q, autoescape=True),
                func.array_to_string(StandardRow.keywords, " ", type_=Text).icontains(q, autoescape=True),
            )
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        (await session.execute(stmt.order_by(StandardRow.code).limit(limit).offset(offset))).scalars().all()
    )
    return list(rows), total


async def get_current(session: AsyncSession, code: str, *, for_update: bool = False) -> StandardRow:
    stmt = select(StandardRow).where(StandardRow.code == code, StandardRow.status != "superseded")
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise StandardNotFound(f"No handling standard has code {code}.")
    return row


async def versions(session: AsyncSession, code: str) -> list[StandardRow]:
    rows = (
        (
            await session.execute(
                select(StandardRow).where(StandardRow.code == code).order_by(StandardRow.version)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        raise StandardNotFound(f"No handling standard has code {code}.")
    return list(rows)


async def _check_unit(session: AsyncSession, unit: str) -> None:
    if await session.get(Department, unit) is None:
        raise UnknownUnit(f"Unit {unit!r} is not one of the 23 handling units; see GET /api/v1/departments.")


async def _check_title(session: AsyncSession, title: str, code: str) -> None:
    clash = (
        await session.execute(
            select(StandardRow.code).where(
                StandardRow.title == title, StandardRow.status == "active", StandardRow.code != code
            )
        )
    ).scalar_one_or_none()
    if clash:
        raise StandardConflict(f"Standard {clash} already has the title {title!r}; titles must be unique.")


async def create_standard(session: AsyncSession, data: dict[str, Any], *, actor: str) -> StandardRow:
    await _check_unit(session, data["unit"])
    exists = (
        await session.execute(select(StandardRow.id).where(StandardRow.code == data["code"]).limit(1))
    ).first()
    if exists:
        raise StandardConflict(f"Code {data['code']} is taken (codes are never reused, even after retiring).")
    await _check_title(session, data["title"], data["code"])
    row = StandardRow(**data, version=1, status="active", created_by=actor)
    session.add(row)
    await session.flush()
    await bump_revision(session)
    return row


async def update_standard(
    session: AsyncSession, code: str, changes: dict[str, Any], *, actor: str
) -> StandardRow:
    """An edit is a new version; the old row stays (as `superseded`) for the tickets routed with it."""
    old = await get_current(session, code, for_update=True)
    if old.status == "retired":
        raise StandardConflict(f"Standard {code} is retired; it cannot be edited.")
    if "unit" in changes:
        await _check_unit(session, changes["unit"])
    if "title" in changes:
        await _check_title(session, changes["title"], code)
    values = {name: getattr(old, name) for name in _STANDARD_FIELDS}
    values.update(changes)
    if not 0 < values["response_hours"] <= values["handling_hours"]:
        raise StandardConflict("response_hours must be positive and not more than handling_hours.")
    old.status = "superseded"
    await session.flush()
    new = StandardRow(**values, version=old.version + 1, status="active", created_by=actor)
    session.add(new)
    await session.flush()
    await bump_revision(session)
    return new


async def retire_standard(session: AsyncSession, code: str, *, actor: str) -> StandardRow:
    row = await get_current(session, code, for_update=True)
    if row.status == "retired":
        return row
    row.status = "retired"
    row.retired_at = datetime.now(UTC)
    await session.flush()
    await bump_revision(session)
    log.info("standard retired", extra={"code": code, "by": actor})
    return row


async def add_correction(
    session: AsyncSession,
    *,
    ticket_id: int | None,
    text: str,
    from_code: str | None,
    to_code: str,
    actor: str,
) -> None:
    session.add(
        RoutingCorrection(
            ticket_id=ticket_id, text=text, from_code=from_code, to_code=to_code, created_by=actor
        )
    )
    await session.flush()
    await bump_revision(session)
