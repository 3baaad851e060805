"""12345 integration over HTTP: signed orders in, orders read back, status callbacks out to the fake
platform (tools/hotline_platform.py), which checks our signatures, de-duplicates and checks the order."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from services.dispatch.hotline import signature
from services.dispatch.models import (
    HotlineCallback,
    HotlineDelivery,
    HotlineKey,
    HotlineNonce,
    HotlineOrder,
    Ticket,
)
from services.dispatch.worktime import CST
from tests.dispatch.helpers import PHOTO, VAGUE, People, detail, problem, step, walk
from tests.dispatch.hotline_helpers import APP_KEY, APP_SECRET, install_key, work_order
from tools import hotline_platform as fake

ORDERS = "/api/v1/hotline/orders"


@pytest.fixture
def people(token: Any) -> People:
    return People(token)


@pytest.fixture
async def platform_client(world: Any, dispatch_app: Any, maker: Any) -> Any:
    """The fake platform's client, signing with a key the district installed."""
    await install_key(dispatch_app, maker)
    client = fake.PlatformClient(
        "http://dispatch", APP_KEY, APP_SECRET, transport=httpx.ASGITransport(app=dispatch_app)
    )
    yield client
    await client.aclose()


async def count(session: Any, model: Any) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def receive(client: Any, **kw: Any) -> dict[str, Any]:
    r = await client.post_order(work_order(**kw))
    assert r.status_code == 201, r.text
    return r.json()


# ---- the signature ------------------------------------------------------------------------------------


class TestSignatureVectors:
    """Fixed inputs and the signature they must give, written out: a change to either side shows."""

    SECRET, TS = "hl-test-secret-0001", "1763700000"

    def test_post_vector(self):
        body = b'{"order_no":"GD202611210001"}'
        args = ("POST", "/api/v1/hotline/orders", self.TS, "0123456789abcdef0123456789abcdef", body)
        assert signature.string_to_sign(*args) == (
            "POST\n/api/v1/hotline/orders\n1763700000\n0123456789abcdef0123456789abcdef\n"
            + hashlib.sha256(body).hexdigest()
        )
        expected = "2fb85461d721d0d36b963bce10edf7b0d38fae54f695a4bc3008d5a3928bcaec"
        assert signature.sign(self.SECRET, *args) == expected
        assert fake.sign(self.SECRET, *args) == expected  # the platform's independent implementation

    def test_get_vector_signs_the_empty_body(self):
        args = (
            "GET",
            "/api/v1/hotline/orders/GD202611210001",
            self.TS,
            "fedcba9876543210fedcba9876543210",
            b"",
        )
        expected = "054f4427120f94ad75ff6e7d99598c46ab3fd2c984657c75cd283dbb91a8c3a3"
        assert signature.sign(self.SECRET, *args) == expected
        assert signature.string_to_sign(*args).endswith(signature.EMPTY_BODY_SHA256)


class TestSignedRequests:
    async def test_a_signed_order_becomes_a_routed_hotline_ticket(
        self, platform_client, dispatch, people, session
    ):
        r = await platform_client.post_order(work_order())
        assert r.status_code == 201, r.text
        out = r.json()
        assert r.headers["location"] == f"{ORDERS}/GD202611210001"
        assert out["order_no"] == "GD202611210001"
        assert out["ticket_number"].startswith("SF")
        assert (out["status"], out["status_label"]) == ("dispatched", "已派遣")
        assert out["unit"]["code"] == "CGJ"
        ticket = (
            await session.execute(select(Ticket).where(Ticket.number == out["ticket_number"]))
        ).scalar_one()
        assert (ticket.channel, ticket.external_ref, ticket.grid_code) == (
            "hotline",
            "GD202611210001",
            "320411001001001",
        )
        assert ticket.attachments == [
            {"url": "https://12345.example.gov.cn/files/rec-0001.mp3", "kind": "audio"}
        ]
        trail = (await detail(dispatch, people["district"], ticket.id))["events"]
        assert trail[0]["actor"] == f"12345:{APP_KEY}"
        order = await session.get(HotlineOrder, "GD202611210001")
        assert (order.ticket_id, order.appeal_type, order.app_key) == (ticket.id, "投诉", APP_KEY)

    async def test_the_platform_deadline_caps_a_looser_handling_limit(self, platform_client, session):
        deadline = datetime.now(CST) + timedelta(hours=2)
        out = await receive(platform_client, deadline_at=deadline.isoformat())
        assert datetime.fromisoformat(out["handling_due_at"]) == deadline.replace(
            microsecond=deadline.microsecond
        )
        assert datetime.fromisoformat(out["deadline_at"]) == deadline

    @pytest.mark.parametrize(
        ("drop", "missing"),
        [("X-Signature", ["X-Signature"]), ("X-Nonce", ["X-Nonce"]), ("X-App-Key", ["X-App-Key"])],
    )
    async def test_a_missing_header_is_named(self, platform_client, session, drop, missing):
        r = await platform_client.raw("POST", ORDERS, orjson.dumps(work_order()), {drop: None})
        assert problem(r, 401, "signature-missing")["missing"] == missing
        assert r.headers["www-authenticate"].startswith("HMAC-SHA256")
        assert await count(session, HotlineOrder) == 0

    @pytest.mark.parametrize(
        ("header", "value", "says"),
        [
            ("X-Timestamp", "2026-11-21T09:00:00", "unix seconds"),
            ("X-Nonce", "short", "16–64"),
            ("X-Signature", "ABC", "64 lowercase hex"),
        ],
    )
    async def test_a_malformed_header_says_what_is_expected(self, platform_client, header, value, says):
        r = await platform_client.raw("POST", ORDERS, orjson.dumps(work_order()), {header: value})
        assert says in problem(r, 401, "signature-missing")["detail"]

    @pytest.mark.parametrize("skew", [-305, 305, -900])
    async def test_a_timestamp_outside_300_s_is_refused(self, platform_client, session, skew):
        r = await platform_client.raw(
            "POST", ORDERS, orjson.dumps(work_order()), timestamp=int(time.time()) + skew
        )
        body = problem(r, 401, "timestamp-out-of-window")
        assert "±300 s" in body["detail"]
        assert abs(body["server_time"] - time.time()) < 5
        assert await count(session, HotlineOrder) == 0

    @pytest.mark.parametrize("skew", [-290, 290])
    async def test_a_timestamp_inside_the_window_is_accepted(self, platform_client, skew):
        r = await platform_client.raw(
            "POST", ORDERS, orjson.dumps(work_order()), timestamp=int(time.time()) + skew
        )
        assert r.status_code == 201, r.text

    async def test_an_unknown_key_is_refused(self, platform_client, world, dispatch_app):
        stranger = fake.PlatformClient(
            "http://dispatch", "hl-stranger", APP_SECRET, transport=httpx.ASGITransport(app=dispatch_app)
        )
        r = await stranger.post_order(work_order())
        assert "hl-stranger" in problem(r, 401, "unknown-app-key")["detail"]
        await stranger.aclose()

    async def test_a_wrong_secret_is_refused_with_the_string_the_server_signed(
        self, world, dispatch_app, maker, session
    ):
        await install_key(dispatch_app, maker)
        liar = fake.PlatformClient(
            "http://dispatch", APP_KEY, "not-the-secret", transport=httpx.ASGITransport(app=dispatch_app)
        )
        body = orjson.dumps(work_order())
        r = await liar.raw("POST", ORDERS, body, nonce="n" * 32, timestamp="1763700000", headers_override={})
        problem(r, 401, "timestamp-out-of-window")  # the clock is checked first, cheapest first
        r = await liar.raw("POST", ORDERS, body, nonce="n" * 32)
        out = problem(r, 401, "signature-mismatch")
        assert out["string_to_sign"].split("\n")[:2] == ["POST", ORDERS]
        assert out["string_to_sign"].endswith(hashlib.sha256(body).hexdigest())
        assert await count(session, HotlineOrder) == 0
        await liar.aclose()

    async def test_a_body_changed_after_signing_is_refused(self, platform_client):
        signed = orjson.dumps(work_order())
        headers = fake.signed_headers(APP_KEY, APP_SECRET, "POST", ORDERS, signed)
        r = await platform_client._http.post(
            ORDERS, content=signed.replace(b"GD2026", b"GD2027"), headers=headers
        )
        problem(r, 401, "signature-mismatch")

    async def test_a_replayed_nonce_is_refused_and_stores_nothing_more(self, platform_client, session):
        body = orjson.dumps(work_order())
        first = await platform_client.raw("POST", ORDERS, body, nonce="replayed-nonce-0001")
        assert first.status_code == 201
        again = await platform_client.raw("POST", ORDERS, body, nonce="replayed-nonce-0001")
        problem(again, 401, "nonce-reused")
        assert await count(session, HotlineOrder) == 1
        assert await count(session, HotlineNonce) == 1

    async def test_a_forged_request_does_not_burn_the_nonce(self, platform_client, session):
        body = orjson.dumps(work_order())
        forged = await platform_client.raw(
            "POST", ORDERS, body, {"X-Signature": "0" * 64}, nonce="nonce-of-the-platform-01"
        )
        problem(forged, 401, "signature-mismatch")
        real = await platform_client.raw("POST", ORDERS, body, nonce="nonce-of-the-platform-01")
        assert real.status_code == 201, real.text


class TestKeys:
    async def test_secrets_are_sealed_and_two_keys_work_during_a_rotation(
        self, platform_client, dispatch, dispatch_app, people, session
    ):
        admin = people["district"]
        r = await dispatch.post("/api/v1/hotline/keys", json={"note": "2027 rotation"}, headers=admin)
        assert r.status_code == 201, r.text
        new = r.json()
        assert new["status"] == "active" and len(new["app_secret"]) >= 32
        stored = (await session.execute(select(HotlineKey.sealed_secret))).scalars().all()
        assert len(stored) == 2
        assert not any(APP_SECRET in s or new["app_secret"] in s for s in stored)  # a dump shows no secret
        listed = (await dispatch.get("/api/v1/hotline/keys", headers=admin)).json()
        assert {k["app_key"] for k in listed} == {APP_KEY, new["app_key"]}
        assert all("app_secret" not in k and "sealed_secret" not in k for k in listed)

        rotated = fake.PlatformClient(
            "http://dispatch",
            new["app_key"],
            new["app_secret"],
            transport=httpx.ASGITransport(app=dispatch_app),
        )
        assert (await platform_client.post_order(work_order("GD-OLD-KEY"))).status_code == 201
        assert (await rotated.post_order(work_order("GD-NEW-KEY"))).status_code == 201
        third = await dispatch.post("/api/v1/hotline/keys", json={}, headers=admin)
        problem(third, 409, "hotline-key-limit")

        r = await dispatch.post(f"/api/v1/hotline/keys/{APP_KEY}/revoke", headers=admin)
        assert r.json()["status"] == "revoked"
        problem(await platform_client.post_order(work_order("GD-AFTER")), 401, "unknown-app-key")
        assert (await rotated.post_order(work_order("GD-AFTER"))).status_code == 201
        await rotated.aclose()

    async def test_only_district_admins_manage_keys(self, platform_client, dispatch, people):
        problem(await dispatch.get("/api/v1/hotline/keys", headers=people["street"]), 403, "action-forbidden")
        problem(
            await dispatch.post("/api/v1/hotline/keys", json={}, headers=people["integration"]),
            403,
            "action-forbidden",
        )
        problem(
            await dispatch.post("/api/v1/hotline/keys/nope/revoke", headers=people["district"]),
            404,
            "hotline-key-not-found",
        )


# ---- bad orders ---------------------------------------------------------------------------------------


class TestBadOrders:
    @pytest.mark.parametrize(
        ("change", "where"),
        [
            ({"appeal_type": "投拆"}, "appeal_type"),
            ({"content": "诉" * 4001}, "content"),
            ({"content": "   "}, "content"),
            ({"urgency": "很急"}, "urgency"),
            ({"caller_phone": "call me"}, "caller_phone"),
            ({"order_no": "GD 0001"}, "order_no"),
            ({"attachments": ["ftp://x/y.jpg"]}, "attachments"),
            ({"lat": 31.8}, "lng"),
            ({"received_at": "yesterday"}, "received_at"),
            ({"unknown_field": 1}, "unknown_field"),
        ],
    )
    async def test_a_bad_field_is_a_422_naming_it_and_nothing_is_stored(
        self, platform_client, session, change, where
    ):
        order = work_order(**change)
        if where == "lng":
            order.pop("lng")
        r = await platform_client.post_order(order)
        body = problem(r, 422, "validation-error")
        assert where in " ".join(".".join(map(str, e["loc"])) + " " + e["msg"] for e in body["errors"]), body
        assert await count(session, HotlineOrder) == 0
        assert await count(session, Ticket) == 0

    async def test_a_refused_order_is_logged_with_its_number_and_reason(self, platform_client, caplog):
        with caplog.at_level("WARNING", logger="gridgov.dispatch.hotline"):
            await platform_client.post_order(work_order("GD-REFUSED", appeal_type="投拆"))
        (rec,) = [r for r in caplog.records if r.getMessage() == "12345 work order refused"]
        assert (rec.order_no, rec.app_key, rec.problem) == ("GD-REFUSED", APP_KEY, "validation-error")
        assert "appeal_type" in rec.detail

    async def test_missing_fields_are_listed(self, platform_client):
        r = await platform_client.post_order({"order_no": "GD1"})
        locs = {tuple(e["loc"]) for e in problem(r, 422, "validation-error")["errors"]}
        assert {
            ("body", f) for f in ("received_at", "appeal_type", "content", "address", "deadline_at")
        } <= locs

    async def test_a_deadline_in_the_past_is_refused(self, platform_client):
        r = await platform_client.post_order(
            work_order(deadline_at=(datetime.now(CST) - timedelta(hours=1)).isoformat())
        )
        assert "already past" in problem(r, 422, "validation-error")["detail"]

    async def test_content_of_exactly_4000_characters_is_accepted(self, platform_client):
        r = await platform_client.post_order(work_order(content="路口垃圾没人清理。" + "很" * 3991))
        assert r.status_code == 201, r.text

    async def test_a_body_that_is_not_json_is_a_422(self, platform_client, session):
        r = await platform_client.raw("POST", ORDERS, b"order_no=GD1&content=x")
        assert problem(r, 422, "validation-error")["errors"][0]["type"] == "json_invalid"
        assert await count(session, HotlineOrder) == 0

    async def test_a_body_over_1_mb_is_a_413(self, platform_client, session):
        big = orjson.dumps(work_order(content="x" * 1_100_000))
        r = await platform_client.raw("POST", ORDERS, big)
        problem(r, 413, "payload-too-large")
        assert await count(session, HotlineOrder) == 0


# ---- idempotency --------------------------------------------------------------------------------------


class TestOneTicketPerOrder:
    async def test_the_same_order_again_is_the_same_ticket(self, platform_client, session):
        first = await platform_client.post_order(work_order())
        # the platform re-serialises: other key order, the same instants spelled in UTC
        sent = orjson.loads(first.request.content)
        sent["received_at"] = datetime.fromisoformat(sent["received_at"]).astimezone(UTC).isoformat()
        again = await platform_client.post_order(dict(reversed(list(sent.items()))))
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["ticket_number"] == first.json()["ticket_number"]
        assert await count(session, Ticket) == 1

    async def test_the_same_order_no_with_other_content_is_a_409(self, platform_client, session):
        first = await receive(platform_client)
        r = await platform_client.post_order(work_order(content="市民来电反映：路灯不亮了"))
        body = problem(r, 409, "order-conflict")
        assert body["ticket_number"] == first["ticket_number"]
        assert await count(session, Ticket) == 1


# ---- routing hints and privacy ----------------------------------------------------------------------


class TestRoutingAndPrivacy:
    async def test_a_suggested_unit_settles_an_unsure_route_when_the_router_agrees(self, platform_client):
        plain = await receive(platform_client, order_no="GD-PLAIN", content=VAGUE)
        assert plain["status"] == "triage" and plain["unit"] is None
        hinted = await receive(
            platform_client, order_no="GD-HINT", content=VAGUE, suggested_unit="区公安分局"
        )
        assert hinted["unit"]["code"] == "GAJ"
        far = await receive(platform_client, order_no="GD-FAR", content=VAGUE, suggested_unit="区教育局")
        assert far["status"] == "triage"  # a hint the router does not share decides nothing

    async def test_a_whistle_blowers_contact_stays_with_the_dispatch_centre(
        self, platform_client, dispatch, people, session
    ):
        out = await receive(platform_client, appeal_type="举报")
        ticket_id = (
            await session.execute(select(Ticket.id).where(Ticket.number == out["ticket_number"]))
        ).scalar_one()
        handler = (await detail(dispatch, people["cgj"], ticket_id))["reporter"]
        assert handler["phone"] != "13912345678"
        assert (await detail(dispatch, people["district"], ticket_id))["reporter"]["phone"] == "13912345678"


# ---- reading an order back -----------------------------------------------------------------------------


async def ticket_id_of(session: Any, number: str) -> int:
    return (await session.execute(select(Ticket.id).where(Ticket.number == number))).scalar_one()


class TestReadingAnOrder:
    async def test_status_unit_timeline_and_result(self, platform_client, dispatch, people, session):
        out = await receive(platform_client)
        tid = await ticket_id_of(session, out["ticket_number"])
        await walk(
            dispatch,
            people,
            tid,
            [
                ("cgj", "accept", {}),
                ("cgj", "start", {}),
                ("cgj", "handle", {"note": "已清运垃圾并清扫"}),
                ("grid", "verify", {"note": "现场已核实", "attachments": [PHOTO]}),
                ("street", "close", {}),
            ],
        )
        r = await platform_client.get_order("GD202611210001")
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["status"], got["status_label"], got["unit"]["code"]) == ("closed", "已办结", "CGJ")
        assert [e["action"] for e in got["timeline"]] == [
            "register",
            "accept",
            "start",
            "handle",
            "verify",
            "close",
        ]
        assert got["timeline"][3]["note"] == "已清运垃圾并清扫"
        assert got["timeline"][4]["note"] is None  # the grid worker's note is internal
        assert got["result"]["text"] == "已清运垃圾并清扫" and got["result"]["closed_at"]
        assert [(c["seq"], c["event"], c["state"]) for c in got["callbacks"]] == [
            (1, "accepted", "pending"),
            (2, "completed", "pending"),
        ]

    async def test_an_unknown_order_is_a_404_and_reading_is_signed(self, platform_client, dispatch):
        problem(await platform_client.get_order("GD-NOPE"), 404, "order-not-found")
        problem(await dispatch.get(f"{ORDERS}/GD-NOPE"), 401, "signature-missing")


# ---- callbacks ----------------------------------------------------------------------------------------


@pytest.fixture
def courier(dispatch_app: Any) -> Any:
    """The app's courier with retries due at once (backoff is tested on its own)."""
    c = dispatch_app.state.hotline_courier
    c.settings = c.settings.model_copy(
        update={"hotline_callback_backoff_s": 0.001, "hotline_callback_backoff_max_s": 0.001}
    )
    return c


async def drain(courier: Any, maker: Any) -> int:
    """Deliver until nothing is due, waiting out the test-sized backoff between passes."""
    total = 0
    while n := await courier.drain(maker):
        total += n
        await asyncio.sleep(0.01)
    return total


async def callbacks_of(session: Any, order_no: str) -> list[HotlineCallback]:
    rows = await session.execute(
        select(HotlineCallback).where(HotlineCallback.order_no == order_no).order_by(HotlineCallback.seq)
    )
    return list(rows.scalars())


class TestCallbacks:
    async def test_each_step_the_platform_cares_about_is_called_back_in_order(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        out = await receive(platform_client)
        tid = await ticket_id_of(session, out["ticket_number"])
        await walk(dispatch, people, tid, [("cgj", "accept", {}), ("cgj", "start", {})])
        await step(dispatch, people["cgj"], tid, "request_extension", hours=7, note="需协调环卫车辆")
        await step(dispatch, people["street"], tid, "decide_extension", decision="approved", note="同意")
        await walk(
            dispatch,
            people,
            tid,
            [
                ("cgj", "handle", {"note": "已清运", "attachments": [PHOTO]}),
                ("grid", "verify", {"note": "现场已核实", "attachments": [PHOTO]}),
                ("street", "close", {}),
                ("street", "feedback", {"satisfaction": "basically_satisfied", "note": "回访基本满意"}),
            ],
        )
        assert await drain(courier, maker) == 5
        assert platform.rejected == 0 and platform.violations == [] and platform.duplicates == 0
        got = platform.by_order["GD202611210001"]
        assert [(c["seq"], c["event"], c["event_label"]) for c in got] == [
            (1, "accepted", "签收"),
            (2, "extension_requested", "延期申请"),
            (3, "extension_decided", "延期审批"),
            (4, "completed", "办结"),
            (5, "satisfaction", "回访"),
        ]
        assert all(c["ticket_number"] == out["ticket_number"] and c["unit_code"] == "CGJ" for c in got)
        assert got[0]["event_id"] == "GD202611210001-1"
        assert got[1]["data"]["hours"] == 7 and got[1]["data"]["reason"] == "需协调环卫车辆"
        assert got[2]["data"]["decision"] == "approved"
        assert got[3]["data"]["result"] == "已清运" and got[3]["data"]["attachments"] == [PHOTO["url"]]
        assert got[4]["data"]["satisfaction_label"] == "基本满意"
        assert {c.state for c in await callbacks_of(session, "GD202611210001")} == {"delivered"}
        assert await drain(courier, maker) == 0  # nothing twice

    async def test_giving_the_order_back_is_a_returned_callback_with_the_reason(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        out = await receive(platform_client)
        await step(
            dispatch,
            people["street"],
            await ticket_id_of(session, out["ticket_number"]),
            "cancel",
            note="不属于本区管辖",
        )
        await drain(courier, maker)
        (cb,) = platform.received
        assert (cb["event"], cb["status"], cb["data"]["reason"]) == (
            "returned",
            "cancelled",
            "不属于本区管辖",
        )

    async def test_tickets_from_other_channels_owe_the_platform_nothing(
        self, world, dispatch, people, session
    ):
        from tests.dispatch.helpers import file_ticket

        t = await file_ticket(dispatch, people["street"], channel="hotline", external_ref="GD-VIA-STAFF")
        await step(dispatch, people["cgj"], t["id"], "accept")
        assert await count(session, HotlineCallback) == 0

    async def test_a_merged_order_hears_its_masters_steps_under_its_own_number(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        first = await receive(platform_client, order_no="GD-A")
        second = await receive(platform_client, order_no="GD-B", caller_phone="13800000000")
        assert second["merged_into"] == first["ticket_number"] and second["status"] == "dispatched"
        await step(dispatch, people["cgj"], await ticket_id_of(session, first["ticket_number"]), "accept")
        await drain(courier, maker)
        (b,) = platform.by_order["GD-B"]
        assert (b["ticket_number"], b["merged_into"], b["event"]) == (
            second["ticket_number"],
            first["ticket_number"],
            "accepted",
        )
        assert platform.by_order["GD-A"][0]["merged_into"] is None

    async def test_a_platform_outage_delays_but_loses_and_doubles_nothing(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        ids = []
        for n in range(3):
            out = await receive(platform_client, order_no=f"GD-OUT-{n}", lat=31.8116 + n * 0.01)
            ids.append(await ticket_id_of(session, out["ticket_number"]))
        platform.down = True
        for tid in ids:
            await walk(
                dispatch,
                people,
                tid,
                [("cgj", "accept", {}), ("cgj", "start", {}), ("cgj", "handle", {"note": "办结"})],
            )
        for _ in range(3):
            await courier.run_once(maker)
            await asyncio.sleep(0.01)  # past the (test-sized) backoff
        assert platform.received == []
        pending = (
            (await session.execute(select(HotlineCallback).where(HotlineCallback.state == "pending")))
            .scalars()
            .all()
        )
        assert len(pending) == 3 and all(c.attempts == 3 for c in pending)
        assert all("ConnectError" in (c.last_error or "") for c in pending)
        platform.down = False
        await drain(courier, maker)
        assert len(platform.received) == 3 and platform.duplicates == 0 and platform.violations == []

    async def test_a_failing_platform_is_retried_and_each_attempt_is_logged(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        out = await receive(platform_client)
        await step(dispatch, people["cgj"], await ticket_id_of(session, out["ticket_number"]), "accept")
        platform.fail_next(2, status=503)
        await drain(courier, maker)
        (cb,) = await callbacks_of(session, "GD202611210001")
        await session.refresh(cb)
        assert (cb.state, cb.attempts, cb.last_status) == ("delivered", 3, 200)
        r = await dispatch.get(f"/api/v1/hotline/callbacks/{cb.id}", headers=people["district"])
        assert [(d["attempt"], d["status_code"], d["outcome"]) for d in r.json()["deliveries"]] == [
            (1, 503, "retry"),
            (2, 503, "retry"),
            (3, 200, "delivered"),
        ]

    async def test_a_refusal_dead_letters_at_once_and_holds_the_orders_later_callbacks(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        out = await receive(platform_client)
        tid = await ticket_id_of(session, out["ticket_number"])
        await walk(dispatch, people, tid, [("cgj", "accept", {}), ("cgj", "start", {})])
        await step(dispatch, people["cgj"], tid, "request_extension", hours=7, note="需协调")
        platform.fail_next(1, status=400)
        await drain(courier, maker)
        first, second = await callbacks_of(session, "GD202611210001")
        for cb in (first, second):
            await session.refresh(cb)
        assert (first.state, first.attempts, first.last_status) == ("dead", 1, 400)
        assert (second.state, second.attempts) == ("pending", 0)  # held behind the dead one
        admin = people["district"]
        listed = (await dispatch.get("/api/v1/hotline/callbacks?state=dead", headers=admin)).json()
        assert [c["id"] for c in listed["items"]] == [first.id] and listed["total"] == 1
        problem(
            await dispatch.post(f"/api/v1/hotline/callbacks/{second.id}/redrive", headers=admin),
            409,
            "callback-not-dead",
        )
        problem(
            await dispatch.post(f"/api/v1/hotline/callbacks/{first.id}/redrive", headers=people["street"]),
            403,
            "action-forbidden",
        )
        r = await dispatch.post(f"/api/v1/hotline/callbacks/{first.id}/redrive", headers=admin)
        assert (r.json()["state"], r.json()["attempts"]) == ("pending", 0)
        await drain(courier, maker)
        assert [c["seq"] for c in platform.by_order["GD202611210001"]] == [1, 2]
        log = (await dispatch.get(f"/api/v1/hotline/callbacks/{first.id}", headers=admin)).json()[
            "deliveries"
        ]
        assert [d["outcome"] for d in log] == ["dead", "redriven", "delivered"]

    async def test_after_max_attempts_a_callback_is_dead_and_bulk_redrive_revives_it(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        courier.settings = courier.settings.model_copy(update={"hotline_callback_max_attempts": 3})
        out = await receive(platform_client)
        await step(dispatch, people["cgj"], await ticket_id_of(session, out["ticket_number"]), "accept")
        platform.fail_next(5, status=502)
        await drain(courier, maker)
        (cb,) = await callbacks_of(session, "GD202611210001")
        await session.refresh(cb)
        assert (cb.state, cb.attempts) == ("dead", 3)
        r = await dispatch.post(
            "/api/v1/hotline/callbacks/redrive",
            json={"order_no": "GD202611210001"},
            headers=people["district"],
        )
        assert r.json() == {"redriven": 1}
        platform.fail_next(0)
        await drain(courier, maker)  # two more 502s, then delivered
        await session.refresh(cb)
        assert (cb.state, cb.attempts) == ("delivered", 3)
        assert await count(session, HotlineDelivery) == 3 + 1 + 3

    async def test_without_a_callback_url_callbacks_wait_and_are_kept(
        self, platform_client, dispatch, people, session, courier, maker, platform
    ):
        courier.settings = courier.settings.model_copy(update={"hotline_callback_url": None})
        out = await receive(platform_client)
        await step(dispatch, people["cgj"], await ticket_id_of(session, out["ticket_number"]), "accept")
        assert await drain(courier, maker) == 0
        (cb,) = await callbacks_of(session, "GD202611210001")
        assert (cb.state, cb.attempts) == ("pending", 0)

    async def test_the_delivery_log_is_for_admins_dispatchers_and_the_integration(
        self, platform_client, dispatch, people
    ):
        for who in ("district", "street", "integration"):
            assert (await dispatch.get("/api/v1/hotline/callbacks", headers=people[who])).status_code == 200
        problem(
            await dispatch.get("/api/v1/hotline/callbacks", headers=people["cgj"]), 403, "action-forbidden"
        )
        problem(
            await dispatch.get("/api/v1/hotline/callbacks/999", headers=people["district"]),
            404,
            "callback-not-found",
        )


class TestBackoff:
    def test_the_delay_doubles_with_jitter_and_is_capped(self, dispatch_settings):
        from services.dispatch.hotline.callbacks import Courier

        c = Courier(
            dispatch_settings.model_copy(
                update={"hotline_callback_backoff_s": 2, "hotline_callback_backoff_max_s": 60}
            ),
            [],
        )
        for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (12, 60)]:
            delays = [c.backoff(attempt) for _ in range(200)]
            assert all(ceiling / 2 <= d <= ceiling for d in delays)
            assert max(delays) - min(delays) > ceiling / 10  # jittered, not lockstep
