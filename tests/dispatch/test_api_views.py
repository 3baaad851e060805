"""Work views: each desk's queue, and the ticket search with its filters and totals, within scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from services.dispatch.models import Ticket
from services.dispatch.worktime import CST
from tests.dispatch.builders import (
    BULKY,
    GARBAGE,
    GRID,
    IN_GRID,
    MANHOLE,
    OTHER_GRID,
    SHED,
    STREET,
    VAGUE,
    act,
    file,
)

GRID2_POINT = {"lat": 31.8116, "lng": 119.9555}  # grid 320411001001002
GRID3_POINT = {"lat": 31.8116, "lng": 119.9675}  # grid 320411002001001 (河海街道)


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return token("district_admin", "320411")


@pytest.fixture
def dispatcher(token: Any) -> dict[str, str]:
    return token("street_dispatcher", STREET)


async def queue(client: Any, name: str, headers: dict[str, str], **params: Any) -> tuple[int, list[int]]:
    r = await client.get(f"/api/v1/queues/{name}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["total"], [i["id"] for i in r.json()["items"]]


class TestDispatchCentre:
    async def test_street_dispatcher_sees_triage_tickets(self, dispatch, world, admin, dispatcher, token):
        triage = await file(dispatch, admin, VAGUE, "mini_program", **IN_GRID)
        registered = await file(dispatch, admin, SHED, "wechat_group", **IN_GRID)
        await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)  # dispatched: not the centre's
        assert triage["status"] == "triage" and registered["status"] == "registered"
        assert await queue(dispatch, "dispatch-centre", dispatcher) == (2, [triage["id"], registered["id"]])
        other_street = token("street_dispatcher", "320411002")
        assert await queue(dispatch, "dispatch-centre", other_street) == (0, [])

    async def test_unplaced_triage_is_every_dispatchers(self, dispatch, admin, token):
        t = await file(dispatch, admin, VAGUE, "hotline")
        for scope in (STREET, "320411002"):
            assert await queue(dispatch, "dispatch-centre", token("street_dispatcher", scope)) == (
                1,
                [t["id"]],
            )

    async def test_extension_requests_show_up(self, dispatch, world, admin, dispatcher, token):
        cgj = token("department_handler", "CGJ")
        t = await file(dispatch, admin, BULKY, "patrol", **IN_GRID)
        await act(dispatch, cgj, t["id"], "accept")
        await act(dispatch, cgj, t["id"], "request_extension", hours=7, note="需要协调清运车辆")
        assert await queue(dispatch, "dispatch-centre", dispatcher) == (1, [t["id"]])

    async def test_grid_worker_may_not_open_it(self, dispatch, token):
        r = await dispatch.get("/api/v1/queues/dispatch-centre", headers=token("grid_worker", GRID))
        assert r.status_code == 403

    async def test_unknown_queue_is_422(self, dispatch, dispatcher):
        r = await dispatch.get("/api/v1/queues/nope", headers=dispatcher)
        assert r.status_code == 422


class TestUnitInbox:
    async def test_a_unit_sees_its_tickets_only(self, dispatch, world, admin, token):
        garbage = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        manhole = await file(dispatch, admin, MANHOLE, "hotline", **GRID2_POINT)
        triage = await file(dispatch, admin, VAGUE, "hotline")
        assert await queue(dispatch, "unit-inbox", token("department_handler", "CGJ")) == (1, [garbage["id"]])
        assert await queue(dispatch, "unit-inbox", token("department_handler", "SWJ")) == (1, [manhole["id"]])
        assert triage["id"] not in (await queue(dispatch, "unit-inbox", admin))[1]

    async def test_oldest_first_and_open_states(self, dispatch, world, admin, token):
        cgj = token("department_handler", "CGJ")
        a = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        b = await file(dispatch, admin, BULKY, "hotline", **GRID2_POINT)
        c = await file(dispatch, admin, BULKY, "phone", **GRID3_POINT)
        await act(dispatch, cgj, b["id"], "accept")
        await act(dispatch, cgj, c["id"], "accept")
        await act(dispatch, cgj, c["id"], "start")
        await act(dispatch, cgj, c["id"], "handle", note="已清运")  # handled: out of the inbox
        assert await queue(dispatch, "unit-inbox", cgj) == (2, [a["id"], b["id"]])

    async def test_dispatcher_picks_the_unit(self, dispatch, world, admin, dispatcher):
        garbage = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        await file(dispatch, admin, MANHOLE, "hotline", **GRID2_POINT)
        assert await queue(dispatch, "unit-inbox", dispatcher, unit="CGJ") == (1, [garbage["id"]])
        assert (await queue(dispatch, "unit-inbox", dispatcher))[0] == 2


class TestVerification:
    async def test_grid_worker_sees_handled_tickets_of_the_grid(self, dispatch, world, admin, token):
        cgj = token("department_handler", "CGJ")
        handled = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        await file(dispatch, admin, BULKY, "hotline", **IN_GRID)  # still with the unit
        for action, kw in (("accept", {}), ("start", {}), ("handle", {"note": "已清运"})):
            await act(dispatch, cgj, handled["id"], action, **kw)
        worker = token("grid_worker", GRID)
        assert await queue(dispatch, "verification", worker) == (1, [handled["id"]])
        assert await queue(dispatch, "verification", token("grid_worker", OTHER_GRID)) == (0, [])
        out = await act(
            dispatch,
            worker,
            handled["id"],
            "verify",
            note="现场已清理干净",
            attachments=[{"url": "https://oss.example.org/v1.jpg"}],
        )
        assert out["status"] == "verified"
        assert await queue(dispatch, "verification", worker) == (0, [])

    async def test_unit_handler_may_not_open_it(self, dispatch, token):
        r = await dispatch.get("/api/v1/queues/verification", headers=token("department_handler", "CGJ"))
        assert r.status_code == 403


class TestSearch:
    @pytest.fixture
    async def five(self, dispatch, world, admin) -> dict[str, dict[str, Any]]:
        return {
            "a": await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID),  # CGJ street dispatched
            "b": await file(dispatch, admin, MANHOLE, "hotline", **GRID2_POINT),  # SWJ district dispatched
            "c": await file(dispatch, admin, VAGUE, "mini_program"),  # triage, unplaced
            "d": await file(dispatch, admin, SHED, "wechat_group", **IN_GRID),  # CGJ street registered
            "e": await file(dispatch, admin, BULKY, "phone", **GRID3_POINT),  # CGJ community dispatched
        }

    async def search(self, dispatch: Any, headers: dict[str, str], **params: Any) -> tuple[int, set[int]]:
        r = await dispatch.get("/api/v1/tickets", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        ids = {i["id"] for i in page["items"]}
        assert len(ids) == len(page["items"])
        return page["total"], ids

    async def test_filters(self, dispatch, admin, five):
        ids = {k: v["id"] for k, v in five.items()}
        assert five["c"]["status"] == "triage" and five["d"]["status"] == "registered"

        async def expect(params: dict[str, Any], keys: str) -> None:
            total, got = await self.search(dispatch, admin, **params)
            assert (total, got) == (len(keys), {ids[k] for k in keys}), params

        await expect({}, "abcde")
        await expect({"status": "dispatched"}, "abe")
        await expect({"status": ["triage", "registered"]}, "cd")
        await expect({"channel": "hotline"}, "b")
        await expect({"channel": ["patrol", "phone"]}, "ae")
        await expect({"unit": "CGJ"}, "ade")
        await expect({"unit": "SWJ", "status": "dispatched"}, "b")
        await expect({"level": "district"}, "b")
        await expect({"level": "community"}, "e")
        await expect({"area": STREET}, "abd")
        await expect({"area": OTHER_GRID}, "b")
        await expect({"area": "320411002"}, "e")
        await expect({"q": "井盖"}, "b")
        await expect({"q": five["a"]["number"]}, "a")
        await expect({"q": "%"}, "")
        await expect({"q": "铁皮房", "unit": "CGJ"}, "d")

    async def test_created_dates_in_china_time(self, dispatch, admin, five):
        today = datetime.now(CST).date()
        assert (await self.search(dispatch, admin, created_from=today, created_to=today))[0] == 5
        assert (await self.search(dispatch, admin, created_to=today - timedelta(days=1)))[0] == 0
        assert (await self.search(dispatch, admin, created_from=today + timedelta(days=1)))[0] == 0

    async def test_extreme_dates_are_plain_filters(self, dispatch, admin, five):
        # the first and last representable days once crashed the query (500)
        assert (await self.search(dispatch, admin, created_from="0001-01-01"))[0] == 5
        assert (await self.search(dispatch, admin, created_to="9999-12-31"))[0] == 5
        assert (await self.search(dispatch, admin, created_to="0001-01-01"))[0] == 0
        assert (await self.search(dispatch, admin, created_from="9999-12-31"))[0] == 0

    async def test_overdue(self, dispatch, admin, session, five):
        await session.execute(
            update(Ticket)
            .where(Ticket.id == five["a"]["id"])
            .values(handling_due_at=datetime.now(UTC) - timedelta(hours=1))
        )
        await session.commit()
        total, got = await self.search(dispatch, admin, overdue=True)
        assert (total, got) == (1, {five["a"]["id"]})
        total, got = await self.search(dispatch, admin, overdue=False)
        assert total == 4 and five["a"]["id"] not in got
        items = (await dispatch.get("/api/v1/tickets", headers=admin)).json()["items"]
        assert {i["id"]: i["overdue"] for i in items}[five["a"]["id"]] is True

    async def test_total_counts_beyond_the_page(self, dispatch, admin, five):
        r = await dispatch.get("/api/v1/tickets", params={"limit": 2}, headers=admin)
        page = r.json()
        assert page["total"] == 5
        assert len(page["items"]) == 2
        assert [i["id"] for i in page["items"]] == [five["e"]["id"], five["d"]["id"]]  # newest first
        r = await dispatch.get("/api/v1/tickets", params={"limit": 2, "offset": 4}, headers=admin)
        assert [i["id"] for i in r.json()["items"]] == [five["a"]["id"]]

    async def test_scope_applies_to_searches(self, dispatch, token, five):
        total, got = await self.search(dispatch, token("grid_worker", GRID), unit="CGJ")
        assert (total, got) == (2, {five["a"]["id"], five["d"]["id"]})
        total, _ = await self.search(dispatch, token("department_handler", "SWJ"), unit="CGJ")
        assert total == 0

    @pytest.mark.parametrize(
        "params",
        [
            {"status": "bogus"},
            {"channel": "fax"},
            {"unit": "cgj"},
            {"level": "city"},
            {"area": "32x"},
            {"created_from": "yesterday"},
            {"q": "x" * 51},
            {"q": "垃圾\x00"},
            {"limit": 0},
            {"limit": 501},
        ],
    )
    async def test_bad_filters_are_422(self, dispatch, admin, params):
        r = await dispatch.get("/api/v1/tickets", params=params, headers=admin)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
