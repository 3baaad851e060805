"""Cursor pages over wishes' offset pages.

Wishes pages with `limit`/`offset`; the mini-program scrolls with cursors. A cursor carries the sort key
of the last item shown and the offset where the next page should start. Offsets drift while the
resident scrolls (new wishes arrive on top, claimed ones leave the wall), so the next page is read as a
window a little above and below that offset, the boundary is found by the key, and items at or above the
last key are dropped: nothing repeats, and nothing is skipped unless more than the window's slack
changed between two pages (then the window is moved and read again, a few times at most).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

X = TypeVar("X")

SLACK = 10
MAX_READS = 4

Fetch = Callable[[int, int], Awaitable[tuple[list[X], int]]]


async def seek(
    fetch: Fetch[X], *, key: Callable[[X], Any], after: Any | None, hint: int, limit: int
) -> tuple[list[X], int, bool]:
    """One page of a list sorted by `key` descending: the items after `after` (all from the top when
    None). `fetch(offset, limit)` returns a slice and the list's total; `hint` is the offset where the
    page was expected to start. Returns the items, the offset after the last of them, and whether more
    follow."""
    if after is None:
        items, total = await fetch(0, limit)
        return items, len(items), len(items) < total
    size = limit + 2 * SLACK
    start = max(0, hint - SLACK)
    window: list[X] = []
    total = 0
    for _ in range(MAX_READS):
        window, total = await fetch(start, size)
        if start > 0 and (not window or key(window[0]) < after):
            start = max(0, start - size)  # items left above: the boundary is higher up
            continue
        if window and key(window[-1]) >= after and start + len(window) < total:
            start += len(window)  # items arrived on top: the boundary is further down
            continue
        break
    newer = [x for x in window if key(x) < after]
    items = newer[:limit]
    nxt = start + (len(window) - len(newer)) + len(items)
    if len(items) < limit and start + len(window) < total:
        rest, total = await fetch(start + len(window), limit - len(items))
        items += [x for x in rest if key(x) < after]
        nxt = start + len(window) + len(rest)
    return items, nxt, nxt < total
