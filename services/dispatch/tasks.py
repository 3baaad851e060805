"""Background loops every replica runs: supervision, pending-place retries, catalog refresh.

Each is safe to run in several replicas at once (row locks with SKIP LOCKED, unique keys); a failing
pass is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.service import intake, places, standards, supervise
from services.dispatch.service.context import Dispatch

log = logging.getLogger("gridgov.dispatch.tasks")


async def _every(interval: float, name: str, step: Callable[[], Awaitable[Any]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s pass failed; retrying next interval", name, exc_info=True)


def start(env: Dispatch, maker: async_sessionmaker[AsyncSession]) -> list[asyncio.Task[None]]:
    s = env.settings
    return [
        asyncio.create_task(_every(s.job_interval_s, "supervision", lambda: supervise.run_once(maker, env))),
        asyncio.create_task(_every(s.place_retry_s, "place retry", lambda: intake.retry_places(maker, env))),
        asyncio.create_task(
            _every(s.map_refresh_s, "map refresh", lambda: places.refresh_quietly(env.map, env.registry))
        ),
        asyncio.create_task(
            _every(s.router_refresh_s, "catalog refresh", lambda: standards.refresh_if_stale(env, maker))
        ),
    ]
