"""The demo data `make run` loads, run against the test registry's small district (`world`): member
units of every kind, wishes in every state with true trails, and a ledger that adds up.

Loading replays half a year through the service (about two seconds), so it runs once and one test
checks everything it promises.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import demo
from services.wishes.models import (
    STATUSES,
    UNIT_KINDS,
    MemberUnit,
    PointsEntry,
    Project,
    UnitResource,
    Volunteer,
    Wish,
    WishEvent,
    WishPhoto,
)
from services.wishes.service.wishes import offered_to


async def count(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    return (await session.execute(select(func.count()).select_from(Wish).where(*where))).scalar_one()


async def units_are_the_committee(session: AsyncSession) -> None:
    units = (await session.execute(select(MemberUnit))).scalars().all()
    assert sorted(u.code for u in units) == [f"MU{i:03d}" for i in range(1, 31)]
    assert {u.kind for u in units} == set(UNIT_KINDS)
    assert {u.area_code for u in units} == {"320411001", "320411001001"}  # a few on the street's
    periods = Counter((await session.execute(select(UnitResource.period))).scalars())
    assert len(periods) == 2  # this half year's lists, and the last one's as history
    per_unit = Counter(
        (await session.execute(select(Project.unit_id).where(Project.unit_id.is_not(None)))).scalars()
    )
    assert len(per_unit) >= 5 and max(per_unit.values()) <= 2


async def trails_are_true(session: AsyncSession, now: datetime) -> None:
    wishes = (await session.execute(select(Wish))).scalars().all()
    assert set(Counter(w.status for w in wishes)) == set(STATUSES)
    trails: dict[int, list[WishEvent]] = {}
    for e in (await session.execute(select(WishEvent).order_by(WishEvent.id))).scalars():
        trails.setdefault(e.wish_id, []).append(e)
    for w in wishes:
        trail = trails[w.id]
        assert trail[0].action == "submit" and trail[0].at == w.submitted_at, w.title
        assert trail[-1].to_status == w.status, w.title
        assert [e.at for e in trail] == sorted(e.at for e in trail) and trail[-1].at < now, w.title
    assert (now - min(w.submitted_at for w in wishes)).days > 90  # months of history, not one day
    assert {"lapse", "withdraw", "dispute", "auto_confirm"} <= {e.action for t in trails.values() for e in t}
    completed = {w.id for w in wishes if w.completed_at is not None}
    proof = set((await session.execute(select(WishPhoto.wish_id).where(WishPhoto.kind == "proof"))).scalars())
    assert completed and completed <= proof


async def liaison_has_work(session: AsyncSession) -> None:
    """The `unit-liaison` demo account (MU001) can walk the flow: wishes in hand, offers on its wall."""
    mu001 = (await session.execute(select(MemberUnit).where(MemberUnit.code == "MU001"))).scalar_one()
    held = Counter(
        (await session.execute(select(Wish.status).where(Wish.claimant_unit_id == mu001.id))).scalars()
    )
    assert held["claimed"] >= 1 and held["in_progress"] >= 1
    assert await count(session, offered_to(mu001)) >= 4
    assert await count(session, offered_to(mu001), Wish.directed.is_(True)) >= 1
    assert await count(session, Wish.status == "published", ~offered_to(mu001)) >= 1  # directed elsewhere


async def ledger_adds_up(session: AsyncSession) -> None:
    volunteers = (await session.execute(select(Volunteer))).scalars().all()
    assert len(volunteers) == 40 and sum(1 for v in volunteers if v.unit_id and v.in_service) >= 25
    entries = (await session.execute(select(PointsEntry).order_by(PointsEntry.id))).scalars().all()
    assert {e.kind for e in entries} == {"adjust", "earn", "redeem", "refund"}
    balance: dict[int, int] = {}
    for e in entries:
        assert e.balance_after == balance.get(e.volunteer_id, 0) + e.delta >= 0
        balance[e.volunteer_id] = e.balance_after
    assert all(v.points == balance.get(v.id, 0) >= 0 for v in volunteers)
    closed = dict((await session.execute(select(Wish.id, Wish.closed_at))).all())
    earned = [e for e in entries if e.kind == "earn"]
    assert earned and all(e.at == closed[e.wish_id] for e in earned)  # paid when closed, back then


class TestDemoData:
    async def test_loads_the_committee_wishes_in_every_state_with_true_trails_and_a_ledger_that_adds_up(
        self, world, wishes_app, wishes_settings, session
    ):
        registry = wishes_app.state.registry
        residents = await demo.fetch_residents(registry)
        assert {r.id for r in residents} == {r.id for r in world.residents[:16]}  # 龙锦's, over REST
        assert not await demo.is_loaded(session)
        now = datetime.now(UTC)

        counts = await demo.load(session, registry, residents, wishes_settings, now=now)

        assert counts["units"] == 30 and counts["wishes"] == await count(session)
        await units_are_the_committee(session)
        await trails_are_true(session, now)
        await liaison_has_work(session)
        await ledger_adds_up(session)
        assert await demo.is_loaded(session)  # so a second `make run` leaves it all as it is
