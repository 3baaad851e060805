"""Wish statistics and the star ranking (星级排行榜), each one aggregate query in PostgreSQL.

Periods are whole days in China time (Asia/Shanghai): `from` 00:00 inclusive to the day after `to`
00:00 exclusive, so a wish submitted at 23:30 on 31 March (+08:00) counts in March.

Who sees what: area roles see wishes (and volunteers, units) inside their scope, and may narrow to an
area inside it; a unit liaison sees its own unit's figures and the ranking of its committee's area; the
`service` role sees everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Numeric,
    and_,
    cast,
    column,
    extract,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import scope as sc
from services.wishes.errors import ActionForbidden, InvalidPeriod, OutOfScope
from services.wishes.models import MemberUnit, PointsEntry, Volunteer, Wish
from services.wishes.stats.schemas import (
    GroupBy,
    RankingKind,
    RankingRead,
    RankingRow,
    WishFigures,
    WishStatsRead,
    WishStatsRow,
)
from shared.auth import AREA_ROLES, Principal

CST = ZoneInfo("Asia/Shanghai")
MAX_YEARS = 5
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)
FULFILLED = ("completed", "confirmed", "closed")


# ---- the period ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def lower(self) -> datetime:
        return datetime.combine(self.first, time(0), CST)

    @property
    def upper(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), CST)


def today_cst() -> date:
    return datetime.now(CST).date()


def _plus_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return date(d.year + years, 3, 1)


def period(first: date | None, last: date | None, *, today: date | None = None) -> Period:
    """Whole China-time days, both ends inclusive. Without `to`: today; without `from`: 1 January of
    `to`'s year (so no parameters means the current year to date). At most five years."""
    last = last or today or today_cst()
    first = first or date(last.year, 1, 1)
    for d in (first, last):
        if not EARLIEST <= d <= LATEST:
            raise InvalidPeriod(f"{d} is out of range; dates run from {EARLIEST} to {LATEST}.")
    if first > last:
        raise InvalidPeriod(f"from ({first}) is after to ({last}).")
    if last >= _plus_years(first, MAX_YEARS):
        raise InvalidPeriod(
            f"The period {first} to {last} is longer than {MAX_YEARS} years; ask for at most "
            f"{MAX_YEARS} years at a time."
        )
    return Period(first, last)


# ---- scope --------------------------------------------------------------------------------------------


def _inside(col: Any, prefixes: Sequence[str]) -> ColumnElement[bool]:
    if not prefixes:
        return false()
    return or_(*(col.startswith(p) for p in prefixes))


def _around(col: Any, prefixes: Sequence[str] | None) -> ColumnElement[bool]:
    """The row's area lies inside one of the areas, or contains it (a street-level unit belongs to the
    board of each community of its street; a community's volunteers to the board of each of its grids)."""
    if prefixes is None:
        return true()
    if not prefixes:
        return false()
    return or_(*(or_(col.startswith(p), literal(p).startswith(col)) for p in prefixes))


def _check_area(principal: Principal, area_code: str) -> None:
    if principal.role in AREA_ROLES and not principal.covers_area(area_code):
        raise OutOfScope(f"Area {area_code} is outside your scope ({' '.join(principal.scope) or 'none'}).")


# ---- wish figures -------------------------------------------------------------------------------------


def _rate(v: Any) -> float | None:
    return None if v is None else float(v)


async def wish_statistics(
    session: AsyncSession,
    principal: Principal,
    *,
    group_by: GroupBy,
    when: Period,
    area_code: str | None,
    category: str | None,
) -> WishStatsRead:
    sc.require_role(principal, sc.READERS, "Wish statistics")
    w = Wish
    conds: list[ColumnElement[bool]] = [w.submitted_at >= when.lower, w.submitted_at < when.upper]
    if principal.role == sc.LIAISON:
        if group_by != "unit":
            raise ActionForbidden(
                f"Statistics by {group_by} are for area staff; a unit liaison may ask group_by=unit "
                "(its own unit's figures)."
            )
        unit = await sc.liaison_unit(session, principal)
        conds.append(w.claimant_unit_id == unit.id)
    elif principal.role in AREA_ROLES:
        conds.append(_inside(w.area_code, principal.scope))
    if area_code:
        _check_area(principal, area_code)
        conds.append(w.area_code.startswith(area_code))
    if category:
        conds.append(w.category == category)

    collected = func.count().filter(w.status != "rejected")
    fulfilled = func.count().filter(w.status.in_(FULFILLED))
    days = extract("epoch", w.closed_at - w.submitted_at) / 86400
    median = func.percentile_cont(0.5).within_group(days).filter(w.status == "closed")
    figures = [
        func.count().label("submitted"),
        collected.label("collected"),
        # by unit, a row counts the wishes the unit holds now: each of them is claimed by definition
        (
            collected if group_by == "unit" else func.count().filter(w.status != "rejected", w.ever_claimed)
        ).label("claimed"),
        fulfilled.label("fulfilled"),
        func.round(cast(fulfilled, Numeric) / func.nullif(collected, 0), 4).label("fulfilment_rate"),
        func.round(cast(median, Numeric), 1).label("median_days_to_close"),
    ]
    source: Any = w
    if group_by == "unit":
        u = MemberUnit
        source = w.__table__.join(u.__table__, u.id == w.claimant_unit_id)
        keys: tuple[Any, ...] = (u.code, u.name, u.id)
        key, name, unit_id = u.code, u.name, u.id
    elif group_by == "grid":
        keys = (w.grid_code,)
        key, name, unit_id = w.grid_code, func.max(w.grid_name), null()
    else:
        keys = (w.community_code,)
        key, name, unit_id = w.community_code, func.max(w.community_name), null()
    is_total = func.grouping(key)
    stmt = (
        select(
            is_total.label("is_total"),
            key.label("key"),
            name.label("name"),
            unit_id.label("unit_id"),
            *figures,
        )
        .select_from(source)
        .where(*conds)
        # the rows and the total in one pass; the empty grouping set yields the total even with no wishes
        .group_by(func.grouping_sets(tuple_(*keys), tuple_()))
        .order_by(is_total, key)
    )
    rows, total = [], None
    for r in (await session.execute(stmt)).mappings():
        figs = {
            "submitted": r["submitted"],
            "collected": r["collected"],
            "claimed": r["claimed"],
            "fulfilled": r["fulfilled"],
            "fulfilment_rate": _rate(r["fulfilment_rate"]),
            "median_days_to_close": _rate(r["median_days_to_close"]),
        }
        if r["is_total"]:
            total = WishFigures(**figs)
        else:
            rows.append(WishStatsRow(key=r["key"], name=r["name"] or "", unit_id=r["unit_id"], **figs))
    assert total is not None  # GROUPING SETS (…, ()) always yields the total row
    return WishStatsRead(
        from_=when.first,
        to=when.last,
        group_by=group_by,
        area_code=area_code,
        category=category,
        rows=rows,
        total=total,
    )


# ---- the star ranking ---------------------------------------------------------------------------------


def stars(points: int, thresholds: Sequence[int]) -> int:
    return sum(points >= t for t in thresholds)


async def _ranking_areas(
    session: AsyncSession, principal: Principal, area_code: str | None
) -> tuple[str, ...] | None:
    """The areas whose board the caller sees; None: all."""
    if principal.role == sc.LIAISON:
        unit = await sc.liaison_unit(session, principal)
        if area_code and not sc.unit_covers(unit, area_code):
            raise OutOfScope(
                f"Area {area_code} is outside your unit's committee area {unit.area_code}; a unit liaison "
                "sees the ranking of that area."
            )
        return (area_code or unit.area_code,)
    if area_code:
        _check_area(principal, area_code)
        return (area_code,)
    return tuple(principal.scope) if principal.role in AREA_ROLES else None


async def star_ranking(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: RankingKind,
    when: Period,
    area_code: str | None,
    limit: int,
    thresholds: Sequence[int],
) -> RankingRead:
    sc.require_role(principal, sc.READERS, "The star ranking")
    areas = await _ranking_areas(session, principal, area_code)
    w, pe = Wish, PointsEntry
    done_in_period = and_(w.status.in_(FULFILLED), w.completed_at >= when.lower, w.completed_at < when.upper)
    earned_in_period = and_(pe.kind == "earn", pe.at >= when.lower, pe.at < when.upper)

    if kind == "volunteer":
        v = Volunteer
        eligible = (
            select(v.id, null().label("code"), v.name, v.area_code)
            .where(v.party_member, v.in_service, v.active, _around(v.area_code, areas))
            .cte("eligible")
        )
        # (wish, volunteer) pairs: each volunteer in `served` (listed once each), and the volunteer
        # claimant unless `served` already names them. The same rule as `served @> '[{"volunteer_id": N}]'
        # OR claimant_volunteer_id = N`, but one pass over the period's wishes instead of a containment
        # test per volunteer and wish, and no sort to drop duplicates.
        element = func.jsonb_array_elements(w.served).table_valued(column("value", JSONB)).alias("element")
        claimant_listed = w.served.contains(
            func.jsonb_build_array(func.jsonb_build_object("volunteer_id", w.claimant_volunteer_id))
        )
        pairs = union_all(
            select(cast(element.c.value["volunteer_id"].astext, Integer).label("id"))
            .select_from(w.__table__.join(element, true()))
            .where(done_in_period),
            select(w.claimant_volunteer_id).where(
                done_in_period, w.claimant_volunteer_id.is_not(None), ~claimant_listed
            ),
        ).subquery("pairs")
        done = (
            select(pairs.c.id, func.count().label("n"))
            .where(pairs.c.id.in_(select(eligible.c.id)))
            .group_by(pairs.c.id)
            .cte("done")
        )
        earned = (
            select(pe.volunteer_id.label("id"), func.sum(pe.delta).label("points"))
            .where(earned_in_period, pe.volunteer_id.in_(select(eligible.c.id)))
            .group_by(pe.volunteer_id)
            .cte("earned")
        )
    else:
        u = MemberUnit
        eligible = (
            select(u.id, u.code, u.name, u.area_code)
            .where(u.active, _around(u.area_code, areas))
            .cte("eligible")
        )
        done = (
            select(w.claimant_unit_id.label("id"), func.count().label("n"))
            .where(done_in_period, w.claimant_unit_id.in_(select(eligible.c.id)))
            .group_by(w.claimant_unit_id)
            .cte("done")
        )
        earned = (
            select(w.claimant_unit_id.label("id"), func.sum(pe.delta).label("points"))
            .select_from(pe.__table__.join(w.__table__, w.id == pe.wish_id))
            .where(earned_in_period, w.claimant_unit_id.in_(select(eligible.c.id)))
            .group_by(w.claimant_unit_id)
            .cte("earned")
        )

    points = func.coalesce(earned.c.points, 0)
    n = func.coalesce(done.c.n, 0)
    stmt = (
        select(
            eligible.c.id,
            eligible.c.code,
            eligible.c.name,
            eligible.c.area_code,
            points.label("points"),
            n.label("completed_wishes"),
            # window functions run before LIMIT: ranks and the total are over the whole board
            func.rank().over(order_by=(points.desc(), n.desc())).label("rank"),
            func.count().over().label("total"),
        )
        .select_from(
            eligible.outerjoin(earned, earned.c.id == eligible.c.id).outerjoin(
                done, done.c.id == eligible.c.id
            )
        )
        .where(or_(points > 0, n > 0))
        .order_by(points.desc(), n.desc(), eligible.c.name, eligible.c.id)
        .limit(limit)
    )
    result = (await session.execute(stmt)).mappings().all()
    return RankingRead(
        from_=when.first,
        to=when.last,
        kind=kind,
        area_code=area_code,
        star_thresholds=list(thresholds),
        total=result[0]["total"] if result else 0,
        rows=[
            RankingRow(
                rank=r["rank"],
                id=r["id"],
                code=r["code"],
                name=r["name"],
                area_code=r["area_code"],
                points=int(r["points"]),
                completed_wishes=r["completed_wishes"],
                stars=stars(int(r["points"]), thresholds),
            )
            for r in result
        ],
    )
