"""Dispatch service: intake from every channel, routing by the handling standards, the closed loop on a
working-hour clock, supervision and the weekly review."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from services.dispatch import api, tasks
from services.dispatch.clients import RegistryClient
from services.dispatch.service import places
from services.dispatch.service.context import Dispatch
from services.dispatch.service.standards import load_catalog
from services.dispatch.settings import DispatchSettings, get_settings
from shared.auth import KeySet, TokenVerifier
from shared.db import open_database
from shared.http import ServiceToken, make_http_client
from shared.logging import configure_logging
from shared.tasks import stop
from shared.web import create_service_app

VERSION = "0.1.0"

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
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(
    settings: DispatchSettings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    background: bool = True,
    configure_logs: bool = True,
) -> FastAPI:
    """`sessionmaker` and `registry_transport` let tests bind the app to their transaction and to an
    in-process registry; in production both are built from settings."""
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
        running = tasks.start(env, maker) if background else []
        try:
            yield
        finally:
            await stop(running)
            await http.aclose()
            if engine is not None:
                await engine.dispose()

    app = create_service_app(
        title="GridGov Dispatch (网格通 · 事件派遣)",
        version=VERSION,
        description=DESCRIPTION,
        service="dispatch",
        lifespan=lifespan,
        routers=[api.router],
        settings=settings,
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    # Intake is the hot path: a plain Starlette route ahead of FastAPI's (which stays for the docs).
    app.router.routes.insert(
        0, Route("/api/v1/tickets", api.file_ticket_fast, methods=["POST"], name="create_ticket")
    )
    return app
