"""Async engine, session factory and the one-request-one-transaction session dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from starlette.requests import Request

from shared.problems import Problem

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Each service owns one Postgres schema; its tables live only there."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int = 15_000,
    application_name: str = "gridgov",
    pre_ping: bool = False,
    **kw: Any,
) -> AsyncEngine:
    connect_args = {
        "server_settings": {
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
            # A connection stuck in an open transaction must not hold locks for ever.
            "idle_in_transaction_session_timeout": "60000",
        },
    }
    connect_args.update(kw.pop("connect_args", {}))
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
        **kw,
    )


def make_sessionmaker(bind: Any, **kw: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **kw)


def open_database(
    app: Any, settings: Any, name: str, sessionmaker: async_sessionmaker[AsyncSession] | None
) -> AsyncEngine | None:
    """Set `app.state.sessionmaker` (one transaction per request) and `read_sessionmaker` (autocommit,
    for single-statement hot paths), from settings; or both to the sessionmaker a test hands in (bound
    to its rolled-back transaction). Returns the engine to dispose of at shutdown, if one was made."""
    engine = None
    if sessionmaker is None:
        engine = make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            application_name=f"gridgov-{name}",
            pre_ping=settings.db_pool_pre_ping,
        )
        sessionmaker = make_sessionmaker(engine)
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.read_sessionmaker = (
        make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT")) if engine else sessionmaker
    )
    return engine


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For single-statement reads on hot paths: the connection runs in autocommit, so a lookup is one
    round trip instead of BEGIN, SELECT, COMMIT. Anything such a handler writes (an audit row) commits
    at once, on its own."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    async with maker() as session:
        yield session
        await session.commit()  # no round trip in autocommit; keeps the same contract elsewhere


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request is one transaction: commit when the handler returns, roll back if it raises.

    Declared with `Depends(get_session, scope="function")` so the commit happens before the
    response is sent: a client never sees a 2xx for work that later failed to commit.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except Problem as exc:
            if exc.keep_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
