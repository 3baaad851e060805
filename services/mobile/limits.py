"""Abuse limits: fixed-window counters in PostgreSQL, so every replica shares them.

`hit()` counts one attempt against a limit in the caller's transaction (one upsert) and raises a 429
problem with `Retry-After` when the window is full. Windows are aligned to the clock in China time
(a "day" is a calendar day in Asia/Shanghai), so "20 reports a day" means what residents expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile.errors import TooManyRequests
from services.mobile.models import RateCounter

CST = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Limit:
    name: str  # e.g. "report:resident"
    max_hits: int
    window_s: int  # 86400: a calendar day in China time
    what: str  # for the message: "reports a day from one resident"


def window(now: datetime, window_s: int) -> tuple[datetime, datetime]:
    local = now.astimezone(CST)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if window_s >= 86400 and window_s % 86400 == 0:
        start = midnight - timedelta(days=(local.toordinal() % (window_s // 86400)))
    else:
        n = int((local - midnight).total_seconds()) // window_s
        start = midnight + timedelta(seconds=n * window_s)
    return start.astimezone(UTC), (start + timedelta(seconds=window_s)).astimezone(UTC)


async def hit(session: AsyncSession, limit: Limit, subject: str, *, now: datetime | None = None) -> int:
    """Count one hit of `subject` (an account id, an IP) against `limit`; returns the hits so far in this
    window. Raises 429 (nothing counted) when the limit is already reached."""
    now = now or datetime.now(UTC)
    start, end = window(now, limit.window_s)
    key = f"{limit.name}:{subject}"
    stmt = (
        insert(RateCounter)
        .values(key=key, window_start=start, window_end=end, count=1)
        .on_conflict_do_update(
            index_elements=[RateCounter.key, RateCounter.window_start],
            set_={"count": RateCounter.count + 1},
            where=RateCounter.count < limit.max_hits,
        )
        .returning(RateCounter.count)
    )
    count = (await session.execute(stmt)).scalar_one_or_none()
    if count is None:  # the guarded update matched nothing: the window is full
        retry = int((end - now).total_seconds()) + 1
        raise TooManyRequests(
            f"Limit reached: at most {limit.max_hits} {limit.what}. Try again in {retry} s.",
            retry_after=retry,
            limit=limit.max_hits,
        )
    return count


async def used(session: AsyncSession, limit: Limit, subject: str, *, now: datetime | None = None) -> int:
    """Hits so far in the current window (for showing "3 of 20 left today")."""
    from sqlalchemy import select

    now = now or datetime.now(UTC)
    start, _ = window(now, limit.window_s)
    n = await session.scalar(
        select(func.coalesce(func.max(RateCounter.count), 0)).where(
            RateCounter.key == f"{limit.name}:{subject}", RateCounter.window_start == start
        )
    )
    return int(n or 0)
