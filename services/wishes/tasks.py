"""Background loop every replica runs: lapse claims not started in time and auto-confirm completed
wishes the resident did not answer. Safe in several replicas at once (rows are taken with SKIP LOCKED);
a failing pass is logged and the loop goes on."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.wishes.clock import now_utc
from services.wishes.service import wishes
from services.wishes.settings import WishesSettings
from shared.tasks import every

log = logging.getLogger("gridgov.wishes.jobs")


async def run_once(maker: async_sessionmaker[AsyncSession], settings: WishesSettings) -> dict[str, list[int]]:
    now = now_utc()
    async with maker() as session, session.begin():
        lapsed = await wishes.lapse_claims(
            session, older_than=timedelta(days=settings.claim_lapse_days), now=now, batch=settings.job_batch
        )
    async with maker() as session, session.begin():
        confirmed = await wishes.auto_confirm(
            session, older_than=timedelta(days=settings.auto_confirm_days), now=now, batch=settings.job_batch
        )
    if lapsed or confirmed:
        log.info("wish jobs: %d claims lapsed, %d wishes auto-confirmed", len(lapsed), len(confirmed))
    return {"lapsed": lapsed, "auto_confirmed": confirmed}


def start(settings: WishesSettings, maker: async_sessionmaker[AsyncSession]) -> list[asyncio.Task[None]]:
    return [
        asyncio.create_task(every(settings.job_interval_s, "wish jobs", lambda: run_once(maker, settings)))
    ]
