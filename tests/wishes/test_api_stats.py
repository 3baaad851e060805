"""Statistics through the API on known rows: collected, claimed, fulfilled per grid, community and unit,
the China-time period, who sees what, and the star ranking (星级排行榜)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.wishes.models import MemberUnit, PointsEntry, Volunteer, Wish
from services.wishes.stats.service import CST, stars
from tests.wishes.builders import (
    COMMUNITY,
    FAR_GRID,
    GRID,
    OTHER_COMMUNITY,
    OTHER_GRID,
    STREET,
    make_unit,
    make_volunteer,
)

PROBLEM = "https://gridgov.example.org/problems/"
NAMES = {
    GRID: "龙锦一网格",
    OTHER_GRID: "龙锦二网格",
    FAR_GRID: "春江一网格",
    COMMUNITY: "龙锦社区",
    OTHER_COMMUNITY: "春江社区",
}
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
CLAIMED_ONWARDS = ("claimed", "in_progress", "completed", "confirmed", "closed")
_seq = itertools.count(1)


def cst(s: str) -> datetime:
    """A China-time instant, e.g. cst('2026-03-31 23:30')."""
    return datetime.fromisoformat(s).replace(tzinfo=CST)


async def make_wish(
    session: Any,
    submitted_at: datetime,
    status: str = "submitted",
    *,
    grid: str = GRID,
    category: str = "助老",
    unit: MemberUnit | None = None,
    volunteer: Volunteer | None = None,
    ever_claimed: bool | None = None,
    closed_after_days: float | None = None,
    completed_at: datetime | None = None,
    served: list[Volunteer] = (),  # type: ignore[assignment]
) -> Wish:
    """A wish written straight to the test transaction, its timestamps consistent with its status."""
    n = next(_seq)
    w = Wish(
        status=status,
        category=category,
        title=f"心愿{n}",
        description="测试用的微心愿",
        source="grid_worker",
        resident_id=n,
        household_id=n,
        resident_name="张三",
        area_code=grid,
        grid_code=grid,
        grid_name=NAMES[grid],
        community_code=grid[:12],
        community_name=NAMES[grid[:12]],
        submitted_by="grid-w",
        submitted_at=submitted_at,
        ever_claimed=ever_claimed if ever_claimed is not None else status in CLAIMED_ONWARDS,
        served=[{"volunteer_id": v.id, "hours": 1.0} for v in served],
    )
    if unit is not None:
        w.claimant_kind, w.claimant_unit_id = "unit", unit.id
    elif volunteer is not None:
        w.claimant_kind, w.claimant_volunteer_id = "volunteer", volunteer.id
    if status in ("completed", "confirmed", "closed"):
        w.completed_at = completed_at or submitted_at + timedelta(days=1)
    if status == "closed":
        w.closed_at = submitted_at + timedelta(days=closed_after_days if closed_after_days is not None else 1)
    session.add(w)
    await session.flush()
    return w


async def earn(session: Any, volunteer: Volunteer, wish: Wish, delta: int, at: datetime) -> None:
    session.add(
        PointsEntry(
            volunteer_id=volunteer.id,
            kind="earn",
            delta=delta,
            balance_after=delta,
            wish_id=wish.id,
            actor="t",
            at=at,
        )
    )
    await session.flush()


def problem(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == PROBLEM + type_, body
    assert body["detail"]
    return body


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["submitted"],
        row["collected"],
        row["claimed"],
        row["fulfilled"],
        row["fulfilment_rate"],
        row["median_days_to_close"],
    )


@pytest.fixture
def service(token):
    return token("service", username="svc-mobile")


@pytest.fixture
async def units(session):
    u1 = await make_unit(session, "MU001", name="龙锦卫生服务站")
    u2 = await make_unit(session, "MU002", name="龙锦小学")
    await session.commit()
    return u1, u2


async def stats(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/statistics/wishes", headers=headers, params={**MARCH, **params})
    assert r.status_code == 200, r.text
    return r.json()


async def ranking(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/statistics/ranking", headers=headers, params={**MARCH, **params})
    assert r.status_code == 200, r.text
    return r.json()


# ---- wish figures ---------------------------------------------------------------------------------------


class TestWishFigures:
    async def test_collected_claimed_fulfilled_rate_and_median_follow_the_definitions(
        self, session, wishes, service, units
    ):
        u1, _ = units
        day = cst("2026-03-05 10:00")
        for status in ("submitted", "rejected", "approved", "published", "cancelled"):
            await make_wish(session, day, status)
        await make_wish(session, day, "published", ever_claimed=True)  # claimed once, withdrawn
        for status in ("claimed", "in_progress", "completed", "confirmed"):
            await make_wish(session, day, status, unit=u1)
        for days in (2, 10, 4):
            await make_wish(session, day, "closed", unit=u1, closed_after_days=days)
        await session.commit()

        body = await stats(wishes, service, group_by="community")

        # cohort 13; collected 12 (not the rejected one); claimed 8 (the withdrawn one included);
        # fulfilled 5 (completed, confirmed, 3 closed); 5/12; median of 2, 4, 10 days
        assert [(r["key"], r["name"]) for r in body["rows"]] == [(COMMUNITY, "龙锦社区")]
        assert figures(body["rows"][0]) == (13, 12, 8, 5, 0.4167, 4.0)
        assert figures(body["total"]) == (13, 12, 8, 5, 0.4167, 4.0)
        assert (body["from"], body["to"], body["group_by"]) == ("2026-03-01", "2026-03-31", "community")

    async def test_median_of_an_even_count_interpolates_and_keeps_one_decimal(self, session, wishes, service):
        day = cst("2026-03-05 10:00")
        for days in (1, 2, 2.25, 9):
            await make_wish(session, day, "closed", closed_after_days=days)
        await session.commit()
        assert (await stats(wishes, service, group_by="grid"))["total"]["median_days_to_close"] == 2.1

    async def test_nothing_collected_gives_null_rate_and_median(self, session, wishes, service):
        await make_wish(session, cst("2026-03-05 10:00"), "rejected")
        await session.commit()
        body = await stats(wishes, service, group_by="grid")
        assert figures(body["rows"][0]) == (1, 0, 0, 0, None, None)

    async def test_an_empty_period_has_no_rows_and_a_zero_total(self, session, wishes, service):
        await make_wish(session, cst("2026-05-05 10:00"), "closed")
        await session.commit()
        body = await stats(wishes, service, group_by="grid")
        assert body["rows"] == []
        assert figures(body["total"]) == (0, 0, 0, 0, None, None)

    async def test_later_progress_counts_for_the_month_the_wish_was_submitted(self, session, wishes, service):
        await make_wish(session, cst("2026-03-30 10:00"), "closed", closed_after_days=40)
        await session.commit()
        assert figures((await stats(wishes, service, group_by="grid"))["total"]) == (1, 1, 1, 1, 1.0, 40.0)
        april = await stats(wishes, service, group_by="grid", **{"from": "2026-04-01", "to": "2026-04-30"})
        assert april["total"]["submitted"] == 0


class TestPeriod:
    async def test_days_are_china_time_and_both_ends_inclusive(self, session, wishes, service):
        for at in ("2026-02-28 23:59:59", "2026-03-01 00:00", "2026-03-31 23:30", "2026-04-01 00:00"):
            await make_wish(session, cst(at))
        await session.commit()
        # 2026-03-31 23:30 CST is 15:30 UTC; 2026-04-01 00:00 CST is still 31 March in UTC
        assert (await stats(wishes, service, group_by="grid"))["total"]["submitted"] == 2
        feb = await stats(wishes, service, group_by="grid", **{"from": "2026-02-01", "to": "2026-02-28"})
        apr = await stats(wishes, service, group_by="grid", **{"from": "2026-04-01", "to": "2026-04-01"})
        assert (feb["total"]["submitted"], apr["total"]["submitted"]) == (1, 1)

    async def test_default_is_this_year_to_date(self, session, wishes, service):
        today = datetime.now(CST).date()
        await make_wish(session, datetime.now(UTC))
        await make_wish(session, cst(f"{today.year - 1}-12-31 23:30"))
        await session.commit()
        r = await wishes.get("/api/v1/statistics/wishes", headers=service, params={"group_by": "grid"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["from"], body["to"]) == (date(today.year, 1, 1).isoformat(), today.isoformat())
        assert body["total"]["submitted"] == 1

    async def test_to_alone_starts_on_the_first_of_january_of_its_year(self, wishes, service):
        r = await wishes.get(
            "/api/v1/statistics/wishes", headers=service, params={"group_by": "grid", "to": "2025-06-30"}
        )
        assert (r.json()["from"], r.json()["to"]) == ("2025-01-01", "2025-06-30")

    async def test_from_after_to_is_refused(self, wishes, service):
        r = await wishes.get(
            "/api/v1/statistics/wishes",
            headers=service,
            params={"group_by": "grid", "from": "2026-04-01", "to": "2026-03-31"},
        )
        assert "after" in problem(r, 422, "invalid-period")["detail"]

    async def test_five_years_is_the_longest_period(self, wishes, service):
        path, base = "/api/v1/statistics/wishes", {"group_by": "grid", "from": "2021-01-01"}
        assert (
            await wishes.get(path, headers=service, params={**base, "to": "2025-12-31"})
        ).status_code == 200
        r = await wishes.get(path, headers=service, params={**base, "to": "2026-01-01"})
        assert "5 years" in problem(r, 422, "invalid-period")["detail"]
        r = await wishes.get(
            "/api/v1/statistics/ranking", headers=service, params={**base, "to": "2027-01-01"}
        )
        problem(r, 422, "invalid-period")

    @pytest.mark.parametrize(
        "params",
        [
            {"group_by": "grid", "from": "2026-02-30"},
            {"group_by": "grid", "to": "31/03/2026"},
            {"group_by": "street"},
            {"group_by": "grid", "category": "旅游"},
            {"group_by": "grid", "area_code": "3204x1"},
            {},
        ],
    )
    async def test_bad_parameters_are_refused(self, wishes, service, params):
        r = await wishes.get("/api/v1/statistics/wishes", headers=service, params=params)
        assert problem(r, 422, "validation-error")["errors"]


class TestGrouping:
    @pytest.fixture
    async def spread(self, session, units):
        """Wishes in three grids of two communities, held by two units, a volunteer and nobody."""
        u1, u2 = units
        v = await make_volunteer(session, "志愿者V")
        day = cst("2026-03-10 09:00")
        await make_wish(session, day, "closed", unit=u1, closed_after_days=2)
        await make_wish(session, day, "completed", unit=u1, category="助学")
        await make_wish(session, day, "claimed", grid=OTHER_GRID, unit=u1)
        await make_wish(session, day, "published", grid=OTHER_GRID, ever_claimed=True)  # withdrawn from u1
        await make_wish(session, day, "in_progress", grid=FAR_GRID, unit=u2)
        await make_wish(session, day, "closed", grid=FAR_GRID, volunteer=v, closed_after_days=6)
        await make_wish(session, day, "rejected", grid=FAR_GRID)
        await session.commit()

    async def test_by_grid_rows_are_sorted_by_code_with_names_and_a_total(self, wishes, service, spread):
        body = await stats(wishes, service, group_by="grid")
        assert [(r["key"], r["name"], r["unit_id"]) for r in body["rows"]] == [
            (GRID, "龙锦一网格", None),
            (OTHER_GRID, "龙锦二网格", None),
            (FAR_GRID, "春江一网格", None),
        ]
        assert [figures(r) for r in body["rows"]] == [
            (2, 2, 2, 2, 1.0, 2.0),
            (2, 2, 2, 0, 0.0, None),
            (3, 2, 2, 1, 0.5, 6.0),
        ]
        assert figures(body["total"]) == (7, 6, 6, 3, 0.5, 4.0)

    async def test_by_community(self, wishes, service, spread):
        body = await stats(wishes, service, group_by="community")
        assert [(r["key"], r["name"], figures(r)) for r in body["rows"]] == [
            (COMMUNITY, "龙锦社区", (4, 4, 4, 2, 0.5, 2.0)),
            (OTHER_COMMUNITY, "春江社区", (3, 2, 2, 1, 0.5, 6.0)),
        ]

    async def test_by_unit_counts_the_wishes_each_unit_holds_now(self, wishes, service, units, spread):
        u1, u2 = units
        body = await stats(wishes, service, group_by="unit")
        # the withdrawn wish and the volunteer's wish count in no unit row
        assert [(r["key"], r["name"], r["unit_id"], figures(r)) for r in body["rows"]] == [
            ("MU001", "龙锦卫生服务站", u1.id, (3, 3, 3, 2, 0.6667, 2.0)),
            ("MU002", "龙锦小学", u2.id, (1, 1, 1, 0, 0.0, None)),
        ]
        assert figures(body["total"]) == (4, 4, 4, 2, 0.5, 2.0)

    async def test_category_filter(self, wishes, service, spread):
        body = await stats(wishes, service, group_by="grid", category="助学")
        assert [(r["key"], figures(r)) for r in body["rows"]] == [(GRID, (1, 1, 1, 1, 1.0, None))]
        assert body["category"] == "助学"

    async def test_area_code_keeps_the_wishes_inside_it(self, wishes, service, spread):
        body = await stats(wishes, service, group_by="grid", area_code=OTHER_COMMUNITY)
        assert [r["key"] for r in body["rows"]] == [FAR_GRID]
        assert body["total"]["submitted"] == 3 and body["area_code"] == OTHER_COMMUNITY


class TestWhoSeesWishFigures:
    @pytest.fixture
    async def spread(self, session, units):
        u1, u2 = units
        day = cst("2026-03-10 09:00")
        await make_wish(session, day, "closed", unit=u1)
        await make_wish(session, day, "claimed", grid=OTHER_GRID, unit=u1)
        await make_wish(session, day, "claimed", grid=FAR_GRID, unit=u2)
        await make_wish(session, day, "submitted", grid=FAR_GRID)
        await session.commit()

    async def test_a_grid_worker_counts_only_the_wishes_of_its_grid(self, wishes, token, spread):
        body = await stats(wishes, token("grid_worker", GRID), group_by="community")
        assert [(r["key"], r["submitted"]) for r in body["rows"]] == [(COMMUNITY, 1)]
        assert body["total"]["submitted"] == 1
        by_unit = await stats(wishes, token("grid_worker", GRID), group_by="unit")
        assert [(r["key"], r["submitted"]) for r in by_unit["rows"]] == [("MU001", 1)]

    async def test_an_area_outside_the_scope_is_refused(self, wishes, token, spread):
        r = await wishes.get(
            "/api/v1/statistics/wishes",
            headers=token("grid_worker", GRID),
            params={**MARCH, "group_by": "grid", "area_code": OTHER_GRID},
        )
        assert OTHER_GRID in problem(r, 403, "out-of-scope")["detail"]

    async def test_a_street_dispatcher_may_narrow_to_an_area_inside_its_street(self, wishes, token, spread):
        body = await stats(wishes, token("street_dispatcher", STREET), group_by="grid", area_code=COMMUNITY)
        assert [r["key"] for r in body["rows"]] == [GRID, OTHER_GRID]

    async def test_a_liaison_sees_only_its_own_units_row(self, wishes, token, spread):
        body = await stats(wishes, token("unit_liaison", "MU002"), group_by="unit")
        assert [(r["key"], figures(r)) for r in body["rows"]] == [("MU002", (1, 1, 1, 0, 0.0, None))]
        assert body["total"]["submitted"] == 1

    @pytest.mark.parametrize("group_by", ["grid", "community"])
    async def test_a_liaison_may_not_group_by_area(self, wishes, token, spread, group_by):
        r = await wishes.get(
            "/api/v1/statistics/wishes", headers=token("unit_liaison", "MU001"), params={"group_by": group_by}
        )
        assert "group_by=unit" in problem(r, 403, "action-forbidden")["detail"]

    async def test_a_liaison_of_an_unknown_unit_is_refused(self, wishes, token, spread):
        r = await wishes.get(
            "/api/v1/statistics/wishes", headers=token("unit_liaison", "MU999"), params={"group_by": "unit"}
        )
        problem(r, 404, "unit-not-found")

    async def test_other_roles_are_refused(self, wishes, token, spread):
        r = await wishes.get(
            "/api/v1/statistics/wishes", headers=token("department_handler"), params={"group_by": "grid"}
        )
        problem(r, 403, "action-forbidden")

    async def test_no_token_is_refused(self, wishes, spread):
        r = await wishes.get("/api/v1/statistics/wishes", params={"group_by": "grid"})
        problem(r, 401, "unauthorized")


# ---- the star ranking -----------------------------------------------------------------------------------


def board(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["rank"], r["name"], r["points"], r["completed_wishes"], r["stars"]) for r in body["rows"]]


class TestVolunteerRanking:
    @pytest.fixture
    async def volunteers(self, session):
        """Five in-service party members with known March figures, and others who must not count."""
        vs = {k: await make_volunteer(session, f"志愿者{k}") for k in "ABCDE"}
        a, b, c, d, e = vs.values()
        day = cst("2026-03-12 15:00")

        async def done(*served: Volunteer, each: int, status: str = "closed", **kw: Any) -> Wish:
            w = await make_wish(session, day, status, served=list(served), completed_at=day, **kw)
            for v in served:
                await earn(session, v, w, each, day + timedelta(days=1))
            return w

        await done(a, each=200)
        await done(b, each=15)
        await done(b, each=15, status="confirmed")
        await done(c, each=15, volunteer=c)  # the claimant, also in served: one wish, not two
        await make_wish(session, day, "completed", volunteer=e, completed_at=day)  # the claimant alone
        await done(c, d, each=15)
        # completed in February, points earned at the close in March: the points count, the wish does not
        feb = await make_wish(
            session, cst("2026-02-20 10:00"), "closed", served=[d, e], completed_at=cst("2026-02-27 10:00")
        )
        await earn(session, d, feb, 15, cst("2026-03-02 10:00"))
        await earn(session, e, feb, 9, cst("2026-03-02 10:00"))
        # a disputed wish is back in progress: it does not count
        await make_wish(session, day, "in_progress", served=[a], volunteer=a)
        # points earned in April do not count in March
        apr = await make_wish(session, day, "completed", served=[b], completed_at=cst("2026-04-01 00:00"))
        await earn(session, b, apr, 50, cst("2026-04-02 10:00"))
        # only `earn` moves the board: an adjustment and a redemption do not
        session.add(
            PointsEntry(volunteer_id=b.id, kind="adjust", delta=500, balance_after=500, actor="t", at=day)
        )
        session.add(
            PointsEntry(volunteer_id=b.id, kind="redeem", delta=-20, balance_after=480, actor="t", at=day)
        )
        # not in-service party members (在职党员), or no longer active: never ranked
        for name, kw in (
            ("群众志愿者", {"party_member": False}),
            ("退休党员", {"in_service": False}),
            ("已注销党员", {"active": False}),
        ):
            other = await make_volunteer(session, name, **kw)
            await done(other, each=500)
        await session.commit()
        return vs

    async def test_order_ranks_with_ties_and_stars(self, wishes, service, volunteers):
        body = await ranking(wishes, service)
        assert board(body) == [
            (1, "志愿者A", 200, 1, 5),
            (2, "志愿者B", 30, 2, 2),
            (2, "志愿者C", 30, 2, 2),  # equal points and wishes: the same rank, then by name
            (4, "志愿者D", 30, 1, 2),  # standard competition ranking: 1, 2, 2, 4
            (5, "志愿者E", 9, 1, 0),
        ]
        assert body["kind"] == "volunteer" and body["total"] == 5
        assert body["star_thresholds"] == [10, 30, 60, 100, 200]
        assert all(r["code"] is None and r["area_code"] == COMMUNITY for r in body["rows"])

    async def test_limit_cuts_the_board_but_not_the_ranks_or_the_total(self, wishes, service, volunteers):
        body = await ranking(wishes, service, limit=2)
        assert [(r["rank"], r["name"]) for r in body["rows"]] == [(1, "志愿者A"), (2, "志愿者B")]
        assert body["total"] == 5

    async def test_a_period_without_anything_is_an_empty_board(self, wishes, service, volunteers):
        body = await ranking(wishes, service, **{"from": "2026-01-01", "to": "2026-01-31"})
        assert (body["rows"], body["total"]) == ([], 0)


class TestStars:
    @pytest.mark.parametrize(
        ("points", "expected"),
        [
            (0, 0),
            (9, 0),
            (10, 1),
            (29, 1),
            (30, 2),
            (60, 3),
            (99, 3),
            (100, 4),
            (199, 4),
            (200, 5),
            (10_000, 5),
        ],
    )
    def test_stars_count_the_thresholds_the_points_reach(self, points, expected):
        assert stars(points, [10, 30, 60, 100, 200]) == expected


class TestUnitRanking:
    @pytest.fixture
    async def board_units(self, session, units):
        u1, u2 = units
        u3 = await make_unit(session, "MU003", name="街道司法所", area_code=STREET)
        u4 = await make_unit(session, "MU004", name="春江超市", area_code=OTHER_COMMUNITY, kind="商户")
        gone = await make_unit(session, "MU005", name="已退出单位", active=False)
        v = await make_volunteer(session, "志愿者V")
        day = cst("2026-03-20 10:00")

        async def closed(unit: MemberUnit, pts: int, grid: str = GRID) -> None:
            w = await make_wish(session, day, "closed", unit=unit, served=[v], completed_at=day, grid=grid)
            await earn(session, v, w, pts, day)

        await closed(u1, 20)
        await closed(u1, 20)
        await closed(u2, 60)
        await closed(u3, 40)
        await closed(u4, 100, grid=FAR_GRID)
        await closed(gone, 500)
        await make_wish(session, day, "in_progress", unit=u2)  # not completed: does not count
        await session.commit()
        return u1, u2, u3, u4

    async def test_units_rank_by_the_points_of_the_wishes_they_claimed(self, wishes, service, board_units):
        body = await ranking(wishes, service, kind="unit")
        assert [
            (r["rank"], r["code"], r["points"], r["completed_wishes"], r["stars"]) for r in body["rows"]
        ] == [
            (1, "MU004", 100, 1, 4),
            (2, "MU002", 60, 1, 3),
            (3, "MU001", 40, 2, 2),
            (4, "MU003", 40, 1, 2),
        ]
        assert [r["id"] for r in body["rows"]] == [
            u.id for u in (board_units[3], board_units[1], board_units[0], board_units[2])
        ]

    async def test_an_area_keeps_its_units_and_the_units_of_areas_containing_it(
        self, wishes, service, board_units
    ):
        body = await ranking(wishes, service, kind="unit", area_code=COMMUNITY)
        assert [r["code"] for r in body["rows"]] == ["MU002", "MU001", "MU003"]  # MU003 serves the street


class TestWhoSeesTheRanking:
    @pytest.fixture
    async def two_boards(self, session, units):
        u1, _ = units
        near = await make_volunteer(session, "龙锦党员", unit=u1)
        far = await make_volunteer(session, "春江党员", area_code=OTHER_COMMUNITY)
        day = cst("2026-03-20 10:00")
        for v, grid in ((near, GRID), (far, FAR_GRID)):
            w = await make_wish(session, day, "closed", grid=grid, served=[v], completed_at=day)
            await earn(session, v, w, 30, day)
        await session.commit()

    async def test_a_grid_worker_sees_the_board_of_its_grids_community(self, wishes, token, two_boards):
        body = await ranking(wishes, token("grid_worker", GRID))
        assert [r["name"] for r in body["rows"]] == ["龙锦党员"]

    async def test_an_area_outside_the_scope_is_refused(self, wishes, token, two_boards):
        r = await wishes.get(
            "/api/v1/statistics/ranking",
            headers=token("grid_worker", GRID),
            params={"area_code": OTHER_COMMUNITY},
        )
        problem(r, 403, "out-of-scope")

    async def test_the_service_role_sees_every_board(self, wishes, service, two_boards):
        body = await ranking(wishes, service)
        assert sorted(r["name"] for r in body["rows"]) == ["春江党员", "龙锦党员"]
        narrowed = await ranking(wishes, service, area_code=OTHER_COMMUNITY)
        assert [r["name"] for r in narrowed["rows"]] == ["春江党员"]

    async def test_a_liaison_sees_the_board_of_its_units_committee_area(self, wishes, token, two_boards):
        liaison = token("unit_liaison", "MU001")
        assert [r["name"] for r in (await ranking(wishes, liaison))["rows"]] == ["龙锦党员"]
        assert [r["name"] for r in (await ranking(wishes, liaison, area_code=GRID))["rows"]] == ["龙锦党员"]
        for outside in (OTHER_COMMUNITY, STREET):
            r = await wishes.get("/api/v1/statistics/ranking", headers=liaison, params={"area_code": outside})
            assert COMMUNITY in problem(r, 403, "out-of-scope")["detail"]

    async def test_other_roles_are_refused(self, wishes, token, two_boards):
        r = await wishes.get("/api/v1/statistics/ranking", headers=token("integration"))
        problem(r, 403, "action-forbidden")

    @pytest.mark.parametrize(
        "params", [{"kind": "street"}, {"limit": 0}, {"limit": 101}, {"from": "2026-13-01"}]
    )
    async def test_bad_parameters_are_refused(self, wishes, service, params):
        r = await wishes.get("/api/v1/statistics/ranking", headers=service, params=params)
        problem(r, 422, "validation-error")
