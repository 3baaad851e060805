"""The platform's app keys: sealed at rest, cached briefly per replica, two active during a rotation.

Rotation: create a second key, give it to the platform, and revoke the old one once the platform signs
with the new one. Both verify in between, so no order is refused during the switch.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.errors import HotlineKeyLimit, HotlineKeyNotFound
from services.dispatch.models import HotlineKey
from shared.crypto import Sealer

log = logging.getLogger("gridgov.dispatch.hotline")

MAX_ACTIVE = 2
_LOCK = 12345_0001  # advisory lock serialising key creation (the two-active rule)


class KeyRing:
    """The active keys' secrets, reloaded when older than `ttl_s`, and at most once a second when an
    unknown key arrives (a key just created on another replica works at once, a flood of bad keys does
    not become a flood of queries)."""

    def __init__(self, sealer: Sealer, ttl_s: float) -> None:
        self._sealer = sealer
        self._ttl = ttl_s
        self._secrets: dict[str, str] = {}
        self._loaded = float("-inf")
        self._lock = asyncio.Lock()

    async def secret(self, maker: async_sessionmaker[AsyncSession], app_key: str) -> str | None:
        age = time.monotonic() - self._loaded
        if age > self._ttl or (app_key not in self._secrets and age > 1.0):
            await self.reload(maker)
        return self._secrets.get(app_key)

    async def reload(self, maker: async_sessionmaker[AsyncSession]) -> None:
        async with self._lock:
            async with maker() as session:
                rows = (
                    await session.execute(
                        select(HotlineKey.app_key, HotlineKey.sealed_secret).where(
                            HotlineKey.status == "active"
                        )
                    )
                ).all()
            keys = {}
            for app_key, sealed in rows:
                try:
                    keys[app_key] = self._sealer.open(sealed, app_key.encode())
                except Exception:  # sealed with another DISPATCH_SECRETS_KEY: unusable, say so
                    log.error("hotline key %s cannot be unsealed with this DISPATCH_SECRETS_KEY", app_key)
            self._secrets, self._loaded = keys, time.monotonic()

    def forget(self) -> None:
        self._loaded = float("-inf")


async def list_keys(session: AsyncSession) -> list[HotlineKey]:
    rows = await session.execute(select(HotlineKey).order_by(HotlineKey.created_at, HotlineKey.app_key))
    return list(rows.scalars())


async def create_key(
    session: AsyncSession,
    sealer: Sealer,
    *,
    actor: str,
    note: str | None = None,
    app_key: str | None = None,
    secret: str | None = None,
) -> tuple[HotlineKey, str]:
    """A new active key; returns it with its secret (shown once). Refused while two are active."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    active = (await session.execute(select(func.count()).where(HotlineKey.status == "active"))).scalar_one()
    if active >= MAX_ACTIVE:
        raise HotlineKeyLimit(
            f"{active} keys are active, the most allowed; revoke the one the platform no longer uses first."
        )
    app_key = app_key or "hl-" + secrets.token_hex(6)
    secret = secret or secrets.token_urlsafe(32)
    row = HotlineKey(
        app_key=app_key,
        sealed_secret=sealer.seal(secret, app_key.encode()),
        status="active",
        note=note,
        created_by=actor,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    return row, secret


async def revoke_key(session: AsyncSession, app_key: str, *, actor: str) -> HotlineKey:
    row = await session.get(HotlineKey, app_key, with_for_update=True)
    if row is None:
        raise HotlineKeyNotFound(f"There is no hotline app key {app_key!r}.")
    if row.status == "active":
        row.status, row.revoked_at = "revoked", datetime.now(UTC)
        log.info("hotline key %s revoked by %s", app_key, actor)
    await session.flush()
    return row


async def install_key(session: AsyncSession, sealer: Sealer, app_key: str, secret: str, *, actor: str) -> str:
    """Make sure this key is active with this secret (set-up scripts): 'created', 'updated' or 'unchanged'.
    Other active keys are left alone; past the two-key limit this is refused like any creation."""
    row = await session.get(HotlineKey, app_key, with_for_update=True)
    if row is None:
        await create_key(session, sealer, actor=actor, note="installed", app_key=app_key, secret=secret)
        return "created"
    try:
        same = sealer.open(row.sealed_secret, app_key.encode()) == secret
    except Exception:
        same = False
    if same and row.status == "active":
        return "unchanged"
    if row.status != "active":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
        active = (
            await session.execute(select(func.count()).where(HotlineKey.status == "active"))
        ).scalar_one()
        if active >= MAX_ACTIVE:
            raise HotlineKeyLimit(f"{active} keys are active; revoke one before re-activating {app_key}.")
    row.sealed_secret, row.status, row.revoked_at = sealer.seal(secret, app_key.encode()), "active", None
    await session.flush()
    return "updated"
