"""One service down is one feature down: with wishes unreachable, reporting and my home still work, and
the reverse. A failure is a 503 problem naming the service, never a stack trace; a hanging service costs
one timeout; GETs are retried on a blip, POSTs are not.

The network is faked here (a transport that refuses, hangs or blips, or a real socket that never
answers); every service is the real one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.mobile.models import RateCounter, WishRequest
from services.wishes.models import Wish
from tests.conftest import MOBILE_SECRET
from tests.mobile.residents import resident

PROBLEM = "application/problem+json"
FORM = {"category": "助老", "title": "需要一台轮椅", "description": "老伴行动不便，想要一台折叠轮椅。"}
REPORT = {"text": "小区东门外人行道上的井盖松动了，晚上很危险"}


def refusing() -> httpx.MockTransport:
    """A service that is down: every connection is refused."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    return httpx.MockTransport(handler)


def hanging() -> httpx.MockTransport:
    """A service that accepts the request and never answers."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    return httpx.MockTransport(handler)


class Blips(httpx.AsyncBaseTransport):
    """Forwards to the real service, but answers `status` (503) once to each (method, path) in `once`."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, once: set[tuple[str, str]], status: int = 503
    ) -> None:
        self.inner, self.once, self.status, self.calls = inner, set(once), status, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        self.calls.append(key)
        if key in self.once:
            self.once.discard(key)
            return httpx.Response(self.status, json={"detail": "restarting"})
        return await self.inner.handle_async_request(request)


@pytest.fixture
def build(mobile_settings, registry_app, dispatch_app, wishes_app, wechat_fake, maker) -> Callable[..., Any]:
    """A mobile app like the `mobile_app` fixture, with chosen transports and settings."""
    from services.mobile.app import create_app
    from services.registry.service.accounts import upsert_service_account

    @asynccontextmanager
    async def make(
        *, wishes: Any = "real", dispatch: Any = "real", **settings: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with maker() as s:
            await upsert_service_account(s, "mobile", MOBILE_SECRET)
            await s.commit()
        app = create_app(
            mobile_settings.model_copy(update=settings),
            sessionmaker=maker,
            registry_transport=httpx.ASGITransport(app=registry_app),
            dispatch_transport=httpx.ASGITransport(app=dispatch_app) if dispatch == "real" else dispatch,
            wishes_transport=httpx.ASGITransport(app=wishes_app) if wishes == "real" else wishes,
            wechat_transport=httpx.ASGITransport(app=wechat_fake),
            background=False,
            configure_logs=False,
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mobile") as client:
                yield client

    return make


def names(r: httpx.Response, upstream: str) -> None:
    """A clean 503 problem that names the unavailable service."""
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["upstream"] == upstream and upstream in body["detail"]
    assert "Traceback" not in r.text and "httpx" not in r.text


async def wish_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(Wish))).scalar_one()


class TestWishesDown:
    async def test_wishes_answer_503_naming_wishes_and_nothing_is_recorded(self, build, session, world):
        async with build(wishes=refusing()) as mobile:
            me = await resident(mobile, session, world, 0)
            names(await mobile.get("/m/v1/wishes", headers=me.headers), "wishes")
            names(await mobile.get("/m/v1/wishes/wall", headers=me.headers), "wishes")
            names(await mobile.get("/m/v1/wishes/7", headers=me.headers), "wishes")
            names(
                await mobile.post("/m/v1/wishes/7/withdraw", json={"reason": "不要了"}, headers=me.headers),
                "wishes",
            )
            key = {"Idempotency-Key": "down-0000-0001"}
            r = await mobile.post("/m/v1/wishes", data=FORM, headers={**me.headers, **key})
            names(r, "wishes")
        assert (await session.execute(select(func.count()).select_from(WishRequest))).scalar_one() == 0
        counted = select(func.count()).select_from(RateCounter).where(RateCounter.key.like("wish:%"))
        assert (await session.execute(counted)).scalar_one() == 0

    async def test_my_home_my_tickets_and_reporting_still_work(self, build, session, world):
        async with build(wishes=refusing()) as mobile:
            me = await resident(mobile, session, world, 0)
            assert (await mobile.get("/m/v1/me", headers=me.headers)).status_code == 200
            assert (await mobile.get("/m/v1/tickets", headers=me.headers)).status_code == 200
            r = await mobile.post("/m/v1/reports", data=REPORT, headers=me.headers)
            assert r.status_code == 201, r.text


class TestDispatchDown:
    async def test_wishes_still_work(self, build, session, world):
        async with build(dispatch=refusing()) as mobile:
            me = await resident(mobile, session, world, 0)
            r = await mobile.post("/m/v1/wishes", data=FORM, headers=me.headers)
            assert r.status_code == 201, r.text
            mine = await mobile.get("/m/v1/wishes", headers=me.headers)
            assert mine.status_code == 200 and [w["id"] for w in mine.json()["items"]] == [r.json()["id"]]
            assert (await mobile.get("/m/v1/wishes/wall", headers=me.headers)).status_code == 200

    async def test_reporting_fails_cleanly_naming_dispatch(self, build, session, world):
        async with build(dispatch=refusing()) as mobile:
            me = await resident(mobile, session, world, 0)
            r = await mobile.post("/m/v1/reports", data=REPORT, headers=me.headers)
            assert r.status_code != 500, r.text
            if r.status_code == 503:
                names(r, "dispatch")


class TestTimeouts:
    async def test_a_hanging_wishes_costs_one_timeout_not_a_retry_each(self, build, session, world):
        async with build(wishes=hanging(), upstream_timeout_s=0.5) as mobile:
            me = await resident(mobile, session, world, 0)
            for call in (
                lambda: mobile.get("/m/v1/wishes", headers=me.headers),  # a GET, which may be retried
                lambda: mobile.post("/m/v1/wishes", data=FORM, headers=me.headers),
            ):
                started = time.monotonic()
                r = await call()
                elapsed = time.monotonic() - started
                names(r, "wishes")
                assert "0.5 s" in r.json()["detail"]
                # one timeout, not four plus the backoff (2.85 s): the bound leaves room for a loaded machine
                assert 0.45 < elapsed < 2.5, elapsed

    async def test_a_server_that_never_answers_on_the_network_times_out(self, build, session, world):
        held: list[asyncio.StreamWriter] = []

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)  # read nothing, answer nothing

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with build(
                wishes=None, wishes_url=f"http://127.0.0.1:{port}", upstream_timeout_s=0.5
            ) as mobile:
                me = await resident(mobile, session, world, 0)
                started = time.monotonic()
                r = await mobile.get("/m/v1/wishes", headers=me.headers)
                elapsed = time.monotonic() - started
                names(r, "wishes")
                # one timeout, not four plus the backoff (2.85 s): the bound leaves room for a loaded machine
                assert 0.45 < elapsed < 2.5, elapsed
        finally:
            for w in held:
                w.close()
            server.close()
            await server.wait_closed()


class TestRetries:
    async def test_a_get_is_retried_on_a_blip_and_succeeds(self, build, session, world, wishes_app):
        blips = Blips(httpx.ASGITransport(app=wishes_app), {("GET", "/api/v1/wishes")})
        async with build(wishes=blips) as mobile:
            me = await resident(mobile, session, world, 0)
            r = await mobile.get("/m/v1/wishes", headers=me.headers)
            assert r.status_code == 200, r.text
        assert blips.calls.count(("GET", "/api/v1/wishes")) == 2

    async def test_a_post_is_not_retried_so_a_blip_is_a_503_and_sending_again_makes_one_wish(
        self, build, session, world, wishes_app
    ):
        blips = Blips(httpx.ASGITransport(app=wishes_app), {("POST", "/api/v1/wishes")})
        async with build(wishes=blips) as mobile:
            me = await resident(mobile, session, world, 0)
            names(await mobile.post("/m/v1/wishes", data=FORM, headers=me.headers), "wishes")
            assert blips.calls.count(("POST", "/api/v1/wishes")) == 1
            assert await wish_count(session) == 0
            r = await mobile.post("/m/v1/wishes", data=FORM, headers=me.headers)
            assert r.status_code == 201
        assert await wish_count(session) == 1

    async def test_a_post_refused_for_a_stale_service_token_is_sent_once_more_with_a_fresh_one(
        self, build, session, world, wishes_app
    ):
        """A 401 means wishes did not act on the request, so resending it is safe (shared/http.py)."""
        blips = Blips(httpx.ASGITransport(app=wishes_app), {("POST", "/api/v1/wishes")}, status=401)
        async with build(wishes=blips) as mobile:
            me = await resident(mobile, session, world, 0)
            r = await mobile.post("/m/v1/wishes", data=FORM, headers=me.headers)
            assert r.status_code == 201, r.text
        assert blips.calls.count(("POST", "/api/v1/wishes")) == 2
        assert await wish_count(session) == 1
