"""Background loops every replica runs: supervision, pending-place retries, map and catalog refresh,
12345 callback delivery and nonce purging, and status pushes to the residents' mini-program (mobile).

Each is safe to run in several replicas at once (row locks with SKIP LOCKED, unique keys); a failing
pass is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.hotline.callbacks import Courier, purge_nonces
from services.dispatch.reporter_push import ReporterPush
from services.dispatch.service import intake, places, standards, supervise
from services.dispatch.service.context import Dispatch
from shared.tasks import every


def start(
    env: Dispatch,
    maker: async_sessionmaker[AsyncSession],
    courier: Courier,
    pusher: ReporterPush | None = None,
) -> list[asyncio.Task[None]]:
    s = env.settings
    extra = []
    if pusher is not None:
        extra.append(
            asyncio.create_task(
                every(s.mobile_push_interval_s, "reporter updates", lambda: pusher.drain(maker))
            )
        )
    return [
        *extra,
        asyncio.create_task(
            every(s.hotline_callback_interval_s, "12345 callbacks", lambda: courier.drain(maker))
        ),
        asyncio.create_task(every(60.0, "12345 nonce purge", lambda: purge_nonces(maker, s))),
        asyncio.create_task(every(s.job_interval_s, "supervision", lambda: supervise.run_once(maker, env))),
        asyncio.create_task(every(s.place_retry_s, "place retry", lambda: intake.retry_places(maker, env))),
        asyncio.create_task(
            every(s.map_refresh_s, "map refresh", lambda: places.refresh_quietly(env.map, env.registry))
        ),
        asyncio.create_task(
            every(s.router_refresh_s, "catalog refresh", lambda: standards.refresh_if_stale(env, maker))
        ),
    ]
