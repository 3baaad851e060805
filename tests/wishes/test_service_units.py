"""Units and their lists below the API: claims and refreshes racing on a committing database, and the
half years in China time."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.wishes.errors import ProjectLimitReached, ProjectNotOpen
from services.wishes.models import MemberUnit, Project, UnitResource
from services.wishes.units import lists
from services.wishes.units import service as svc
from services.wishes.units.schemas import ProjectClaimBody, ResourceCreate
from shared.auth import Principal
from shared.db import make_sessionmaker
from tests.wishes.builders import COMMUNITY
from tools import db as devdb


def liaison(code: str) -> Principal:
    return Principal(sub=f"liaison-{code}", role="unit_liaison", scope=(code,), audience="", expires_at=0)


@pytest.fixture
async def maker(empty_db):  # a committing database of its own, not the per-test transaction
    await asyncio.to_thread(devdb.upgrade, empty_db)
    engine = create_async_engine(empty_db, pool_size=12, max_overflow=10)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def race(n: int, act) -> list[str]:  # type: ignore[no-untyped-def]
    """Run `act(i, barrier)` n times at once; each waits at the barrier once its transaction has begun."""
    barrier = asyncio.Barrier(n)
    return list(await asyncio.gather(*(act(i, barrier) for i in range(n))))


class TestProjectClaimRace:
    async def test_a_unit_claiming_five_projects_at_once_ends_with_exactly_two(
        self, maker: async_sessionmaker[AsyncSession]
    ):
        async with maker() as s:
            s.add(MemberUnit(code="MU001", name="龙锦社区卫生服务站", kind="企事业单位", area_code=COMMUNITY))
            projects = [
                Project(area_code=COMMUNITY, year=2026, title=f"项目{i}", created_by="t") for i in range(5)
            ]
            s.add_all(projects)
            await s.commit()

        async def claim(i: int, barrier: asyncio.Barrier) -> str:
            async with maker() as s:
                actor = await svc.actor_for(s, liaison("MU001"))  # each transaction has begun
                await barrier.wait()
                try:
                    await lists.claim_project(s, actor, projects[i].id, ProjectClaimBody(), limit=2)
                    await s.commit()
                    return "won"
                except ProjectLimitReached:
                    await s.rollback()
                    return "limit"

        results = await race(5, claim)
        assert sorted(results) == ["limit", "limit", "limit", "won", "won"]
        async with maker() as s:
            rows = (await s.execute(select(Project.status, Project.unit_id).order_by(Project.id))).all()
        assert sorted(r.status for r in rows) == ["claimed", "claimed", "open", "open", "open"]
        assert len({r.unit_id for r in rows if r.unit_id}) == 1

    async def test_five_units_claiming_one_project_at_once_leave_one_holder(
        self, maker: async_sessionmaker[AsyncSession]
    ):
        async with maker() as s:
            s.add_all(
                [
                    MemberUnit(code=f"MU{i:03d}", name=f"单位{i}", kind="商户", area_code=COMMUNITY)
                    for i in range(5)
                ]
            )
            project = Project(area_code=COMMUNITY, year=2026, title="社区花园", created_by="t")
            s.add(project)
            await s.commit()

        async def claim(i: int, barrier: asyncio.Barrier) -> str:
            async with maker() as s:
                actor = await svc.actor_for(s, liaison(f"MU{i:03d}"))
                await barrier.wait()
                try:
                    await lists.claim_project(s, actor, project.id, ProjectClaimBody(), limit=2)
                    await s.commit()
                    return "won"
                except ProjectNotOpen:
                    await s.rollback()
                    return "taken"

        results = await race(5, claim)
        assert sorted(results) == ["taken"] * 4 + ["won"]
        async with maker() as s:
            held = await s.get(Project, project.id)
            winner = (
                await s.execute(select(MemberUnit).where(MemberUnit.code == f"MU{results.index('won'):03d}"))
            ).scalar_one()
        assert held is not None and (held.status, held.unit_id) == ("claimed", winner.id)


class TestResourceRefreshRace:
    async def test_two_refreshes_at_once_leave_one_whole_list_not_a_mix(
        self, maker: async_sessionmaker[AsyncSession]
    ):
        async with maker() as s:
            unit = MemberUnit(code="MU001", name="龙锦社区卫生服务站", kind="企事业单位", area_code=COMMUNITY)
            s.add(unit)
            await s.commit()
        period = svc.current_period()
        lists_sent = [
            [ResourceCreate(kind="物资", title=f"A{k}", categories=["助老"]) for k in range(3)],
            [ResourceCreate(kind="志愿服务", title=f"B{k}", categories=["助残"]) for k in range(2)],
        ]

        async def refresh(i: int, barrier: asyncio.Barrier) -> str:
            async with maker() as s:
                actor = await svc.actor_for(s, liaison("MU001"))
                await barrier.wait()
                await svc.replace_resources(s, actor, unit.id, period, lists_sent[i])
                await s.commit()
                return "ok"

        assert await race(2, refresh) == ["ok", "ok"]
        async with maker() as s:
            titles = sorted((await s.execute(select(UnitResource.title))).scalars())
        assert titles in (["A0", "A1", "A2"], ["B0", "B1"])


class TestHalfYears:
    @pytest.mark.parametrize(
        ("day", "period"),
        [
            (date(2026, 1, 1), "2026H1"),
            (date(2026, 6, 30), "2026H1"),
            (date(2026, 7, 1), "2026H2"),
            (date(2026, 12, 31), "2026H2"),
        ],
    )
    def test_a_day_falls_in_its_half_year(self, day, period):
        assert svc.period_of(day) == period

    def test_the_half_year_turns_at_midnight_beijing_time(self):
        assert svc.current_period(datetime(2026, 6, 30, 15, 59, tzinfo=UTC)) == "2026H1"
        assert svc.current_period(datetime(2026, 6, 30, 16, 0, tzinfo=UTC)) == "2026H2"  # 1 July 00:00 CST
        assert svc.current_period(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027H1"

    def test_next_and_previous_cross_the_year(self):
        assert (svc.next_period("2026H1"), svc.next_period("2026H2")) == ("2026H2", "2027H1")
        assert (svc.previous_period("2026H2"), svc.previous_period("2026H1")) == ("2026H1", "2025H2")
