"""Dispatch's client for the registry: where is this point or address?

Intake calls `/api/v1/locate` once per ticket. Answers are reused for a short time (default 300 s) for
the same point to ~1 m (5 decimal places; phone GPS is good to 5–10 m) or the same address: grid
boundaries change a few times a year, and a ticket filed seconds after a boundary edit with the old
grid is corrected by a dispatcher like any other misplacement. Only successes and "nowhere" (404)
answers are cached; a registry outage is never cached, it leaves the place pending for the retry job.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from shared.http import ServiceClient, raise_for_upstream
from shared.problems import UpstreamError, UpstreamUnavailable


@dataclass(frozen=True)
class AreaRef:
    code: str
    name: str


@dataclass(frozen=True)
class Place:
    """The areas containing a place; only the fields dispatch keeps."""

    district: AreaRef | None
    street: AreaRef | None
    community: AreaRef | None
    grid: AreaRef | None
    micro_grid: AreaRef | None

    @property
    def finest_code(self) -> str | None:
        for a in (self.micro_grid, self.grid, self.community, self.street, self.district):
            if a is not None:
                return a.code
        return None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Place:
        def ref(level: str) -> AreaRef | None:
            v = body.get(level)
            return AreaRef(v["code"], v["name"]) if v else None

        return cls(ref("district"), ref("street"), ref("community"), ref("grid"), ref("micro_grid"))


NOWHERE = object()  # the registry answered: no area contains this place


class _TtlCache:
    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self._data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del self._data[key]
            return None
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        if self.size <= 0 or self.ttl <= 0:
            return
        self._data[key] = (time.monotonic() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


class RegistryClient(ServiceClient):
    service = "registry"

    def __init__(
        self, http: httpx.AsyncClient, *, cache_size: int = 50_000, cache_ttl_s: float = 300.0, **kw: Any
    ):
        super().__init__(http, **kw)
        self.cache = _TtlCache(cache_size, cache_ttl_s)

    async def locate(
        self, *, lat: float | None = None, lng: float | None = None, address: str | None = None
    ) -> Place | None:
        """The place's areas, or None when the registry knows no area there.

        Raises `UpstreamUnavailable` when the registry cannot be reached: the caller keeps the place pending.
        """
        if lat is not None and lng is not None:
            key: Any = (round(lat, 5), round(lng, 5))
            params: dict[str, Any] = {"lat": key[0], "lng": key[1]}
        elif address:
            key = " ".join(address.split())
            params = {"address": key}
        else:
            return None
        hit = self.cache.get(key)
        if hit is not None:
            return None if hit is NOWHERE else hit
        # Located as the service itself: the resident or patrol behind the ticket has no registry rights.
        r = await self.request("GET", "/api/v1/locate", params=params, as_service=True)
        if r.status_code == 404:
            self.cache.put(key, NOWHERE)
            return None
        if r.status_code == 422:  # e.g. a point the registry considers outside China: no area
            return None
        try:
            raise_for_upstream(r, self.service)
        except UpstreamError as exc:
            if r.status_code in (401, 403):  # our credentials are wrong: an outage to retry, not "nowhere"
                raise UpstreamUnavailable(str(exc), upstream=self.service) from None
            raise
        place = Place.from_json(orjson.loads(r.content))
        self.cache.put(key, place)
        return place

    async def map(self, etag: str | None) -> tuple[dict[str, Any], str | None] | None:
        """The registry's map (areas and boundaries), or None when it is unchanged since `etag`."""
        headers = {"If-None-Match": etag} if etag else {}
        r = await self.request("GET", "/api/v1/map", as_service=True, headers=headers)
        if r.status_code == 304:
            return None
        raise_for_upstream(r, self.service)
        return orjson.loads(r.content), r.headers.get("etag")
