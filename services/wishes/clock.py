"""The wishes service's clock: one `now_utc` for every row it stamps (the flow, the points ledger, the
lists), and `frozen_at` to run the service at another moment. The demo loader uses it to lay down a
history spread over past months; a ContextVar keeps the override to the task that set it, so a frozen
clock in one task never leaks into a request served beside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_frozen: ContextVar[datetime | None] = ContextVar("wishes_clock", default=None)


def now_utc() -> datetime:
    at = _frozen.get()
    return at if at is not None else datetime.now(UTC)


@contextmanager
def frozen_at(at: datetime) -> Iterator[None]:
    if at.tzinfo is None:
        raise ValueError("frozen_at needs an aware datetime")
    token = _frozen.set(at)
    try:
        yield
    finally:
        _frozen.reset(token)
