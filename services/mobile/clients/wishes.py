"""Mobile's client for the wishes service (微心愿), called as `svc-mobile` (role `service`) acting for one
resident: wishes trusts the `resident_id` mobile names, so mobile checks ownership before it asks.

Every call has one deadline, `upstream_timeout_s` (the client's read timeout), for all its attempts:
a GET may be retried on a quick failure (a refused connection, a 502/503/504) inside that budget, but a
hanging wishes costs a resident one timeout, not four. POSTs are never retried (wishes keeps no
idempotency keys for them). Whatever goes wrong comes back as a 503/502 problem naming `wishes`.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ConfigDict

from services.mobile.clients import MobileClient
from shared.http import raise_for_upstream
from shared.problems import PROBLEM_BASE, Problem, UpstreamError, UpstreamUnavailable

T = TypeVar("T")

# wishes' refusals a resident can act on; anything else from wishes is our fault or wishes' (502/503)
PASSED_THROUGH = frozenset({409, 413, 415, 422})


class WishesRefused(Problem):
    """A refusal from wishes, passed on with its status, type and extra fields (`allowed`, `status_now`,
    `errors`) so the resident learns what to fix."""

    def __init__(self, status: int, type_: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status, self.type, self.title = status, type_, title  # type: ignore[misc]


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ClaimantRef(_Ref):
    kind: Literal["unit", "volunteer"]
    id: int
    name: str


class WishRef(_Ref):
    """The fields of wishes' `WishRead` that mobile reads."""

    id: int
    status: str
    category: str
    title: str
    description: str
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    resident_id: int | None
    contact_phone: str | None
    grid_name: str
    community_code: str
    community_name: str
    directed: bool
    submitted_at: datetime
    review_note: str | None
    published_at: datetime | None
    claimant: ClaimantRef | None
    claimed_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    completion_note: str | None
    confirmed_at: datetime | None
    auto_confirmed: bool
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    photos: list[str]
    proof_photos: list[str]
    allowed_actions: list[str]


class WishSummaryRef(_Ref):
    id: int
    status: str
    category: str
    title: str
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    submitted_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None


class WishEventRef(_Ref):
    id: int
    action: str
    label: str
    from_status: str | None
    to_status: str
    actor_role: str
    at: datetime
    note: str | None
    data: dict[str, Any]


class WallCardRef(_Ref):
    id: int
    category: str
    title: str
    description: str
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    resident_name: str | None
    grid_name: str
    published_at: datetime | None
    photos: list[str]


class PageRef(_Ref, Generic[T]):
    items: list[T]
    total: int


def photo_id_of(url: str) -> uuid.UUID:
    """Wishes names a photo by its URL (`/api/v1/photos/<uuid>`)."""
    return uuid.UUID(url.rstrip("/").rsplit("/", 1)[-1])


class WishesClient(MobileClient):
    service = "wishes"

    @property
    def budget_s(self) -> float:
        read = self._http.timeout.read
        return read if read is not None else 5.0

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        budget = self.budget_s
        try:
            async with asyncio.timeout(budget):
                return await super().request(method, url, **kw)
        except TimeoutError:
            raise UpstreamUnavailable(
                f"The wishes service did not answer within {budget:g} s; try again in a moment.",
                upstream=self.service,
            ) from None

    def _fail(self, r: httpx.Response) -> None:
        """Raise for anything but success: a resident-fixable refusal passes through; the rest is 502/503."""
        if r.is_success:
            return
        body: dict[str, Any] = {}
        if r.headers.get("content-type", "").split(";")[0].endswith("json"):
            try:
                body = orjson.loads(r.content)
            except orjson.JSONDecodeError:
                body = {}
        if r.status_code in PASSED_THROUGH and isinstance(body, dict) and "detail" in body:
            extra = {
                k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "instance")
            }
            type_ = str(body.get("type", "")).removeprefix(PROBLEM_BASE) or "upstream-refused"
            raise WishesRefused(
                r.status_code, type_, str(body.get("title", "Refused")), str(body["detail"]), **extra
            )
        if r.status_code >= 500 and isinstance(body, dict) and body.get("detail"):
            cls = UpstreamUnavailable if r.status_code in (502, 503, 504) else UpstreamError
            raise cls(f"The wishes service answered {r.status_code}: {body['detail']}", upstream=self.service)
        raise_for_upstream(r, self.service)

    # ---- photos --------------------------------------------------------------------------------------

    async def upload_photo(self, data: bytes, filename: str, content_type: str) -> uuid.UUID:
        r = await self.request("POST", "/api/v1/photos", files={"file": (filename, data, content_type)})
        self._fail(r)
        return uuid.UUID(orjson.loads(r.content)["id"])

    async def photo(self, photo_id: uuid.UUID) -> tuple[bytes, str] | None:
        """The photo's bytes and content type, or None if wishes has no such photo."""
        r = await self.request("GET", f"/api/v1/photos/{photo_id}")
        if r.status_code == 404:
            return None
        self._fail(r)
        return r.content, r.headers.get("content-type", "application/octet-stream")

    # ---- wishes --------------------------------------------------------------------------------------

    async def submit(self, body: dict[str, Any], idem_key: str | None = None) -> tuple[WishRef, bool]:
        """点单 on the resident's behalf. With a key the call is idempotent at wishes (kept per caller, with
        no time limit), so a lost answer can be sent again, here on a dropped connection and later by the
        resident's retry. Returns the wish and whether wishes had already made it."""
        if idem_key is None:
            r = await self.request("POST", "/api/v1/wishes", json=body)
        else:
            r = await self.request(
                "POST", "/api/v1/wishes", json=body, headers={"Idempotency-Key": idem_key}, idempotent=True
            )
        self._fail(r)
        return WishRef.model_validate_json(r.content), r.headers.get("Idempotent-Replayed") == "true"

    async def get(self, wish_id: int) -> WishRef | None:
        r = await self.request("GET", f"/api/v1/wishes/{wish_id}")
        if r.status_code == 404:
            return None
        self._fail(r)
        return WishRef.model_validate_json(r.content)

    async def events(self, wish_id: int) -> list[WishEventRef]:
        r = await self.request("GET", f"/api/v1/wishes/{wish_id}/events")
        self._fail(r)
        return [WishEventRef.model_validate(e) for e in orjson.loads(r.content)]

    async def of_resident(self, resident_id: int, *, limit: int, offset: int) -> PageRef[WishSummaryRef]:
        """The resident's wishes, newest first (by id)."""
        r = await self.request(
            "GET", "/api/v1/wishes", params={"resident_id": resident_id, "limit": limit, "offset": offset}
        )
        self._fail(r)
        return PageRef[WishSummaryRef].model_validate_json(r.content)

    async def act(self, wish_id: int, action: str, body: dict[str, Any]) -> WishRef | None:
        """A resident's step (`confirm`, `dispute`, `cancel`); None if wishes has no such wish of theirs."""
        r = await self.request("POST", f"/api/v1/wishes/{wish_id}/{action}", json=body)
        if r.status_code == 404:
            return None
        self._fail(r)
        return WishRef.model_validate_json(r.content)

    async def wall(
        self, community_code: str, *, category: str | None, limit: int, offset: int
    ) -> PageRef[WallCardRef]:
        """The open wish wall of a community, newest published first."""
        params: dict[str, Any] = {"area_code": community_code, "limit": limit, "offset": offset}
        if category:
            params["category"] = category
        r = await self.request("GET", "/api/v1/wishes/wall", params=params)
        self._fail(r)
        return PageRef[WallCardRef].model_validate_json(r.content)
