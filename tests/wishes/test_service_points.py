"""Points: what a closed wish pays (award_for_wish), and the supermarket under real concurrency.

The race tests run on committed data in a fresh database, with the wishes app on its own engine and pool
as in production: a hundred requests at once really queue on the row locks, and afterwards the books
must balance (the ledger sums to every balance, no balance below zero, stock matches what was sold).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.wishes.models import CatalogueItem, PointsEntry, PointsRule, Redemption, Volunteer, Wish
from services.wishes.points.service import award_for_wish
from tests.wishes.builders import COMMUNITY, GRID, make_volunteer
from tools import db as devdb


def make_wish(category: str = "助老", served: Any = (), **kw: Any) -> Wish:
    return Wish(
        status="confirmed",
        category=category,
        title="需要一台轮椅",
        description="老伴中风后行动不便。",
        source="grid_worker",
        resident_id=1,
        household_id=1,
        resident_name="张三",
        area_code=GRID,
        grid_code=GRID,
        community_code=COMMUNITY,
        submitted_by="t",
        served=list(served),
        **kw,
    )


async def add_wish(session: AsyncSession, category: str = "助老", served: Any = ()) -> Wish:
    w = make_wish(category, served)
    session.add(w)
    await session.flush()
    return w


def rule(
    name: str, category: str | None = None, points: int = 0, per_hour: int = 0, active: bool = True
) -> PointsRule:
    return PointsRule(
        name=name, category=category, points=points, points_per_hour=per_hour, active=active, created_by="t"
    )


async def balance(session: AsyncSession, volunteer_id: int) -> int:
    return (await session.execute(select(Volunteer.points).where(Volunteer.id == volunteer_id))).scalar_one()


async def assert_books_balance(session: AsyncSession, volunteer_id: int) -> int:
    """Replaying the ledger in id order gives every row's balance_after, never below zero, and ends at the
    volunteer's balance. (Rows of one volunteer are written under its row lock, so ids follow the order
    of the changes.)"""
    rows = (
        await session.execute(
            select(PointsEntry.delta, PointsEntry.balance_after)
            .where(PointsEntry.volunteer_id == volunteer_id)
            .order_by(PointsEntry.id)
        )
    ).all()
    running = 0
    for delta, after in rows:
        running += delta
        assert running == after >= 0, rows
    assert running == await balance(session, volunteer_id)
    return running


# ---- award_for_wish ----------------------------------------------------------------------------------


class TestAwardForWish:
    async def test_every_active_rule_of_the_category_or_of_any_adds_up(self, session):
        session.add_all(
            [
                rule("每单", points=10),
                rule("助老每小时", "助老", per_hour=5),
                rule("助学", "助学", points=100),  # another category
                rule("旧规则", points=1000, active=False),
            ]
        )
        a = await make_volunteer(session, "甲", phone="13900000011")
        b = await make_volunteer(session, "乙", phone="13900000012", points=7)
        w = await add_wish(
            session, served=[{"volunteer_id": a.id, "hours": 2.5}, {"volunteer_id": b.id, "hours": 0}]
        )
        entries = await award_for_wish(session, w, actor="grid-w")
        # a: 10 + ⌊5 × 2.5⌋ = 22; b: 10 for the wish, no hours
        assert {e.volunteer_id: e.delta for e in entries} == {a.id: 22, b.id: 10}
        assert await balance(session, a.id) == 22 and await balance(session, b.id) == 17
        e = next(e for e in entries if e.volunteer_id == b.id)
        assert (e.kind, e.wish_id, e.balance_after, e.actor) == ("earn", w.id, 17, "grid-w")
        assert f"#{w.id}" in e.note
        assert await assert_books_balance(session, b.id) == 17

    async def test_hours_are_counted_exactly_not_as_binary_floats(self, session):
        session.add(rule("每小时", per_hour=20))
        v = await make_volunteer(session, "甲", phone="13900000011")
        # 1.15 h × 20 in floats is 22.999…, which would round down to 22
        w = await add_wish(session, served=[{"volunteer_id": v.id, "hours": 1.15}])
        assert [e.delta for e in await award_for_wish(session, w, actor="t")] == [23]

    async def test_each_rule_rounds_its_hours_down_on_its_own(self, session):
        session.add_all([rule("A", per_hour=3), rule("B", "助老", per_hour=3)])
        v = await make_volunteer(session, "甲", phone="13900000011")
        w = await add_wish(session, served=[{"volunteer_id": v.id, "hours": 1.5}])
        assert [e.delta for e in await award_for_wish(session, w, actor="t")] == [8]  # 4 + 4, not ⌊9.0⌋

    async def test_a_category_rule_pays_only_its_category(self, session):
        session.add(rule("助学", "助学", points=50))
        v = await make_volunteer(session, "甲", phone="13900000011")
        other = await add_wish(session, "助老", served=[{"volunteer_id": v.id, "hours": 1}])
        assert await award_for_wish(session, other, actor="t") == []
        mine = await add_wish(session, "助学", served=[{"volunteer_id": v.id, "hours": 1}])
        assert [e.delta for e in await award_for_wish(session, mine, actor="t")] == [50]

    async def test_volunteers_due_nothing_inactive_or_unknown_are_skipped(self, session):
        session.add(rule("每小时", per_hour=10))
        idle = await make_volunteer(session, "闲", phone="13900000011")
        gone = await make_volunteer(session, "离", phone="13900000012", active=False)
        paid = await make_volunteer(session, "勤", phone="13900000013")
        w = await add_wish(
            session,
            served=[
                {"volunteer_id": idle.id, "hours": 0},
                {"volunteer_id": gone.id, "hours": 3},
                {"volunteer_id": 999_999, "hours": 3},
                {"volunteer_id": paid.id, "hours": 0.5},
                {"hours": 2},  # malformed entries are skipped
                "junk",
            ],
        )
        entries = await award_for_wish(session, w, actor="t")
        assert [(e.volunteer_id, e.delta) for e in entries] == [(paid.id, 5)]
        assert await balance(session, idle.id) == 0 and await balance(session, gone.id) == 0

    async def test_no_rules_or_no_one_served_pays_nothing(self, session):
        v = await make_volunteer(session, "甲", phone="13900000011")
        assert (
            await award_for_wish(
                session, await add_wish(session, served=[{"volunteer_id": v.id, "hours": 3}]), actor="t"
            )
            == []
        )
        session.add(rule("每单", points=10))
        assert await award_for_wish(session, await add_wish(session, served=[]), actor="t") == []

    async def test_a_wish_pays_each_volunteer_once(self, session):
        session.add(rule("每单", points=10))
        v = await make_volunteer(session, "甲", phone="13900000011")
        w = await add_wish(session, served=[{"volunteer_id": v.id, "hours": 1}])
        assert len(await award_for_wish(session, w, actor="t")) == 1
        assert await award_for_wish(session, w, actor="t") == []
        assert await balance(session, v.id) == 10
        # adding a volunteer to the list later pays only the newcomer
        u = await make_volunteer(session, "乙", phone="13900000012")
        w.served = [*w.served, {"volunteer_id": u.id, "hours": 1}]
        await session.flush()
        assert [e.volunteer_id for e in await award_for_wish(session, w, actor="t")] == [u.id]
        assert await balance(session, v.id) == 10

    async def test_the_database_refuses_a_second_earn_row_for_a_wish(self, session):
        v = await make_volunteer(session, "甲", phone="13900000011")
        w = await add_wish(session)
        session.add(
            PointsEntry(volunteer_id=v.id, kind="earn", delta=5, balance_after=5, wish_id=w.id, actor="t")
        )
        await session.flush()
        with pytest.raises(IntegrityError, match="uq_points_entry_earn"):
            async with session.begin_nested():
                session.add(
                    PointsEntry(
                        volunteer_id=v.id, kind="earn", delta=5, balance_after=10, wish_id=w.id, actor="t"
                    )
                )
                await session.flush()


# ---- races on committed data -------------------------------------------------------------------------


@pytest.fixture
async def database(empty_db: str) -> str:
    await asyncio.to_thread(devdb.upgrade, empty_db)
    return empty_db


@pytest.fixture
async def fresh(database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that commit, on the fresh database."""
    engine = create_async_engine(database, pool_size=10, max_overflow=20)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def client(wishes_settings: Any, registry_app: Any, database: str) -> AsyncIterator[httpx.AsyncClient]:
    """The wishes app as production runs it: its own engine and pool on the fresh database; tokens are
    checked against the in-process registry's keys."""
    from services.wishes.app import create_app

    settings = wishes_settings.model_copy(
        update={"database_url": database, "db_pool_size": 10, "db_max_overflow": 15}
    )
    app = create_app(
        settings,
        registry_transport=httpx.ASGITransport(app=registry_app),
        background=False,
        configure_logs=False,
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wishes") as c:
            yield c


@pytest.fixture
def counter(token: Any) -> dict[str, str]:
    return token("grid_worker", GRID, username="counter")


async def seed(fresh: async_sessionmaker[AsyncSession], *objs: Any) -> None:
    async with fresh() as s:
        s.add_all(objs)
        await s.commit()


async def opening(fresh: async_sessionmaker[AsyncSession], n: int, points: int) -> list[int]:
    """`n` volunteers of the community, each with an opening balance on the ledger."""
    async with fresh() as s:
        vols = [
            Volunteer(name=f"志愿者{i}", phone=f"139{i:08d}", area_code=COMMUNITY, points=points)
            for i in range(n)
        ]
        s.add_all(vols)
        await s.flush()
        if points:
            s.add_all(
                PointsEntry(
                    volunteer_id=v.id,
                    kind="adjust",
                    delta=points,
                    balance_after=points,
                    note="opening",
                    actor="t",
                )
                for v in vols
            )
        await s.commit()
        return [v.id for v in vols]


async def new_item(fresh: async_sessionmaker[AsyncSession], price: int, stock: int) -> int:
    item = CatalogueItem(area_code=COMMUNITY, name="洗衣液", price=price, stock=stock)
    await seed(fresh, item)
    return item.id


async def stock_of(fresh: async_sessionmaker[AsyncSession], item_id: int) -> int:
    async with fresh() as s:
        return (await s.execute(select(CatalogueItem.stock).where(CatalogueItem.id == item_id))).scalar_one()


def outcome(r: httpx.Response) -> str:
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json", r.text
        return r.json()["type"].rsplit("/", 1)[1]
    return str(r.status_code)


class TestRedemptionRaces:
    async def test_a_hundred_redemptions_against_one_balance_never_overspend_it(self, client, fresh, counter):
        """Spread over five items, so nothing but the volunteer's row serialises them."""
        [vid] = await opening(fresh, 1, 1000)
        items = [await new_item(fresh, price=7, stock=100) for _ in range(5)]
        asks = [(items[n % 5], 1 + n % 3) for n in range(100)]  # 199 units, 1393 points asked of 1000
        random.Random(5).shuffle(asks)
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/redemptions",
                    headers=counter,
                    json={"volunteer_id": vid, "item_id": item, "quantity": q},
                )
                for item, q in asks
            )
        )
        outcomes = Counter(outcome(r) for r in answers)
        assert set(outcomes) == {"201", "insufficient-points"}, outcomes
        sold = Counter()
        for r in answers:
            if r.status_code == 201:
                sold[r.json()["item_id"]] += r.json()["quantity"]
        spent = 7 * sum(sold.values())
        assert 0 < spent <= 1000
        async with fresh() as s:
            final = await assert_books_balance(s, vid)
            assert final == 1000 - spent >= 0
            reds = (
                await s.execute(select(func.count(), func.sum(Redemption.points)).select_from(Redemption))
            ).one()
            assert tuple(reds) == (outcomes["201"], spent)
        for item in items:
            assert await stock_of(fresh, item) == 100 - sold[item]
        # more was asked than the balance held: had 21 or more been left, nothing would have been refused
        assert final < 7 * 3

    async def test_concurrent_redemptions_drain_the_stock_exactly(self, client, fresh, counter):
        vids = await opening(fresh, 40, 100)
        item = await new_item(fresh, price=10, stock=10)
        answers = await asyncio.gather(
            *(
                client.post("/api/v1/redemptions", headers=counter, json={"volunteer_id": v, "item_id": item})
                for v in vids
            )
        )
        outcomes = Counter(outcome(r) for r in answers)
        assert outcomes == {"201": 10, "out-of-stock": 30}, outcomes
        assert await stock_of(fresh, item) == 0
        buyers = {r.json()["volunteer_id"] for r in answers if r.status_code == 201}
        async with fresh() as s:
            for v in vids:
                assert await assert_books_balance(s, v) == (90 if v in buyers else 100)

    async def test_twenty_retries_with_one_key_redeem_once(self, client, fresh, counter):
        [vid] = await opening(fresh, 1, 100)
        item = await new_item(fresh, price=10, stock=50)
        headers = {**counter, "Idempotency-Key": "a1b2c3d4-retry-storm"}
        body = {"volunteer_id": vid, "item_id": item, "quantity": 2}
        answers = await asyncio.gather(
            *(client.post("/api/v1/redemptions", headers=headers, json=body) for _ in range(20))
        )
        assert sorted(r.status_code for r in answers) == [200] * 19 + [201], [r.text for r in answers]
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 19
        assert len({r.json()["id"] for r in answers}) == 1
        async with fresh() as s:
            assert await assert_books_balance(s, vid) == 80
        assert await stock_of(fresh, item) == 48

    async def test_twenty_concurrent_cancels_refund_once(self, client, fresh, counter):
        [vid] = await opening(fresh, 1, 100)
        item = await new_item(fresh, price=10, stock=5)
        r = await client.post(
            "/api/v1/redemptions", headers=counter, json={"volunteer_id": vid, "item_id": item, "quantity": 3}
        )
        assert r.status_code == 201, r.text
        url = f"/api/v1/redemptions/{r.json()['id']}/cancel"
        answers = await asyncio.gather(
            *(client.post(url, headers=counter, json={"note": "未领取"}) for _ in range(20))
        )
        assert Counter(outcome(a) for a in answers) == {"200": 1, "redemption-already-cancelled": 19}
        async with fresh() as s:
            assert await assert_books_balance(s, vid) == 100
            kinds = (
                (
                    await s.execute(
                        select(PointsEntry.kind)
                        .where(PointsEntry.volunteer_id == vid)
                        .order_by(PointsEntry.id)
                    )
                )
                .scalars()
                .all()
            )
            assert kinds == ["adjust", "redeem", "refund"]
        assert await stock_of(fresh, item) == 5

    async def test_redemptions_adjustments_and_cancels_at_once_keep_the_books(
        self, client, fresh, counter, token
    ):
        admin = token("community_admin", COMMUNITY, username="comm-admin")
        [vid] = await opening(fresh, 1, 300)
        item = await new_item(fresh, price=10, stock=40)
        first = [
            (
                await client.post(
                    "/api/v1/redemptions", headers=counter, json={"volunteer_id": vid, "item_id": item}
                )
            ).json()["id"]
            for _ in range(5)
        ]
        calls = [
            *(
                client.post(
                    "/api/v1/redemptions",
                    headers=counter,
                    json={"volunteer_id": vid, "item_id": item, "quantity": 2},
                )
                for _ in range(40)
            ),
            *(
                client.post(
                    f"/api/v1/volunteers/{vid}/adjustments",
                    headers=admin,
                    json={"delta": -15, "note": "扣分"},
                )
                for _ in range(20)
            ),
            *(
                client.post(
                    f"/api/v1/volunteers/{vid}/adjustments", headers=admin, json={"delta": 8, "note": "补分"}
                )
                for _ in range(20)
            ),
            *(
                client.post(f"/api/v1/redemptions/{rid}/cancel", headers=counter, json={"note": "退回"})
                for rid in first
            ),
        ]
        random.Random(9).shuffle(calls)
        answers = await asyncio.gather(*calls)
        assert set(Counter(outcome(r) for r in answers)) <= {
            "200",
            "201",
            "insufficient-points",
            "out-of-stock",
        }
        async with fresh() as s:
            final = await assert_books_balance(s, vid)
            sold = (
                await s.execute(
                    select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                        Redemption.status == "redeemed"
                    )
                )
            ).scalar_one()
        assert final >= 0
        assert await stock_of(fresh, item) == 40 - sold


class TestAwardRaces:
    async def test_ten_closings_of_one_wish_pay_once(self, fresh):
        vids = await opening(fresh, 5, 0)
        async with fresh() as s:
            s.add(rule("每单", points=10))
            w = make_wish(served=[{"volunteer_id": v, "hours": 1} for v in vids])
            s.add(w)
            await s.commit()

        async def award() -> int:
            async with fresh() as s:
                wish = await s.get(Wish, w.id)
                assert wish is not None
                n = len(await award_for_wish(s, wish, actor="t"))
                await s.commit()
                return n

        assert sum(await asyncio.gather(*(award() for _ in range(10)))) == 5
        async with fresh() as s:
            for v in vids:
                assert await assert_books_balance(s, v) == 10

    async def test_wishes_that_share_volunteers_close_at_once_without_deadlock(self, fresh):
        vids = await opening(fresh, 6, 0)
        wishes = []
        async with fresh() as s:
            s.add(rule("每小时", per_hour=2))
            for n in range(12):
                order = vids[:]
                random.Random(n).shuffle(order)  # each wish lists the same people in another order
                wishes.append(make_wish(served=[{"volunteer_id": v, "hours": 1} for v in order]))
            s.add_all(wishes)
            await s.commit()

        async def award(wish_id: int) -> int:
            async with fresh() as s:
                wish = await s.get(Wish, wish_id)
                assert wish is not None
                n = len(await award_for_wish(s, wish, actor="t"))
                await s.commit()
                return n

        assert await asyncio.gather(*(award(w.id) for w in wishes)) == [6] * 12
        async with fresh() as s:
            for v in vids:
                assert await assert_books_balance(s, v) == 24
