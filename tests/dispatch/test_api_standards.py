"""The standards API: listing and search, admin edits as versions, retiring, the units, and matching."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from services.dispatch.catalog import load_standards
from services.dispatch.service.standards import refresh_if_stale
from tests.dispatch.builders import GARBAGE, MANHOLE, file

PROBLEM_JSON = "application/problem+json"

NEW_STANDARD = {
    "code": "990101",
    "category_l1": "社会治安",
    "category_l2": "低空飞行",
    "title": "无人机扰民",
    "filing_condition": "居民区上空有无人机反复低空飞行、悬停偷拍或噪声扰民。",
    "closing_condition": "飞手已找到并劝离，或已依法处置。",
    "keywords": ["无人机", "航拍", "飞行器"],
    "examples": ["楼顶天天有人放无人机嗡嗡响还对着窗户拍"],
    "unit": "GAJ",
    "level": "street",
    "response_hours": 2,
    "handling_hours": 7,
}


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return token("district_admin", "320411")


@pytest.fixture
def dispatcher(token: Any) -> dict[str, str]:
    return token("street_dispatcher", "320411001")


async def refresh(dispatch_app: Any) -> None:
    """What every replica's refresher does within seconds of an edit."""
    assert await refresh_if_stale(dispatch_app.state.dispatch, dispatch_app.state.sessionmaker)


class TestList:
    async def test_285_active_standards(self, dispatch, dispatcher):
        r = await dispatch.get("/api/v1/standards", headers=dispatcher)
        assert r.status_code == 200
        page = r.json()
        assert page["total"] == 285
        assert len(page["items"]) == page["limit"] == 50
        r = await dispatch.get("/api/v1/standards?limit=500", headers=dispatcher)
        assert len(r.json()["items"]) == 285
        assert len({s["code"] for s in r.json()["items"]}) == 285

    async def test_search_by_q(self, dispatch, dispatcher):
        r = await dispatch.get("/api/v1/standards", params={"q": "井盖", "limit": 500}, headers=dispatcher)
        page = r.json()
        assert 0 < page["total"] < 285
        assert page["total"] == len(page["items"])
        assert "060603" in {s["code"] for s in page["items"]}
        for s in page["items"]:
            blob = " ".join([s["code"], s["title"], s["category_l1"], s["category_l2"], *s["keywords"]])
            assert "井盖" in blob
        r = await dispatch.get("/api/v1/standards", params={"q": "060603"}, headers=dispatcher)
        assert [s["code"] for s in r.json()["items"]] == ["060603"]
        r = await dispatch.get("/api/v1/standards", params={"q": "%"}, headers=dispatcher)
        assert r.json()["total"] == 0

    async def test_nul_in_q_is_422_not_a_database_error(self, dispatch, dispatcher):
        r = await dispatch.get("/api/v1/standards", params={"q": "井盖\x00"}, headers=dispatcher)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM_JSON)

    async def test_filter_by_unit(self, dispatch, dispatcher):
        expected = Counter(s.unit for s in load_standards())["SWJ"]
        r = await dispatch.get("/api/v1/standards", params={"unit": "SWJ", "limit": 500}, headers=dispatcher)
        page = r.json()
        assert page["total"] == expected >= 5
        assert {s["unit"] for s in page["items"]} == {"SWJ"}

    async def test_no_token_is_401(self, dispatch):
        r = await dispatch.get("/api/v1/standards")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith(PROBLEM_JSON)


class TestCreate:
    async def test_district_admin_creates_and_routing_picks_it_up(self, dispatch, dispatch_app, admin):
        r = await dispatch.post("/api/v1/standards", json=NEW_STANDARD, headers=admin)
        assert r.status_code == 201, r.text
        s = r.json()
        assert (s["code"], s["version"], s["status"], s["unit"]) == ("990101", 1, "active", "GAJ")
        listed = await dispatch.get("/api/v1/standards", headers=admin)
        assert listed.json()["total"] == 286
        await refresh(dispatch_app)
        m = await dispatch.post(
            "/api/v1/standards/match", json={"text": "小区上空总有无人机飞来飞去"}, headers=admin
        )
        assert m.json()["candidates"][0]["code"] == "990101"

    @pytest.mark.parametrize("role", ["street_dispatcher", "community_admin", "grid_worker"])
    async def test_others_may_not(self, dispatch, token, role):
        r = await dispatch.post("/api/v1/standards", json=NEW_STANDARD, headers=token(role, "320411001"))
        assert r.status_code == 403
        assert r.headers["content-type"].startswith(PROBLEM_JSON)

    async def test_handler_may_not(self, dispatch, token):
        r = await dispatch.post(
            "/api/v1/standards", json=NEW_STANDARD, headers=token("department_handler", "GAJ")
        )
        assert r.status_code == 403

    async def test_duplicate_code_is_409(self, dispatch, admin):
        r = await dispatch.post("/api/v1/standards", json={**NEW_STANDARD, "code": "010101"}, headers=admin)
        assert r.status_code == 409
        assert r.json()["type"].endswith("/standard-conflict")

    async def test_duplicate_title_is_409(self, dispatch, admin):
        r = await dispatch.post(
            "/api/v1/standards", json={**NEW_STANDARD, "title": "暴露垃圾"}, headers=admin
        )
        assert r.status_code == 409

    async def test_unknown_unit_is_422(self, dispatch, admin):
        r = await dispatch.post("/api/v1/standards", json={**NEW_STANDARD, "unit": "ZZZ"}, headers=admin)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        assert r.json()["type"].endswith("/unknown-unit")
        assert (await dispatch.get("/api/v1/standards", headers=admin)).json()["total"] == 285

    @pytest.mark.parametrize(
        "change",
        [
            {"response_hours": 8, "handling_hours": 7},
            {"keywords": ["无人机"]},
            {"code": "99010"},
            {"title": "无人机\x00扰民"},
            {"level": "city"},
        ],
    )
    async def test_invalid_fields_are_422(self, dispatch, admin, change):
        r = await dispatch.post("/api/v1/standards", json={**NEW_STANDARD, **change}, headers=admin)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM_JSON)


class TestVersions:
    async def test_edit_makes_version_2_and_routed_tickets_keep_version_1(
        self, dispatch, dispatch_app, admin
    ):
        before = await file(dispatch, admin, GARBAGE, "hotline")
        v1_id = before["routing"]["standard_id"]
        r = await dispatch.patch("/api/v1/standards/010101", json={"handling_hours": 7}, headers=admin)
        assert r.status_code == 200, r.text
        v2 = r.json()
        assert (v2["version"], v2["status"], v2["handling_hours"]) == (2, "active", 7)
        assert v2["id"] != v1_id

        versions = (await dispatch.get("/api/v1/standards/010101/versions", headers=admin)).json()
        assert [(v["version"], v["status"]) for v in versions] == [(1, "superseded"), (2, "active")]
        assert versions[0]["id"] == v1_id
        assert versions[0]["handling_hours"] == 4
        assert (await dispatch.get("/api/v1/standards", headers=admin)).json()["total"] == 285

        old = (await dispatch.get(f"/api/v1/tickets/{before['id']}", headers=admin)).json()
        assert old["routing"]["standard_id"] == v1_id
        assert old["routing"]["standard_version"] == 1
        assert old["clock"]["handling_hours"] == 4

        await refresh(dispatch_app)
        after = await file(dispatch, admin, GARBAGE, "phone")
        assert after["routing"]["standard_id"] == v2["id"]
        assert after["routing"]["standard_version"] == 2
        assert after["clock"]["handling_hours"] == 7
        old = (await dispatch.get(f"/api/v1/tickets/{before['id']}", headers=admin)).json()
        assert old["routing"]["standard_version"] == 1

    async def test_only_admins_edit(self, dispatch, dispatcher):
        r = await dispatch.patch("/api/v1/standards/010101", json={"handling_hours": 7}, headers=dispatcher)
        assert r.status_code == 403

    async def test_null_field_is_refused(self, dispatch, admin):
        r = await dispatch.patch("/api/v1/standards/010101", json={"title": None}, headers=admin)
        assert r.status_code == 422

    async def test_unknown_code_is_404(self, dispatch, admin):
        r = await dispatch.patch("/api/v1/standards/999999", json={"handling_hours": 7}, headers=admin)
        assert r.status_code == 404
        assert (await dispatch.get("/api/v1/standards/999999/versions", headers=admin)).status_code == 404


class TestRetire:
    async def test_retired_standard_is_no_longer_proposed(self, dispatch, dispatch_app, admin):
        m = await dispatch.post("/api/v1/standards/match", json={"text": MANHOLE}, headers=admin)
        assert m.json()["candidates"][0]["code"] == "060603"
        r = await dispatch.post("/api/v1/standards/060603/retire", headers=admin)
        assert r.status_code == 200
        assert r.json()["status"] == "retired" and r.json()["retired_at"]
        await refresh(dispatch_app)
        m = await dispatch.post("/api/v1/standards/match", json={"text": MANHOLE, "top_k": 10}, headers=admin)
        assert "060603" not in {c["code"] for c in m.json()["candidates"]}
        t = await file(dispatch, admin, MANHOLE, "hotline")
        assert t["routing"]["standard_code"] != "060603"
        assert (await dispatch.get("/api/v1/standards", headers=admin)).json()["total"] == 284
        retired = await dispatch.get("/api/v1/standards", params={"status": "retired"}, headers=admin)
        assert [s["code"] for s in retired.json()["items"]] == ["060603"]

    async def test_retired_standard_cannot_be_edited(self, dispatch, admin):
        await dispatch.post("/api/v1/standards/060603/retire", headers=admin)
        r = await dispatch.patch("/api/v1/standards/060603", json={"handling_hours": 7}, headers=admin)
        assert r.status_code == 409

    async def test_retired_code_is_never_reused(self, dispatch, admin):
        await dispatch.post("/api/v1/standards/060603/retire", headers=admin)
        r = await dispatch.post("/api/v1/standards", json={**NEW_STANDARD, "code": "060603"}, headers=admin)
        assert r.status_code == 409


class TestDepartments:
    async def test_23_units_each_with_at_least_5_standards(self, dispatch, dispatcher):
        r = await dispatch.get("/api/v1/departments", headers=dispatcher)
        assert r.status_code == 200
        units = r.json()
        assert len(units) == 23
        assert len({u["code"] for u in units}) == 23
        assert all(u["standards"] >= 5 for u in units), units
        assert sum(u["standards"] for u in units) == 285
        assert all(u["name"] and u["short_name"] and u["scope"] for u in units)


class TestMatch:
    async def test_shape(self, dispatch, dispatcher):
        r = await dispatch.post("/api/v1/standards/match", json={"text": GARBAGE}, headers=dispatcher)
        assert r.status_code == 200
        out = r.json()
        assert set(out) == {"candidates", "confident"}
        assert out["confident"] is True
        assert 1 <= len(out["candidates"]) <= 3
        for c in out["candidates"]:
            assert set(c) == {"code", "title", "department", "level", "score", "matched_terms"}
        top = out["candidates"][0]
        assert (top["code"], top["title"], top["department"], top["level"]) == (
            "010101",
            "暴露垃圾",
            "CGJ",
            "street",
        )
        assert top["matched_terms"]
        scores = [c["score"] for c in out["candidates"]]
        assert scores == sorted(scores, reverse=True)

    async def test_top_k(self, dispatch, dispatcher):
        r = await dispatch.post(
            "/api/v1/standards/match", json={"text": GARBAGE, "top_k": 5}, headers=dispatcher
        )
        assert len(r.json()["candidates"]) == 5

    async def test_vague_text_is_not_confident(self, dispatch, dispatcher):
        r = await dispatch.post(
            "/api/v1/standards/match", json={"text": "你好，请问一下"}, headers=dispatcher
        )
        assert r.json()["confident"] is False

    @pytest.mark.parametrize("text", ["", "   ", "垃" * 2001, "垃圾\x00"])
    async def test_empty_or_oversized_text_is_422(self, dispatch, dispatcher, text):
        r = await dispatch.post("/api/v1/standards/match", json={"text": text}, headers=dispatcher)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM_JSON)

    async def test_top_k_bounds(self, dispatch, dispatcher):
        r = await dispatch.post(
            "/api/v1/standards/match", json={"text": GARBAGE, "top_k": 11}, headers=dispatcher
        )
        assert r.status_code == 422
