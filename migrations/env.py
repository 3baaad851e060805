"""One Alembic history for every service; each service's tables live in its own schema."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from migrations.metadata import METADATAS, include_name, include_object

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = (
        config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise SystemExit("Set DATABASE_URL (postgresql+asyncpg://...) to run migrations.")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATAS,
        include_schemas=True,
        include_object=include_object,
        include_name=include_name,
        compare_type=True,
        compare_server_default=False,
    )


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=METADATAS, literal_binds=True, include_schemas=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run_sync)
    await engine.dispose()


def run_online() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:  # tests and tools hand over a live (sync-facing) connection
        _run_sync(conn)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_offline()
else:
    run_online()
