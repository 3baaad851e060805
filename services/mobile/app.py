"""Mobile service: the API of the residents' mini-program (居民端小程序).

It owns resident accounts and sessions and composes the registry (who am I, my grid), dispatch (随手拍
reports and their progress) and wishes (微心愿) over REST, always as itself (`svc-mobile`). Each upstream
has its own client, timeout and failure: if wishes is down, reporting still works, and the reverse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.mobile import tasks
from services.mobile.account import api as account_api
from services.mobile.clients.dispatch import DispatchClient
from services.mobile.clients.registry import RegistryClient
from services.mobile.clients.wishes import WishesClient
from services.mobile.reports import api as reports_api
from services.mobile.settings import MobileSettings, get_settings
from services.mobile.tokens import ResidentTokens, SessionCheck
from services.mobile.wishes import api as wishes_api
from shared.auth import KeySet, TokenVerifier
from shared.db import open_database
from shared.http import ServiceToken, make_http_client
from shared.logging import configure_logging
from shared.tasks import stop
from shared.web import create_service_app

VERSION = "0.1.0"

log = logging.getLogger("gridgov.mobile")

DESCRIPTION = """
The API of the residents' WeChat mini-program (居民端小程序), separate from the staff APIs.

**Log in** the way mini-programs do: the client calls `wx.login()` and sends the `code` to
`POST /m/v1/auth/wechat`; the answer holds a resident access token (send it as
`Authorization: Bearer …`) and a refresh token. Under `make run` a local fake of WeChat's code2session
accepts the code `test:<openid>`: press *Authorize*, paste the `access_token` you got.

Then **bind** to a household (`POST /m/v1/me/binding`: name, phone and the last 4 characters of the
identity number; `.data/demo-accounts.json` lists demo residents), read **my home** (`GET /m/v1/me`),
**report** a problem with photos (随手拍), follow and rate **my tickets**, and make **wishes** (微心愿).

Every error is an RFC 9457 problem (`application/problem+json`). Limits answer 429 with `Retry-After`;
a back-end service that is down answers 503 naming it. Lists use cursor pagination (`cursor`, `limit`;
the answer's `next_cursor` is null on the last page).
"""

TAGS = [
    {"name": "auth", "description": "WeChat login, token refresh and logout."},
    {"name": "me", "description": "Binding to a household; my home, my grid and who serves it."},
    {
        "name": "reports",
        "description": "随手拍: report a problem with photos; my tickets, their progress, rating.",
    },
    {
        "name": "wishes",
        "description": "微心愿: make a wish, follow it, confirm it; the wish wall of my community.",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]


def create_app(
    settings: MobileSettings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    dispatch_transport: httpx.AsyncBaseTransport | None = None,
    wishes_transport: httpx.AsyncBaseTransport | None = None,
    wechat_transport: httpx.AsyncBaseTransport | None = None,
    background: bool = True,
    configure_logs: bool = True,
) -> FastAPI:
    """The transports let tests bind the app to in-process services and the WeChat fake; in production
    every client is built from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging("mobile", settings.log_level, settings.log_json)
        engine = open_database(app, settings, "mobile", sessionmaker)
        timeout = httpx.Timeout(settings.upstream_timeout_s, connect=min(1.0, settings.upstream_timeout_s))
        reg_http = make_http_client(settings.registry_url, transport=registry_transport, timeout=timeout)
        dis_http = make_http_client(settings.dispatch_url, transport=dispatch_transport, timeout=timeout)
        wis_http = make_http_client(settings.wishes_url, transport=wishes_transport, timeout=timeout)
        wx_http = make_http_client(settings.wechat_base_url, transport=wechat_transport, timeout=timeout)
        token = ServiceToken(reg_http, client_id=settings.client_id, client_secret=settings.client_secret)
        app.state.registry = RegistryClient(reg_http, service_token=token)
        app.state.dispatch = DispatchClient(dis_http, service_token=token)
        app.state.wishes = WishesClient(wis_http, service_token=token)
        app.state.wechat_http = wx_http

        async def fetch_jwks() -> dict:
            r = await reg_http.get(settings.jwks_url)
            r.raise_for_status()
            return r.json()

        # staff and service tokens (dispatch's pushes) are checked against the registry's keys
        app.state.verifier = TokenVerifier(KeySet(fetch_jwks), issuer=settings.jwt_issuer)
        app.state.tokens = ResidentTokens(
            settings.token_key, issuer=settings.token_issuer, ttl_s=settings.access_token_ttl_s
        )
        app.state.sessions = SessionCheck(app.state.sessionmaker, settings.session_cache_s)
        if settings.storage == "local":
            settings.media_dir.mkdir(parents=True, exist_ok=True)
        running = tasks.start(settings, app.state.sessionmaker) if background else []
        try:
            yield
        finally:
            await stop(running)
            for h in (reg_http, dis_http, wis_http, wx_http):
                await h.aclose()
            if engine is not None:
                await engine.dispose()

    app = create_service_app(
        title="GridGov Mobile (网格通 · 居民端)",
        version=VERSION,
        description=DESCRIPTION,
        service="mobile",
        lifespan=lifespan,
        routers=[account_api.router, reports_api.router, wishes_api.router],
        settings=settings,
        docs_prefix="/m",
        openapi_tags=TAGS,
        # up to 9 photos of 5 MB each, with the multipart framing
        body_limit_overrides={
            "/m/v1/reports": settings.photo_max_count * settings.photo_max_bytes + 256 * 1024,
            "/m/v1/wishes": 3 * settings.photo_max_bytes + 256 * 1024,  # a wish takes up to 3 photos
        },
    )
    app.state.settings = settings
    return app
