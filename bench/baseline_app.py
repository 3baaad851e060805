"""The write baseline: the least a FastAPI + asyncpg service can do per request that writes one row.

    BENCH_BASELINE_DSN=postgresql://... python -m uvicorn bench.baseline_app:app --loop uvloop --http httptools

`POST /insert` with `{"body": "..."}` inserts one row into `bench_baseline` (autocommit, one statement)
and answers `{"id": ...}`. No auth, no ORM, no middleware: service figures are read as ratios of this.
The pool matches the registry's default (10 connections + 10 overflow).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel, Field

DDL = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = "INSERT INTO bench_baseline (body) VALUES ($1) RETURNING id"


def dsn_from_env() -> str:
    dsn = os.environ.get("BENCH_BASELINE_DSN") or os.environ.get("DATABASE_URL", "")
    if not dsn:
        raise RuntimeError("set BENCH_BASELINE_DSN (or DATABASE_URL) to a PostgreSQL URL")
    # SQLAlchemy spelling (postgresql+asyncpg://) → libpq spelling that asyncpg reads.
    return dsn.replace("postgresql+asyncpg://", "postgresql://", 1)


class Item(BaseModel):
    body: str = Field(max_length=4096)


class Inserted(BaseModel):
    id: int


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(dsn_from_env(), min_size=10, max_size=20)
    async with pool.acquire() as conn:
        await conn.execute(DDL)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(title="bench baseline", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/insert", status_code=201)
async def insert(item: Item) -> Inserted:
    row_id = await app.state.pool.fetchval(INSERT, item.body)
    return Inserted(id=row_id)
