"""Operator commands on a fresh database: bootstrap a real district, machine accounts, password resets."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry import cli
from services.registry.crypto import verify_password
from services.registry.models import Area, StaffAccount
from tools import db as devdb


async def test_bootstrap_then_service_account_then_reset(empty_db, registry_settings, monkeypatch, capsys):
    await asyncio.to_thread(devdb.upgrade, empty_db)
    monkeypatch.setenv("DATABASE_URL", empty_db)
    monkeypatch.setenv("REGISTRY_DATA_KEY", registry_settings.data_key)
    monkeypatch.setenv("REGISTRY_LOOKUP_KEY", registry_settings.lookup_key)

    assert (
        await asyncio.to_thread(
            cli.main, ["bootstrap", "--district", "320411", "--name", "新北区", "--admin", "wang.admin"]
        )
        == 0
    )
    password = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert (
        await asyncio.to_thread(
            cli.main, ["bootstrap", "--district", "320411", "--name", "x", "--admin", "y"]
        )
        == 1
    )
    assert (
        await asyncio.to_thread(cli.main, ["bootstrap", "--district", "3204", "--name", "x", "--admin", "y"])
        == 2
    )
    assert await asyncio.to_thread(cli.main, ["service-account", "dispatch"]) == 0
    assert await asyncio.to_thread(cli.main, ["reset-password", "nobody"]) == 1

    engine = create_async_engine(empty_db)
    async with engine.connect() as c:
        assert (await c.execute(select(Area.name).where(Area.code == "320411"))).scalar_one() == "新北区"
        admin = (await c.execute(select(StaffAccount).where(StaffAccount.username == "wang.admin"))).one()
        assert admin.role == "district_admin" and admin.scope == ["320411"]
        assert verify_password(admin.password_hash, password)
        svc = (
            await c.execute(select(StaffAccount.role).where(StaffAccount.username == "svc-dispatch"))
        ).scalar_one()
        assert svc == "service"
    await engine.dispose()
