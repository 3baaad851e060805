"""A fake of the city's 12345 government-hotline platform (12345政务服务便民热线), for tests, benchmarks, demos.

It speaks the real protocol between the platform and a district, from the platform's side:

* inbound — the platform pushes work orders (工单) to the district:
  `POST {dispatch}/api/v1/hotline/orders` and reads them back with `GET .../orders/{order_no}`;
* outbound — the district reports progress (签收, 回退, 延期, 办结, 回访) to `POST {callback_url}`.

Both directions are signed the same way (headers X-App-Key, X-Timestamp, X-Nonce, X-Signature):

    string_to_sign = METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex(sha256(raw body))
    X-Signature    = hex(HMAC-SHA256(app_secret, string_to_sign))

The module deliberately imports nothing from `services.*`: it implements the contract on its own, so
when it agrees with our server, two independent readings of the spec agree.

What is here:

* `sign`, `string_to_sign`, `signed_headers`, `verify_headers` — the signature, both ways;
* `CallbackReceiver` — the platform's callback endpoint. It answers 401 {"code":401,"msg":...} to a bad
  key, signature, timestamp (±300 s) or a reused nonce, 400 to a body that is not a valid callback,
  and 200 {"code":0,"msg":"ok"} otherwise. It records callbacks once per event_id (`received`,
  `by_order`, `duplicates`), notes every seq that is not previous + 1 for its order (`violations`),
  and can misbehave on demand: `fail_next(n, status)`, `fail_rate`, `delay_s`, `down`;
* `PlatformClient` + `push_orders` — post work orders to a district's dispatch service;
* `make_orders` — a day of plausible 12345 work orders, deterministic for a seed.

In-process (tests), no sockets needed:

    receiver = CallbackReceiver(app_key="cb-key", secret="cb-secret")
    http = httpx.AsyncClient(transport=receiver.transport(), base_url="http://12345.test")
    ...                          # point the district's callback sender at that client
    receiver.fail_next(2)        # the next two callbacks get 503; the sender must retry
    receiver.down = True         # connections are refused (httpx.ConnectError)
    assert await receiver.wait_for(3, timeout=5)

    asgi = httpx.ASGITransport(app=dispatch_app)
    async with PlatformClient("http://dispatch.test", "hl-key", "hl-secret", transport=asgi) as client:
        summary = await push_orders(client, make_orders(50, day=date(2026, 11, 21)), concurrency=8)

From a shell, e.g. next to `make run` (the receiver only listens on 127.0.0.1):

    python -m tools.hotline_platform receive --port 8090 --app-key CB --secret S --fail-rate 0.1
    python -m tools.hotline_platform push --dispatch http://127.0.0.1:8002 --app-key HL --secret S \\
        --orders 200 --day 2026-11-21 --concurrency 8

The receiver verifies signatures before it injects failures, so the nonce of an attempt that got an
injected 503 counts as used: a sender has to sign every retry afresh, as it would have to anyway once
its timestamp goes stale.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import random
import secrets
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Self

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "APPEAL_TYPES",
    "CST",
    "EVENT_LABELS",
    "MAX_BODY_BYTES",
    "MAX_SKEW_S",
    "ORDERS_PATH",
    "URGENCIES",
    "CallbackReceiver",
    "PlatformClient",
    "main",
    "make_orders",
    "push_orders",
    "sign",
    "signed_headers",
    "string_to_sign",
    "verify_headers",
]

CST = timezone(timedelta(hours=8), "CST")
ORDERS_PATH = "/api/v1/hotline/orders"
MAX_SKEW_S = 300
MAX_BODY_BYTES = 1024 * 1024
ALLOWED_HOST = "127.0.0.1"

APPEAL_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
URGENCIES = ("一般", "紧急", "特急")
EVENT_LABELS = {
    "accepted": "签收",
    "returned": "回退",
    "extension_requested": "延期申请",
    "extension_decided": "延期审批",
    "completed": "办结",
    "satisfaction": "回访",
}

H_KEY, H_TS, H_NONCE, H_SIG = "X-App-Key", "X-Timestamp", "X-Nonce", "X-Signature"
_NONCE_LEN = range(16, 65)


# --- signing ---------------------------------------------------------------------------------------


def string_to_sign(method: str, path: str, timestamp: str | int, nonce: str, body: bytes) -> str:
    return "\n".join((method.upper(), path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()))


def sign(secret: str, method: str, path: str, timestamp: str | int, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(
    app_key: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    *,
    timestamp: str | int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    ts = str(int(time.time())) if timestamp is None else str(timestamp)
    nonce = secrets.token_hex(16) if nonce is None else nonce
    headers = {H_KEY: app_key, H_TS: ts, H_NONCE: nonce, H_SIG: sign(secret, method, path, ts, nonce, body)}
    if body:
        headers["Content-Type"] = "application/json"
    return headers


def verify_headers(
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    *,
    app_key: str,
    secret: str,
    now: float | None = None,
    max_skew: int = MAX_SKEW_S,
) -> str | None:
    """Why a signed request must be refused, or None if it is good. Nonce replay is the caller's job."""
    key, ts, nonce, signature = (headers.get(h) for h in (H_KEY, H_TS, H_NONCE, H_SIG))
    if not key or ts is None or nonce is None or not signature:
        return "missing signature headers"
    if not hmac.compare_digest(key.encode(), app_key.encode()):
        return "unknown app key"
    # isdigit() accepts non-ASCII digits that int() would also take; the contract says decimal ASCII
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        return "malformed timestamp"
    now = time.time() if now is None else now
    if abs(now - int(ts)) > max_skew:
        return "timestamp outside the allowed window"
    if len(nonce) not in _NONCE_LEN or not (nonce.isascii() and nonce.isprintable()) or " " in nonce:
        return "malformed nonce"
    expected = sign(secret, method, path, ts, nonce, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad signature"
    return None


def _wire_path(url: httpx.URL) -> str:
    # sign what goes on the wire: percent-encoding kept, query string dropped
    return url.raw_path.split(b"?", 1)[0].decode("ascii")


class _NonceCache:
    """Nonces seen within the timestamp window; older ones can be forgotten, their timestamps fail anyway."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._seen: set[tuple[str, str]] = set()
        self._expiry: deque[tuple[float, tuple[str, str]]] = deque()

    def add(self, app_key: str, nonce: str, now: float) -> bool:
        """Remember a nonce; False if it was already used."""
        while self._expiry and self._expiry[0][0] <= now:
            self._seen.discard(self._expiry.popleft()[1])
        entry = (app_key, nonce)
        if entry in self._seen:
            return False
        self._seen.add(entry)
        self._expiry.append((now + self._ttl, entry))
        return True

    def clear(self) -> None:
        self._seen.clear()
        self._expiry.clear()


# --- the callback receiver (platform side of district -> platform) -------------------------------


def _json(status: int, msg: str, code: int | None = None) -> JSONResponse:
    return JSONResponse({"code": status if code is None else code, "msg": msg}, status_code=status)


def _callback_problem(payload: Any) -> str | None:
    """What makes a callback body unacceptable, or None."""
    if not isinstance(payload, dict):
        return "body is not a JSON object"
    for name in ("event_id", "order_no", "event", "occurred_at", "status"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            return f"{name} must be a non-empty string"
    seq = payload.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return "seq must be an integer >= 1"
    event = payload["event"]
    if event not in EVENT_LABELS:
        return f"unknown event {event!r}"
    if payload.get("event_label") != EVENT_LABELS[event]:
        return f"event_label for {event} must be {EVENT_LABELS[event]!r}"
    try:
        occurred = datetime.fromisoformat(payload["occurred_at"])
    except ValueError:
        return "occurred_at is not an ISO 8601 datetime"
    if occurred.tzinfo is None:
        return "occurred_at has no UTC offset"
    if "data" in payload and not isinstance(payload["data"], dict | None):
        return "data must be an object"
    return None


class CallbackReceiver:
    """The platform's callback endpoint: verifies, records, dedupes on event_id, checks seq order."""

    def __init__(
        self,
        app_key: str,
        secret: str,
        path: str = "/callbacks",
        *,
        seed: int = 12345,
        fail_rate: float = 0.0,
        delay_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.app_key = app_key
        self.secret = secret
        self.path = path
        self.fail_rate = fail_rate
        self.delay_s = delay_s
        self.down = False
        self.on_event = on_event
        self._clock = clock
        self._random = random.Random(seed)
        self._nonces = _NonceCache(ttl_s=2 * MAX_SKEW_S + 1)
        self._fail_queue: deque[int] = deque()
        self._server_task: asyncio.Task[None] | None = None
        self.clear()
        self.app = Starlette(
            routes=[
                Route(path, self._handle_callback, methods=["POST"]),
                Route("/healthz", self._healthz, methods=["GET"]),
            ]
        )

    def clear(self) -> None:
        """Forget everything recorded (not the failure settings)."""
        self.received: list[dict[str, Any]] = []
        self.by_order: dict[str, list[dict[str, Any]]] = {}
        self.duplicates = 0
        self.violations: list[str] = []
        self.malformed: list[str] = []
        self.rejected = 0
        self.rejections: list[str] = []
        self.attempts = 0
        self.injected_failures = 0
        self.refused = 0
        self._by_event_id: dict[str, dict[str, Any]] = {}
        self._last_seq: dict[str, int] = {}
        self._tickets: dict[str, str | None] = {}
        self._nonces.clear()

    def fail_next(self, n: int, status: int = 503) -> None:
        """Answer the next n authenticated POSTs with `status` and record nothing from them."""
        self._fail_queue.extend([status] * n)

    # a plain timeout argument on purpose: callers want a bool to assert on, not an exception
    async def wait_for(self, count: int, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """Wait until at least `count` distinct callbacks have been recorded; False on timeout."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process transport to this receiver that refuses connections while `down` is set."""
        return _ReceiverTransport(self)

    @asynccontextmanager
    async def serve(self, host: str = ALLOWED_HOST, port: int = 0) -> AsyncIterator[str]:
        """Run under uvicorn; yields the callback URL (port 0 picks a free port)."""
        if host != ALLOWED_HOST:
            raise ValueError(f"the fake 12345 platform only listens on {ALLOWED_HOST}, not {host!r}")
        # bind here rather than in uvicorn: a busy port is then an OSError, not uvicorn's sys.exit
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted connections only when the listening
        # socket says it is TCP; with proto 0 every answer waited ~40 ms for a delayed ACK (Nagle)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        bound = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, host=host, port=bound, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        task = self._server_task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
            yield f"http://{host}:{bound}{self.path}"
        finally:
            server.should_exit = True
            await task

    def summary(self) -> dict[str, int]:
        return {
            "attempts": self.attempts,
            "received": len(self.received),
            "duplicates": self.duplicates,
            "order_violations": len(self.violations),
            "malformed": len(self.malformed),
            "rejected": self.rejected,
            "injected_failures": self.injected_failures,
        }

    # - request handling -

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _handle_callback(self, request: Request) -> Response:
        self.attempts += 1
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _json(413, "body too large")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _json(413, "body too large")
        reason = self._authenticate(request, body)
        if reason is not None:
            self.rejected += 1
            self.rejections.append(reason)
            return _json(401, reason)
        injected = self._injected_status()
        if injected is not None:
            self.injected_failures += 1
            return _json(injected, "injected failure (fake 12345)")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            self.malformed.append("body is not JSON")
            return _json(400, "body is not JSON")
        problem = _callback_problem(payload)
        if problem is not None:
            self.malformed.append(problem)
            return _json(400, problem)
        return self._record(payload)

    def _authenticate(self, request: Request, body: bytes) -> str | None:
        path = request.scope.get("raw_path") or request.scope["path"].encode()
        now = self._clock()
        reason = verify_headers(
            request.headers,
            request.method,
            path.split(b"?", 1)[0].decode("latin-1"),
            body,
            app_key=self.app_key,
            secret=self.secret,
            now=now,
        )
        if reason is None and not self._nonces.add(self.app_key, request.headers[H_NONCE], now):
            reason = "nonce already used (replay)"
        return reason

    def _injected_status(self) -> int | None:
        if self._fail_queue:
            return self._fail_queue.popleft()
        if self.fail_rate > 0 and self._random.random() < self.fail_rate:
            return 503
        return None

    def _record(self, payload: dict[str, Any]) -> Response:
        event_id, order_no, seq = payload["event_id"], payload["order_no"], payload["seq"]
        earlier = self._by_event_id.get(event_id)
        if earlier is not None:
            self.duplicates += 1
            if earlier != payload:
                self.violations.append(f"{event_id}: redelivered with a different body")
            return _json(200, "duplicate", code=0)
        self._by_event_id[event_id] = payload
        self.received.append(payload)
        self.by_order.setdefault(order_no, []).append(payload)
        last = self._last_seq.get(order_no, 0)
        if seq != last + 1:
            after = f"seq {last}" if last else "nothing"
            self.violations.append(f"{order_no}: seq {seq} arrived after {after} (expected {last + 1})")
        self._last_seq[order_no] = max(last, seq)
        ticket = payload.get("ticket_number")
        if order_no in self._tickets and self._tickets[order_no] != ticket:
            self.violations.append(
                f"{order_no}: ticket_number changed from {self._tickets[order_no]} to {ticket}"
            )
        self._tickets.setdefault(order_no, ticket)
        if self.on_event is not None:
            self.on_event(payload)
        return _json(200, "ok", code=0)


class _ReceiverTransport(httpx.AsyncBaseTransport):
    def __init__(self, receiver: CallbackReceiver) -> None:
        self._receiver = receiver
        self._inner = httpx.ASGITransport(app=receiver.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._receiver.down:
            self._receiver.refused += 1
            raise httpx.ConnectError("connection refused (fake 12345 is down)", request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


# --- the pushing side (platform -> district) -----------------------------------------------------


class PlatformClient:
    """Signs and sends the platform's requests to a district's dispatch service."""

    def __init__(
        self,
        base_url: str,
        app_key: str,
        secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10,
    ) -> None:
        self.app_key = app_key
        self.secret = secret
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    async def post_order(self, order: dict[str, Any]) -> httpx.Response:
        return await self.raw("POST", ORDERS_PATH, orjson.dumps(order))

    async def get_order(self, order_no: str) -> httpx.Response:
        return await self.raw("GET", f"{ORDERS_PATH}/{order_no}", b"")

    async def raw(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers_override: dict[str, str | None] | None = None,
        *,
        timestamp: str | int | None = None,
        nonce: str | None = None,
    ) -> httpx.Response:
        """Send `body` signed (with a chosen timestamp/nonce if given, e.g. to replay one);
        `headers_override` then replaces headers after signing (None removes one), to tamper."""
        request = self._http.build_request(method.upper(), path, content=body or None)
        wire_path = _wire_path(request.url)
        headers = signed_headers(
            self.app_key, self.secret, method, wire_path, body, timestamp=timestamp, nonce=nonce
        )
        request.headers.update(headers)
        for name, value in (headers_override or {}).items():
            if value is None:
                request.headers.pop(name, None)
            else:
                request.headers[name] = value
        return await self._http.send(request)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _unit_of(body: Mapping[str, Any]) -> str | None:
    # the contract only promises order_no/ticket_number/status; a unit may come under several names
    for name in ("unit_name", "assigned_unit", "unit"):
        value = body.get(name)
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            return value["name"]
    return body.get("unit_code") if isinstance(body.get("unit_code"), str) else None


async def push_orders(client: PlatformClient, orders: Sequence[dict[str, Any]], concurrency: int = 8) -> dict:
    """Post every order (at most `concurrency` in flight); a summary of what the district answered."""
    by_http: Counter[int] = Counter()
    by_ticket_status: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    replayed = 0
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(order: dict[str, Any]) -> None:
        nonlocal replayed
        async with gate:
            try:
                response = await client.post_order(order)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                return
        by_http[response.status_code] += 1
        replayed += response.headers.get("Idempotent-Replayed", "").lower() == "true"
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.is_success:
            if len(problems) < 5:
                problems.append(
                    {
                        "order_no": order["order_no"],
                        "status": response.status_code,
                        "body": response.text[:300],
                    }
                )
            return
        if isinstance(body, dict):
            by_ticket_status[str(body.get("status"))] += 1
            if len(examples) < 5:
                examples.append(
                    {
                        "order_no": order["order_no"],
                        "ticket_number": body.get("ticket_number"),
                        "unit": _unit_of(body),
                    }
                )

    started = time.perf_counter()
    await asyncio.gather(*(one(order) for order in orders))
    elapsed = time.perf_counter() - started
    return {
        "sent": len(orders),
        "by_http_status": dict(sorted(by_http.items())),
        "by_ticket_status": dict(by_ticket_status.most_common()),
        "replayed": replayed,
        "errors": dict(errors),
        "examples": examples,
        "problems": problems,
        "elapsed_s": round(elapsed, 3),
        "orders_per_s": round(len(orders) / elapsed, 1) if elapsed > 0 else None,
    }


# --- realistic work orders -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Matter:
    situation: str  # slots: {addr} {days} {time} {bldg} {n} {money} {hours} {worker}
    ask: str
    unit: str  # what an operator would put as suggested_unit


_M = _Matter
_MATTERS: dict[str, tuple[_Matter, ...]] = {
    "投诉": (
        _M(
            "{addr}有大量暴露垃圾已堆放{days}天无人清运，异味明显，蚊蝇滋生",
            "尽快清运并加强日常保洁",
            "区城管局",
        ),
        _M("{addr}的垃圾桶长期满溢，垃圾散落在人行道上", "增加清运频次", "区城管局"),
        _M("{addr}每天早晚有流动摊贩占道经营，堵塞人行道", "依法取缔占道经营", "区城管局"),
        _M("{addr}附近商户将货物堆在店外人行道上跨门经营", "依法整治", "区城管局"),
        _M("{addr}附近工地每晚{time}后仍在施工，噪声很大，严重影响居民休息", "查处夜间违规施工", "区住建局"),
        _M("{addr}附近广场每晚跳广场舞的音响声音过大，一直持续到{time}", "协调控制音量和时间", "属地街道"),
        _M("{addr}一家KTV夜间噪声扰民，经常持续到凌晨", "依法处理噪声扰民", "区公安分局"),
        _M("{addr}有住户在午休时段装修施工，电钻声扰民", "督促其遵守施工时间", "属地街道"),
        _M(
            "{addr}一家餐饮店油烟直排，油烟飘进楼上住户家中，无法开窗", "督促安装油烟净化设施", "区生态环境局"
        ),
        _M("{addr}下水道堵塞，污水冒溢到路面，气味难闻", "尽快疏通下水道", "区水务局"),
        _M("{addr}道路坑洼不平，雨后积水，电动车经过容易摔倒", "尽快修补路面", "区住建局"),
        _M("{addr}的路灯已经{days}天不亮，夜间出行不安全", "尽快维修路灯", "区城管局"),
        _M("{addr}共享单车乱停乱放，堵塞人行道和盲道", "督促运营企业及时清理", "区城管局"),
        _M(
            "{addr}附近机动车长期违规停放在人行道上，行人只能走机动车道", "加强违停管理", "区公安分局交警大队"
        ),
        _M(
            "{addr}的小区{bldg}电梯多次故障，上周还有居民被困，物业维修不及时",
            "督促物业彻底维修电梯",
            "区住建局",
        ),
        _M("{addr}的小区物业不作为，公共区域长期无人打扫，绿化无人养护", "督促物业履行服务职责", "区住建局"),
        _M("{addr}有一楼住户在公共绿地上违章搭建棚屋", "依法拆除违章建筑", "区城管局"),
        _M("{addr}一家饭店卫生条件差，来电人就餐后出现腹泻", "对该店进行检查", "区市场监管局"),
        _M(
            "{addr}附近一家公司拖欠来电人等{n}名工人工资共计约{money}元，多次讨要未果",
            "协调追讨拖欠工资",
            "区人社局",
        ),
        _M(
            "{addr}附近学校周边上下学时段交通拥堵，有流动摊贩向学生售卖三无食品",
            "加强学校周边秩序管理",
            "区教育局",
        ),
        _M("{addr}的小区停水已有{hours}小时，事先未收到任何通知", "尽快恢复供水并说明原因", "区水务局"),
        _M("{addr}附近渣土车未覆盖篷布，沿路撒漏，扬尘严重", "查处渣土车撒漏", "区城管局"),
        _M("{addr}的小区地下车库渗水严重，物业一直推诿", "督促物业尽快维修", "区住建局"),
        _M("{addr}附近消防通道被私家车长期占用，物业劝阻无效", "清理占用消防通道的车辆", "区消防救援大队"),
    ),
    "求助": (
        _M("{addr}的窨井盖破损，已有行人险些踩空", "尽快更换井盖，消除安全隐患", "区城管局"),
        _M("{addr}的窨井盖缺失，只用几根树枝遮挡，夜间非常危险", "立即设置警示并补装井盖", "区城管局"),
        _M("{addr}的行道树被大风刮倒，横在人行道上", "尽快清理倒伏树木", "区城管局"),
        _M("{addr}绿化带内树木枝叶过密，遮挡了交通信号灯和路灯", "修剪树枝", "区城管局"),
        _M("{addr}楼道内闻到明显的燃气异味，疑似管道泄漏", "燃气公司立即派人上门检查", "区住建局"),
        _M("{addr}附近有{n}条流浪犬出没，曾追咬路过的老人和小孩", "尽快处置流浪犬", "区公安分局"),
        _M("{addr}的小区突然停水，家中有老人和婴儿，生活很不方便", "尽快恢复供水", "区水务局"),
        _M("{addr}的小区{bldg}电梯已停运{days}天，家中老人行动不便无法下楼", "尽快修复电梯", "区住建局"),
        _M("{addr}雨后积水没过脚踝，行人无法通行", "尽快排水", "区水务局"),
        _M("{addr}的楼道内堆满杂物，堵塞消防通道，存在火灾隐患", "督促清理楼道杂物", "区消防救援大队"),
        _M("住在{addr}的一位独居老人行动不便，家中无人照顾", "社区上门了解情况并提供帮助", "属地街道"),
        _M("{addr}的公交站台顶棚破损，雨天无法避雨", "尽快维修站台", "区交通运输局"),
        _M("{addr}的下水道反味严重，天气热时尤其明显", "检查并疏通下水管道", "区水务局"),
    ),
    "咨询": (
        _M("在外地长期工作，如何办理异地就医备案，医保报销比例是多少", "请相关部门予以解答", "区医保局"),
        _M("孩子明年上小学，{addr}对应的学区是哪所学校，入学需要准备哪些材料", "请教育部门答复", "区教育局"),
        _M("{addr}近期是否有计划停水，什么时候恢复正常供水", "请供水部门告知", "区水务局"),
        _M("灵活就业人员如何在本区参加职工医保，缴费标准是多少", "请相关部门解答", "区医保局"),
        _M("被单位拖欠工资，应当到哪里申请劳动仲裁，需要带哪些材料", "请告知办理流程", "区人社局"),
        _M("养犬登记需要到哪里办理，需要准备哪些材料", "请告知办理地点和材料", "区公安分局"),
        _M("{addr}的老旧小区改造何时开工，是否会加装电梯", "请告知相关政策", "区住建局"),
        _M("新生儿参加城乡居民医保如何办理，能否在网上办理", "请相关部门解答", "区医保局"),
    ),
    "举报": (
        _M("{addr}有人在楼顶违章搭建房屋，已经施工{days}天", "依法查处", "区城管局"),
        _M("{addr}有一家无证小作坊生产食品，卫生条件很差", "依法查处", "区市场监管局"),
        _M("{addr}一家餐馆使用过期食材，后厨卫生脏乱", "予以查处", "区市场监管局"),
        _M("{addr}附近有企业夜间偷排污水进河道，河水发黑发臭", "依法查处偷排行为", "区生态环境局"),
        _M("{addr}的小区有人从楼上私拉电线给电动车充电，存在火灾隐患", "依法处理", "区消防救援大队"),
        _M("{addr}一家商户长期占用消防通道堆放货物", "责令其清理", "区消防救援大队"),
        _M("{addr}附近有人露天焚烧垃圾，浓烟很大", "制止并查处", "区生态环境局"),
    ),
    "建议": (
        _M(
            "在{addr}附近增设公交站点，周边居民现在要步行{n}百米才能坐车",
            "请交通部门研究采纳",
            "区交通运输局",
        ),
        _M("在{addr}附近的空地增设健身设施，方便老年人锻炼", "望相关部门予以考虑", "区文体旅局"),
        _M(
            "在{addr}的路口增设红绿灯和斑马线，上下学时段学生过马路很危险",
            "请相关部门研究",
            "区公安分局交警大队",
        ),
        _M("在{addr}附近增设非机动车停放点", "请相关部门予以考虑", "区城管局"),
        _M("在{addr}附近增设一座公共厕所", "望相关部门采纳", "区城管局"),
        _M("延长{addr}附近社区图书馆的周末开放时间", "请相关部门研究", "区文体旅局"),
    ),
    "表扬": (
        _M(
            "{addr}所在网格的网格员{worker}工作认真负责，多次上门帮助独居老人解决实际困难",
            "希望予以表扬",
            "属地街道",
        ),
        _M(
            "区城管局工作人员接到反映后当天就清理了{addr}的暴露垃圾，处理及时",
            "对相关工作人员表示感谢",
            "区城管局",
        ),
        _M("社区工作人员{worker}帮助来电人办理了低保申请，服务热情周到", "希望予以通报表扬", "属地街道"),
        _M("路灯维修人员接到反映后连夜抢修了{addr}的路灯", "对其工作表示感谢", "区城管局"),
        _M("供水抢修人员冒雨连夜修复了{addr}爆裂的水管", "希望予以表扬", "区水务局"),
    ),
}

# how 12345 operators write a call up; {s} = the situation, {a} = the caller's ask
_WRAPPERS: dict[str, tuple[str, ...]] = {
    "投诉": (
        "市民来电反映：{s}，希望相关部门尽快处理。",
        "来电人称{s}，诉求：{a}。",
        "来电人反映{s}，此前已多次反映未解决，要求{a}。",
        "市民来电投诉：{s}。来电人诉求：{a}，请相关部门核实处理。",
    ),
    "求助": (
        "来电人称{s}，诉求：{a}。",
        "市民来电求助：{s}，希望相关部门尽快处理。",
        "来电人反映{s}，请求{a}。",
    ),
    "咨询": ("来电人咨询：{s}。诉求：{a}。", "市民来电咨询{s}，{a}。"),
    "举报": ("市民来电举报：{s}，要求{a}。", "来电人举报{s}，诉求：{a}，请相关部门核实查处。"),
    "建议": ("市民来电建议：{s}，{a}。", "来电人建议{s}，诉求：{a}。"),
    "表扬": ("来电人表扬：{s}，{a}。", "市民来电称{s}，{a}。"),
}

_APPEAL_WEIGHTS = {"投诉": 45, "求助": 25, "咨询": 10, "举报": 8, "建议": 8, "表扬": 4}
# 咨询/建议/表扬 are never urgent; the rest carry all of it, so the overall mix stays 85/12/3
_URGENCY_WEIGHTS_PRESSING = (0.85 - 0.22, 0.12, 0.03)
_HOUR_WEIGHTS = {8: 4, 9: 10, 10: 11, 11: 9, 12: 4, 13: 5, 14: 9, 15: 10, 16: 10, 17: 6, 18: 4, 19: 3, 20: 2}
_DEADLINE_DAYS = {"特急": ((1,), (1,)), "紧急": ((1, 3), (1, 1)), "一般": ((1, 3, 5), (15, 45, 40))}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蒋蔡"
_MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "177 180 181 182 185 186 187 188 189 198 199"
).split()

DEFAULT_AREAS: tuple[tuple[str, float, float], ...] = (
    ("三井街道龙锦社区龙锦路18号附近", 31.8178, 119.9712),
    ("三井街道新雅社区通江中路与太湖东路交叉口", 31.8105, 119.9683),
    ("河海街道百馨社区汉江路356号", 31.8032, 119.9551),
    ("河海街道东海社区华山中路东海花园东门", 31.7981, 119.9602),
    ("新桥街道新桥社区新桥商业街西段", 31.8124, 119.9238),
    ("新桥街道大华社区华山北路大华家园北门", 31.8276, 119.9347),
    ("薛家镇吕墅社区吕墅东路88号附近", 31.8321, 119.9103),
    ("龙虎塘街道盛世社区盛世路与辽河路交叉口", 31.8452, 119.9889),
    ("龙虎塘街道新景社区新景花园三期南门", 31.8398, 119.9801),
    ("春江街道圩塘社区长江北路圩塘菜场旁", 31.8641, 119.9852),
    ("罗溪镇王下社区罗溪中学东侧", 31.8577, 119.9046),
    ("西夏墅镇浦河社区浦河路12号", 31.8713, 119.8861),
)


def _pick(rng: random.Random, weights: Mapping[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _received_times(rng: random.Random, n: int, day: date) -> list[datetime]:
    times = []
    for _ in range(n):
        hour = _pick(rng, _HOUR_WEIGHTS)
        times.append(
            datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=CST)
        )
    return sorted(times)


def _slots(rng: random.Random, address: str) -> dict[str, str]:
    return {
        # addresses often end in 附近 already; templates add their own
        "addr": address.removesuffix("附近"),
        "days": str(rng.randint(2, 10)),
        "time": rng.choice(("晚上10点", "晚上11点", "凌晨1点", "凌晨2点")),
        "bldg": f"{rng.randint(1, 32)}栋",
        "n": str(rng.randint(2, 12)),
        "money": str(rng.randint(8, 120) * 1000),
        "hours": str(rng.randint(6, 30)),
        "worker": rng.choice(_SURNAMES) + "某某",
    }


def _caller(rng: random.Random) -> tuple[str | None, str | None]:
    name = None if rng.random() < 0.12 else rng.choice(_SURNAMES) + rng.choice(("先生", "女士"))
    phone = None if rng.random() < 0.04 else rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return name, phone


def _urgency(rng: random.Random, appeal_type: str) -> str:
    if appeal_type in ("咨询", "建议", "表扬"):
        return "一般"
    return rng.choices(URGENCIES, weights=_URGENCY_WEIGHTS_PRESSING)[0]


def _deadline(rng: random.Random, received: datetime, urgency: str) -> datetime:
    choices, weights = _DEADLINE_DAYS[urgency]
    days = rng.choices(choices, weights=weights)[0]
    last_day = received.date() + timedelta(days=days)
    return datetime(last_day.year, last_day.month, last_day.day, 17, 30, tzinfo=CST)


def _one_order(
    rng: random.Random, order_no: str, received: datetime, areas: Sequence[tuple[str, float, float]]
) -> dict[str, Any]:
    appeal_type = _pick(rng, _APPEAL_WEIGHTS)
    matter = rng.choice(_MATTERS[appeal_type])
    address, lat, lng = rng.choice(areas)
    slots = _slots(rng, address)
    content = rng.choice(_WRAPPERS[appeal_type]).format(
        s=matter.situation.format(**slots), a=matter.ask.format(**slots)
    )
    name, phone = _caller(rng)
    urgency = _urgency(rng, appeal_type)
    order: dict[str, Any] = {
        "order_no": order_no,
        "received_at": received.isoformat(),
        "caller_name": name,
        "caller_phone": phone,
        "appeal_type": appeal_type,
        "content": content,
        "address": address[:200],
    }
    if rng.random() < 0.7:
        order["lat"] = round(lat + rng.uniform(-0.002, 0.002), 6)
        order["lng"] = round(lng + rng.uniform(-0.002, 0.002), 6)
    order["urgency"] = urgency
    order["deadline_at"] = _deadline(rng, received, urgency).isoformat()
    if rng.random() < 0.05:
        order["suggested_unit"] = matter.unit
    attachments = rng.choices((0, 1, 2), weights=(85, 10, 5))[0]
    order["attachments"] = [
        f"https://12345.example.gov.cn/files/{rng.getrandbits(64):016x}.jpg" for _ in range(attachments)
    ]
    return order


def make_orders(
    n: int,
    *,
    day: date,
    seed: int = 20261121,
    areas: Sequence[tuple[str, float, float]] | None = None,
) -> list[dict[str, Any]]:
    """A day's worth of plausible 12345 work orders, in arrival order; the same seed gives the same list."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    areas = list(areas) if areas else list(DEFAULT_AREAS)
    return [
        _one_order(rng, f"GD{day:%Y%m%d}{i:05d}", received, areas)
        for i, received in enumerate(_received_times(rng, n, day), start=1)
    ]


# --- command line --------------------------------------------------------------------------------


def _print_event(payload: dict[str, Any]) -> None:
    print(
        f"{payload['order_no']}  #{payload['seq']}  {payload['event_label']}  → {payload['status']}"
        f"  ({payload.get('ticket_number')}, {payload.get('unit_name') or '-'})",
        flush=True,
    )


async def _run_receiver(receiver: CallbackReceiver, port: int) -> None:
    async with receiver.serve(ALLOWED_HOST, port) as url:
        print(f"fake 12345 platform: receiving callbacks at {url} (Ctrl-C stops)", flush=True)
        # uvicorn catches Ctrl-C itself and then stops serving; waiting for that also works where
        # SIGINT is ignored and uvicorn's re-raise of it after shutdown goes nowhere
        await receiver._server_task


def _cmd_receive(args: argparse.Namespace) -> int:
    receiver = CallbackReceiver(
        args.app_key,
        args.secret,
        args.path,
        fail_rate=args.fail_rate,
        delay_s=args.delay,
        on_event=_print_event,
    )
    try:
        asyncio.run(_run_receiver(receiver, args.port))
    except KeyboardInterrupt:
        pass
    s = receiver.summary()
    print(
        f"\nreceived {s['received']}, duplicates {s['duplicates']}, "
        f"order violations {s['order_violations']}, rejected {s['rejected']}, "
        f"malformed {s['malformed']}, injected failures {s['injected_failures']}"
    )
    for line in receiver.violations[:20]:
        print(f"  violation: {line}")
    return 0


def _print_push_summary(summary: dict[str, Any]) -> None:
    print(f"sent {summary['sent']} orders in {summary['elapsed_s']} s ({summary['orders_per_s']}/s)")
    print("by HTTP status:", ", ".join(f"{k}: {v}" for k, v in summary["by_http_status"].items()) or "-")
    print("by ticket status:", ", ".join(f"{k}: {v}" for k, v in summary["by_ticket_status"].items()) or "-")
    if summary["replayed"]:
        print(f"idempotent replays: {summary['replayed']}")
    if summary["errors"]:
        print("errors:", ", ".join(f"{k}: {v}" for k, v in summary["errors"].items()))
    for example in summary["examples"]:
        print(f"  {example['order_no']} → {example['ticket_number']}  {example['unit'] or ''}")
    for problem in summary["problems"]:
        print(f"  ! {problem['order_no']}: HTTP {problem['status']} {problem['body']}")


async def _push(args: argparse.Namespace) -> dict[str, Any]:
    now = datetime.now(CST)
    # today's later calls have not come in yet: a real platform cannot send them
    orders = [
        o
        for o in make_orders(args.orders, day=args.day, seed=args.seed)
        if datetime.fromisoformat(o["received_at"]) <= now
    ]
    async with PlatformClient(args.dispatch, args.app_key, args.secret, timeout=args.timeout) as client:
        return await push_orders(client, orders, args.concurrency)


def _cmd_push(args: argparse.Namespace) -> int:
    summary = asyncio.run(_push(args))
    _print_push_summary(summary)
    return 0 if not summary["errors"] and all(200 <= k < 300 for k in summary["by_http_status"]) else 1


def _today_cst() -> date:
    return datetime.now(CST).date()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.hotline_platform", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    receive = sub.add_parser("receive", help="receive the district's callbacks on 127.0.0.1")
    receive.add_argument("--port", type=int, default=8090)
    receive.add_argument("--app-key", required=True, help="callback key id the platform issued")
    receive.add_argument("--secret", required=True, help="callback secret")
    receive.add_argument("--path", default="/callbacks")
    receive.add_argument("--fail-rate", type=float, default=0.0, help="share of callbacks answered 503")
    receive.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    receive.set_defaults(func=_cmd_receive)

    push = sub.add_parser("push", help="generate a day of work orders and post them to dispatch")
    push.add_argument("--dispatch", required=True, help="dispatch base URL, e.g. http://127.0.0.1:8002")
    push.add_argument("--app-key", required=True)
    push.add_argument("--secret", required=True)
    push.add_argument("--orders", type=int, default=200)
    push.add_argument(
        "--day", type=date.fromisoformat, default=_today_cst(), help="YYYY-MM-DD (default: today, CST)"
    )
    push.add_argument("--seed", type=int, default=20261121)
    push.add_argument("--concurrency", type=int, default=8)
    push.add_argument("--timeout", type=float, default=10.0)
    push.set_defaults(func=_cmd_push)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
