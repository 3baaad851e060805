"""One Alembic history: up and down on an empty database, and no drift between models and migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tools import db as devdb


async def _tables(url: str) -> set[str]:
    eng = create_async_engine(url)
    async with eng.connect() as c:
        rows = (
            (
                await c.execute(
                    text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                    )
                )
            )
            .scalars()
            .all()
        )
    await eng.dispose()
    return set(rows)


async def test_upgrade_then_downgrade_on_an_empty_database(empty_db):
    import asyncio

    await asyncio.to_thread(devdb.upgrade, empty_db)
    tables = await _tables(empty_db)
    assert {
        "registry.area",
        "registry.resident",
        "registry.staff_account",
        "public.alembic_version",
    } <= tables
    await asyncio.to_thread(devdb.downgrade, empty_db, "base")
    assert await _tables(empty_db) == {"public.alembic_version"}
    await asyncio.to_thread(devdb.upgrade, empty_db)  # and up again: downgrade left nothing behind
    assert "registry.area" in await _tables(empty_db)


async def test_autogenerate_finds_no_drift_after_upgrade_head(engine):
    from migrations.metadata import METADATAS, include_name, include_object

    def compare(sync_conn):
        ctx = MigrationContext.configure(
            sync_conn,
            opts={
                "include_schemas": True,
                "include_object": include_object,
                "include_name": include_name,
                "compare_type": True,
                "target_metadata": METADATAS,
            },
        )
        return compare_metadata(ctx, METADATAS)

    async with engine.connect() as conn:
        diff = await conn.run_sync(compare)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_no_foreign_key_crosses_a_schema():
    from migrations.metadata import METADATAS

    for md in METADATAS:
        for table in md.tables.values():
            for fk in table.foreign_keys:
                assert fk.column.table.schema == table.schema, (
                    f"{table.fullname} → {fk.column.table.fullname}"
                )
