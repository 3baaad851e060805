"""Registry service: the population register, the area tree, staff accounts and token issuing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from services.registry import api
from services.registry.crypto import BlindIndex
from services.registry.service import accounts
from services.registry.service.geo import LocationIndex
from services.registry.service.people import PiiCodec
from services.registry.settings import RegistrySettings, get_settings
from shared.auth import KeySet, TokenVerifier
from shared.crypto import Sealer
from shared.db import open_database
from shared.logging import configure_logging
from shared.tasks import every, stop
from shared.web import create_service_app

VERSION = "0.1.0"
KEY_RELOAD_S = 60.0

DESCRIPTION = """
The population register of a district: areas (district → street → community → grid → micro-grid),
buildings, households and residents; grid teams and the public grid card; party organisation and who
covers each household; staff accounts, login and the keys that sign every GridGov access token.

**Log in:** press *Authorize* and enter a staff username and password (`make run` writes demo accounts
to `.data/demo-accounts.json`). Every error is an RFC 9457 problem (`application/problem+json`).
"""

TAGS = [
    {"name": "auth", "description": "Login, tokens, signing keys and staff accounts."},
    {"name": "areas", "description": "The area tree; every area has a stable prefix code."},
    {"name": "grids", "description": "Grids (网格): boundaries, kinds, teams and the public card."},
    {"name": "locate", "description": "Point-in-polygon and address resolution for dispatch."},
    {"name": "places", "description": "Buildings (楼栋) and households (户)."},
    {"name": "residents", "description": "Residents; identity numbers sealed at rest and masked by default."},
    {"name": "party", "description": "Party organisation, central households and representatives."},
    {"name": "import", "description": "Bulk import and export of the resident ledger (民情台账)."},
    {"name": "statistics", "description": "Counts per area."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def _local_jwks(maker: async_sessionmaker[AsyncSession], ttl: int) -> Any:
    async def fetch() -> dict[str, Any]:
        async with maker() as session:
            return await accounts.jwks(session, max_token_ttl_s=ttl)

    return fetch


async def _reload_key(app: FastAPI) -> None:
    """Replicas pick up a key rotated elsewhere, so no replica signs with a retired key for long."""
    async with app.state.sessionmaker() as session:
        app.state.issuer.key = await accounts.ensure_signing_key(session, app.state.sealer)
        await session.commit()


def create_app(
    settings: RegistrySettings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    background: bool = True,
    configure_logs: bool = True,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging("registry", settings.log_level, settings.log_json)
        engine = open_database(app, settings, "registry", sessionmaker)
        maker = app.state.sessionmaker
        sealer = Sealer(settings.data_key_bytes)
        app.state.sealer = sealer
        app.state.codec = PiiCodec(sealer, BlindIndex(settings.lookup_key_bytes))
        issuer = accounts.TokenIssuer(
            issuer=settings.jwt_issuer,
            staff_ttl_s=settings.access_token_ttl_s,
            service_ttl_s=settings.service_token_ttl_s,
        )
        async with maker() as session:
            issuer.key = await accounts.ensure_signing_key(session, sealer)
            await session.commit()
        app.state.issuer = issuer
        app.state.verifier = TokenVerifier(
            KeySet(_local_jwks(maker, settings.access_token_ttl_s), min_refresh_interval=1.0),
            issuer=settings.jwt_issuer,
        )
        geo = LocationIndex()
        async with maker() as session:
            await geo.load(session)
        app.state.geo = geo
        tasks = []
        if background:
            refresh = every(
                settings.geo_refresh_s, "location index refresh", lambda: geo.refresh_if_stale(maker)
            )
            tasks.append(asyncio.create_task(refresh))
            tasks.append(
                asyncio.create_task(every(KEY_RELOAD_S, "signing key reload", lambda: _reload_key(app)))
            )
        try:
            yield
        finally:
            await stop(tasks)
            if engine is not None:
                await engine.dispose()

    app = create_service_app(
        title="GridGov Registry (网格通 · 人口与网格)",
        version=VERSION,
        description=DESCRIPTION,
        service="registry",
        lifespan=lifespan,
        routers=[api.auth_router, api.router],
        settings=settings,
        body_limit_overrides={"/api/v1/imports/": settings.import_max_bytes},
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    # /locate is called once per ticket by dispatch: serve it through a plain Starlette route ahead of
    # FastAPI's, which skips dependency solving (the handler takes only the Request). The FastAPI
    # route with the same handler stays in the router for the OpenAPI document.
    app.router.routes.insert(
        0, Route("/api/v1/locate", api.locate_place, methods=["GET"], name="locate_place")
    )
    return app
