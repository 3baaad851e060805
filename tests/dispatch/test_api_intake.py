"""Intake over HTTP: every channel, numbering, routing, the clock, the place, idempotency, privacy, scope,
bad input, and what happens when the registry is down or knows no grid there."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from services.dispatch.app import create_app
from services.dispatch.models import CHANNELS
from services.dispatch.service.intake import retry_places
from services.dispatch.worktime import CST, WorkCalendar
from tests.dispatch.builders import (
    BULKY,
    GARBAGE,
    GRID,
    IN_GRID,
    MANHOLE,
    NOWHERE,
    OTHER_GRID,
    SHED,
    STREET,
    VAGUE,
    act,
    body,
    events_of,
    file,
    ticket_rows,
)

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return token("district_admin", "320411")


@pytest.fixture
def dispatcher(token: Any) -> dict[str, str]:
    return token("street_dispatcher", STREET)


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


class TestEveryChannel:
    @pytest.mark.parametrize("channel", CHANNELS)
    async def test_report_from_each_channel_is_accepted(self, dispatch, world, admin, channel):
        t = await file(dispatch, admin, GARBAGE, channel, **IN_GRID)
        assert t["channel"] == channel
        assert t["status"] == "dispatched"
        assert t["routing"]["unit"] == "CGJ"

    def test_the_nine_channels(self):
        assert len(CHANNELS) == 9


class TestNumbering:
    async def test_number_is_sf_china_date_and_six_digits_increasing(self, dispatch, admin):
        before = datetime.now(CST).strftime("%Y%m%d")
        first = await file(dispatch, admin, GARBAGE, "hotline")
        second = await file(dispatch, admin, MANHOLE, "hotline")
        after = datetime.now(CST).strftime("%Y%m%d")
        for t in (first, second):
            m = re.fullmatch(r"SF(\d{8})(\d{6})", t["number"])
            assert m, t["number"]
            assert m.group(1) in (before, after)
        assert second["number"] > first["number"]
        assert int(second["number"][-6:]) > int(first["number"][-6:])

    async def test_ticket_is_found_by_its_number(self, dispatch, admin):
        t = await file(dispatch, admin, GARBAGE, "hotline")
        r = await dispatch.get(f"/api/v1/tickets/by-number/{t['number']}", headers=admin)
        assert r.status_code == 200
        assert r.json()["id"] == t["id"]


class TestRoutingAndClock:
    async def test_routing_is_recorded_with_the_standard_version(self, dispatch, world, admin):
        t = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        routing = t["routing"]
        assert routing["standard_code"] == "010101"
        assert routing["standard_id"] is not None
        assert routing["standard_version"] == 1
        assert routing["unit"] == "CGJ"
        assert routing["level"] == "street"
        assert routing["confident"] is True
        assert routing["suggested_code"] == "010101"
        r = await dispatch.get(f"/api/v1/standards/{routing['standard_code']}", headers=admin)
        assert r.json()["id"] == routing["standard_id"]

    async def test_response_due_four_working_hours_after_dispatch(self, dispatch, admin):
        t = await file(dispatch, admin, GARBAGE, "patrol")
        c = t["clock"]
        assert c["response_hours"] == 4.0
        cal = WorkCalendar()
        dispatched = at(c["dispatched_at"])
        assert abs(at(c["response_due_at"]) - cal.add_working_hours(dispatched, 4)) < timedelta(
            milliseconds=1
        )
        assert abs(
            at(c["handling_due_at"]) - cal.add_working_hours(dispatched, c["handling_hours"])
        ) < timedelta(milliseconds=1)
        assert cal.working_seconds_between(dispatched, at(c["response_due_at"])) == pytest.approx(4 * 3600)
        assert c["overdue"] is False and c["supervision_level"] == 0

    async def test_stricter_response_limit_of_the_standard_wins(self, dispatch, admin):
        t = await file(dispatch, admin, MANHOLE, "hotline")
        assert t["routing"]["standard_code"] == "060603"
        c = t["clock"]
        assert c["response_hours"] == 1.0
        cal = WorkCalendar()
        assert abs(at(c["response_due_at"]) - cal.add_working_hours(at(c["dispatched_at"]), 1)) < timedelta(
            milliseconds=1
        )

    @pytest.mark.parametrize("text", [VAGUE, "xyzzy plugh", "12345"])
    async def test_unclear_text_goes_to_triage_without_a_unit(self, dispatch, admin, text):
        t = await file(dispatch, admin, text, "mini_program")
        assert t["status"] == "triage"
        assert t["routing"]["unit"] is None
        assert t["routing"]["standard_id"] is None
        assert t["routing"]["confident"] is False
        assert t["clock"]["dispatched_at"] is None and t["clock"]["response_due_at"] is None

    async def test_verify_first_standard_waits_for_an_on_site_check_from_residents(self, dispatch, admin):
        public = await file(dispatch, admin, SHED, "mini_program")
        assert public["routing"]["standard_code"] == "010301"
        assert public["status"] == "registered"
        assert public["clock"]["dispatched_at"] is None

    async def test_verify_first_standard_is_dispatched_when_a_patrol_reports_it(self, dispatch, admin):
        staff = await file(dispatch, admin, SHED, "patrol")
        assert staff["routing"]["standard_code"] == "010301"
        assert staff["status"] == "dispatched"
        assert staff["clock"]["dispatched_at"] is not None


class TestPlace:
    async def test_point_is_placed_through_the_registry(self, dispatch, world, admin):
        t = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        p = t["place"]
        assert p["status"] == "resolved"
        assert p["district_code"] == "320411"
        assert (p["street_code"], p["street_name"]) == (STREET, "三井街道")
        assert (p["community_code"], p["community_name"]) == ("320411001001", "龙锦社区")
        assert (p["grid_code"], p["grid_name"]) == (GRID, "龙锦第1网格")
        assert p["micro_grid_code"] == "320411001001001001"

    async def test_point_placed_on_the_map_copy_alike(self, world, dispatch, dispatch_app, admin):
        # `world` exists before dispatch starts, so the point is placed on dispatch's copy of the map
        assert dispatch_app.state.dispatch.map.loaded
        t = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        p = t["place"]
        assert p["status"] == "resolved"
        assert (p["street_code"], p["street_name"]) == (STREET, "三井街道")
        assert (p["community_code"], p["community_name"]) == ("320411001001", "龙锦社区")
        assert (p["grid_code"], p["grid_name"]) == (GRID, "龙锦第1网格")
        assert p["micro_grid_code"] == "320411001001001001"

    async def test_address_only_report_is_placed_by_address(self, dispatch, world, admin):
        t = await file(dispatch, admin, GARBAGE, "phone", address="新北区三井街道龙锦社区测试苑1幢")
        p = t["place"]
        assert p["status"] == "resolved"
        assert p["street_code"] == STREET
        assert p["grid_code"] == GRID

    async def test_address_is_tried_when_the_point_is_outside_every_grid(self, dispatch, world, admin):
        t = await file(
            dispatch, admin, GARBAGE, "phone", address="新北区三井街道龙锦社区测试苑1幢", **NOWHERE
        )
        assert t["place"]["status"] == "resolved"
        assert t["place"]["grid_code"] == GRID

    async def test_no_place_given_is_none(self, dispatch, admin):
        t = await file(dispatch, admin, GARBAGE, "hotline")
        assert t["place"]["status"] == "none"

    async def test_point_outside_every_grid_is_unresolved(self, dispatch, world, admin):
        t = await file(dispatch, admin, GARBAGE, "snapshot", **NOWHERE)
        assert t["place"]["status"] == "unresolved"
        assert t["place"]["grid_code"] is None


class TestIdempotency:
    async def test_same_key_same_body_replays_the_ticket(self, dispatch, session, admin):
        key = {"Idempotency-Key": str(uuid.uuid4())}
        r1 = await dispatch.post("/api/v1/tickets", json=body(GARBAGE), headers={**admin, **key})
        assert r1.status_code == 201
        assert "Idempotent-Replayed" not in r1.headers
        rows = await ticket_rows(session)
        r2 = await dispatch.post("/api/v1/tickets", json=body(GARBAGE), headers={**admin, **key})
        assert r2.status_code == 200
        assert r2.headers["Idempotent-Replayed"] == "true"
        assert (r2.json()["id"], r2.json()["number"]) == (r1.json()["id"], r1.json()["number"])
        assert await ticket_rows(session) == rows
        assert len(await events_of(session, r1.json()["id"], "register")) == 1

    async def test_same_key_different_body_is_refused(self, dispatch, session, admin):
        key = {"Idempotency-Key": str(uuid.uuid4())}
        r1 = await dispatch.post("/api/v1/tickets", json=body(GARBAGE), headers={**admin, **key})
        assert r1.status_code == 201
        rows = await ticket_rows(session)
        r2 = await dispatch.post("/api/v1/tickets", json=body(MANHOLE), headers={**admin, **key})
        assert r2.status_code == 422
        assert r2.headers["content-type"].startswith(PROBLEM_JSON)
        assert r2.json()["type"].endswith("/idempotency-key-reused")
        assert await ticket_rows(session) == rows

    async def test_keys_belong_to_their_caller(self, dispatch, session, token):
        key = {"Idempotency-Key": str(uuid.uuid4())}
        a = token("district_admin", "320411", username="admin-a")
        b = token("district_admin", "320411", username="admin-b")
        r1 = await dispatch.post("/api/v1/tickets", json=body(GARBAGE), headers={**a, **key})
        r2 = await dispatch.post("/api/v1/tickets", json=body(GARBAGE), headers={**b, **key})
        assert (r1.status_code, r2.status_code) == (201, 201)
        assert r1.json()["id"] != r2.json()["id"]


REPORTER = {"name": "张三丰", "phone": "13912345678"}


class TestReporterPrivacy:
    async def test_contact_masked_for_a_unit_handler(self, dispatch, world, admin, token):
        t = await file(dispatch, admin, GARBAGE, "mini_program", reporter=REPORTER, **IN_GRID)
        r = await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=token("department_handler", "CGJ"))
        assert r.status_code == 200
        rep = r.json()["reporter"]
        assert rep["phone"] == "139****5678"
        assert rep["name"] == "张**"

    async def test_contact_visible_to_the_street_dispatcher(self, dispatch, world, admin, dispatcher):
        t = await file(dispatch, admin, GARBAGE, "mini_program", reporter=REPORTER, **IN_GRID)
        r = await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=dispatcher)
        rep = r.json()["reporter"]
        assert (rep["name"], rep["phone"]) == ("张三丰", "13912345678")

    async def test_handler_sees_contact_when_the_reporter_allowed_it(self, dispatch, world, admin, token):
        reporter = {**REPORTER, "contact_allowed": True}
        t = await file(dispatch, admin, GARBAGE, "mini_program", reporter=reporter, **IN_GRID)
        r = await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=token("department_handler", "CGJ"))
        assert r.json()["reporter"]["phone"] == "13912345678"

    async def test_anonymous_reporter_shown_as_anonymous(self, dispatch, world, admin, dispatcher, token):
        reporter = {**REPORTER, "anonymous": True, "contact_allowed": True}
        t = await file(dispatch, admin, GARBAGE, "mini_program", reporter=reporter, **IN_GRID)
        for who in (token("department_handler", "CGJ"), token("grid_worker", GRID)):
            rep = (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=who)).json()["reporter"]
            assert rep["name"] == "匿名"
            assert rep["phone"] is None
            assert rep["contact_allowed"] is False
        rep = (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=dispatcher)).json()["reporter"]
        assert rep["anonymous"] is True
        assert rep["name"] == "张三丰"  # the dispatch centre still knows who it is


class TestScope:
    async def test_grid_worker_of_another_grid_cannot_read_it(self, dispatch, world, admin, token):
        t = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        other = token("grid_worker", OTHER_GRID)
        assert (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=other)).status_code == 404
        r = await dispatch.get(f"/api/v1/tickets/by-number/{t['number']}", headers=other)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        own = token("grid_worker", GRID)
        assert (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=own)).status_code == 200

    async def test_other_units_handler_cannot_read_it(self, dispatch, world, admin, token):
        t = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        swj = token("department_handler", "SWJ")
        assert (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=swj)).status_code == 404

    async def test_lists_are_scoped(self, dispatch, world, admin, token):
        mine = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        await file(dispatch, admin, MANHOLE, "hotline", lat=31.8116, lng=119.9555)  # grid 002, SWJ
        await file(dispatch, admin, VAGUE, "hotline")  # unplaced triage: dispatchers only

        async def listed(headers: dict[str, str]) -> tuple[int, set[int]]:
            r = await dispatch.get("/api/v1/tickets", headers=headers)
            assert r.status_code == 200
            return r.json()["total"], {i["id"] for i in r.json()["items"]}

        total, ids = await listed(token("grid_worker", GRID))
        assert (total, ids) == (1, {mine["id"]})
        total, ids = await listed(token("department_handler", "CGJ"))
        assert (total, ids) == (1, {mine["id"]})
        assert (await listed(token("grid_worker", "320411002001001")))[0] == 0
        assert (await listed(token("street_dispatcher", STREET)))[0] == 3
        assert (await listed(token("street_dispatcher", "320411002")))[0] == 1  # only the unplaced one


class TestBadInput:
    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param(body(""), id="empty-text"),
            pytest.param(body("   \n\t  "), id="whitespace-text"),
            pytest.param(body("   垃   "), id="one-char-padded-with-spaces"),
            pytest.param(body("垃" * 10_000), id="10000-chars"),
            pytest.param(body("垃圾\x00没人清理"), id="nul-in-text"),
            pytest.param(body(GARBAGE, address="龙锦路\x001号"), id="nul-in-address"),
            pytest.param(body(GARBAGE, lat=60.0, lng=10.0), id="outside-china"),
            pytest.param(body(GARBAGE, lat=31.81, lng=10.0), id="lng-outside-china"),
            pytest.param(body(GARBAGE, lat=31.81), id="lat-without-lng"),
            pytest.param(body(GARBAGE, channel="fax"), id="unknown-channel"),
            pytest.param(
                body(GARBAGE, attachments=[{"url": f"https://oss.example.org/p{i}.jpg"} for i in range(10)]),
                id="too-many-attachments",
            ),
            pytest.param(body(GARBAGE, reporter={"phone": "not-a-phone"}), id="bad-phone"),
            pytest.param(body(GARBAGE, external_due_at="2026-01-01T10:00:00"), id="naive-due"),
            pytest.param(body(GARBAGE, unknown_field=1), id="unknown-field"),
        ],
    )
    async def test_refused_and_nothing_written(self, dispatch, session, admin, payload):
        before = await ticket_rows(session)
        r = await dispatch.post("/api/v1/tickets", json=payload, headers=admin)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        assert r.json()["errors"]
        assert await ticket_rows(session) == before

    @pytest.mark.parametrize("key", ["short", "has a space in it", "x" * 201])
    async def test_bad_idempotency_key(self, dispatch, session, admin, key):
        before = await ticket_rows(session)
        r = await dispatch.post("/api/v1/tickets", json=body(), headers={**admin, "Idempotency-Key": key})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        assert await ticket_rows(session) == before

    async def test_no_token_is_401(self, dispatch, session):
        before = await ticket_rows(session)
        r = await dispatch.post("/api/v1/tickets", json=body())
        assert r.status_code == 401
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        assert await ticket_rows(session) == before

    async def test_unit_liaison_may_not_file(self, dispatch, session, token):
        before = await ticket_rows(session)
        r = await dispatch.post("/api/v1/tickets", json=body(), headers=token("unit_liaison", "CGJ"))
        assert r.status_code == 403
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        assert await ticket_rows(session) == before

    async def test_unknown_unit_in_a_transition(self, dispatch, session, admin):
        t = await file(dispatch, admin, GARBAGE, "patrol")
        events = len(await events_of(session, t["id"]))
        r = await dispatch.post(
            f"/api/v1/tickets/{t['id']}/transitions",
            json={"action": "reassign", "unit": "ZZZ", "note": "改派"},
            headers=admin,
        )
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        assert r.json()["type"].endswith("/unknown-unit")
        detail = (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=admin)).json()
        assert detail["routing"]["unit"] == "CGJ"
        assert len(detail["events"]) == events

    async def test_unknown_standard_in_a_transition(self, dispatch, session, admin):
        t = await file(dispatch, admin, VAGUE, "hotline")
        r = await dispatch.post(
            f"/api/v1/tickets/{t['id']}/transitions",
            json={"action": "dispatch", "standard_code": "999999"},
            headers=admin,
        )
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
        detail = (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=admin)).json()
        assert detail["status"] == "triage"


# ---- the registry down, or knowing no grid there ------------------------------------------------------


@pytest.fixture
async def dispatch_registry_down(dispatch_app, dispatch_settings, registry_app, maker):
    """A second dispatch app whose registry calls all fail to connect, except the token keys (JWKS),
    which a running replica would have cached before the outage."""
    registry = httpx.ASGITransport(app=registry_app)

    async def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            r = await registry.handle_async_request(request)
            await r.aread()
            return r
        raise httpx.ConnectError("connection refused", request=request)

    app = create_app(
        dispatch_settings,
        sessionmaker=maker,
        registry_transport=httpx.MockTransport(refuse),
        background=False,
        configure_logs=False,
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dispatch") as c:
            yield c


class TestRegistryDown:
    async def test_ticket_is_stored_with_place_pending_then_resolved_by_the_retry(
        self, dispatch, dispatch_registry_down, dispatch_app, world, maker, admin
    ):
        t = await file(dispatch_registry_down, admin, GARBAGE, "patrol", **IN_GRID)
        assert t["place"]["status"] == "pending"
        assert t["place"]["grid_code"] is None
        assert t["status"] == "dispatched"  # routing does not need the registry

        done = await retry_places(maker, dispatch_app.state.dispatch)
        assert done == 1

        detail = (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=admin)).json()
        assert detail["place"]["status"] == "resolved"
        assert detail["place"]["grid_code"] == GRID
        assert detail["place"]["street_name"] == "三井街道"
        locates = [e for e in detail["events"] if e["action"] == "locate"]
        assert len(locates) == 1
        assert locates[0]["data"]["place"] == "resolved"
        assert locates[0]["label"] == "定位"
        # nothing left to retry
        assert await retry_places(maker, dispatch_app.state.dispatch) == 0

    async def test_address_report_is_pending_too(self, dispatch_registry_down, admin):
        t = await file(
            dispatch_registry_down, admin, BULKY, "phone", address="新北区三井街道龙锦社区测试苑1幢"
        )
        assert t["place"]["status"] == "pending"

    async def test_retry_while_still_down_keeps_it_pending(
        self, dispatch_registry_down, dispatch_app, maker, session, admin
    ):
        t = await file(dispatch_registry_down, admin, GARBAGE, "patrol", **IN_GRID)
        down_env = dispatch_registry_down._transport.app.state.dispatch  # type: ignore[attr-defined]
        assert await retry_places(maker, down_env) == 0
        assert not await events_of(session, t["id"], "locate")
        r = await dispatch_registry_down.get(f"/api/v1/tickets/{t['id']}", headers=admin)
        assert r.json()["place"]["status"] == "pending"


async def test_transition_helper_smoke(dispatch, admin, token):
    """The loop starts where intake leaves it: the unit signs for the ticket."""
    t = await file(dispatch, admin, GARBAGE, "patrol")
    out = await act(dispatch, token("department_handler", "CGJ"), t["id"], "accept")
    assert out["status"] == "accepted"
