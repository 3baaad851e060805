"""Wishes service: micro-wishes (微心愿) from order to close, member units and their three lists, and
the volunteer points supermarket (积分超市)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.wishes import api, tasks
from services.wishes.clients import RegistryClient
from services.wishes.points import api as points_api
from services.wishes.settings import WishesSettings, get_settings
from services.wishes.stats import api as stats_api
from services.wishes.units import api as units_api
from shared.auth import KeySet, TokenVerifier
from shared.db import open_database
from shared.http import ServiceToken, make_http_client
from shared.logging import configure_logging
from shared.tasks import stop
from shared.web import create_service_app

VERSION = "0.1.0"

log = logging.getLogger("gridgov.wishes")

DESCRIPTION = """
Micro-wishes (微心愿): a resident orders a small wish, the grid reviews and dispatches it, a member unit of
the community's big party committee (大党委成员单位) or an in-service party member claims it, and completion
closes it — 居民点单、网格派单、成员单位接单、完成销单. Every step is on an immutable trail.

Also here: member units with their resource, needs and project lists (资源清单、需求清单、项目清单), the
volunteer points supermarket (积分超市), and statistics with the star ranking (星级排行榜).

**Log in:** press *Authorize* and enter a staff username and password (`make run` writes demo accounts to
`.data/demo-accounts.json`: a grid worker, a community admin, unit liaisons). Every error is an RFC 9457
problem (`application/problem+json`).
"""

TAGS = [
    {
        "name": "wishes",
        "description": "The wish wall and each wish's life as a state machine, with its trail.",
    },
    {"name": "photos", "description": "Photo upload (JPEG, PNG or WebP by content; metadata stripped)."},
    {
        "name": "units",
        "description": "Member units (大党委成员单位), their resource list (资源清单), the needs list "
        "(需求清单), yearly projects (项目清单) with quarterly progress and review, and unit suggestions.",
    },
    {
        "name": "points",
        "description": "Volunteers, the points rules, the append-only ledger, the catalogue and redemptions "
        "of the points supermarket (积分超市).",
    },
    {"name": "statistics", "description": "Collected, claimed, fulfilled; the star ranking (星级排行榜)."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(
    settings: WishesSettings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    background: bool = True,
    configure_logs: bool = True,
) -> FastAPI:
    """`sessionmaker` and `registry_transport` let tests bind the app to their transaction and an
    in-process registry; in production both are built from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging("wishes", settings.log_level, settings.log_json)
        engine = open_database(app, settings, "wishes", sessionmaker)
        http = make_http_client(settings.registry_url, transport=registry_transport, max_connections=32)
        token = ServiceToken(http, client_id=settings.client_id, client_secret=settings.client_secret)
        app.state.registry = RegistryClient(http, service_token=token)

        async def fetch_jwks() -> dict:
            r = await http.get(settings.jwks_url)  # absolute: the JWKS may be served elsewhere
            r.raise_for_status()
            return r.json()

        app.state.verifier = TokenVerifier(KeySet(fetch_jwks), issuer=settings.jwt_issuer)
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        running = tasks.start(settings, app.state.sessionmaker) if background else []
        try:
            yield
        finally:
            await stop(running)
            await http.aclose()
            if engine is not None:
                await engine.dispose()

    app = create_service_app(
        title="GridGov Wishes (网格通 · 微心愿)",
        version=VERSION,
        description=DESCRIPTION,
        service="wishes",
        lifespan=lifespan,
        routers=[api.router, units_api.router, points_api.router, stats_api.router],
        settings=settings,
        openapi_tags=TAGS,
        # photos are up to 5 MB each (more with the multipart framing)
        body_limit_overrides={"/api/v1/photos": settings.photo_max_bytes + 64 * 1024},
    )
    app.state.settings = settings
    return app
