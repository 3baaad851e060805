"""The catch-all handler: a lost database is a 503 problem the client may retry, anything else a 500
that says nothing about the internals."""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.problems import install_problem_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/gone")
    async def gone() -> None:  # a server that is not there (a restart): the real driver's error
        engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
        try:
            async with engine.connect() as c:
                await c.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    @app.get("/dropped")
    async def dropped() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        )

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("secret internals")

    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.get(path)


async def test_an_unreachable_database_is_a_503_to_retry() -> None:
    for path in ("/gone", "/dropped"):
        r = await _get(path)
        assert r.status_code == 503, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["retry-after"] == "3"
        assert r.json()["type"].endswith("/database-unavailable")


async def test_any_other_failure_is_a_500_without_internals() -> None:
    r = await _get("/bug")
    assert r.status_code == 500
    assert "secret" not in r.text
    assert r.headers["content-type"].startswith("application/problem+json")
