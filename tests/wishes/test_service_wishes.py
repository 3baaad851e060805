"""The wish flow below the API: claims racing on a committing database, lapsing claims, auto-confirmation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from services.wishes import tasks
from services.wishes.clock import now_utc
from services.wishes.errors import AlreadyClaimed
from services.wishes.models import MemberUnit, Wish, WishEvent
from services.wishes.schemas import ClaimBody
from services.wishes.service import wishes as svc
from shared.auth import Principal
from shared.db import make_sessionmaker
from tests.wishes.builders import COMMUNITY, make_unit
from tests.wishes.helpers import Actors, ok, wish_in
from tools import db as devdb


def new_wish(**kw) -> Wish:
    return Wish(
        status="published",
        category="助老",
        title="轮椅",
        description="需要一台轮椅",
        source="grid_worker",
        resident_id=1,
        household_id=1,
        resident_name="张三",
        area_code="320411001001001001",
        grid_code="320411001001001",
        community_code=COMMUNITY,
        submitted_by="grid-w",
        published_at=now_utc(),
        served=[],
        **kw,
    )


class TestClaimRace:
    async def test_fifty_units_claim_one_wish_at_once_and_exactly_one_wins(self, empty_db):
        await asyncio.to_thread(devdb.upgrade, empty_db)
        engine = create_async_engine(empty_db, pool_size=25, max_overflow=30)
        maker = make_sessionmaker(engine)
        try:
            async with maker() as s:
                units = [
                    MemberUnit(code=f"MU{i:03d}", name=f"单位{i}", kind="商户", area_code=COMMUNITY)
                    for i in range(50)
                ]
                s.add_all(units)
                wish = new_wish()
                s.add(wish)
                await s.commit()

            async def one(unit: MemberUnit) -> str:
                p = Principal(
                    sub=f"liaison-{unit.code}",
                    role="unit_liaison",
                    scope=(unit.code,),
                    audience="",
                    expires_at=0,
                )
                async with maker() as s:
                    try:
                        await svc.claim(s, svc.Viewer(p, unit), wish.id, ClaimBody())
                        await s.commit()
                        return "won"
                    except AlreadyClaimed:
                        await s.rollback()
                        return "409"

            results = await asyncio.gather(*(one(u) for u in units))
            assert sorted(results).count("won") == 1 and results.count("409") == 49
            async with maker() as s:
                w = await s.get(Wish, wish.id)
                claims = (
                    await s.execute(
                        select(func.count()).select_from(WishEvent).where(WishEvent.action == "claim")
                    )
                ).scalar_one()
            winner = units[results.index("won")]
            assert w.status == "claimed" and w.claimant_unit_id == winner.id and claims == 1
        finally:
            await engine.dispose()


@pytest.fixture
async def a(token):
    return Actors(token)


@pytest.fixture
async def unit(session, world):
    u = await make_unit(session, "MU001")
    await session.commit()
    return u


async def age(session, wish_id: int, **delta_days: float) -> None:
    """Move a wish's timestamps into the past (the job compares them with the clock)."""
    values = {col: Wish.__table__.c[col] - timedelta(days=d) for col, d in delta_days.items()}
    await session.execute(update(Wish).where(Wish.id == wish_id).values(**values))
    await session.commit()


class TestLapsingClaims:
    async def test_a_claim_not_started_in_seven_days_goes_back_to_the_wall(
        self, wishes, a, unit, world, session, maker, wishes_settings
    ):
        stale = await wish_in(wishes, a, world.residents[0].id, "claimed")
        fresh = await wish_in(wishes, a, world.residents[1].id, "claimed")
        started = await wish_in(wishes, a, world.residents[2].id, "in_progress")
        await age(session, stale["id"], claimed_at=7.01)
        await age(session, fresh["id"], claimed_at=6.9)
        await age(session, started["id"], claimed_at=30)
        done = await tasks.run_once(maker, wishes_settings)
        assert done["lapsed"] == [stale["id"]]
        w = (await wishes.get(f"/api/v1/wishes/{stale['id']}", headers=a.grid)).json()
        assert w["status"] == "published" and w["claimant"] is None
        events = (await wishes.get(f"/api/v1/wishes/{stale['id']}/events", headers=a.grid)).json()
        assert events[-1]["action"] == "lapse" and events[-1]["actor"] == "system"
        assert events[-1]["data"]["previous"]["claimant_unit_id"] == unit.id
        for other in (fresh, started):
            assert (await wishes.get(f"/api/v1/wishes/{other['id']}", headers=a.grid)).json()[
                "status"
            ] != "published"
        # a lapsed wish can be claimed again, and the job does nothing twice
        await ok(wishes, a.liaison, stale["id"], "claim")
        assert (await tasks.run_once(maker, wishes_settings))["lapsed"] == []

    async def test_the_lapse_period_is_a_setting(
        self, wishes, a, unit, world, session, maker, wishes_settings
    ):
        w = await wish_in(wishes, a, world.residents[0].id, "claimed")
        await age(session, w["id"], claimed_at=2.5)
        short = wishes_settings.model_copy(update={"claim_lapse_days": 2})
        assert (await tasks.run_once(maker, short))["lapsed"] == [w["id"]]


class TestAutoConfirm:
    async def test_a_completion_the_resident_leaves_unanswered_is_confirmed_after_n_days(
        self, wishes, a, unit, world, session, maker, wishes_settings
    ):
        old = await wish_in(wishes, a, world.residents[0].id, "completed")
        new = await wish_in(wishes, a, world.residents[1].id, "completed")
        await age(session, old["id"], completed_at=7.5)
        await age(session, new["id"], completed_at=1)
        done = await tasks.run_once(maker, wishes_settings)
        assert done["auto_confirmed"] == [old["id"]]
        w = (await wishes.get(f"/api/v1/wishes/{old['id']}", headers=a.grid)).json()
        assert w["status"] == "confirmed" and w["auto_confirmed"] is True
        events = (await wishes.get(f"/api/v1/wishes/{old['id']}/events", headers=a.grid)).json()
        assert events[-1]["action"] == "auto_confirm" and events[-1]["label"] == "超时自动确认"
        assert (await wishes.get(f"/api/v1/wishes/{new['id']}", headers=a.grid)).json()[
            "status"
        ] == "completed"
        await ok(wishes, a.grid, old["id"], "close")
