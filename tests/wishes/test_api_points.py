"""The points supermarket (积分超市) through the API: volunteers, rules, the ledger, the catalogue,
redemptions and refunds, with every refusal leaving the balance, the stock and the ledger as they were."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from services.wishes.models import CatalogueItem, PointsEntry, PointsRule, Redemption, Volunteer
from tests.wishes.builders import (
    COMMUNITY,
    FAR_GRID,
    GRID,
    OTHER_COMMUNITY,
    STREET,
    make_unit,
    make_volunteer,
    upload_photo,
)
from tests.wishes.helpers import Actors, ok, submit

PROBLEM = "application/problem+json"


def problem(r: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["detail"]
    if kind is not None:
        assert body["type"].endswith("/" + kind), body
    return body


class Staff:
    def __init__(self, token: Any) -> None:
        self.admin = token("community_admin", COMMUNITY, username="comm-admin")
        self.other_admin = token("community_admin", OTHER_COMMUNITY, username="other-admin")
        self.grid = token("grid_worker", GRID, username="grid-w")
        self.far_grid = token("grid_worker", FAR_GRID, username="far-grid")
        self.street = token("street_dispatcher", STREET, username="street")
        self.district = token("district_admin", "320411", username="district")
        self.liaison = token("unit_liaison", "MU001", username="liaison-MU001")
        self.other_liaison = token("unit_liaison", "MU002", username="liaison-MU002")
        self.mobile = token("service", username="svc-mobile")
        self.handler = token("department_handler", "CGJ", username="cgj")


@pytest.fixture
def st(token: Any) -> Staff:
    return Staff(token)


@pytest.fixture
async def units(session):
    u1 = await make_unit(session, "MU001", name="龙锦社区卫生服务站")
    u2 = await make_unit(session, "MU002", area_code=OTHER_COMMUNITY, name="春江小学")
    street_unit = await make_unit(session, "MU003", area_code=STREET, name="三井街道办")
    gone = await make_unit(session, "MU004", name="已退出单位", active=False)
    await session.commit()
    return SimpleNamespace(mine=u1, other=u2, street=street_unit, gone=gone)


@pytest.fixture
async def shop(session, units):
    """A volunteer with 100 points, the items of their community's supermarket and one elsewhere."""
    ns = SimpleNamespace(units=units)
    ns.vol = await make_volunteer(session, "王建国", phone="13900000001", unit=units.mine, points=100)
    ns.poor = await make_volunteer(session, "李四", phone="13900000002", points=0)
    ns.far = await make_volunteer(
        session, "赵六", phone="13900000003", area_code=OTHER_COMMUNITY, unit=units.other, points=50
    )
    ns.item = CatalogueItem(area_code=COMMUNITY, name="洗衣液", price=30, stock=5)
    ns.off = CatalogueItem(area_code=COMMUNITY, name="下架商品", price=10, stock=5, active=False)
    ns.elsewhere = CatalogueItem(area_code=OTHER_COMMUNITY, name="大米", price=10, stock=5)
    session.add_all([ns.item, ns.off, ns.elsewhere])
    await session.commit()
    return ns


async def points_of(session, volunteer_id: int) -> int:
    return (await session.execute(select(Volunteer.points).where(Volunteer.id == volunteer_id))).scalar_one()


async def stock_of(session, item_id: int) -> int:
    return (
        await session.execute(select(CatalogueItem.stock).where(CatalogueItem.id == item_id))
    ).scalar_one()


async def ledger_of(session, volunteer_id: int) -> list[tuple[str, int, int]]:
    rows = await session.execute(
        select(PointsEntry.kind, PointsEntry.delta, PointsEntry.balance_after)
        .where(PointsEntry.volunteer_id == volunteer_id)
        .order_by(PointsEntry.id)
    )
    return [tuple(r) for r in rows]


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


VOLUNTEER = {"name": "张三", "phone": "13912345678", "area_code": COMMUNITY}


# ---- volunteers --------------------------------------------------------------------------------------


class TestRegisteringVolunteers:
    async def test_a_community_admin_registers_a_party_member_of_a_unit(self, wishes, st, world, units):
        r = await wishes.post(
            "/api/v1/volunteers", headers=st.admin, json={**VOLUNTEER, "unit_id": units.mine.id}
        )
        assert r.status_code == 201, r.text
        v = r.json()
        assert v["name"] == "张三" and v["phone"] == "13912345678" and v["area_code"] == COMMUNITY
        assert v["unit_id"] == units.mine.id and v["points"] == 0 and v["active"] is True
        assert v["party_member"] is True and v["in_service"] is True

    async def test_a_grid_worker_registers_for_the_community_their_grid_is_in(self, wishes, st, world):
        r = await wishes.post("/api/v1/volunteers", headers=st.grid, json={**VOLUNTEER, "in_service": False})
        assert r.status_code == 201, r.text
        assert r.json()["in_service"] is False

    async def test_a_street_unit_may_hold_volunteers_of_its_communities(self, wishes, st, world, units):
        r = await wishes.post(
            "/api/v1/volunteers", headers=st.street, json={**VOLUNTEER, "unit_id": units.street.id}
        )
        assert r.status_code == 201, r.text

    async def test_a_phone_is_registered_once_per_community(self, wishes, st, world, session):
        assert (await wishes.post("/api/v1/volunteers", headers=st.admin, json=VOLUNTEER)).status_code == 201
        again = await wishes.post(
            "/api/v1/volunteers", headers=st.admin, json={**VOLUNTEER, "name": "张三丰"}
        )
        assert "139****5678" in problem(again, 409, "volunteer-exists")["detail"]
        elsewhere = await wishes.post(
            "/api/v1/volunteers", headers=st.district, json={**VOLUNTEER, "area_code": OTHER_COMMUNITY}
        )
        assert elsewhere.status_code == 201, elsewhere.text
        assert await count(session, Volunteer) == 2

    @pytest.mark.parametrize("which", ["unknown", "gone", "other"])
    async def test_the_unit_must_exist_be_active_and_sit_on_the_communitys_committee(
        self, wishes, st, world, units, session, which
    ):
        unit_id = {"unknown": 999_999, "gone": units.gone.id, "other": units.other.id}[which]
        r = await wishes.post("/api/v1/volunteers", headers=st.admin, json={**VOLUNTEER, "unit_id": unit_id})
        problem(r, 422, "unit-unsuitable")
        assert await count(session, Volunteer) == 0

    async def test_a_community_the_registry_does_not_know_is_refused(self, wishes, st, world, session):
        r = await wishes.post(
            "/api/v1/volunteers", headers=st.street, json={**VOLUNTEER, "area_code": "320411001099"}
        )
        assert "320411001099" in problem(r, 422, "area-not-found")["detail"]
        assert await count(session, Volunteer) == 0

    @pytest.mark.parametrize(
        "change",
        [
            {"phone": "12345"},
            {"area_code": STREET},  # a street, not a community
            {"area_code": GRID},
            {"name": "   "},
            {"name": "张\x00三"},
            {"points": 500},  # points only move through the ledger
            {"unit_id": 0},
        ],
    )
    async def test_bad_bodies_are_422(self, wishes, st, change, session):
        r = await wishes.post("/api/v1/volunteers", headers=st.admin, json={**VOLUNTEER, **change})
        assert problem(r, 422)["errors"]
        assert await count(session, Volunteer) == 0

    async def test_outside_the_area_or_the_wrong_role_is_refused(self, wishes, st, session):
        problem(
            await wishes.post("/api/v1/volunteers", headers=st.other_admin, json=VOLUNTEER),
            403,
            "out-of-scope",
        )
        problem(
            await wishes.post("/api/v1/volunteers", headers=st.far_grid, json=VOLUNTEER), 403, "out-of-scope"
        )
        problem(await wishes.post("/api/v1/volunteers", headers=st.liaison, json=VOLUNTEER), 403)
        problem(await wishes.post("/api/v1/volunteers", headers=st.mobile, json=VOLUNTEER), 403)
        problem(await wishes.post("/api/v1/volunteers", json=VOLUNTEER), 401)
        assert await count(session, Volunteer) == 0


class TestReadingVolunteers:
    async def test_area_staff_list_their_communities_volunteers_with_filters(self, wishes, st, shop, session):
        await make_volunteer(session, "王小明", phone="13900000009", in_service=False)
        await session.commit()
        r = await wishes.get("/api/v1/volunteers", headers=st.admin)
        assert r.status_code == 200, r.text
        assert [v["name"] for v in r.json()["items"]] == ["王建国", "李四", "王小明"]
        assert r.json()["total"] == 3
        grid = await wishes.get("/api/v1/volunteers", headers=st.grid, params={"q": "王"})
        assert [v["name"] for v in grid.json()["items"]] == ["王建国", "王小明"]
        off = await wishes.get("/api/v1/volunteers", headers=st.admin, params={"in_service": "false"})
        assert [v["name"] for v in off.json()["items"]] == ["王小明"]
        by_unit = await wishes.get(
            "/api/v1/volunteers", headers=st.district, params={"unit_id": shop.units.other.id}
        )
        assert [v["name"] for v in by_unit.json()["items"]] == ["赵六"]
        by_grid = await wishes.get("/api/v1/volunteers", headers=st.district, params={"area_code": FAR_GRID})
        assert [v["name"] for v in by_grid.json()["items"]] == ["赵六"]
        mine = await wishes.get("/api/v1/volunteers", headers=st.other_admin)
        assert [v["name"] for v in mine.json()["items"]] == ["赵六"]

    async def test_a_unit_liaison_sees_only_its_units_volunteers_with_masked_phones(self, wishes, st, shop):
        r = await wishes.get("/api/v1/volunteers", headers=st.liaison)
        assert [(v["name"], v["phone"]) for v in r.json()["items"]] == [("王建国", "139****0001")]
        one = await wishes.get(f"/api/v1/volunteers/{shop.vol.id}", headers=st.liaison)
        assert one.json()["phone"] == "139****0001"
        problem(await wishes.get(f"/api/v1/volunteers/{shop.poor.id}", headers=st.liaison), 403)

    async def test_one_volunteer_with_their_balance(self, wishes, st, shop):
        r = await wishes.get(f"/api/v1/volunteers/{shop.vol.id}", headers=st.grid)
        assert r.status_code == 200 and r.json()["points"] == 100 and r.json()["phone"] == "13900000001"
        assert (await wishes.get(f"/api/v1/volunteers/{shop.far.id}", headers=st.mobile)).status_code == 200

    async def test_refusals(self, wishes, st, shop):
        problem(await wishes.get(f"/api/v1/volunteers/{shop.far.id}", headers=st.admin), 403, "out-of-scope")
        problem(await wishes.get("/api/v1/volunteers/999999", headers=st.admin), 404, "volunteer-not-found")
        problem(await wishes.get("/api/v1/volunteers", headers=st.handler), 403)
        problem(await wishes.get("/api/v1/volunteers"), 401)
        problem(await wishes.get("/api/v1/volunteers/0", headers=st.admin), 422)


class TestEditingVolunteers:
    async def test_name_phone_unit_and_flags_change(self, wishes, st, shop):
        r = await wishes.patch(
            f"/api/v1/volunteers/{shop.poor.id}",
            headers=st.grid,
            json={
                "name": "李四海",
                "phone": "13800000002",
                "unit_id": shop.units.mine.id,
                "in_service": False,
            },
        )
        assert r.status_code == 200, r.text
        v = r.json()
        assert (v["name"], v["phone"], v["unit_id"], v["in_service"]) == (
            "李四海",
            "13800000002",
            shop.units.mine.id,
            False,
        )
        r = await wishes.patch(
            f"/api/v1/volunteers/{shop.poor.id}", headers=st.admin, json={"unit_id": None, "active": False}
        )
        assert (r.json()["unit_id"], r.json()["active"]) == (None, False)

    async def test_points_are_not_editable(self, wishes, st, shop, session):
        r = await wishes.patch(f"/api/v1/volunteers/{shop.vol.id}", headers=st.admin, json={"points": 1000})
        problem(r, 422)
        assert await points_of(session, shop.vol.id) == 100

    async def test_null_for_a_required_field_is_422(self, wishes, st, shop):
        problem(
            await wishes.patch(f"/api/v1/volunteers/{shop.vol.id}", headers=st.admin, json={"name": None}),
            422,
        )

    async def test_another_volunteers_phone_is_409(self, wishes, st, shop, session):
        r = await wishes.patch(
            f"/api/v1/volunteers/{shop.poor.id}", headers=st.admin, json={"phone": "13900000001"}
        )
        problem(r, 409, "volunteer-exists")
        assert (
            await session.execute(select(Volunteer.phone).where(Volunteer.id == shop.poor.id))
        ).scalar_one() == "13900000002"

    async def test_a_unit_of_another_committee_is_422(self, wishes, st, shop):
        r = await wishes.patch(
            f"/api/v1/volunteers/{shop.vol.id}", headers=st.admin, json={"unit_id": shop.units.other.id}
        )
        problem(r, 422, "unit-unsuitable")

    async def test_refusals(self, wishes, st, shop):
        problem(
            await wishes.patch(f"/api/v1/volunteers/{shop.far.id}", headers=st.admin, json={"name": "x"}), 403
        )
        problem(
            await wishes.patch(f"/api/v1/volunteers/{shop.vol.id}", headers=st.liaison, json={"name": "x"}),
            403,
        )
        problem(await wishes.patch("/api/v1/volunteers/999999", headers=st.admin, json={"name": "x"}), 404)
        problem(await wishes.patch(f"/api/v1/volunteers/{shop.vol.id}", json={"name": "x"}), 401)


# ---- points rules ------------------------------------------------------------------------------------


class TestPointsRules:
    async def test_managers_set_rules_and_everyone_staffed_reads_them(self, wishes, st):
        r = await wishes.post(
            "/api/v1/points-rules", headers=st.admin, json={"name": "每单基础分", "points": 10}
        )
        assert r.status_code == 201, r.text
        assert r.json()["category"] is None and r.json()["points_per_hour"] == 0
        assert r.json()["created_by"] == "comm-admin"
        r = await wishes.post(
            "/api/v1/points-rules",
            headers=st.street,
            json={"name": "助老每小时", "category": "助老", "points_per_hour": 5},
        )
        assert r.status_code == 201, r.text
        await wishes.post(
            "/api/v1/points-rules",
            headers=st.district,
            json={"name": "助学", "category": "助学", "points": 20},
        )
        all_rules = await wishes.get("/api/v1/points-rules", headers=st.liaison)
        assert all_rules.json()["total"] == 3
        for_elderly = await wishes.get("/api/v1/points-rules", headers=st.grid, params={"category": "助老"})
        assert [x["name"] for x in for_elderly.json()["items"]] == ["每单基础分", "助老每小时"]

    async def test_a_rule_changes_and_retires(self, wishes, st):
        rid = (
            await wishes.post(
                "/api/v1/points-rules",
                headers=st.admin,
                json={"name": "助老", "category": "助老", "points": 10},
            )
        ).json()["id"]
        r = await wishes.patch(
            f"/api/v1/points-rules/{rid}", headers=st.admin, json={"category": None, "points_per_hour": 3}
        )
        assert (r.json()["category"], r.json()["points"], r.json()["points_per_hour"]) == (None, 10, 3)
        r = await wishes.patch(f"/api/v1/points-rules/{rid}", headers=st.district, json={"active": False})
        assert r.json()["active"] is False
        active = await wishes.get("/api/v1/points-rules", headers=st.admin, params={"active": "true"})
        assert active.json()["total"] == 0

    async def test_a_rule_that_pays_nothing_is_refused(self, wishes, st, session):
        problem(await wishes.post("/api/v1/points-rules", headers=st.admin, json={"name": "零分"}), 422)
        rid = (
            await wishes.post("/api/v1/points-rules", headers=st.admin, json={"name": "r", "points": 5})
        ).json()["id"]
        problem(
            await wishes.patch(f"/api/v1/points-rules/{rid}", headers=st.admin, json={"points": 0}),
            422,
            "action-invalid",
        )
        assert (
            await session.execute(select(PointsRule.points).where(PointsRule.id == rid))
        ).scalar_one() == 5

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "r", "points": -1},
            {"name": "r", "points_per_hour": -5},
            {"name": "r", "points": 5, "category": "打麻将"},
            {"name": "", "points": 5},
            {"name": "r", "points": 5, "extra": 1},
        ],
    )
    async def test_bad_bodies_are_422(self, wishes, st, body, session):
        problem(await wishes.post("/api/v1/points-rules", headers=st.admin, json=body), 422)
        assert await count(session, PointsRule) == 0

    async def test_refusals(self, wishes, st, session):
        body = {"name": "r", "points": 5}
        problem(await wishes.post("/api/v1/points-rules", headers=st.grid, json=body), 403)
        problem(await wishes.post("/api/v1/points-rules", headers=st.liaison, json=body), 403)
        problem(await wishes.post("/api/v1/points-rules", json=body), 401)
        problem(await wishes.get("/api/v1/points-rules", headers=st.handler), 403)
        problem(await wishes.patch("/api/v1/points-rules/999999", headers=st.admin, json={"points": 3}), 404)
        assert await count(session, PointsRule) == 0


# ---- ledger ------------------------------------------------------------------------------------------


class TestAdjustmentsAndTheLedger:
    async def test_an_adjustment_moves_the_balance_and_is_on_the_ledger_newest_first(
        self, wishes, st, shop, session
    ):
        r = await wishes.post(
            f"/api/v1/volunteers/{shop.vol.id}/adjustments",
            headers=st.admin,
            json={"delta": 25, "note": "社区清洁日活动补记"},
        )
        assert r.status_code == 201, r.text
        e = r.json()
        assert (e["kind"], e["delta"], e["balance_after"], e["actor"]) == ("adjust", 25, 125, "comm-admin")
        r = await wishes.post(
            f"/api/v1/volunteers/{shop.vol.id}/adjustments",
            headers=st.street,
            json={"delta": -125, "note": "清零"},
        )
        assert r.json()["balance_after"] == 0
        assert await points_of(session, shop.vol.id) == 0
        ledger = await wishes.get(f"/api/v1/volunteers/{shop.vol.id}/ledger", headers=st.liaison)
        assert ledger.status_code == 200, ledger.text
        assert [(x["delta"], x["balance_after"]) for x in ledger.json()["items"]] == [
            (-125, 0),
            (25, 125),
            (100, 100),
        ]
        only = await wishes.get(
            f"/api/v1/volunteers/{shop.vol.id}/ledger", headers=st.grid, params={"kind": "adjust", "limit": 1}
        )
        assert only.json()["total"] == 3 and len(only.json()["items"]) == 1

    async def test_taking_more_than_the_balance_is_409_and_changes_nothing(self, wishes, st, shop, session):
        r = await wishes.post(
            f"/api/v1/volunteers/{shop.vol.id}/adjustments",
            headers=st.admin,
            json={"delta": -101, "note": "扣分"},
        )
        body = problem(r, 409, "insufficient-points")
        assert "100" in body["detail"] and body["balance"] == 100
        assert await points_of(session, shop.vol.id) == 100
        assert await ledger_of(session, shop.vol.id) == [("adjust", 100, 100)]

    @pytest.mark.parametrize(
        "body",
        [
            {"delta": 0, "note": "无"},
            {"delta": 5},
            {"delta": 5, "note": "x" * 201},
            {"delta": 1.5, "note": "半分"},
        ],
    )
    async def test_bad_bodies_are_422(self, wishes, st, shop, session, body):
        problem(
            await wishes.post(f"/api/v1/volunteers/{shop.vol.id}/adjustments", headers=st.admin, json=body),
            422,
        )
        assert await ledger_of(session, shop.vol.id) == [("adjust", 100, 100)]

    async def test_refusals(self, wishes, st, shop, session):
        body = {"delta": 5, "note": "补记"}
        url = f"/api/v1/volunteers/{shop.vol.id}/adjustments"
        problem(await wishes.post(url, headers=st.grid, json=body), 403)  # a grid worker does not adjust
        problem(await wishes.post(url, headers=st.other_admin, json=body), 403, "out-of-scope")
        problem(await wishes.post(url, headers=st.mobile, json=body), 403)
        problem(await wishes.post(url, json=body), 401)
        problem(await wishes.post("/api/v1/volunteers/999999/adjustments", headers=st.admin, json=body), 404)
        problem(await wishes.get(f"/api/v1/volunteers/{shop.far.id}/ledger", headers=st.admin), 403)
        problem(await wishes.get(f"/api/v1/volunteers/{shop.poor.id}/ledger", headers=st.liaison), 403)
        problem(await wishes.get("/api/v1/volunteers/999999/ledger", headers=st.admin), 404)
        assert await ledger_of(session, shop.vol.id) == [("adjust", 100, 100)]

    async def test_the_ledger_refuses_update_and_delete(self, shop, session):
        for sql in ("UPDATE wishes.points_entry SET delta = 1000", "DELETE FROM wishes.points_entry"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with session.begin_nested():
                    await session.execute(text(sql))
        assert await ledger_of(session, shop.vol.id) == [("adjust", 100, 100)]

    async def test_the_database_refuses_a_negative_balance(self, shop, session):
        with pytest.raises(DBAPIError, match="ck_volunteer_points"):
            async with session.begin_nested():
                await session.execute(
                    text("UPDATE wishes.volunteer SET points = -1 WHERE id = :id"), {"id": shop.vol.id}
                )


# ---- catalogue ---------------------------------------------------------------------------------------


ITEM = {"area_code": COMMUNITY, "name": "食用油 5L", "price": 80, "stock": 10}


class TestCatalogue:
    async def test_a_community_admin_stocks_the_shelf(self, wishes, st, world):
        r = await wishes.post("/api/v1/catalogue", headers=st.admin, json={**ITEM, "description": "金龙鱼"})
        assert r.status_code == 201, r.text
        i = r.json()
        assert (i["name"], i["price"], i["stock"], i["active"], i["description"]) == (
            "食用油 5L",
            80,
            10,
            True,
            "金龙鱼",
        )
        r = await wishes.post(
            "/api/v1/catalogue", headers=st.district, json={**ITEM, "area_code": OTHER_COMMUNITY}
        )
        assert r.status_code == 201, r.text

    async def test_lists_by_community_and_state(self, wishes, st, shop):
        mine = await wishes.get("/api/v1/catalogue", headers=st.grid)
        assert [i["name"] for i in mine.json()["items"]] == ["洗衣液", "下架商品"]
        on_offer = await wishes.get("/api/v1/catalogue", headers=st.admin, params={"active": "true"})
        assert [i["name"] for i in on_offer.json()["items"]] == ["洗衣液"]
        district = await wishes.get(
            "/api/v1/catalogue", headers=st.district, params={"area_code": OTHER_COMMUNITY}
        )
        assert [i["name"] for i in district.json()["items"]] == ["大米"]
        assert (await wishes.get("/api/v1/catalogue", headers=st.mobile)).json()["total"] == 3
        assert (await wishes.get("/api/v1/catalogue", headers=st.liaison)).json()["total"] == 2
        assert (await wishes.get("/api/v1/catalogue", headers=st.other_admin)).json()["total"] == 1
        one = await wishes.get(f"/api/v1/catalogue/{shop.item.id}", headers=st.grid)
        assert one.json()["stock"] == 5

    async def test_an_item_changes_price_stock_and_state(self, wishes, st, shop):
        r = await wishes.patch(
            f"/api/v1/catalogue/{shop.item.id}",
            headers=st.admin,
            json={"price": 35, "stock": 20, "active": False},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["price"], r.json()["stock"], r.json()["active"]) == (35, 20, False)

    @pytest.mark.parametrize(
        "change",
        [
            {"price": 0},
            {"price": -5},
            {"stock": -1},
            {"area_code": STREET},
            {"name": ""},
            {"price": "abc"},
            {"id": 5},
        ],
    )
    async def test_bad_bodies_are_422(self, wishes, st, session, change):
        problem(await wishes.post("/api/v1/catalogue", headers=st.admin, json={**ITEM, **change}), 422)
        assert await count(session, CatalogueItem) == 0

    @pytest.mark.parametrize("change", [{"price": 0}, {"stock": -3}, {"name": None}])
    async def test_bad_changes_are_422(self, wishes, st, shop, session, change):
        problem(await wishes.patch(f"/api/v1/catalogue/{shop.item.id}", headers=st.admin, json=change), 422)
        assert await stock_of(session, shop.item.id) == 5

    async def test_a_community_the_registry_does_not_know_is_refused(self, wishes, st, world):
        r = await wishes.post(
            "/api/v1/catalogue", headers=st.district, json={**ITEM, "area_code": "320411009001"}
        )
        problem(r, 422, "area-not-found")

    async def test_refusals(self, wishes, st, shop, session):
        problem(await wishes.post("/api/v1/catalogue", headers=st.grid, json=ITEM), 403)
        problem(
            await wishes.post("/api/v1/catalogue", headers=st.other_admin, json=ITEM), 403, "out-of-scope"
        )
        problem(await wishes.post("/api/v1/catalogue", headers=st.liaison, json=ITEM), 403)
        problem(await wishes.post("/api/v1/catalogue", json=ITEM), 401)
        problem(
            await wishes.patch(
                f"/api/v1/catalogue/{shop.item.id}", headers=st.other_admin, json={"stock": 1}
            ),
            403,
        )
        problem(
            await wishes.patch("/api/v1/catalogue/999999", headers=st.admin, json={"stock": 1}),
            404,
            "item-not-found",
        )
        problem(await wishes.get("/api/v1/catalogue/999999", headers=st.admin), 404)
        problem(await wishes.get(f"/api/v1/catalogue/{shop.elsewhere.id}", headers=st.admin), 403)
        problem(await wishes.get("/api/v1/catalogue", headers=st.handler), 403)
        assert await count(session, CatalogueItem) == 3 and await stock_of(session, shop.item.id) == 5


# ---- redemptions -------------------------------------------------------------------------------------


async def redeem(client, headers, volunteer_id, item_id, quantity=1, key=None) -> httpx.Response:
    h = {**headers, **({"Idempotency-Key": key} if key else {})}
    body = {"volunteer_id": volunteer_id, "item_id": item_id, "quantity": quantity}
    return await client.post("/api/v1/redemptions", headers=h, json=body)


class TestRedeeming:
    async def test_the_counter_exchanges_points_for_goods_in_one_step(self, wishes, st, shop, session):
        r = await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 3)
        assert r.status_code == 201, r.text
        red = r.json()
        assert (red["item_name"], red["quantity"], red["points"], red["status"]) == (
            "洗衣液",
            3,
            90,
            "redeemed",
        )
        assert red["redeemed_by"] == "grid-w" and r.headers["location"] == f"/api/v1/redemptions/{red['id']}"
        assert "idempotent-replayed" not in r.headers
        assert await points_of(session, shop.vol.id) == 10
        assert await stock_of(session, shop.item.id) == 2
        entry = (
            (
                await session.execute(
                    select(PointsEntry)
                    .where(PointsEntry.volunteer_id == shop.vol.id)
                    .order_by(PointsEntry.id.desc())
                )
            )
            .scalars()
            .first()
        )
        assert (entry.kind, entry.delta, entry.balance_after, entry.redemption_id) == (
            "redeem",
            -90,
            10,
            red["id"],
        )

    async def test_the_mobile_app_redeems_for_a_volunteer(self, wishes, st, shop):
        r = await redeem(wishes, st.mobile, shop.far.id, shop.elsewhere.id, 5)
        assert r.status_code == 201, r.text
        assert r.json()["points"] == 50

    async def test_above_the_balance_is_409_and_takes_no_stock(self, wishes, st, shop, session):
        r = await redeem(wishes, st.admin, shop.vol.id, shop.item.id, 4)
        body = problem(r, 409, "insufficient-points")
        assert "100" in body["detail"] and "120" in body["detail"]
        assert (body["balance"], body["cost"]) == (100, 120)
        assert await stock_of(session, shop.item.id) == 5
        assert await points_of(session, shop.vol.id) == 100
        assert await ledger_of(session, shop.vol.id) == [("adjust", 100, 100)]
        assert await count(session, Redemption) == 0

    async def test_above_the_stock_is_409_and_takes_no_points(self, wishes, st, shop, session):
        await wishes.post(
            f"/api/v1/volunteers/{shop.vol.id}/adjustments",
            headers=st.admin,
            json={"delta": 900, "note": "年度表彰"},
        )
        body = problem(await redeem(wishes, st.admin, shop.vol.id, shop.item.id, 6), 409, "out-of-stock")
        assert body["stock"] == 5 and "5" in body["detail"]
        assert await points_of(session, shop.vol.id) == 1000
        assert await stock_of(session, shop.item.id) == 5
        assert await count(session, Redemption) == 0

    async def test_an_inactive_item_or_volunteer_is_422(self, wishes, st, shop, session):
        problem(await redeem(wishes, st.admin, shop.vol.id, shop.off.id), 422, "item-unavailable")
        await wishes.patch(f"/api/v1/volunteers/{shop.vol.id}", headers=st.admin, json={"active": False})
        problem(await redeem(wishes, st.admin, shop.vol.id, shop.item.id), 422, "volunteer-inactive")
        assert await points_of(session, shop.vol.id) == 100 and await stock_of(session, shop.off.id) == 5

    async def test_an_item_of_another_community_is_422(self, wishes, st, shop, session):
        r = await redeem(wishes, st.district, shop.vol.id, shop.elsewhere.id)
        assert OTHER_COMMUNITY in problem(r, 422, "item-unavailable")["detail"]
        assert (
            await points_of(session, shop.vol.id) == 100 and await stock_of(session, shop.elsewhere.id) == 5
        )

    @pytest.mark.parametrize("quantity", [0, -1, 101, 2.5])
    async def test_a_bad_quantity_is_422(self, wishes, st, shop, session, quantity):
        problem(await redeem(wishes, st.admin, shop.vol.id, shop.item.id, quantity), 422)
        assert await count(session, Redemption) == 0

    async def test_refusals(self, wishes, st, shop, session):
        problem(await redeem(wishes, st.other_admin, shop.vol.id, shop.item.id), 403, "out-of-scope")
        problem(await redeem(wishes, st.far_grid, shop.vol.id, shop.item.id), 403, "out-of-scope")
        problem(await redeem(wishes, st.liaison, shop.vol.id, shop.item.id), 403)
        problem(await redeem(wishes, st.handler, shop.vol.id, shop.item.id), 403)
        problem(await redeem(wishes, {}, shop.vol.id, shop.item.id), 401)
        problem(await redeem(wishes, st.admin, 999_999, shop.item.id), 404, "volunteer-not-found")
        problem(await redeem(wishes, st.admin, shop.vol.id, 999_999), 404, "item-not-found")
        assert await count(session, Redemption) == 0 and await points_of(session, shop.vol.id) == 100


class TestIdempotentRedemption:
    async def test_a_retry_with_the_same_key_returns_the_same_redemption_once_charged(
        self, wishes, st, shop, session
    ):
        first = await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 2, key="counter-0001-abcd")
        assert first.status_code == 201, first.text
        again = await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 2, key="counter-0001-abcd")
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert await points_of(session, shop.vol.id) == 40 and await stock_of(session, shop.item.id) == 3
        assert await count(session, Redemption) == 1

    async def test_the_same_key_for_a_different_request_is_422(self, wishes, st, shop, session):
        await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 1, key="counter-0002-abcd")
        r = await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 2, key="counter-0002-abcd")
        problem(r, 422, "idempotency-key-reused")
        assert await points_of(session, shop.vol.id) == 70

    async def test_a_new_key_is_a_new_redemption(self, wishes, st, shop, session):
        await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 1, key="counter-0003-abcd")
        r = await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 1, key="counter-0004-abcd")
        assert r.status_code == 201
        assert await count(session, Redemption) == 2

    async def test_a_malformed_key_is_422(self, wishes, st, shop):
        problem(await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 1, key="short"), 422)
        problem(await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 1, key="x" * 101), 422)


class TestReadingRedemptions:
    async def test_lists_and_filters(self, wishes, st, shop):
        a = (await redeem(wishes, st.grid, shop.vol.id, shop.item.id)).json()
        b = (await redeem(wishes, st.mobile, shop.far.id, shop.elsewhere.id)).json()
        mine = await wishes.get("/api/v1/redemptions", headers=st.admin)
        assert [x["id"] for x in mine.json()["items"]] == [a["id"]]
        everything = await wishes.get("/api/v1/redemptions", headers=st.district)
        assert [x["id"] for x in everything.json()["items"]] == [b["id"], a["id"]]
        by_area = await wishes.get(
            "/api/v1/redemptions", headers=st.mobile, params={"area_code": OTHER_COMMUNITY}
        )
        assert [x["id"] for x in by_area.json()["items"]] == [b["id"]]
        by_vol = await wishes.get(
            "/api/v1/redemptions", headers=st.district, params={"volunteer_id": shop.vol.id}
        )
        assert [x["id"] for x in by_vol.json()["items"]] == [a["id"]]
        by_item = await wishes.get(
            "/api/v1/redemptions", headers=st.district, params={"item_id": shop.elsewhere.id}
        )
        assert [x["id"] for x in by_item.json()["items"]] == [b["id"]]
        unit = await wishes.get("/api/v1/redemptions", headers=st.liaison)
        assert [x["id"] for x in unit.json()["items"]] == [a["id"]]
        assert (await wishes.get(f"/api/v1/redemptions/{a['id']}", headers=st.grid)).json() == a
        assert (await wishes.get(f"/api/v1/redemptions/{a['id']}", headers=st.liaison)).status_code == 200
        problem(await wishes.get(f"/api/v1/redemptions/{a['id']}", headers=st.other_admin), 403)
        problem(await wishes.get(f"/api/v1/redemptions/{b['id']}", headers=st.liaison), 403)
        problem(await wishes.get("/api/v1/redemptions/999999", headers=st.admin), 404, "redemption-not-found")
        problem(await wishes.get("/api/v1/redemptions", headers=st.handler), 403)
        problem(await wishes.get("/api/v1/redemptions"), 401)


class TestCancelling:
    async def test_a_cancel_refunds_the_points_and_returns_the_stock(self, wishes, st, shop, session):
        red = (await redeem(wishes, st.grid, shop.vol.id, shop.item.id, 2)).json()
        r = await wishes.post(
            f"/api/v1/redemptions/{red['id']}/cancel", headers=st.admin, json={"note": "货品缺货未领取"}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["cancel_reason"]) == ("cancelled", "货品缺货未领取")
        assert r.json()["cancelled_at"]
        assert await points_of(session, shop.vol.id) == 100 and await stock_of(session, shop.item.id) == 5
        assert await ledger_of(session, shop.vol.id) == [
            ("adjust", 100, 100),
            ("redeem", -60, 40),
            ("refund", 60, 100),
        ]
        refund = (await session.execute(select(PointsEntry).where(PointsEntry.kind == "refund"))).scalar_one()
        assert refund.redemption_id == red["id"] and "货品缺货未领取" in refund.note

    async def test_cancelling_twice_is_409_and_refunds_once(self, wishes, st, shop, session):
        red = (await redeem(wishes, st.grid, shop.vol.id, shop.item.id)).json()
        url = f"/api/v1/redemptions/{red['id']}/cancel"
        assert (await wishes.post(url, headers=st.grid, json={"note": "取消兑换"})).status_code == 200
        problem(
            await wishes.post(url, headers=st.grid, json={"note": "再取消"}),
            409,
            "redemption-already-cancelled",
        )
        assert await points_of(session, shop.vol.id) == 100 and await stock_of(session, shop.item.id) == 5

    async def test_refusals(self, wishes, st, shop, session):
        red = (await redeem(wishes, st.grid, shop.vol.id, shop.item.id)).json()
        url = f"/api/v1/redemptions/{red['id']}/cancel"
        problem(await wishes.post(url, headers=st.grid, json={}), 422)
        problem(await wishes.post(url, headers=st.grid, json={"note": " "}), 422)
        problem(await wishes.post(url, headers=st.other_admin, json={"note": "取消兑换"}), 403)
        problem(await wishes.post(url, headers=st.liaison, json={"note": "取消兑换"}), 403)
        problem(await wishes.post(url, json={"note": "取消兑换"}), 401)
        problem(
            await wishes.post(
                "/api/v1/redemptions/999999/cancel", headers=st.grid, json={"note": "取消兑换"}
            ),
            404,
        )
        assert await points_of(session, shop.vol.id) == 70
        assert (await session.execute(select(Redemption.status))).scalar_one() == "redeemed"


# ---- earning through the wish flow -------------------------------------------------------------------


class TestEarningWhenAWishCloses:
    async def test_closing_a_wish_pays_the_volunteers_who_served_by_the_rules(
        self, wishes, st, token, world, shop, session
    ):
        session.add_all(
            [
                PointsRule(name="每单", points=10, created_by="t"),
                PointsRule(name="助老每小时", category="助老", points_per_hour=4, created_by="t"),
                PointsRule(name="助学", category="助学", points=100, created_by="t"),
            ]
        )
        await session.commit()
        a = Actors(token)
        wid = (await submit(wishes, a.grid, world.residents[0].id))["id"]
        await ok(wishes, a.grid, wid, "approve")
        await ok(wishes, a.grid, wid, "publish")
        await ok(wishes, a.liaison, wid, "claim")
        await ok(wishes, a.liaison, wid, "start")
        photo = await upload_photo(wishes, a.liaison)
        await ok(
            wishes,
            a.liaison,
            wid,
            "complete",
            {
                "note": "已送达",
                "proof_photo_ids": [photo],
                "served": [{"volunteer_id": shop.vol.id, "hours": 2.5}],
            },
        )
        await ok(wishes, a.mobile, wid, "confirm", {"resident_id": world.residents[0].id})
        await ok(wishes, a.grid, wid, "close")
        # 10 for the wish + ⌊4 × 2.5⌋ for the hours; the 助学 rule does not apply
        assert await points_of(session, shop.vol.id) == 120
        ledger = (await wishes.get(f"/api/v1/volunteers/{shop.vol.id}/ledger", headers=st.admin)).json()[
            "items"
        ]
        assert (ledger[0]["kind"], ledger[0]["delta"], ledger[0]["wish_id"]) == ("earn", 20, wid)
        assert f"#{wid}" in ledger[0]["note"]
