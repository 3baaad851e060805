"""Mobile's background loops: purge spent rate-limit windows and expired sessions."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, func, or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.mobile.models import RateCounter, RefreshToken, Session
from services.mobile.settings import MobileSettings
from shared.tasks import every


async def purge(maker: async_sessionmaker[AsyncSession]) -> None:
    async with maker() as s:
        await s.execute(delete(RateCounter).where(RateCounter.window_end < func.now()))
        await s.execute(delete(RefreshToken).where(RefreshToken.expires_at < func.now()))
        await s.execute(
            delete(Session).where(
                or_(
                    Session.expires_at < func.now(),
                    Session.revoked_at < func.now() - func.make_interval(0, 0, 0, 30),
                )
            )
        )
        await s.commit()


def start(settings: MobileSettings, maker: async_sessionmaker[AsyncSession]) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(every(600.0, "mobile purge", lambda: purge(maker)))]
