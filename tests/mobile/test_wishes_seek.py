"""Cursor pages over offset pages (services/mobile/wishes/seek.py), on a list that changes between pages
by more than the window's slack: rows arriving on top, rows leaving above and below the reader."""

from __future__ import annotations

import random

import pytest

from services.mobile.wishes.seek import SLACK, seek


class Listing:
    """A list sorted newest first, read in offset pages the way wishes serves them."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = sorted(ids, reverse=True)
        self.reads = 0

    async def fetch(self, offset: int, limit: int) -> tuple[list[int], int]:
        self.reads += 1
        return self.ids[offset : offset + limit], len(self.ids)


async def scroll(listing: Listing, limit: int, between=None) -> list[int]:
    seen: list[int] = []
    after, hint = None, 0
    while True:
        items, hint, more = await seek(listing.fetch, key=lambda x: x, after=after, hint=hint, limit=limit)
        seen += items
        if not more:
            return seen
        after = items[-1]
        if between:
            between(listing, after)


async def test_an_unchanged_list_is_read_once_per_page():
    listing = Listing(list(range(1, 101)))
    assert await scroll(listing, 20) == list(range(100, 0, -1))
    assert listing.reads == 5


async def test_many_new_rows_on_top_between_pages_repeat_nothing():
    def arrive(listing: Listing, _after: int) -> None:
        top = listing.ids[0]
        listing.ids = list(range(top + 3 * SLACK, top, -1)) + listing.ids

    listing = Listing(list(range(1, 101)))
    assert await scroll(listing, 10, arrive) == list(range(100, 0, -1))


async def test_many_rows_leaving_above_between_pages_skip_nothing_still_there():
    gone: set[int] = set()

    def leave(listing: Listing, after: int) -> None:
        above = [i for i in listing.ids if i > after][: 3 * SLACK]
        gone.update(above)
        listing.ids = [i for i in listing.ids if i not in above]

    listing = Listing(list(range(1, 201)))
    assert await scroll(listing, 10, leave) == list(range(200, 0, -1))


@pytest.mark.parametrize("seed", range(5))
async def test_random_churn_never_repeats_and_keeps_every_row_that_stayed(seed):
    rnd = random.Random(seed)
    removed: set[int] = set()

    def churn(listing: Listing, after: int) -> None:
        top = listing.ids[0] if listing.ids else 0
        listing.ids = list(range(top + rnd.randint(0, 15), top, -1)) + listing.ids
        for i in rnd.sample(listing.ids, min(len(listing.ids), rnd.randint(0, 8))):
            listing.ids.remove(i)
            removed.add(i)

    listing = Listing(list(range(1, 301)))
    seen = await scroll(listing, 12, churn)
    assert len(seen) == len(set(seen)) and seen == sorted(seen, reverse=True)
    assert set(range(1, 301)) - removed <= set(seen)
