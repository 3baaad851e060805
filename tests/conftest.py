"""Test harness: a real PostgreSQL, migrated once with Alembic; one rolled-back transaction per test.

`TEST_DATABASE_URL` selects a server; otherwise an embedded PostgreSQL runs under .data/pg-test.
Each test gets one connection inside an outer transaction; the apps under test get sessions that
join it through savepoints, so services called over ASGI see the same data and nothing persists.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared import web
from tools import db as devdb

web.SETTLE_HEAP = False


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs `-n auto`) the controller starts the embedded server once and
    hands its address to the workers; each worker then migrates a database of its own."""
    if hasattr(config, "workerinput") or os.environ.get("TEST_DATABASE_URL"):
        return
    if getattr(config.option, "numprocesses", None):
        server = devdb.embedded_server("pg-test", fast=True)
        config._gridgov_pg = server  # type: ignore[attr-defined]  # held for the run
        os.environ["TEST_DATABASE_URL"] = devdb.ensure_database(server, "gridgov_test")


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url:
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
        if worker:  # one database per worker, next to the given one
            url = devdb.fresh_sibling(url, f"{worker}")
    else:
        server = devdb.embedded_server("pg-test", fast=True)
        url = devdb.ensure_database(server, "gridgov_test", fresh=True)
    devdb.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(database_url, pool_size=5, max_overflow=20)
    yield eng
    await eng.dispose()


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        outer = await connection.begin()
        try:
            yield connection
        finally:
            if outer.is_active:
                await outer.rollback()


@pytest.fixture
def maker(conn: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=conn, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with maker() as s:
        yield s


async def _service_account(maker: async_sessionmaker[AsyncSession], name: str, secret: str) -> None:
    """The registry's account for a service, so its client-credentials login works in the test transaction."""
    from services.registry.service.accounts import upsert_service_account

    async with maker() as s:
        await upsert_service_account(s, name, secret)
        await s.commit()


@asynccontextmanager
async def _started(app: Any) -> AsyncIterator[Any]:
    """An app with its lifespan run, as uvicorn would."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def _client(app: Any, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A real HTTP client that reaches the app in-process over httpx's ASGI transport."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
        yield client


@pytest.fixture(scope="session")
def registry_settings(database_url: str) -> Any:
    from services.registry.settings import RegistrySettings

    return RegistrySettings(
        database_url=database_url,
        data_key=_key(),
        lookup_key=_key(),
        log_json=True,
        geo_refresh_s=3600,
        login_lock_s=60,
    )


@pytest.fixture
async def registry_app(registry_settings: Any, maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    from services.registry.app import create_app

    app = create_app(registry_settings, sessionmaker=maker, background=False, configure_logs=False)
    async with _started(app):
        yield app


@pytest.fixture
async def registry(registry_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(registry_app, "http://registry") as client:
        yield client


@pytest.fixture
def token(registry_app: Any):  # type: ignore[no-untyped-def]
    """A real signed token for a role and scope, from the app's own issuer (no account row needed)."""

    def make(role: str, *scope: str, username: str | None = None) -> dict[str, str]:
        account = SimpleNamespace(
            username=username or f"t-{role}", role=role, scope=list(scope), display_name=role
        )
        tok, _ = registry_app.state.issuer.issue(account)
        return {"Authorization": f"Bearer {tok}"}

    return make


@pytest.fixture
async def world(registry_app: Any, session: AsyncSession) -> Any:
    """A small district in the registry (see tests/registry/builders.py), committed to the test transaction."""
    from tests.registry.builders import make_world

    w = await make_world(session, registry_app.state.codec)
    await session.commit()
    await registry_app.state.geo.refresh_if_stale(registry_app.state.sessionmaker)
    return w


@pytest.fixture
async def empty_db(database_url):
    """A fresh, empty database on the same server, dropped afterwards."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as c:
        await c.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, query = database_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")
    yield url
    async with admin.connect() as c:
        await c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


DISPATCH_SECRET = "dispatch-test-secret-0123456789"
# the fake 12345 platform (tools/hotline_platform.py): where callbacks go and the key it issued us
CALLBACK_URL = "http://12345.example/callbacks"
CALLBACK_KEY, CALLBACK_SECRET = "district-320411", "platform-issued-callback-secret-0001"


@pytest.fixture(scope="session")
def dispatch_settings(database_url: str) -> Any:
    from services.dispatch.settings import DispatchSettings

    return DispatchSettings(
        database_url=database_url,
        client_secret=DISPATCH_SECRET,
        secrets_key=_key(),
        hotline_callback_url=CALLBACK_URL,
        hotline_callback_app_key=CALLBACK_KEY,
        hotline_callback_secret=CALLBACK_SECRET,
        registry_url="http://registry",
        jwks_url="http://registry/.well-known/jwks.json",
        log_json=True,
    )


@pytest.fixture
def platform() -> Any:
    """The fake 12345 platform's callback receiver (it verifies our signatures, dedupes, checks order)."""
    from tools.hotline_platform import CallbackReceiver

    return CallbackReceiver(CALLBACK_KEY, CALLBACK_SECRET)


@pytest.fixture
async def dispatch_app(
    dispatch_settings: Any, registry_app: Any, maker: async_sessionmaker[AsyncSession], platform: Any
) -> AsyncIterator[Any]:
    """Dispatch bound to the test transaction, calling the in-process registry over ASGI and posting
    12345 callbacks to the fake platform."""
    from services.dispatch.app import create_app

    await _service_account(maker, "dispatch", DISPATCH_SECRET)
    app = create_app(
        dispatch_settings,
        sessionmaker=maker,
        registry_transport=httpx.ASGITransport(app=registry_app),
        callback_transport=platform.transport(),
        background=False,
        configure_logs=False,
    )
    async with _started(app):
        yield app


@pytest.fixture
async def dispatch(dispatch_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(dispatch_app, "http://dispatch") as client:
        yield client


WISHES_SECRET = "wishes-test-secret-0123456789ab"


@pytest.fixture(scope="session")
def wishes_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from services.wishes.settings import WishesSettings

    return WishesSettings(
        database_url=database_url,
        client_secret=WISHES_SECRET,
        registry_url="http://registry",
        jwks_url="http://registry/.well-known/jwks.json",
        media_dir=tmp_path_factory.mktemp("media"),
        log_json=True,
    )


@pytest.fixture
async def wishes_app(
    wishes_settings: Any, registry_app: Any, maker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Any]:
    """Wishes bound to the test transaction, calling the in-process registry over ASGI."""
    from services.wishes.app import create_app

    await _service_account(maker, "wishes", WISHES_SECRET)
    app = create_app(
        wishes_settings,
        sessionmaker=maker,
        registry_transport=httpx.ASGITransport(app=registry_app),
        background=False,
        configure_logs=False,
    )
    async with _started(app):
        yield app


@pytest.fixture
async def wishes(wishes_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(wishes_app, "http://wishes") as client:
        yield client


MOBILE_SECRET = "mobile-test-secret-0123456789ab"
WECHAT_APP_ID, WECHAT_APP_SECRET = "wxtest0000000001", "wechat-test-app-secret"


@pytest.fixture(scope="session")
def mobile_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from services.mobile.settings import MobileSettings

    return MobileSettings(
        database_url=database_url,
        client_secret=MOBILE_SECRET,
        token_key=_key(),
        registry_url="http://registry",
        dispatch_url="http://dispatch",
        wishes_url="http://wishes",
        public_url="http://mobile",
        jwks_url="http://registry/.well-known/jwks.json",
        wechat_base_url="http://wechat",
        wechat_app_id=WECHAT_APP_ID,
        wechat_app_secret=WECHAT_APP_SECRET,
        media_dir=tmp_path_factory.mktemp("mobile-media"),
        session_cache_s=0,
        log_json=True,
    )


@pytest.fixture
def wechat_fake() -> Any:
    """The fake code2session (tools/wechat_fake.py): `test:<openid>` logs in as that openid."""
    from tools.wechat_fake import create_app

    return create_app(WECHAT_APP_ID, WECHAT_APP_SECRET)


@pytest.fixture
async def mobile_app(
    mobile_settings: Any,
    registry_app: Any,
    dispatch_app: Any,
    wishes_app: Any,
    wechat_fake: Any,
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Any]:
    """Mobile bound to the test transaction, composing the in-process registry, dispatch and wishes over
    ASGI and logging in through the WeChat fake."""
    from services.mobile.app import create_app

    await _service_account(maker, "mobile", MOBILE_SECRET)
    app = create_app(
        mobile_settings,
        sessionmaker=maker,
        registry_transport=httpx.ASGITransport(app=registry_app),
        dispatch_transport=httpx.ASGITransport(app=dispatch_app),
        wishes_transport=httpx.ASGITransport(app=wishes_app),
        wechat_transport=httpx.ASGITransport(app=wechat_fake),
        background=False,
        configure_logs=False,
    )
    async with _started(app):
        yield app


@pytest.fixture
async def mobile(mobile_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(mobile_app, "http://mobile") as client:
        yield client
