"""Member units (大党委成员单位) and their three lists through the API: units, resources (资源清单), needs
(需求清单), projects (项目清单) with progress and review, and the units suggested for a wish."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from services.wishes.models import CommunityNeed, MemberUnit, Project, ProjectProgress, UnitResource, Wish
from services.wishes.units import service as svc
from tests.wishes.builders import COMMUNITY, GRID, OTHER_COMMUNITY, STREET, make_unit

PROBLEM = "application/problem+json"
PROBLEMS = "https://gridgov.example.org/problems/"
NOW, NEXT = svc.current_period(), svc.next_period(svc.current_period())
PAST = svc.previous_period(NOW)


class Who:
    """Headers for everyone who touches units (from the conftest `token` factory)."""

    def __init__(self, token: Any) -> None:
        self.token = token
        self.admin = token("community_admin", COMMUNITY, username="comm-admin")
        self.other_admin = token("community_admin", OTHER_COMMUNITY, username="chunjiang-admin")
        self.street = token("street_dispatcher", STREET, username="street")
        self.district = token("district_admin", "320411", username="district")
        self.grid = token("grid_worker", GRID, username="grid-w")
        self.handler = token("department_handler", "CGJ", username="cgj")
        self.mobile = token("service", username="svc-mobile")

    def liaison(self, code: str) -> dict[str, str]:
        return self.token("unit_liaison", code, username=f"liaison-{code}")


@pytest.fixture
def who(token) -> Who:
    return Who(token)


@pytest.fixture
async def units(session, world) -> dict[str, MemberUnit]:
    """MU001 and MU002 of 龙锦 community, ST001 of its street (三井街道), CJ001 of 春江 community."""
    out = {
        "MU001": await make_unit(session, "MU001", name="龙锦社区卫生服务站", kind="企事业单位"),
        "MU002": await make_unit(session, "MU002", name="龙锦幼儿园", kind="企事业单位"),
        "ST001": await make_unit(session, "ST001", area_code=STREET, name="三井街道团工委", kind="群团组织"),
        "CJ001": await make_unit(session, "CJ001", area_code=OTHER_COMMUNITY, name="春江超市", kind="商户"),
    }
    await session.commit()
    return out


def problem(r, status: int, kind: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["detail"], body
    if kind:
        assert body["type"] == PROBLEMS + kind, body
    return body


async def count(session, model, *where) -> int:
    return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


def new_wish(**kw: Any) -> Wish:
    values: dict[str, Any] = {
        "status": "published",
        "category": "助老",
        "title": "需要一台轮椅",
        "description": "老伴中风后行动不便",
        "estimated_value": Decimal("600"),
        "source": "grid_worker",
        "resident_id": 1,
        "household_id": 1,
        "resident_name": "张三",
        "area_code": GRID + "001",
        "grid_code": GRID,
        "community_code": COMMUNITY,
        "submitted_by": "grid-w",
        "served": [],
    }
    values.update(kw)
    if values.get("claimant_unit_id"):
        values.setdefault("claimant_kind", "unit")
    return Wish(**values)


def resource(
    kind: str = "志愿服务", title: str = "志愿服务队", categories: list[str] | None = None, **kw: Any
):
    return {"kind": kind, "title": title, "categories": categories or ["助老"], **kw}


UNIT_BODY = {"code": "MU100", "name": "龙锦物业服务中心", "kind": "企事业单位", "area_code": COMMUNITY}


# ---- units ------------------------------------------------------------------------------------------


class TestRegisterUnit:
    async def test_a_community_admin_registers_a_unit_with_the_registrys_area_name(
        self, wishes, who, world, session
    ):
        body = {**UNIT_BODY, "contact_name": "王经理", "contact_phone": "139 1234 5678", "party_members": 12}
        r = await wishes.post("/api/v1/units", headers=who.admin, json=body)
        assert r.status_code == 201, r.text
        u = r.json()
        assert u["code"] == "MU100" and u["area_name"] == "龙锦社区" and u["active"] is True
        assert u["contact_phone"] == "13912345678" and u["party_members"] == 12
        assert (u["period"], u["resources"], u["open_claims"], u["review_score"]) == (NOW, 0, 0, None)
        assert await count(session, MemberUnit, MemberUnit.code == "MU100") == 1

    async def test_a_street_dispatcher_registers_a_unit_of_the_street_committee(self, wishes, who, world):
        r = await wishes.post("/api/v1/units", headers=who.street, json={**UNIT_BODY, "area_code": STREET})
        assert r.status_code == 201, r.text
        assert r.json()["area_name"] == "三井街道"

    async def test_an_area_the_registry_does_not_know_is_422_and_nothing_is_written(
        self, wishes, who, world, session
    ):
        r = await wishes.post(
            "/api/v1/units", headers=who.street, json={**UNIT_BODY, "area_code": "320411001099"}
        )
        assert "320411001099" in problem(r, 422, "area-unknown")["detail"]
        assert await count(session, MemberUnit) == 0

    async def test_a_unit_joins_a_community_or_street_not_a_grid_or_district(self, wishes, who, world):
        for code in (GRID, "320411"):
            problem(
                await wishes.post(
                    "/api/v1/units", headers=who.district, json={**UNIT_BODY, "area_code": code}
                ),
                422,
            )

    async def test_an_area_outside_the_callers_scope_is_403(self, wishes, who, world, session):
        r = await wishes.post(
            "/api/v1/units", headers=who.admin, json={**UNIT_BODY, "area_code": OTHER_COMMUNITY}
        )
        problem(r, 403, "out-of-scope")
        assert await count(session, MemberUnit) == 0

    async def test_grid_workers_liaisons_handlers_and_services_may_not_register(self, wishes, who, units):
        for headers in (who.grid, who.liaison("MU001"), who.handler, who.mobile):
            problem(await wishes.post("/api/v1/units", headers=headers, json=UNIT_BODY), 403)

    async def test_a_taken_code_is_409(self, wishes, who, units, session):
        r = await wishes.post("/api/v1/units", headers=who.admin, json={**UNIT_BODY, "code": "MU001"})
        assert "MU001" in problem(r, 409, "unit-code-taken")["detail"]
        assert await count(session, MemberUnit, MemberUnit.code == "MU001") == 1

    @pytest.mark.parametrize(
        "change",
        [
            {"code": "mu-1"},
            {"code": "M"},
            {"kind": "个体户"},
            {"name": "  "},
            {"contact_phone": "12345"},
            {"party_members": -1},
            {"name": "单位\x00"},
            {"active": False},  # not a field of a new unit
        ],
    )
    async def test_bad_bodies_are_422(self, wishes, who, world, session, change):
        problem(await wishes.post("/api/v1/units", headers=who.admin, json={**UNIT_BODY, **change}), 422)
        assert await count(session, MemberUnit) == 0

    async def test_no_token_is_401(self, wishes, world):
        problem(await wishes.post("/api/v1/units", json=UNIT_BODY), 401)
        problem(await wishes.get("/api/v1/units"), 401)


class TestReadUnits:
    async def test_a_unit_shows_its_current_resources_open_claims_and_review_score(
        self, wishes, who, units, session
    ):
        u = units["MU001"]
        session.add_all(
            [
                UnitResource(
                    unit_id=u.id, period=NOW, kind="志愿服务", title="义诊", categories=["医疗健康"]
                ),
                UnitResource(unit_id=u.id, period=NOW, kind="物资", title="轮椅", categories=["助老"]),
                UnitResource(unit_id=u.id, period=PAST, kind="物资", title="旧的", categories=["助老"]),
                Project(
                    area_code=COMMUNITY,
                    year=2026,
                    title="A",
                    status="done",
                    unit_id=u.id,
                    review_score=Decimal(80),
                    created_by="t",
                ),
                Project(
                    area_code=COMMUNITY,
                    year=2026,
                    title="B",
                    status="done",
                    unit_id=u.id,
                    review_score=Decimal(91),
                    created_by="t",
                ),
                Project(
                    area_code=COMMUNITY, year=2027, title="C", status="claimed", unit_id=u.id, created_by="t"
                ),
                new_wish(status="claimed", claimant_unit_id=u.id),
                new_wish(status="in_progress", claimant_unit_id=u.id),
                new_wish(status="closed", claimant_unit_id=u.id),
                new_wish(status="claimed", claimant_unit_id=units["MU002"].id),
            ]
        )
        await session.commit()
        r = await wishes.get(f"/api/v1/units/{u.id}", headers=who.grid)
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["resources"], got["open_claims"], got["reviewed_projects"]) == (2, 2, 2)
        assert Decimal(got["review_score"]) == Decimal("85.50")

    async def test_an_unknown_unit_is_404(self, wishes, who, units):
        problem(await wishes.get("/api/v1/units/999999", headers=who.admin), 404, "unit-not-found")

    async def test_a_unit_outside_the_callers_area_is_403(self, wishes, who, units):
        problem(
            await wishes.get(f"/api/v1/units/{units['MU001'].id}", headers=who.other_admin),
            403,
            "out-of-scope",
        )
        problem(await wishes.get(f"/api/v1/units/{units['MU001'].id}", headers=who.liaison("CJ001")), 403)
        problem(
            await wishes.get(f"/api/v1/units/{units['MU001'].id}", headers=who.handler),
            403,
            "action-forbidden",
        )

    async def test_area_staff_see_the_units_of_their_community_and_of_the_street_around_it(
        self, wishes, who, units
    ):
        codes = lambda r: [u["code"] for u in r.json()["items"]]  # noqa: E731
        r = await wishes.get("/api/v1/units", headers=who.grid)
        assert codes(r) == ["ST001", "MU001", "MU002"] and r.json()["total"] == 3
        assert codes(await wishes.get("/api/v1/units", headers=who.other_admin)) == ["CJ001"]
        assert len(codes(await wishes.get("/api/v1/units", headers=who.district))) == 4
        assert len(codes(await wishes.get("/api/v1/units", headers=who.mobile))) == 4
        # a liaison: the units related to its committee's area
        assert codes(await wishes.get("/api/v1/units", headers=who.liaison("MU002"))) == [
            "ST001",
            "MU001",
            "MU002",
        ]
        assert codes(await wishes.get("/api/v1/units", headers=who.liaison("ST001"))) == [
            "ST001",
            "MU001",
            "MU002",
        ]

    async def test_filters_by_area_kind_name_and_active(self, wishes, who, units, session):
        units["MU002"].active = False
        await session.commit()

        async def codes(**params: Any) -> list[str]:
            r = await wishes.get("/api/v1/units", headers=who.district, params=params)
            assert r.status_code == 200, r.text
            return [u["code"] for u in r.json()["items"]]

        assert await codes(area_code=COMMUNITY) == ["ST001", "MU001", "MU002"]  # inside it, or containing it
        assert await codes(area_code=GRID) == ["ST001", "MU001", "MU002"]
        assert await codes(area_code=OTHER_COMMUNITY) == ["CJ001"]
        assert await codes(kind="商户") == ["CJ001"]
        assert await codes(q="卫生") == ["MU001"]
        assert await codes(q="st001") == ["ST001"]
        assert await codes(active="false") == ["MU002"]
        assert len(await codes(active="true")) == 3

    async def test_an_area_filter_outside_scope_is_403_and_a_bad_one_422(self, wishes, who, units):
        problem(
            await wishes.get("/api/v1/units", headers=who.admin, params={"area_code": OTHER_COMMUNITY}), 403
        )
        problem(await wishes.get("/api/v1/units", headers=who.admin, params={"area_code": "12ab"}), 422)
        problem(await wishes.get("/api/v1/units", headers=who.admin, params={"kind": "个体户"}), 422)


class TestUpdateUnit:
    async def test_a_manager_changes_name_kind_and_retires_a_unit(self, wishes, who, units):
        u = units["MU001"]
        r = await wishes.patch(
            f"/api/v1/units/{u.id}",
            headers=who.admin,
            json={"name": "龙锦医院", "kind": "党政机关", "active": False},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["kind"], r.json()["active"]) == ("龙锦医院", "党政机关", False)

    async def test_a_street_dispatcher_moves_a_unit_to_the_street_committee(self, wishes, who, units):
        r = await wishes.patch(
            f"/api/v1/units/{units['MU001'].id}", headers=who.street, json={"area_code": STREET}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["area_code"], r.json()["area_name"]) == (STREET, "三井街道")

    async def test_moving_to_an_unknown_or_foreign_area_is_refused(self, wishes, who, units, session):
        u = units["MU001"]
        problem(
            await wishes.patch(
                f"/api/v1/units/{u.id}", headers=who.admin, json={"area_code": OTHER_COMMUNITY}
            ),
            403,
        )
        problem(
            await wishes.patch(
                f"/api/v1/units/{u.id}", headers=who.street, json={"area_code": "320411001077"}
            ),
            422,
            "area-unknown",
        )
        await session.refresh(u)
        assert u.area_code == COMMUNITY

    async def test_a_liaison_changes_its_own_units_contact_and_address(self, wishes, who, units):
        u = units["MU001"]
        body = {"contact_name": "李护士长", "contact_phone": "0519-85123456", "address": "龙锦路 8 号"}
        r = await wishes.patch(f"/api/v1/units/{u.id}", headers=who.liaison("MU001"), json=body)
        assert r.status_code == 200, r.text
        assert {k: r.json()[k] for k in body} == {**body, "contact_phone": "0519-85123456"}

    @pytest.mark.parametrize(
        "change", [{"kind": "商户"}, {"active": False}, {"area_code": STREET}, {"name": "新名"}]
    )
    async def test_a_liaison_may_not_change_what_the_committee_decides(
        self, wishes, who, units, session, change
    ):
        u = units["MU001"]
        r = await wishes.patch(
            f"/api/v1/units/{u.id}", headers=who.liaison("MU001"), json={**change, "contact_name": "某"}
        )
        assert next(iter(change)) in problem(r, 403, "action-forbidden")["detail"]
        await session.refresh(u)
        assert (u.kind, u.active, u.area_code, u.contact_name) == ("企事业单位", True, COMMUNITY, "")

    async def test_a_liaison_of_another_unit_may_not_change_it(self, wishes, who, units):
        r = await wishes.patch(
            f"/api/v1/units/{units['MU001'].id}", headers=who.liaison("MU002"), json={"address": "x"}
        )
        problem(r, 403, "out-of-scope")

    async def test_the_code_is_fixed_and_required_fields_cannot_be_nulled(self, wishes, who, units):
        u = units["MU001"]
        problem(await wishes.patch(f"/api/v1/units/{u.id}", headers=who.admin, json={"code": "MU009"}), 422)
        problem(await wishes.patch(f"/api/v1/units/{u.id}", headers=who.admin, json={"name": None}), 422)

    async def test_grid_workers_may_not_change_units_and_unknown_ones_are_404(self, wishes, who, units):
        problem(
            await wishes.patch(f"/api/v1/units/{units['MU001'].id}", headers=who.grid, json={"address": "x"}),
            403,
        )
        problem(await wishes.patch("/api/v1/units/999999", headers=who.admin, json={"address": "x"}), 404)


# ---- resources --------------------------------------------------------------------------------------


class TestResources:
    async def test_a_liaison_replaces_its_units_list_for_the_half_year(self, wishes, who, units, session):
        u, h = units["MU001"], who.liaison("MU001")
        first = [
            resource("物资", "轮椅借用", ["助老", "助残", "助老"], capacity="10 台"),
            resource("场地", "会议室", ["其他"]),
        ]
        r = await wishes.put(f"/api/v1/units/{u.id}/resources/{NOW}", headers=h, json=first)
        assert r.status_code == 200, r.text
        assert [(x["title"], x["categories"], x["period"]) for x in r.json()] == [
            ("轮椅借用", ["助老", "助残"], NOW),
            ("会议室", ["其他"], NOW),
        ]
        r = await wishes.put(
            f"/api/v1/units/{u.id}/resources/{NOW}",
            headers=h,
            json=[resource("医疗健康", "义诊", ["医疗健康"])],
        )
        assert [x["title"] for x in r.json()] == ["义诊"]
        got = await wishes.get(f"/api/v1/units/{u.id}/resources", headers=who.grid)
        assert [x["title"] for x in got.json()] == ["义诊"]
        assert await count(session, UnitResource) == 1

    async def test_the_next_half_year_may_be_prepared_and_read_by_period(self, wishes, who, units):
        u = units["MU001"]
        r = await wishes.put(f"/api/v1/units/{u.id}/resources/{NEXT}", headers=who.street, json=[resource()])
        assert r.status_code == 200, r.text
        assert (await wishes.get(f"/api/v1/units/{u.id}/resources", headers=who.admin)).json() == []
        later = await wishes.get(
            f"/api/v1/units/{u.id}/resources", headers=who.admin, params={"period": NEXT}
        )
        assert [x["period"] for x in later.json()] == [NEXT]

    async def test_an_empty_list_clears_the_half_year(self, wishes, who, units, session):
        u = units["MU001"]
        await wishes.put(f"/api/v1/units/{u.id}/resources/{NOW}", headers=who.admin, json=[resource()])
        r = await wishes.put(f"/api/v1/units/{u.id}/resources/{NOW}", headers=who.admin, json=[])
        assert r.status_code == 200 and r.json() == []
        assert await count(session, UnitResource) == 0

    async def test_a_past_half_year_is_history_409_and_is_left_as_it_was(self, wishes, who, units, session):
        u = units["MU001"]
        session.add(UnitResource(unit_id=u.id, period=PAST, kind="物资", title="去年的", categories=["助老"]))
        await session.commit()
        r = await wishes.put(
            f"/api/v1/units/{u.id}/resources/{PAST}", headers=who.liaison("MU001"), json=[resource()]
        )
        assert PAST in problem(r, 409, "period-closed")["detail"]
        assert [x.title for x in (await session.execute(select(UnitResource))).scalars()] == ["去年的"]

    async def test_beyond_the_next_half_year_is_422(self, wishes, who, units):
        far = svc.next_period(NEXT)
        problem(
            await wishes.put(
                f"/api/v1/units/{units['MU001'].id}/resources/{far}", headers=who.admin, json=[]
            ),
            422,
        )

    @pytest.mark.parametrize("period", ["2026H3", "2026h2", "26H1", "2026-H1"])
    async def test_a_malformed_period_is_422(self, wishes, who, units, period):
        u = units["MU001"]
        problem(await wishes.put(f"/api/v1/units/{u.id}/resources/{period}", headers=who.admin, json=[]), 422)
        problem(
            await wishes.get(f"/api/v1/units/{u.id}/resources", headers=who.admin, params={"period": period}),
            422,
        )

    @pytest.mark.parametrize(
        "bad",
        [
            {"categories": []},
            {"categories": ["养宠"]},
            {"kind": "房产"},
            {"title": ""},
            {"capacity": "x" * 101},
            {"owner": "me"},
        ],
    )
    async def test_bad_resources_are_422_and_nothing_is_replaced(self, wishes, who, units, session, bad):
        u = units["MU001"]
        session.add(UnitResource(unit_id=u.id, period=NOW, kind="物资", title="在册", categories=["助老"]))
        await session.commit()
        r = await wishes.put(
            f"/api/v1/units/{u.id}/resources/{NOW}",
            headers=who.admin,
            json=[resource(), {**resource(), **bad}],
        )
        problem(r, 422)
        assert await count(session, UnitResource) == 1

    async def test_only_the_units_liaison_or_its_area_managers_write(self, wishes, who, units, session):
        u = units["MU001"]
        url = f"/api/v1/units/{u.id}/resources/{NOW}"
        problem(await wishes.put(url, headers=who.liaison("MU002"), json=[resource()]), 403, "out-of-scope")
        problem(await wishes.put(url, headers=who.liaison("CJ001"), json=[resource()]), 403, "out-of-scope")
        problem(await wishes.put(url, headers=who.grid, json=[resource()]), 403, "action-forbidden")
        problem(await wishes.put(url, headers=who.other_admin, json=[resource()]), 403, "out-of-scope")
        problem(await wishes.put(url, headers=who.mobile, json=[resource()]), 403, "action-forbidden")
        problem(await wishes.put(url, json=[resource()]), 401)
        problem(await wishes.put(f"/api/v1/units/999999/resources/{NOW}", headers=who.admin, json=[]), 404)
        assert await count(session, UnitResource) == 0

    async def test_one_line_is_deleted_but_not_from_history_or_another_unit(
        self, wishes, who, units, session
    ):
        u, other = units["MU001"], units["MU002"]
        rows = [
            UnitResource(unit_id=u.id, period=NOW, kind="物资", title="当期", categories=["助老"]),
            UnitResource(unit_id=u.id, period=PAST, kind="物资", title="往期", categories=["助老"]),
            UnitResource(unit_id=other.id, period=NOW, kind="物资", title="别家", categories=["助老"]),
        ]
        session.add_all(rows)
        await session.commit()
        now_id, past_id, other_id = (x.id for x in rows)
        h = who.liaison("MU001")
        problem(
            await wishes.delete(f"/api/v1/units/{u.id}/resources/{past_id}", headers=h), 409, "period-closed"
        )
        problem(
            await wishes.delete(f"/api/v1/units/{u.id}/resources/{other_id}", headers=h),
            404,
            "resource-not-found",
        )
        problem(await wishes.delete(f"/api/v1/units/{other.id}/resources/{other_id}", headers=h), 403)
        assert (await wishes.delete(f"/api/v1/units/{u.id}/resources/{now_id}", headers=h)).status_code == 204
        left = {x.title for x in (await session.execute(select(UnitResource))).scalars()}
        assert left == {"往期", "别家"}


class TestPooledResources:
    @pytest.fixture
    async def pool(self, session, units):
        mu1, mu2, st, cj = (units[c] for c in ("MU001", "MU002", "ST001", "CJ001"))
        session.add_all(
            [
                UnitResource(
                    unit_id=mu1.id, period=NOW, kind="医疗健康", title="义诊", categories=["医疗健康", "助老"]
                ),
                UnitResource(
                    unit_id=mu2.id, period=NOW, kind="教育培训", title="四点半课堂", categories=["助学"]
                ),
                UnitResource(
                    unit_id=st.id,
                    period=NOW,
                    kind="志愿服务",
                    title="青年志愿者",
                    categories=["助老", "生活服务"],
                ),
                UnitResource(unit_id=cj.id, period=NOW, kind="物资", title="米面油", categories=["助困"]),
                UnitResource(unit_id=mu1.id, period=PAST, kind="物资", title="往期", categories=["助老"]),
            ]
        )
        await session.commit()

    async def titles(self, wishes, headers, **params: Any) -> list[str]:
        r = await wishes.get("/api/v1/resources", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return [x["title"] for x in r.json()["items"]]

    async def test_the_committee_pools_the_current_lists_of_its_units(self, wishes, who, pool):
        r = await wishes.get("/api/v1/resources", headers=who.admin)
        items = r.json()["items"]
        assert [x["title"] for x in items] == ["青年志愿者", "义诊", "四点半课堂"] and r.json()["total"] == 3
        assert items[1]["unit"]["code"] == "MU001" and items[1]["unit"]["area_name"] == ""
        assert await self.titles(wishes, who.liaison("CJ001")) == ["米面油"]
        assert await self.titles(wishes, who.admin, period=PAST) == ["往期"]

    async def test_filters_by_category_kind_and_area(self, wishes, who, pool, units, session):
        assert await self.titles(wishes, who.district, category="助老") == ["青年志愿者", "义诊"]
        assert await self.titles(wishes, who.district, kind="物资") == ["米面油"]
        assert await self.titles(wishes, who.district, area_code=OTHER_COMMUNITY) == ["米面油"]
        units["ST001"].active = False
        await session.commit()
        assert await self.titles(wishes, who.district, category="助老") == ["义诊"]

    async def test_refusals(self, wishes, who, pool):
        problem(
            await wishes.get("/api/v1/resources", headers=who.admin, params={"area_code": OTHER_COMMUNITY}),
            403,
        )
        problem(await wishes.get("/api/v1/resources", headers=who.admin, params={"category": "养宠"}), 422)
        problem(await wishes.get("/api/v1/resources", headers=who.handler), 403)
        problem(await wishes.get("/api/v1/resources"), 401)


# ---- needs ------------------------------------------------------------------------------------------

NEED = {
    "area_code": COMMUNITY,
    "category": "助老",
    "title": "老年助餐点",
    "description": "独居老人吃饭难",
    "households": 23,
}


class TestNeeds:
    async def new(self, wishes, headers, **kw: Any) -> dict[str, Any]:
        r = await wishes.post("/api/v1/needs", headers=headers, json={**NEED, **kw})
        assert r.status_code == 201, r.text
        return r.json()

    async def test_a_grid_worker_adds_a_need_of_its_community(self, wishes, who, units):
        n = await self.new(wishes, who.grid, source="议事会")
        assert (n["status"], n["source"], n["households"], n["unit_id"], n["created_by"]) == (
            "open",
            "议事会",
            23,
            None,
            "grid-w",
        )

    async def test_who_may_add_and_where(self, wishes, who, units, session):
        problem(await wishes.post("/api/v1/needs", headers=who.other_admin, json=NEED), 403, "out-of-scope")
        problem(
            await wishes.post("/api/v1/needs", headers=who.liaison("MU001"), json=NEED),
            403,
            "action-forbidden",
        )
        problem(await wishes.post("/api/v1/needs", headers=who.mobile, json=NEED), 403)
        problem(await wishes.post("/api/v1/needs", json=NEED), 401)
        problem(
            await wishes.post(
                "/api/v1/needs", headers=who.street, json={**NEED, "area_code": "320411001055"}
            ),
            422,
            "area-unknown",
        )
        for bad in (
            {"area_code": STREET},
            {"category": "养宠"},
            {"households": -1},
            {"title": " "},
            {"status": "met"},
        ):
            problem(await wishes.post("/api/v1/needs", headers=who.admin, json={**NEED, **bad}), 422)
        assert await count(session, CommunityNeed) == 0

    async def test_staff_match_a_unit_of_the_committee_then_mark_it_met(self, wishes, who, units):
        n = await self.new(wishes, who.admin)
        r = await wishes.patch(
            f"/api/v1/needs/{n['id']}", headers=who.grid, json={"unit_id": units["ST001"].id}
        )
        assert (r.json()["status"], r.json()["unit_name"]) == ("matched", "三井街道团工委")
        r = await wishes.patch(
            f"/api/v1/needs/{n['id']}", headers=who.admin, json={"status": "met", "households": 30}
        )
        assert (r.json()["status"], r.json()["households"], r.json()["unit_id"]) == (
            "met",
            30,
            units["ST001"].id,
        )
        r = await wishes.patch(f"/api/v1/needs/{n['id']}", headers=who.admin, json={"status": "open"})
        assert (r.json()["status"], r.json()["unit_id"]) == ("open", None)

    async def test_staff_may_not_match_a_unit_of_another_committee_or_contradict_themselves(
        self, wishes, who, units, session
    ):
        n = await self.new(wishes, who.admin)
        url = f"/api/v1/needs/{n['id']}"
        problem(
            await wishes.patch(url, headers=who.admin, json={"unit_id": units["CJ001"].id}),
            422,
            "action-invalid",
        )
        problem(await wishes.patch(url, headers=who.admin, json={"unit_id": 999999}), 422)
        problem(await wishes.patch(url, headers=who.admin, json={"status": "matched"}), 422)
        problem(
            await wishes.patch(url, headers=who.admin, json={"status": "open", "unit_id": units["MU001"].id}),
            422,
        )
        problem(await wishes.patch(url, headers=who.admin, json={"status": "done"}), 422)
        problem(await wishes.patch(url, headers=who.other_admin, json={"status": "dropped"}), 403)
        need = await session.get(CommunityNeed, n["id"])
        await session.refresh(need)
        assert (need.status, need.unit_id) == ("open", None)

    async def test_a_liaison_takes_up_an_open_need_and_the_next_one_finds_it_taken(self, wishes, who, units):
        n = await self.new(wishes, who.admin)
        url = f"/api/v1/needs/{n['id']}"
        r = await wishes.patch(url, headers=who.liaison("MU002"), json={"unit_id": units["MU002"].id})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["unit_id"]) == ("matched", units["MU002"].id)
        r = await wishes.patch(url, headers=who.liaison("MU001"), json={"unit_id": units["MU001"].id})
        assert "matched" in problem(r, 409, "need-not-open")["detail"]

    async def test_a_liaison_takes_up_only_for_its_unit_and_changes_nothing_else(
        self, wishes, who, units, session
    ):
        n = await self.new(wishes, who.admin)
        url, h = f"/api/v1/needs/{n['id']}", who.liaison("MU001")
        problem(await wishes.patch(url, headers=h, json={"unit_id": units["MU002"].id}), 403, "out-of-scope")
        problem(
            await wishes.patch(url, headers=h, json={"unit_id": units["MU001"].id, "households": 1}),
            403,
            "action-forbidden",
        )
        problem(await wishes.patch(url, headers=h, json={"status": "met"}), 403, "action-forbidden")
        problem(
            await wishes.patch(url, headers=who.liaison("CJ001"), json={"unit_id": units["CJ001"].id}),
            403,
            "out-of-scope",
        )
        problem(
            await wishes.patch("/api/v1/needs/999999", headers=h, json={"unit_id": units["MU001"].id}),
            404,
            "need-not-found",
        )
        need = await session.get(CommunityNeed, n["id"])
        await session.refresh(need)
        assert (need.status, need.unit_id, need.households) == ("open", None, 23)

    async def test_the_list_filters_and_shows_each_caller_its_communities(self, wishes, who, units):
        await self.new(wishes, who.admin, title="助餐点")
        await self.new(wishes, who.admin, title="四点半课堂", category="助学")
        await self.new(wishes, who.other_admin, area_code=OTHER_COMMUNITY, title="春江养老")

        async def titles(headers, **params: Any) -> list[str]:
            r = await wishes.get("/api/v1/needs", headers=headers, params=params)
            assert r.status_code == 200, r.text
            return [x["title"] for x in r.json()["items"]]

        assert await titles(who.grid) == ["四点半课堂", "助餐点"]
        assert await titles(who.district, category="助老") == ["春江养老", "助餐点"]
        assert await titles(who.district, area_code=OTHER_COMMUNITY) == ["春江养老"]
        assert await titles(who.district, status="matched") == []
        assert await titles(who.liaison("ST001")) == ["四点半课堂", "助餐点"]
        assert await titles(who.liaison("CJ001")) == ["春江养老"]
        problem(
            await wishes.get("/api/v1/needs", headers=who.grid, params={"area_code": OTHER_COMMUNITY}), 403
        )
        problem(await wishes.get("/api/v1/needs", headers=who.grid, params={"status": "closed"}), 422)


# ---- projects ---------------------------------------------------------------------------------------

PROJECT = {
    "area_code": COMMUNITY,
    "year": 2026,
    "title": "老旧小区适老化改造",
    "category": "助老",
    "budget": "50000.00",
}


async def new_project(wishes, headers, **kw: Any) -> dict[str, Any]:
    r = await wishes.post("/api/v1/projects", headers=headers, json={**PROJECT, **kw})
    assert r.status_code == 201, r.text
    return r.json()


async def claim(wishes, headers, project_id: int, body: dict[str, Any] | None = None):
    return await wishes.post(f"/api/v1/projects/{project_id}/claim", headers=headers, json=body or {})


class TestProjects:
    async def test_a_community_admin_lists_a_project_open_for_claiming(self, wishes, who, units):
        p = await new_project(wishes, who.admin)
        assert (p["status"], p["unit_id"], p["budget"], p["progress"], p["created_by"]) == (
            "open",
            None,
            "50000.00",
            [],
            "comm-admin",
        )
        assert (await wishes.get(f"/api/v1/projects/{p['id']}", headers=who.grid)).json()[
            "title"
        ] == "老旧小区适老化改造"

    async def test_refused_projects_are_not_written(self, wishes, who, units, session):
        problem(
            await wishes.post("/api/v1/projects", headers=who.admin, json={**PROJECT, "budget": "-1"}), 422
        )
        problem(await wishes.post("/api/v1/projects", headers=who.admin, json={**PROJECT, "year": 1999}), 422)
        problem(
            await wishes.post("/api/v1/projects", headers=who.admin, json={**PROJECT, "area_code": GRID}), 422
        )
        problem(
            await wishes.post(
                "/api/v1/projects", headers=who.street, json={**PROJECT, "area_code": "320411001088"}
            ),
            422,
            "area-unknown",
        )
        problem(
            await wishes.post(
                "/api/v1/projects", headers=who.admin, json={**PROJECT, "area_code": OTHER_COMMUNITY}
            ),
            403,
            "out-of-scope",
        )
        problem(
            await wishes.post("/api/v1/projects", headers=who.admin, json={**PROJECT, "area_code": STREET}),
            403,
            "out-of-scope",
        )
        problem(
            await wishes.post("/api/v1/projects", headers=who.grid, json=PROJECT), 403, "action-forbidden"
        )
        problem(
            await wishes.post("/api/v1/projects", headers=who.liaison("MU001"), json=PROJECT),
            403,
            "action-forbidden",
        )
        problem(await wishes.post("/api/v1/projects", json=PROJECT), 401)
        assert await count(session, Project) == 0

    async def test_a_liaison_claims_for_its_unit_and_a_second_unit_finds_it_taken(
        self, wishes, who, units, session
    ):
        p = await new_project(wishes, who.admin)
        r = await claim(wishes, who.liaison("MU001"), p["id"])
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["unit_id"], r.json()["unit_name"]) == (
            "claimed",
            units["MU001"].id,
            "龙锦社区卫生服务站",
        )
        assert r.json()["claimed_at"]
        problem(await claim(wishes, who.liaison("MU002"), p["id"]), 409, "project-not-open")
        assert await count(session, Project, Project.unit_id == units["MU002"].id) == 0

    async def test_a_third_project_of_the_year_is_409_but_the_next_year_is_fine(
        self, wishes, who, units, session
    ):
        ids = [(await new_project(wishes, who.admin, title=f"项目{i}"))["id"] for i in range(3)]
        later = await new_project(wishes, who.admin, year=2027)
        h = who.liaison("MU001")
        for pid in ids[:2]:
            assert (await claim(wishes, h, pid)).status_code == 200
        body = problem(await claim(wishes, h, ids[2]), 409, "project-limit-reached")
        assert "2026" in body["detail"] and "2" in body["detail"]
        third = await session.get(Project, ids[2])
        await session.refresh(third)
        assert (third.status, third.unit_id) == ("open", None)
        assert (await claim(wishes, h, later["id"])).status_code == 200

    async def test_a_street_unit_may_claim_a_community_project_and_a_manager_claims_for_a_unit(
        self, wishes, who, units
    ):
        p = await new_project(wishes, who.admin)
        assert (await claim(wishes, who.liaison("ST001"), p["id"])).json()["unit_id"] == units["ST001"].id
        q = await new_project(wishes, who.admin, title="社区花园")
        r = await claim(wishes, who.admin, q["id"], {"unit_id": units["MU002"].id})
        assert r.status_code == 200 and r.json()["unit_id"] == units["MU002"].id

    async def test_claim_refusals(self, wishes, who, units, session):
        p = await new_project(wishes, who.admin)
        pid = p["id"]
        problem(await claim(wishes, who.liaison("CJ001"), pid), 403, "out-of-scope")
        problem(
            await claim(wishes, who.liaison("MU001"), pid, {"unit_id": units["MU002"].id}),
            403,
            "out-of-scope",
        )
        problem(await claim(wishes, who.admin, pid), 422, "action-invalid")
        problem(await claim(wishes, who.admin, pid, {"unit_id": units["CJ001"].id}), 403, "out-of-scope")
        problem(
            await claim(wishes, who.other_admin, pid, {"unit_id": units["CJ001"].id}), 403, "out-of-scope"
        )
        problem(await claim(wishes, who.grid, pid, {"unit_id": units["MU001"].id}), 403, "action-forbidden")
        problem(await claim(wishes, who.liaison("MU001"), 999999), 404, "project-not-found")
        problem(await claim(wishes, None, pid), 401)
        project = await session.get(Project, pid)
        await session.refresh(project)
        assert (project.status, project.unit_id) == ("open", None)

    async def test_a_liaison_of_a_retired_unit_cannot_claim(self, wishes, who, units, session):
        p = await new_project(wishes, who.admin)
        units["MU001"].active = False
        await session.commit()
        problem(await claim(wishes, who.liaison("MU001"), p["id"]), 404, "unit-not-found")

    async def test_the_list_filters_by_year_status_unit_and_area(self, wishes, who, units):
        a = await new_project(wishes, who.admin, title="A")
        await new_project(wishes, who.admin, title="B", year=2027)
        await new_project(wishes, who.street, title="街道项目", area_code=STREET)
        await new_project(wishes, who.other_admin, title="春江", area_code=OTHER_COMMUNITY)
        await claim(wishes, who.liaison("MU001"), a["id"])

        async def titles(headers, **params: Any) -> list[str]:
            r = await wishes.get("/api/v1/projects", headers=headers, params=params)
            assert r.status_code == 200, r.text
            return [x["title"] for x in r.json()["items"]]

        assert await titles(who.admin) == ["B", "街道项目", "A"]
        assert await titles(who.district, year=2026) == ["街道项目", "A", "春江"]
        assert await titles(who.district, status="claimed") == ["A"]
        assert await titles(who.district, unit_id=units["MU001"].id) == ["A"]
        assert await titles(who.district, area_code=OTHER_COMMUNITY) == ["春江"]
        assert await titles(who.liaison("CJ001")) == ["春江"]
        problem(
            await wishes.get("/api/v1/projects", headers=who.admin, params={"area_code": OTHER_COMMUNITY}),
            403,
        )
        problem(await wishes.get("/api/v1/projects", headers=who.admin, params={"status": "closed"}), 422)
        problem(await wishes.get("/api/v1/projects/999999", headers=who.admin), 404)
        problem(await wishes.get(f"/api/v1/projects/{a['id']}", headers=who.other_admin), 403)


class TestProgressAndReview:
    @pytest.fixture
    async def project(self, wishes, who, units) -> dict[str, Any]:
        p = await new_project(wishes, who.admin)
        assert (await claim(wishes, who.liaison("MU001"), p["id"])).status_code == 200
        return p

    async def report(self, wishes, headers, pid: int, quarter: int, percent: int, note: str = ""):
        return await wishes.put(
            f"/api/v1/projects/{pid}/progress/{quarter}",
            headers=headers,
            json={"percent": percent, "note": note},
        )

    async def test_quarterly_progress_moves_the_project_to_done_at_100(self, wishes, who, project):
        pid, h = project["id"], who.liaison("MU001")
        r = await self.report(wishes, h, pid, 1, 30, "完成设计")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["percent"]) == ("in_progress", 30)
        await self.report(wishes, who.admin, pid, 2, 60)
        r = await self.report(wishes, h, pid, 1, 40, "设计和招标")  # a correction, still below Q2
        assert [(x["quarter"], x["percent"], x["note"]) for x in r.json()["progress"]] == [
            (1, 40, "设计和招标"),
            (2, 60, ""),
        ]
        r = await self.report(wishes, h, pid, 3, 100)
        assert (r.json()["status"], r.json()["percent"]) == ("done", 100)
        assert r.json()["progress"][-1]["reported_by"] == "liaison-MU001"

    async def test_progress_never_goes_down(self, wishes, who, project, session):
        pid, h = project["id"], who.liaison("MU001")
        await self.report(wishes, h, pid, 2, 50)
        assert "50%" in problem(await self.report(wishes, h, pid, 3, 40), 422, "action-invalid")["detail"]
        assert "later" in problem(await self.report(wishes, h, pid, 1, 70), 422)["detail"]
        assert await count(session, ProjectProgress) == 1

    async def test_progress_refusals(self, wishes, who, units, project, session):
        pid = project["id"]
        problem(await self.report(wishes, who.liaison("MU002"), pid, 1, 10), 403, "out-of-scope")
        problem(await self.report(wishes, who.grid, pid, 1, 10), 403, "action-forbidden")
        problem(await self.report(wishes, who.other_admin, pid, 1, 10), 403, "out-of-scope")
        for quarter, percent in ((0, 10), (5, 10), (1, 101), (1, -1)):
            problem(await self.report(wishes, who.admin, pid, quarter, percent), 422)
        problem(await self.report(wishes, who.admin, 999999, 1, 10), 404)
        open_one = await new_project(wishes, who.admin, title="无人认领")
        problem(await self.report(wishes, who.admin, open_one["id"], 1, 10), 409, "project-not-claimed")
        assert await count(session, ProjectProgress) == 0

    async def test_a_review_scores_the_project_and_the_units_average(self, wishes, who, units, project):
        r = await wishes.post(
            f"/api/v1/projects/{project['id']}/review",
            headers=who.street,
            json={"score": 88.5, "note": "群众满意"},
        )
        assert r.status_code == 200, r.text
        assert (Decimal(r.json()["review_score"]), r.json()["review_note"], r.json()["reviewed_by"]) == (
            Decimal("88.5"),
            "群众满意",
            "street",
        )
        unit = (await wishes.get(f"/api/v1/units/{units['MU001'].id}", headers=who.admin)).json()
        assert Decimal(unit["review_score"]) == Decimal("88.50") and unit["reviewed_projects"] == 1

    async def test_review_refusals(self, wishes, who, project, session):
        url = f"/api/v1/projects/{project['id']}/review"
        problem(
            await wishes.post(url, headers=who.liaison("MU001"), json={"score": 100}), 403, "action-forbidden"
        )
        problem(await wishes.post(url, headers=who.grid, json={"score": 90}), 403)
        problem(await wishes.post(url, headers=who.other_admin, json={"score": 90}), 403, "out-of-scope")
        for body in ({"score": 101}, {"score": -1}, {}, {"score": 90, "extra": 1}):
            problem(await wishes.post(url, headers=who.admin, json=body), 422)
        open_one = await new_project(wishes, who.admin, title="无人认领")
        problem(
            await wishes.post(
                f"/api/v1/projects/{open_one['id']}/review", headers=who.admin, json={"score": 90}
            ),
            409,
            "project-not-claimed",
        )
        problem(
            await wishes.post("/api/v1/projects/999999/review", headers=who.admin, json={"score": 90}), 404
        )
        assert await count(session, Project, Project.review_score.is_not(None)) == 0


# ---- suggestions ------------------------------------------------------------------------------------


class TestSuggestedUnits:
    """Known data: for a 助老 wish worth 600 yuan in 龙锦 community,
    A has a 助老 物资 resource (fits goods)              50 + 20 + 15       = 85
    B has a 助老 志愿服务 resource and closed two 助老 wishes 50 + 15 + 2×3  = 71
    F has a 助老 物资 resource but holds three wishes      50 + 20 + 0        = 70
    S (the street's unit) has only a 助学 resource         15                 = 15
    and the retired unit, the other community's unit and last half year's resources do not count."""

    @pytest.fixture
    async def data(self, session, world) -> dict[str, Any]:
        a = await make_unit(session, "UA", name="A 物资单位")
        b = await make_unit(session, "UB", name="B 志愿单位")
        f = await make_unit(session, "UF", name="F 忙碌单位")
        s = await make_unit(session, "US", area_code=STREET, name="S 街道单位")
        gone = await make_unit(session, "UX", name="X 已退出", active=False)
        far = await make_unit(session, "UC", area_code=OTHER_COMMUNITY, name="C 春江单位")
        session.add_all(
            [
                UnitResource(
                    unit_id=a.id, period=NOW, kind="物资", title="轮椅捐赠", categories=["助老", "助残"]
                ),
                UnitResource(
                    unit_id=b.id, period=NOW, kind="志愿服务", title="助老志愿队", categories=["助老"]
                ),
                UnitResource(unit_id=b.id, period=PAST, kind="物资", title="往期物资", categories=["助老"]),
                UnitResource(unit_id=f.id, period=NOW, kind="物资", title="米面油", categories=["助老"]),
                UnitResource(
                    unit_id=s.id, period=NOW, kind="教育培训", title="课业辅导", categories=["助学"]
                ),
                UnitResource(unit_id=gone.id, period=NOW, kind="物资", title="x", categories=["助老"]),
                UnitResource(unit_id=far.id, period=NOW, kind="物资", title="y", categories=["助老"]),
                new_wish(status="closed", claimant_unit_id=b.id),
                new_wish(status="closed", claimant_unit_id=b.id),
                new_wish(status="closed", claimant_unit_id=a.id, category="助学"),
                *(new_wish(status="claimed", claimant_unit_id=f.id) for _ in range(3)),
            ]
        )
        goods = new_wish(status="approved")
        service = new_wish(status="approved", estimated_value=Decimal(0), title="陪老人去医院")
        session.add_all([goods, service])
        await session.commit()
        return {"goods": goods, "service": service, **{u.code: u for u in (a, b, f, s)}}

    async def suggest(self, wishes, headers, wish_id: int, **params: Any):
        return await wishes.get(f"/api/v1/wishes/{wish_id}/suggested-units", headers=headers, params=params)

    async def test_units_are_ranked_by_resources_kind_load_and_record(self, wishes, who, data):
        r = await self.suggest(wishes, who.grid, data["goods"].id)
        assert r.status_code == 200, r.text
        got = r.json()
        assert [(s["unit"]["code"], s["score"]) for s in got] == [
            ("UA", 85),
            ("UB", 71),
            ("UF", 70),
            ("US", 15),
        ]
        a, b, f, s = got
        assert [x["title"] for x in a["resources"]] == ["轮椅捐赠"] and s["resources"] == []
        assert any("轮椅捐赠（物资）" in x for x in a["reasons"]) and any("物资类" in x for x in a["reasons"])
        assert any("已完成同类（助老）心愿 2 件" in x for x in b["reasons"]) and b["completed"] == 2
        assert f["open_claims"] == 3 and any("在办心愿 3 件" in x for x in f["reasons"])
        assert any("没有可服务「助老」" in x for x in s["reasons"])

    async def test_a_service_wish_prefers_volunteer_service(self, wishes, who, data):
        got = (await self.suggest(wishes, who.street, data["service"].id)).json()
        assert [(s["unit"]["code"], s["score"]) for s in got] == [
            ("UB", 91),
            ("UA", 65),
            ("UF", 50),
            ("US", 15),
        ]
        assert any("服务类" in x and "志愿服务" in x for x in got[0]["reasons"])

    async def test_limit_keeps_the_best(self, wishes, who, data):
        got = (await self.suggest(wishes, who.admin, data["goods"].id, limit=2)).json()
        assert [s["unit"]["code"] for s in got] == ["UA", "UB"]
        problem(await self.suggest(wishes, who.admin, data["goods"].id, limit=0), 422)
        problem(await self.suggest(wishes, who.admin, data["goods"].id, limit=21), 422)

    async def test_refusals(self, wishes, who, data):
        wid = data["goods"].id
        problem(await self.suggest(wishes, who.admin, 999999), 404, "wish-not-found")
        problem(await self.suggest(wishes, who.other_admin, wid), 403, "out-of-scope")
        problem(
            await self.suggest(wishes, who.token("grid_worker", "320411001001002"), wid), 403, "out-of-scope"
        )
        problem(await self.suggest(wishes, who.liaison("UA"), wid), 403, "action-forbidden")
        problem(await self.suggest(wishes, who.mobile, wid), 403, "action-forbidden")
        problem(await self.suggest(wishes, None, wid), 401)
