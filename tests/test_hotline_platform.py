"""The fake 12345 platform (tools.hotline_platform) on its own: no database, no services."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tools import hotline_platform as hp

CB_KEY, CB_SECRET = "cb-test-key", "cb-test-secret-0001"
HL_KEY, HL_SECRET = "hl-test-key", "hl-test-secret-0001"
DAY = date(2026, 11, 21)

VECTOR_BODY = b'{"order_no":"GD202611210001"}'
VECTOR_ARGS = ("POST", "/api/v1/hotline/orders", "1763700000", "0123456789abcdef0123456789abcdef")
# computed once with hashlib/hmac (as in test_signature_vector) and frozen here
VECTOR_SIGNATURE = "2fb85461d721d0d36b963bce10edf7b0d38fae54f695a4bc3008d5a3928bcaec"


# --- signing ---------------------------------------------------------------------------------------


def test_signature_vector() -> None:
    method, path, ts, nonce = VECTOR_ARGS
    body_hash = hashlib.sha256(VECTOR_BODY).hexdigest()
    message = f"{method}\n{path}\n{ts}\n{nonce}\n{body_hash}".encode()
    independent = hmac.new(HL_SECRET.encode("utf-8"), message, hashlib.sha256).hexdigest()

    assert independent == VECTOR_SIGNATURE
    assert hp.string_to_sign(method, path, ts, nonce, VECTOR_BODY) == message.decode()
    assert hp.sign(HL_SECRET, method, path, ts, nonce, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = hp.signed_headers(HL_KEY, HL_SECRET, method, path, VECTOR_BODY, timestamp=ts, nonce=nonce)
    assert headers == {
        "X-App-Key": HL_KEY,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": VECTOR_SIGNATURE,
        "Content-Type": "application/json",
    }


def test_string_to_sign_uppercases_method_and_hashes_empty_body() -> None:
    text = hp.string_to_sign("get", "/api/v1/hotline/orders/GD1", 1763700000, "n" * 16, b"")
    assert text.split("\n") == [
        "GET",
        "/api/v1/hotline/orders/GD1",
        "1763700000",
        "n" * 16,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]


def test_signed_headers_defaults() -> None:
    before = int(time.time())
    headers = hp.signed_headers(HL_KEY, HL_SECRET, "GET", "/x", b"")
    assert "Content-Type" not in headers
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Nonce"])
    assert before <= int(headers["X-Timestamp"]) <= int(time.time())
    assert re.fullmatch(r"[0-9a-f]{64}", headers["X-Signature"])
    assert hp.signed_headers(HL_KEY, HL_SECRET, "GET", "/x", b"")["X-Nonce"] != headers["X-Nonce"]


def test_verify_headers() -> None:
    now = 1763700000
    good = hp.signed_headers(HL_KEY, HL_SECRET, "POST", "/p", b"{}", timestamp=now)

    def check(headers: dict[str, str], path: str = "/p", body: bytes = b"{}") -> str | None:
        return hp.verify_headers(headers, "POST", path, body, app_key=HL_KEY, secret=HL_SECRET, now=now)

    assert check(good) is None
    assert check(good, body=b"{ }") == "bad signature"
    assert check(good, path="/p/") == "bad signature"
    assert check({**good, "X-App-Key": "other"}) == "unknown app key"
    assert check({k: v for k, v in good.items() if k != "X-Nonce"}) == "missing signature headers"
    assert check({**good, "X-Timestamp": "17637e5"}) == "malformed timestamp"
    skewed = hp.signed_headers(HL_KEY, HL_SECRET, "POST", "/p", b"{}", timestamp=now - 301)
    assert check(skewed) == "timestamp outside the allowed window"
    short = hp.signed_headers(HL_KEY, HL_SECRET, "POST", "/p", b"{}", timestamp=now, nonce="abc")
    assert check(short) == "malformed nonce"


# --- the callback receiver -----------------------------------------------------------------------


def callback(order_no: str, seq: int, event: str = "accepted", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"{order_no}-{seq}",
        "order_no": order_no,
        "seq": seq,
        "event": event,
        "event_label": hp.EVENT_LABELS.get(event, "?"),
        "occurred_at": "2026-11-21T10:15:00+08:00",
        "ticket_number": "SF20261121000123",
        "status": "accepted",
        "unit_code": "CGJ",
        "unit_name": "区城管局",
        "data": {},
        **extra,
    }


async def deliver(
    http: httpx.AsyncClient,
    payload: dict[str, Any] | bytes,
    *,
    key: str = CB_KEY,
    secret: str = CB_SECRET,
    path: str = "/callbacks",
    signed_path: str | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    signed = hp.signed_headers(
        key, secret, "POST", signed_path or path, body, timestamp=timestamp, nonce=nonce
    )
    return await http.post(path, content=body, headers={**signed, **(headers or {})})


@pytest.fixture
def receiver() -> hp.CallbackReceiver:
    return hp.CallbackReceiver(CB_KEY, CB_SECRET)


@pytest.fixture
async def http(receiver: hp.CallbackReceiver) -> Any:
    async with httpx.AsyncClient(transport=receiver.transport(), base_url="http://12345.test") as client:
        yield client


async def test_receiver_accepts_and_records(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    first = callback("GD2026112100001", 1)
    response = await deliver(http, first)
    assert response.status_code == 200
    assert response.json() == {"code": 0, "msg": "ok"}
    await deliver(http, callback("GD2026112100001", 2, "completed", status="closed"))
    await deliver(http, callback("GD2026112100002", 1))

    assert [c["event_id"] for c in receiver.received] == [
        "GD2026112100001-1",
        "GD2026112100001-2",
        "GD2026112100002-1",
    ]
    assert receiver.received[0] == first
    assert [c["seq"] for c in receiver.by_order["GD2026112100001"]] == [1, 2]
    assert receiver.violations == [] and receiver.duplicates == 0 and receiver.rejected == 0
    assert receiver.attempts == 3
    assert (await http.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"key": "someone-else"}, "unknown app key"),
        ({"secret": "wrong-secret"}, "bad signature"),
        ({"signed_path": "/api/v1/callbacks"}, "bad signature"),
        ({"headers": {"X-Signature": "0" * 64}}, "bad signature"),
        ({"timestamp_shift": -301}, "timestamp outside the allowed window"),
        ({"timestamp_shift": 301}, "timestamp outside the allowed window"),
        ({"headers": {"X-Timestamp": "yesterday"}}, "malformed timestamp"),
        ({"nonce": "short"}, "malformed nonce"),
        ({"nonce": "x" * 65}, "malformed nonce"),
        ({"headers": {"X-Signature": ""}}, "missing signature headers"),
    ],
)
async def test_receiver_rejects_bad_signatures(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient, tamper: dict[str, Any], reason: str
) -> None:
    tamper = dict(tamper)
    shift = tamper.pop("timestamp_shift", None)
    if shift is not None:
        tamper["timestamp"] = int(time.time()) + shift
    response = await deliver(http, callback("GD2026112100001", 1), **tamper)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "msg": reason}
    assert receiver.rejected == 1 and receiver.rejections == [reason]
    assert receiver.received == []


async def test_receiver_accepts_skew_within_window(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient
) -> None:
    assert (await deliver(http, callback("A", 1), timestamp=int(time.time()) - 290)).status_code == 200
    assert (await deliver(http, callback("A", 2), timestamp=int(time.time()) + 290)).status_code == 200


async def test_receiver_rejects_replayed_nonce(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient
) -> None:
    nonce = "0123456789abcdef0123456789abcdef"
    assert (await deliver(http, callback("A", 1), nonce=nonce)).status_code == 200
    # a genuine retry of the same event must be signed afresh; the same headers again are a replay
    replay = await deliver(http, callback("A", 1), nonce=nonce)
    assert replay.status_code == 401
    assert replay.json()["msg"] == "nonce already used (replay)"
    assert receiver.duplicates == 0 and len(receiver.received) == 1


async def test_receiver_uses_its_clock() -> None:
    receiver = hp.CallbackReceiver(CB_KEY, CB_SECRET, clock=lambda: 1763700000.0)
    async with httpx.AsyncClient(transport=receiver.transport(), base_url="http://x") as client:
        ok = await deliver(client, callback("A", 1), timestamp=1763700000 - 300)
        late = await deliver(client, callback("A", 2), timestamp=1763700000 + 301)
    assert (ok.status_code, late.status_code) == (200, 401)


async def test_receiver_rejects_bad_bodies(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    assert (await deliver(http, b"not json")).status_code == 400
    assert (await deliver(http, b"[1, 2]")).status_code == 400
    missing = callback("A", 1)
    del missing["event_id"]
    assert (await deliver(http, missing)).status_code == 400
    assert (
        await deliver(http, callback("A", 1, event="closed_by_magic", event_label="x"))
    ).status_code == 400
    assert (await deliver(http, callback("A", 1, event_label="办结"))).status_code == 400
    assert (await deliver(http, {**callback("A", 1), "seq": "1"})).status_code == 400
    assert (await deliver(http, callback("A", 0))).status_code == 400
    assert (await deliver(http, callback("A", 1, occurred_at="2026-11-21 10:15"))).status_code == 400
    assert len(receiver.malformed) == 8
    assert receiver.received == [] and receiver.rejected == 0


async def test_receiver_refuses_bodies_over_one_megabyte(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient
) -> None:
    big = callback("A", 1, data={"blob": "x" * (hp.MAX_BODY_BYTES + 1)})
    assert (await deliver(http, big)).status_code == 413
    assert receiver.received == []


async def test_receiver_dedupes_on_event_id(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    event = callback("GD2026112100001", 1)
    first = await deliver(http, event)
    again = await deliver(http, event)  # fresh nonce: a legitimate retry after a lost answer
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"code": 0, "msg": "duplicate"}
    assert receiver.duplicates == 1
    assert len(receiver.received) == 1 and len(receiver.by_order["GD2026112100001"]) == 1
    assert receiver.violations == []

    # event_id must be stable: the same id with a different body is a bug on the sender's side
    await deliver(http, {**event, "status": "closed"})
    assert receiver.duplicates == 2
    assert receiver.violations == ["GD2026112100001-1: redelivered with a different body"]


async def test_receiver_checks_order_per_order_no(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient
) -> None:
    for order_no, seq in [("A", 1), ("B", 1), ("A", 2), ("B", 2), ("A", 3)]:
        await deliver(http, callback(order_no, seq))
    assert receiver.violations == []

    for order_no, seq in [("C", 2), ("D", 1), ("D", 3), ("D", 2)]:
        assert (await deliver(http, callback(order_no, seq))).status_code == 200
    assert receiver.violations == [
        "C: seq 2 arrived after nothing (expected 1)",
        "D: seq 3 arrived after seq 1 (expected 2)",
        "D: seq 2 arrived after seq 3 (expected 4)",
    ]
    assert [c["seq"] for c in receiver.by_order["D"]] == [1, 3, 2]


async def test_receiver_flags_changing_ticket_number(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient
) -> None:
    await deliver(http, callback("A", 1))
    await deliver(http, callback("A", 2, ticket_number="SF20261121000999"))
    assert receiver.violations == ["A: ticket_number changed from SF20261121000123 to SF20261121000999"]


async def test_fail_next(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    receiver.fail_next(2)
    receiver.fail_next(1, status=429)
    event = callback("A", 1)
    statuses = [(await deliver(http, event)).status_code for _ in range(4)]
    assert statuses == [503, 503, 429, 200]
    assert receiver.attempts == 4 and receiver.injected_failures == 3
    assert len(receiver.received) == 1 and receiver.duplicates == 0


async def test_failed_attempt_uses_up_its_nonce(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient
) -> None:
    receiver.fail_next(1)
    nonce = "f" * 32
    assert (await deliver(http, callback("A", 1), nonce=nonce)).status_code == 503
    assert (await deliver(http, callback("A", 1), nonce=nonce)).status_code == 401
    assert (await deliver(http, callback("A", 1))).status_code == 200


async def test_fail_next_does_not_spend_on_unsigned_requests(
    receiver: hp.CallbackReceiver, http: httpx.AsyncClient
) -> None:
    receiver.fail_next(1)
    assert (await deliver(http, callback("A", 1), secret="wrong")).status_code == 401
    assert (await deliver(http, callback("A", 1))).status_code == 503


async def _statuses_with_rate(seed: int, rate: float, n: int) -> list[int]:
    receiver = hp.CallbackReceiver(CB_KEY, CB_SECRET, seed=seed, fail_rate=rate)
    async with httpx.AsyncClient(transport=receiver.transport(), base_url="http://x") as client:
        return [(await deliver(client, callback("A", i + 1))).status_code for i in range(n)]


async def test_fail_rate_is_seeded() -> None:
    first = await _statuses_with_rate(7, 0.5, 40)
    assert first == await _statuses_with_rate(7, 0.5, 40)
    assert 5 < first.count(503) < 35 and first.count(503) + first.count(200) == 40
    assert set(await _statuses_with_rate(7, 1.0, 5)) == {503}
    assert set(await _statuses_with_rate(7, 0.0, 5)) == {200}


async def test_delay(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    receiver.delay_s = 0.15
    started = time.perf_counter()
    assert (await deliver(http, callback("A", 1))).status_code == 200
    assert time.perf_counter() - started >= 0.15


async def test_down_refuses_connections(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    receiver.down = True
    with pytest.raises(httpx.ConnectError, match="fake 12345 is down"):
        await deliver(http, callback("A", 1))
    assert receiver.attempts == 0 and receiver.refused == 1
    receiver.down = False
    assert (await deliver(http, callback("A", 1))).status_code == 200


async def test_wait_for(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await deliver(http, callback("A", 1))
        await deliver(http, callback("A", 2))

    task = asyncio.create_task(later())
    assert await receiver.wait_for(2, timeout=5)
    await task
    assert not await receiver.wait_for(3, timeout=0.1)


async def test_clear(receiver: hp.CallbackReceiver, http: httpx.AsyncClient) -> None:
    await deliver(http, callback("A", 1))
    await deliver(http, callback("A", 3))
    receiver.clear()
    assert receiver.summary() == {
        "attempts": 0,
        "received": 0,
        "duplicates": 0,
        "order_violations": 0,
        "malformed": 0,
        "rejected": 0,
        "injected_failures": 0,
    }
    assert (await deliver(http, callback("A", 1))).status_code == 200
    assert receiver.violations == []


async def test_serve_over_real_http(receiver: hp.CallbackReceiver) -> None:
    async with receiver.serve("127.0.0.1", 0) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callbacks", url)
        async with httpx.AsyncClient(base_url=url.removesuffix("/callbacks")) as client:
            assert (await deliver(client, callback("A", 1))).status_code == 200
            assert (await client.get("/healthz")).status_code == 200
    assert len(receiver.received) == 1
    # stopped: "down" over real HTTP
    async with httpx.AsyncClient(base_url=url.removesuffix("/callbacks")) as client:
        with pytest.raises(httpx.ConnectError):
            await deliver(client, callback("A", 2))


async def test_serve_only_on_loopback(receiver: hp.CallbackReceiver) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        async with receiver.serve("0.0.0.0", 0):  # noqa: S104 - the point of the test
            pass


# --- the pushing side ----------------------------------------------------------------------------


class StubDispatch:
    """Just enough of the district's intake to check the client: signatures and idempotency."""

    def __init__(self) -> None:
        self.orders: dict[str, bytes] = {}
        self.nonces: set[str] = set()
        self.requests: list[httpx.Request] = []
        self.app = Starlette(
            routes=[
                Route(hp.ORDERS_PATH, self.post, methods=["POST"]),
                Route(hp.ORDERS_PATH + "/{order_no}", self.get, methods=["GET"]),
            ]
        )

    def _auth(self, request: Request, body: bytes) -> Response | None:
        reason = hp.verify_headers(
            request.headers, request.method, request.url.path, body, app_key=HL_KEY, secret=HL_SECRET
        )
        if reason is None and request.headers["X-Nonce"] in self.nonces:
            reason = "replay"
        if reason is not None:
            return JSONResponse({"detail": reason}, status_code=401)
        self.nonces.add(request.headers["X-Nonce"])
        return None

    def _ticket(self, order_no: str) -> dict[str, Any]:
        number = f"SF{order_no[2:10]}{list(self.orders).index(order_no) + 1:06d}"
        return {"order_no": order_no, "ticket_number": number, "status": "assigned", "unit_name": "区城管局"}

    async def post(self, request: Request) -> Response:
        body = await request.body()
        if (denied := self._auth(request, body)) is not None:
            return denied
        order = orjson.loads(body)
        order_no = order["order_no"]
        if order_no in self.orders:
            if self.orders[order_no] != body:
                return JSONResponse({"detail": "conflict"}, status_code=409)
            return JSONResponse(self._ticket(order_no), headers={"Idempotent-Replayed": "true"})
        self.orders[order_no] = body
        return JSONResponse(self._ticket(order_no), status_code=201)

    async def get(self, request: Request) -> Response:
        if (denied := self._auth(request, await request.body())) is not None:
            return denied
        order_no = request.path_params["order_no"]
        if order_no not in self.orders:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return JSONResponse(self._ticket(order_no))


@pytest.fixture
def dispatch() -> StubDispatch:
    return StubDispatch()


@pytest.fixture
async def platform(dispatch: StubDispatch) -> Any:
    transport = httpx.ASGITransport(app=dispatch.app)
    async with hp.PlatformClient("http://dispatch.test", HL_KEY, HL_SECRET, transport=transport) as client:
        yield client


async def test_client_signs_exactly_the_bytes_it_sends() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={})

    order = {"order_no": "GD2026112100001", "content": "市民来电反映：路灯不亮。", "attachments": []}
    transport = httpx.MockTransport(handler)
    async with hp.PlatformClient("http://dispatch.test/gw", HL_KEY, HL_SECRET, transport=transport) as client:
        await client.post_order(order)
        await client.get_order("GD2026112100001")

    post, get = seen
    assert post.url.path == "/gw/api/v1/hotline/orders"
    assert post.content == orjson.dumps(order) and "市民".encode() in post.content
    assert post.headers["Content-Type"] == "application/json"
    expected = hp.sign(
        HL_SECRET,
        "POST",
        "/gw/api/v1/hotline/orders",
        post.headers["X-Timestamp"],
        post.headers["X-Nonce"],
        post.content,
    )
    assert post.headers["X-Signature"] == expected
    assert get.method == "GET" and get.content == b"" and "Content-Type" not in get.headers
    expected = hp.sign(
        HL_SECRET,
        "GET",
        "/gw/api/v1/hotline/orders/GD2026112100001",
        get.headers["X-Timestamp"],
        get.headers["X-Nonce"],
        b"",
    )
    assert get.headers["X-Signature"] == expected
    assert post.headers["X-Nonce"] != get.headers["X-Nonce"]


async def test_client_raw_tampering(platform: hp.PlatformClient) -> None:
    body = orjson.dumps(hp.make_orders(1, day=DAY)[0])
    assert (await platform.raw("POST", hp.ORDERS_PATH, body, {"X-Signature": "0" * 64})).status_code == 401
    assert (await platform.raw("POST", hp.ORDERS_PATH, body, {"X-Nonce": None})).status_code == 401
    nonce = "a" * 32
    assert (await platform.raw("POST", hp.ORDERS_PATH, body, nonce=nonce)).status_code == 201
    assert (await platform.raw("POST", hp.ORDERS_PATH, body, nonce=nonce)).status_code == 401
    stale = int(time.time()) - 301
    assert (await platform.raw("POST", hp.ORDERS_PATH, body, timestamp=stale)).status_code == 401


async def test_push_orders_and_idempotency(platform: hp.PlatformClient, dispatch: StubDispatch) -> None:
    orders = hp.make_orders(30, day=DAY, seed=5)
    summary = await hp.push_orders(platform, orders, concurrency=4)
    assert summary["sent"] == 30
    assert summary["by_http_status"] == {201: 30}
    assert summary["by_ticket_status"] == {"assigned": 30}
    assert summary["errors"] == {} and summary["problems"] == [] and summary["replayed"] == 0
    assert len(summary["examples"]) == 5
    assert all(
        e["ticket_number"].startswith("SF20261121") and e["unit"] == "区城管局" for e in summary["examples"]
    )
    assert set(dispatch.orders) == {o["order_no"] for o in orders}

    again = await hp.push_orders(platform, orders, concurrency=4)
    assert again["by_http_status"] == {200: 30} and again["replayed"] == 30

    changed = [{**orders[0], "content": orders[0]["content"] + "补充：情况紧急。"}]
    conflict = await hp.push_orders(platform, changed, concurrency=1)
    assert conflict["by_http_status"] == {409: 1}
    assert conflict["problems"][0]["order_no"] == orders[0]["order_no"]

    got = await platform.get_order(orders[0]["order_no"])
    assert got.status_code == 200 and got.json()["order_no"] == orders[0]["order_no"]


async def test_push_orders_counts_connection_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with hp.PlatformClient(
        "http://dispatch.test", HL_KEY, HL_SECRET, transport=httpx.MockTransport(refuse)
    ) as c:
        summary = await hp.push_orders(c, hp.make_orders(3, day=DAY), concurrency=2)
    assert summary["errors"] == {"ConnectError": 3} and summary["by_http_status"] == {}


# --- generated orders ----------------------------------------------------------------------------

URL = re.compile(r"https://12345\.example\.gov\.cn/files/[0-9a-f]{16}\.jpg")


def check_order(order: dict[str, Any], day: date) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", order["order_no"])
    received = datetime.fromisoformat(order["received_at"])
    assert order["received_at"].endswith("+08:00") and received.date() == day
    assert 8 <= received.hour < 21
    assert order["caller_name"] is None or re.fullmatch(r"\w(先生|女士)", order["caller_name"])
    assert order["caller_phone"] is None or re.fullmatch(r"1[3-9]\d{9}", order["caller_phone"])
    assert order["appeal_type"] in hp.APPEAL_TYPES
    assert 0 < len(order["content"]) <= 4000 and "{" not in order["content"]
    assert 0 < len(order["address"]) <= 200
    assert ("lat" in order) == ("lng" in order)
    if "lat" in order:
        assert abs(order["lat"] - 31.83) < 0.1 and abs(order["lng"] - 119.94) < 0.1
    assert order["urgency"] in hp.URGENCIES
    deadline = datetime.fromisoformat(order["deadline_at"])
    assert deadline > received and (deadline.hour, deadline.minute) == (17, 30)
    assert (deadline.date() - received.date()).days in (1, 3, 5)
    assert isinstance(order.get("suggested_unit", ""), str)
    assert all(URL.fullmatch(u) for u in order["attachments"]) and len(order["attachments"]) <= 2


def test_make_orders_are_valid_and_deterministic() -> None:
    orders = hp.make_orders(2000, day=DAY, seed=42)
    for order in orders:
        check_order(order, DAY)
    assert orders == hp.make_orders(2000, day=DAY, seed=42)
    assert orders != hp.make_orders(2000, day=DAY, seed=43)
    assert [o["order_no"] for o in orders[:2]] == ["GD2026112100001", "GD2026112100002"]
    assert len({o["order_no"] for o in orders}) == 2000
    assert [o["received_at"] for o in orders] == sorted(o["received_at"] for o in orders)
    assert len({o["content"] for o in orders}) > 500


def test_make_orders_mix() -> None:
    orders = hp.make_orders(4000, day=DAY, seed=1)
    n = len(orders)
    share = {k: v / n for k, v in Counter(o["appeal_type"] for o in orders).items()}
    assert 0.42 < share["投诉"] < 0.48 and 0.22 < share["求助"] < 0.28 and 0.02 < share["表扬"] < 0.06
    urgency = Counter(o["urgency"] for o in orders)
    assert 0.82 < urgency["一般"] / n < 0.88 and 0.09 < urgency["紧急"] / n < 0.15
    assert 0.6 < sum("lat" in o for o in orders) / n < 0.8
    assert 0.02 < sum("suggested_unit" in o for o in orders) / n < 0.08
    assert 0.11 < sum(bool(o["attachments"]) for o in orders) / n < 0.19
    assert 0.05 < sum(o["caller_name"] is None for o in orders) / n < 0.2
    hours = Counter(datetime.fromisoformat(o["received_at"]).hour for o in orders)
    assert hours[10] > 2 * hours[19] and hours[15] > 2 * hours[12]


def test_make_orders_with_given_areas() -> None:
    areas = [("武进区湖塘镇某某路1号", 31.70, 119.95)]
    for order in hp.make_orders(50, day=date(2027, 2, 1), seed=3, areas=areas):
        assert order["address"] == "武进区湖塘镇某某路1号"
        assert order["order_no"].startswith("GD20270201")
        if "lat" in order:
            assert abs(order["lat"] - 31.70) <= 0.002 and abs(order["lng"] - 119.95) <= 0.002


def test_deadline_follows_urgency() -> None:
    for order in hp.make_orders(500, day=DAY, seed=9):
        days = datetime.fromisoformat(order["deadline_at"]) - datetime.fromisoformat(order["received_at"])
        if order["urgency"] == "特急":
            assert days < timedelta(days=2)


def test_cli_parser() -> None:
    args = hp.build_parser().parse_args(
        [
            "push",
            "--dispatch",
            "http://127.0.0.1:8002",
            "--app-key",
            "K",
            "--secret",
            "S",
            "--day",
            "2026-11-21",
        ]
    )
    assert (args.orders, args.concurrency, args.day) == (200, 8, DAY)
    args = hp.build_parser().parse_args(["receive", "--app-key", "K", "--secret", "S", "--fail-rate", "0.1"])
    assert (args.port, args.path, args.fail_rate, args.delay) == (8090, "/callbacks", 0.1, 0.0)
