"""Dispatch service: intake from every channel, routing by the handling standards, the closed loop on a
working-hour clock, supervision and the weekly review."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from services.dispatch import api, tasks
from services.dispatch.clients import RegistryClient
from services.dispatch.hotline import api as hotline_api
from services.dispatch.hotline.callbacks import Courier
from services.dispatch.hotline.keys import KeyRing
from services.dispatch.hotline.schemas import HotlineOrderCreate
from services.dispatch.reporter_push import ReporterPush
from services.dispatch.service import places
from services.dispatch.service.context import Dispatch
from services.dispatch.service.standards import load_catalog
from services.dispatch.settings import DispatchSettings, get_settings
from shared.auth import KeySet, TokenVerifier
from shared.crypto import Sealer
from shared.db import open_database
from shared.http import ServiceToken, make_http_client
from shared.logging import configure_logging
from shared.tasks import stop
from shared.web import create_service_app

VERSION = "0.2.0"

log = logging.getLogger("gridgov.dispatch")

DESCRIPTION = """
Every resident problem, from every channel, routed to the right one of 23 handling units at the right
level and closed in a loop that leaves a trace: 登记 register → 派遣 dispatch → 签收 accept → 处置 handle →
核实 verify → 结案 close → 反馈 feedback, on a working-hour clock (the 4-working-hour response rule, each
standard's handling limit, China's official calendar with 调休), with supervision (督办) when late and a
weekly review (一周一点评).

**Log in:** press *Authorize* and enter a staff username and password (`make run` writes demo accounts
to `.data/demo-accounts.json`; tokens come from the registry). Every error is an RFC 9457 problem
(`application/problem+json`).
"""

TAGS = [
    {
        "name": "standards",
        "description": "The 23 handling units, the 285 handling standards (versioned) and routing.",
    },
    {
        "name": "tickets",
        "description": "Intake, the closed loop as a state machine, and each ticket's trail.",
    },
    {
        "name": "work views",
        "description": "Queues of the dispatch centre, units and grid workers; supervision.",
    },
    {"name": "reports", "description": "The weekly review (一周一点评) with the red and black lists."},
    {
        "name": "12345 hotline",
        "description": "Signed work orders from the 12345 platform, its app keys, and the log of status "
        "callbacks sent back (see docs/hotline.md).",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(
    settings: DispatchSettings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
    mobile_transport: httpx.AsyncBaseTransport | None = None,
    background: bool = True,
    configure_logs: bool = True,
) -> FastAPI:
    """`sessionmaker`, `registry_transport`, `callback_transport` and `mobile_transport` let tests bind
    the app to their transaction, an in-process registry, a fake 12345 platform and an in-process mobile
    service; in production all are built from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging("dispatch", settings.log_level, settings.log_json)
        engine = open_database(app, settings, "dispatch", sessionmaker)
        maker = app.state.sessionmaker
        http = make_http_client(settings.registry_url, transport=registry_transport, max_connections=64)
        token = ServiceToken(http, client_id=settings.client_id, client_secret=settings.client_secret)
        registry = RegistryClient(
            http,
            service_token=token,
            cache_size=settings.locate_cache_size,
            cache_ttl_s=settings.locate_cache_ttl_s,
        )

        async def fetch_jwks() -> dict:
            r = await http.get(settings.jwks_url)  # absolute: the JWKS may be served elsewhere
            r.raise_for_status()
            return r.json()

        app.state.verifier = TokenVerifier(KeySet(fetch_jwks), issuer=settings.jwt_issuer)
        async with maker() as session:
            catalog = await load_catalog(session)
        env = Dispatch.build(settings, registry, catalog)
        await places.refresh_quietly(env.map, registry)  # without it, intake asks /locate per report
        app.state.dispatch = env
        app.state.sealer = Sealer(settings.secrets_key_bytes)
        app.state.hotline_keys = KeyRing(app.state.sealer, settings.hotline_key_cache_s)
        app.state.hotline_courier = Courier(
            settings,
            [
                httpx.AsyncClient(
                    transport=callback_transport
                    or httpx.AsyncHTTPTransport(
                        retries=1,  # connection failures only: nothing was sent, nothing can arrive twice
                        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    ),
                    timeout=settings.hotline_callback_timeout_s,
                )
                for _ in range(settings.hotline_callback_concurrency)
            ],
        )
        if not settings.hotline_callback_url:
            log.warning("DISPATCH_HOTLINE_CALLBACK_URL is unset: 12345 callbacks are kept until it is set")
        push_http = httpx.AsyncClient(
            base_url=settings.mobile_url or "http://mobile.invalid",
            transport=mobile_transport
            or httpx.AsyncHTTPTransport(  # connection failures only: nothing was sent
                retries=1, limits=httpx.Limits(max_connections=4, max_keepalive_connections=4)
            ),
            timeout=settings.mobile_push_timeout_s,
        )
        app.state.reporter_push = ReporterPush(settings, push_http, token, env)
        if not settings.mobile_url:
            log.warning("DISPATCH_MOBILE_URL is unset: residents' status updates are kept until it is set")
        running = (
            tasks.start(env, maker, app.state.hotline_courier, app.state.reporter_push) if background else []
        )
        try:
            yield
        finally:
            await stop(running)
            try:
                await app.state.hotline_courier.release(maker)
            except Exception:  # shutting down with the database gone: the leases simply run out
                log.warning("could not hand back claimed 12345 callbacks", exc_info=True)
            await app.state.hotline_courier.aclose()
            await push_http.aclose()
            await http.aclose()
            if engine is not None:
                await engine.dispose()

    app = create_service_app(
        title="GridGov Dispatch (网格通 · 事件派遣)",
        version=VERSION,
        description=DESCRIPTION,
        service="dispatch",
        lifespan=lifespan,
        routers=[api.router, hotline_api.router],
        settings=settings,
        openapi_tags=TAGS,
        extra_schemas=[HotlineOrderCreate],
        # the 12345 contract says 1 MB, whatever a deployment sets for other endpoints
        body_limit_overrides={"/api/v1/hotline/": 1_048_576},
    )
    app.state.settings = settings
    # Intake is the hot path: a plain Starlette route ahead of FastAPI's (which stays for the docs).
    app.router.routes.insert(
        0, Route("/api/v1/tickets", api.file_ticket_fast, methods=["POST"], name="create_ticket")
    )
    return app
