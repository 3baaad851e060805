"""Member units (大党委成员单位) and their resource lists (资源清单), and who may see and write what.

The needs and project lists are in `lists.py`, the units suggested for a wish in `suggest.py`; they use
the access rules here.

Who sees what: area roles see what relates to their scope (the item's area is inside it or contains
it: a grid worker sees the units of its community and street), a liaison what relates to its unit's
committee area, the `service` role everything. Area managers (community, street, district) write inside
their scope; a liaison writes only for its own unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, delete, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import scope as sc
from services.wishes.clients import AreaRef, RegistryClient
from services.wishes.clock import now_utc
from services.wishes.errors import (
    ActionForbidden,
    ActionInvalid,
    AreaUnknown,
    OutOfScope,
    PeriodClosed,
    ResourceNotFound,
    UnitCodeTaken,
    UnitNotFound,
)
from services.wishes.models import MemberUnit, Project, UnitResource, Wish
from services.wishes.units.schemas import LIAISON_FIELDS, ResourceCreate, UnitCreate, UnitUpdate
from shared.auth import AREA_ROLES, SERVICE_ROLE, Principal

CST = ZoneInfo("Asia/Shanghai")
OPEN_CLAIM = ("claimed", "in_progress")


# ---- half years -------------------------------------------------------------------------------------


def period_of(d: date) -> str:
    return f"{d.year}H{1 if d.month <= 6 else 2}"


def current_period(at: datetime | None = None) -> str:
    """The half year it is (or was at `at`) in China: 2026H2 from 1 July, Beijing time."""
    return period_of((at or now_utc()).astimezone(CST).date())


def next_period(period: str) -> str:
    year, half = int(period[:4]), period[5]
    return f"{year}H2" if half == "1" else f"{year + 1}H1"


def previous_period(period: str) -> str:
    year, half = int(period[:4]), period[5]
    return f"{year}H1" if half == "2" else f"{year - 1}H2"


def ensure_writable(period: str) -> None:
    """Resource lists are written for this half year or the next; earlier ones are history."""
    now = current_period()
    if period < now:  # YYYYH[12] sorts as time does
        raise PeriodClosed(f"{period} is past (it is {now} now); its resource list is kept as history.")
    if period > next_period(now):
        raise ActionInvalid(
            f"Resource lists are written for the current half year ({now}) or the next "
            f"({next_period(now)}), not {period}."
        )


# ---- areas and who sees what -----------------------------------------------------------------------


def prefixes(code: str) -> list[str]:
    """The codes of the areas that contain `code` (district, street, community, grid …), not itself."""
    return [code[:n] for n in (6, 9, 12, 15) if n < len(code)]


def relates(a: str, b: str) -> bool:
    """One area is inside the other (or they are the same)."""
    return a.startswith(b) or b.startswith(a)


def related(column: Any, code: str) -> ColumnElement[bool]:
    """SQL: the column's area is inside `code` or contains it."""
    return or_(column.startswith(code), column.in_(prefixes(code)))


@dataclass(frozen=True)
class Actor:
    """The caller, resolved once per request: their role, and their unit when they are a liaison."""

    principal: Principal
    unit: MemberUnit | None = None

    @property
    def role(self) -> str:
        return self.principal.role

    def _codes(self) -> tuple[str, ...]:
        if self.role in AREA_ROLES:
            return self.principal.scope
        return (self.unit.area_code,) if self.unit is not None else ()

    def sees(self, area_code: str) -> bool:
        if self.role == SERVICE_ROLE:
            return True
        return any(relates(area_code, c) for c in self._codes())

    def visible(self, column: Any) -> ColumnElement[bool]:
        if self.role == SERVICE_ROLE:
            return true()
        codes = self._codes()
        return or_(*[related(column, c) for c in codes]) if codes else false()

    def where(self) -> str:
        if self.unit is not None:
            return f"your unit {self.unit.code}'s committee area {self.unit.area_code}"
        return f"your scope ({' '.join(self.principal.scope) or 'none'})"


async def actor_for(session: AsyncSession, principal: Principal) -> Actor:
    sc.require_role(principal, sc.READERS, "Member units and their lists")
    if principal.role == sc.LIAISON:
        return Actor(principal, await sc.liaison_unit(session, principal))
    return Actor(principal)


def ensure_sees(actor: Actor, area_code: str, what: str) -> None:
    if not actor.sees(area_code):
        raise OutOfScope(f"{what} is in area {area_code}, which is outside {actor.where()}.")


def ensure_manager(actor: Actor, area_code: str, what: str) -> None:
    sc.require_role(actor.principal, sc.AREA_MANAGERS, what)
    sc.ensure_area(actor.principal, area_code, what)


def _ensure_unit_writer(actor: Actor, unit: MemberUnit, what: str) -> None:
    """The unit's own liaison, or an area manager whose scope covers the unit's committee area."""
    if actor.unit is not None:
        if actor.unit.id != unit.id:
            raise OutOfScope(f"You act for unit {actor.unit.code}; {what} belongs to unit {unit.code}.")
        return
    sc.require_role(actor.principal, (sc.LIAISON, *sc.AREA_MANAGERS), what)
    sc.ensure_area(actor.principal, unit.area_code, what)


async def known_area(registry: RegistryClient, code: str) -> AreaRef:
    area = await registry.area(code)
    if area is None:
        raise AreaUnknown(f"The registry has no area {code}.")
    return area


async def page_of(session: AsyncSession, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    total = (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    rows = (await session.execute(stmt.limit(limit).offset(offset))).all()
    return list(rows), total


# ---- units ------------------------------------------------------------------------------------------


async def get_unit(session: AsyncSession, actor: Actor, unit_id: int, *, lock: bool = False) -> MemberUnit:
    stmt = select(MemberUnit).where(MemberUnit.id == unit_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    unit = (await session.execute(stmt)).scalar_one_or_none()
    if unit is None:
        raise UnitNotFound(f"No member unit {unit_id}.")
    ensure_sees(actor, unit.area_code, f"Unit {unit.code}")
    return unit


async def unit_views(session: AsyncSession, units: Sequence[MemberUnit]) -> list[dict[str, Any]]:
    """The UnitRead fields: the row, its current resources, its open claims and its review score."""
    ids = [u.id for u in units]
    period = current_period()
    resources: dict[int, int] = {}
    claims: dict[int, int] = {}
    reviews: dict[int, tuple[int, Decimal | None]] = {}
    if ids:
        resources = dict(
            (
                await session.execute(
                    select(UnitResource.unit_id, func.count())
                    .where(UnitResource.unit_id.in_(ids), UnitResource.period == period)
                    .group_by(UnitResource.unit_id)
                )
            ).all()
        )
        claims = dict(
            (
                await session.execute(
                    select(Wish.claimant_unit_id, func.count())
                    .where(Wish.claimant_unit_id.in_(ids), Wish.status.in_(OPEN_CLAIM))
                    .group_by(Wish.claimant_unit_id)
                )
            ).all()
        )
        rows = await session.execute(
            select(Project.unit_id, func.count(), func.round(func.avg(Project.review_score), 2))
            .where(Project.unit_id.in_(ids), Project.review_score.is_not(None))
            .group_by(Project.unit_id)
        )
        reviews = {uid: (n, avg) for uid, n, avg in rows}
    out = []
    for u in units:
        n, avg = reviews.get(u.id, (0, None))
        out.append(
            {
                **{c: getattr(u, c) for c in _UNIT_COLUMNS},
                "period": period,
                "resources": resources.get(u.id, 0),
                "open_claims": claims.get(u.id, 0),
                "reviewed_projects": n,
                "review_score": avg,
            }
        )
    return out


_UNIT_COLUMNS = (
    "id",
    "code",
    "name",
    "kind",
    "area_code",
    "area_name",
    "address",
    "contact_name",
    "contact_phone",
    "party_members",
    "active",
    "joined_on",
    "created_at",
    "updated_at",
)


async def list_units(
    session: AsyncSession,
    actor: Actor,
    *,
    area_code: str | None,
    kind: str | None,
    q: str | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[MemberUnit], int]:
    conds = [actor.visible(MemberUnit.area_code)]
    if area_code:
        ensure_sees(actor, area_code, "The area")
        conds.append(related(MemberUnit.area_code, area_code))
    if kind:
        conds.append(MemberUnit.kind == kind)
    if q:
        conds.append(or_(MemberUnit.name.contains(q, autoescape=True), MemberUnit.code == q.upper()))
    if active is not None:
        conds.append(MemberUnit.active.is_(active))
    stmt = select(MemberUnit).where(*conds).order_by(MemberUnit.area_code, MemberUnit.code)
    rows, total = await page_of(session, stmt, limit, offset)
    return [r[0] for r in rows], total


async def create_unit(
    session: AsyncSession, actor: Actor, registry: RegistryClient, body: UnitCreate
) -> MemberUnit:
    ensure_manager(actor, body.area_code, f"Unit {body.code}")
    taken = await session.execute(select(MemberUnit.id).where(MemberUnit.code == body.code))
    if taken.first() is not None:  # before asking the registry
        raise UnitCodeTaken(f"Member unit code {body.code} is taken; codes are unique and fixed.")
    area = await known_area(registry, body.area_code)
    now = now_utc()
    # ON CONFLICT: two people registering one code at once get one unit and a 409, not a 500
    unit_id = (
        await session.execute(
            pg_insert(MemberUnit)
            .values(
                code=body.code,
                name=body.name,
                kind=body.kind,
                area_code=area.code,
                area_name=area.name,
                address=body.address,
                contact_name=body.contact_name or "",
                contact_phone=body.contact_phone or "",
                party_members=body.party_members,
                active=True,
                joined_on=body.joined_on,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[MemberUnit.code])
            .returning(MemberUnit.id)
        )
    ).scalar_one_or_none()
    if unit_id is None:
        raise UnitCodeTaken(f"Member unit code {body.code} is taken; codes are unique and fixed.")
    unit = await session.get(MemberUnit, unit_id)
    assert unit is not None
    return unit


async def update_unit(
    session: AsyncSession, actor: Actor, registry: RegistryClient, unit_id: int, body: UnitUpdate
) -> MemberUnit:
    unit = await get_unit(session, actor, unit_id, lock=True)
    changes = body.model_dump(exclude_unset=True)
    if actor.unit is not None:
        if actor.unit.id != unit.id:
            raise OutOfScope(f"You act for unit {actor.unit.code}; you may not change unit {unit.code}.")
        extra = sorted(set(changes) - LIAISON_FIELDS)
        if extra:
            raise ActionForbidden(
                f"A unit liaison may change only its unit's {', '.join(sorted(LIAISON_FIELDS))}; "
                f"{', '.join(extra)} are for the community's or street's managers."
            )
    else:
        ensure_manager(actor, unit.area_code, f"Unit {unit.code}")
        new_area = changes.get("area_code")
        if new_area is not None and new_area != unit.area_code:
            sc.ensure_area(actor.principal, new_area, f"Moving unit {unit.code}")
            unit.area_name = (await known_area(registry, new_area)).name
    for field, value in changes.items():
        setattr(unit, field, "" if value is None and field in LIAISON_FIELDS else value)
    unit.updated_at = now_utc()
    await session.flush()
    return unit


# ---- resources (资源清单) --------------------------------------------------------------------------------


async def unit_resources(
    session: AsyncSession, actor: Actor, unit_id: int, period: str
) -> list[UnitResource]:
    unit = await get_unit(session, actor, unit_id)
    rows = await session.execute(
        select(UnitResource)
        .where(UnitResource.unit_id == unit.id, UnitResource.period == period)
        .order_by(UnitResource.id)
    )
    return list(rows.scalars())


async def replace_resources(
    session: AsyncSession, actor: Actor, unit_id: int, period: str, items: Sequence[ResourceCreate]
) -> list[UnitResource]:
    """The half year's whole list is replaced: what is not sent is gone (refreshed every half year)."""
    unit = await get_unit(session, actor, unit_id, lock=True)  # two refreshes at once queue here
    _ensure_unit_writer(actor, unit, f"The resource list of unit {unit.code}")
    ensure_writable(period)
    await session.execute(
        delete(UnitResource).where(UnitResource.unit_id == unit.id, UnitResource.period == period)
    )
    rows = [
        UnitResource(
            unit_id=unit.id,
            period=period,
            kind=i.kind,
            title=i.title,
            description=i.description,
            categories=list(i.categories),
            capacity=i.capacity,
        )
        for i in items
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def delete_resource(session: AsyncSession, actor: Actor, unit_id: int, resource_id: int) -> None:
    unit = await get_unit(session, actor, unit_id)
    _ensure_unit_writer(actor, unit, f"The resource list of unit {unit.code}")
    res = await session.get(UnitResource, resource_id)
    if res is None or res.unit_id != unit.id:
        raise ResourceNotFound(f"Unit {unit.code} has no resource {resource_id}.")
    ensure_writable(res.period)
    await session.delete(res)
    await session.flush()


async def pooled_resources(
    session: AsyncSession,
    actor: Actor,
    *,
    area_code: str | None,
    category: str | None,
    kind: str | None,
    period: str,
    limit: int,
    offset: int,
) -> tuple[list[tuple[UnitResource, MemberUnit]], int]:
    conds = [UnitResource.period == period, MemberUnit.active.is_(True), actor.visible(MemberUnit.area_code)]
    if area_code:
        ensure_sees(actor, area_code, "The area")
        conds.append(related(MemberUnit.area_code, area_code))
    if category:
        conds.append(UnitResource.categories.contains([category]))
    if kind:
        conds.append(UnitResource.kind == kind)
    stmt = (
        select(UnitResource, MemberUnit)
        .join(MemberUnit, MemberUnit.id == UnitResource.unit_id)
        .where(*conds)
        .order_by(MemberUnit.area_code, MemberUnit.code, UnitResource.id)
    )
    rows, total = await page_of(session, stmt, limit, offset)
    return [(r[0], r[1]) for r in rows], total
