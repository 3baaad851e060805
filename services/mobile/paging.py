"""Cursor pagination for the mini-program: `?cursor=…&limit=…` → `{items, next_cursor}`.

A cursor is opaque to clients (url-safe base64 of the last row's sort key), so a list scrolled while new
rows arrive neither repeats nor skips, and a deep page costs the same as the first (an index seek, not
an OFFSET)."""

from __future__ import annotations

import base64
from typing import Annotated, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from shared.problems import Unprocessable

T = TypeVar("T")


class BadCursor(Unprocessable):
    type, title = "bad-cursor", "The cursor is not one this API gave out"


def encode_cursor(*key: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise BadCursor("Pass back `next_cursor` exactly as a previous page gave it.") from None
    if not isinstance(key, list) or len(key) != arity:
        raise BadCursor("Pass back `next_cursor` exactly as a previous page gave it.")
    return key


CursorQuery = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page; omit for the first page."),
]
LimitQuery = Annotated[int, Query(ge=1, le=50, description="Items per page (1–50).")]


class CursorPage(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
