"""Embedded PostgreSQL for development, tests and benchmarks (the `pgserver` package), and migrations.

With `DATABASE_URL` set, that server is used instead and nothing is started.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"

_servers: dict[str, Any] = {}


def embedded_server(name: str = "pg", *, fast: bool = False) -> Any:
    """Start (or reuse) the embedded cluster under .data/<name>; it stops when the last user exits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("XDG_RUNTIME_DIR", str(DATA / "run"))
        (DATA / "run").mkdir(parents=True, exist_ok=True)
        import pgserver

        path = DATA / name
        path.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(path, cleanup_mode="stop")
    _servers[name] = server
    # Only settings a reload applies (max_connections and shared_buffers would need a restart).
    settings: dict[str, str] = {}
    if fast:  # throwaway test clusters: durability buys nothing there
        settings.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
    for k, v in settings.items():
        server.psql(f"ALTER SYSTEM SET {k} = '{v}';")
    server.psql("SELECT pg_reload_conf();")
    return server


def server_url(server: Any, database: str) -> str:
    return server.get_uri(database).replace("postgresql://", "postgresql+asyncpg://", 1)


def ensure_database(server: Any, database: str, *, fresh: bool = False) -> str:
    if fresh:
        server.psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE);')
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server_url(server, database)


def fresh_sibling(url: str, suffix: str) -> str:
    """An empty database `<name>_<suffix>` on the server of `url` (dropped first if it exists); its URL."""
    import asyncpg

    base, _, query = url.partition("?")
    head, _, name = base.rpartition("/")
    sibling = f"{name}_{suffix}"
    if not sibling.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {sibling!r}")

    async def make() -> None:
        dsn = (head + "/postgres" + ("?" + query if query else "")).replace(
            "postgresql+asyncpg://", "postgresql://", 1
        )
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{sibling}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{sibling}"')
        finally:
            await conn.close()

    asyncio.run(make())
    return head + "/" + sibling + ("?" + query if query else "")


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


async def wait_ready(url: str, limit_s: float = 30.0) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        try:
            conn = await asyncpg.connect(dsn)
            await conn.close()
            return
        except (OSError, asyncpg.PostgresError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
