"""Background loops a service runs in every replica (index refreshes, jobs), and stopping them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

log = logging.getLogger("gridgov.tasks")


async def every(interval: float, name: str, step: Callable[[], Awaitable[Any]]) -> None:
    """Run `step` every `interval` seconds. A failing pass is logged and the loop goes on: a replica
    keeps serving with what it has (the previous index, key or catalog) and tries again."""
    while True:
        await asyncio.sleep(interval)
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s failed; keeping what we have, retrying in %s s", name, interval, exc_info=True)


async def stop(tasks: Iterable[asyncio.Task[Any]]) -> None:
    tasks = list(tasks)
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
