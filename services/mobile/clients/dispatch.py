"""Mobile's client for the dispatch service: file a resident's report, read a ticket with its trail, rate it,
and the handling units' names. Always as `svc-mobile` (role `service`, which dispatch lets see every
ticket): what a resident may see is decided here, in mobile, before anything leaves.

The models keep only the fields mobile reads (dispatch's TicketRead/TicketDetail have many more)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from services.mobile.clients import MobileClient
from shared.http import raise_for_upstream
from shared.problems import Unprocessable, UpstreamError


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RoutingRef(_Ref):
    unit: str | None = None
    unit_name: str | None = None


class PlaceRef(_Ref):
    status: str = "none"
    community_name: str | None = None
    grid_name: str | None = None


class TicketRef(_Ref):
    """What mobile keeps of dispatch's TicketRead."""

    id: int
    number: str
    status: str
    text: str = ""
    address: str | None = None
    lat: float | None = None
    lng: float | None = None
    place: PlaceRef = Field(default_factory=PlaceRef)
    routing: RoutingRef = Field(default_factory=RoutingRef)
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    satisfaction: str | None = None
    master_number: str | None = None
    created_at: datetime
    updated_at: datetime


class EventRef(_Ref):
    """One step of dispatch's trail. `actor` (a staff account) is deliberately not read."""

    id: int
    action: str
    to_status: str
    at: datetime
    note: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)


class TicketDetailRef(TicketRef):
    events: list[EventRef] = Field(default_factory=list)


class RatingRefused(Exception):
    """Dispatch refused the feedback step (409): the ticket is not in a state that takes it."""

    def __init__(self, status_now: str | None) -> None:
        super().__init__(status_now)
        self.status_now = status_now


class ReportKeyReused(Unprocessable):
    type, title = "idempotency-key-reused", "This Idempotency-Key was used with a different report"


class DispatchClient(MobileClient):
    service = "dispatch"
    UNITS_TTL_S = 3600.0

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._units: dict[str, str] = {}
        self._units_at = -1e9

    async def create_ticket(self, body: dict[str, Any], *, idempotency_key: str) -> tuple[TicketRef, bool]:
        """File a ticket; returns it and whether dispatch replayed an earlier one with this key. With the
        key, retrying on a lost connection or a 503 is safe (dispatch returns the same ticket)."""
        r = await self.request(
            "POST",
            "/api/v1/tickets",
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            idempotent=True,
        )
        if r.status_code == 422 and _problem_type(r).endswith("/idempotency-key-reused"):
            raise ReportKeyReused(
                "This Idempotency-Key was already used for a different report; use a new key per report."
            )
        if r.status_code in (400, 422):
            # mobile validates everything dispatch does; a refusal here is a contract drift, not the user's
            raise UpstreamError(
                f"The dispatch service refused the report ({r.status_code}): {_problem_detail(r)}",
                upstream=self.service,
            )
        raise_for_upstream(r, self.service)
        return TicketRef.model_validate_json(r.content), r.status_code == 200

    async def get_ticket(self, ticket_id: int) -> TicketDetailRef | None:
        r = await self.request("GET", f"/api/v1/tickets/{ticket_id}")
        if r.status_code == 404:
            return None
        raise_for_upstream(r, self.service)
        return TicketDetailRef.model_validate_json(r.content)

    async def get_ticket_by_number(self, number: str) -> TicketDetailRef | None:
        r = await self.request("GET", f"/api/v1/tickets/by-number/{number}")
        if r.status_code == 404:
            return None
        raise_for_upstream(r, self.service)
        return TicketDetailRef.model_validate_json(r.content)

    async def feedback(self, ticket_id: int, satisfaction: str, note: str | None) -> TicketRef:
        """The 回访 step (`feedback`) on the resident's behalf. Not retried: a second feedback is a 409."""
        body: dict[str, Any] = {"action": "feedback", "satisfaction": satisfaction}
        if note:
            body["note"] = note
        r = await self.request(
            "POST",
            f"/api/v1/tickets/{ticket_id}/transitions",
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        if r.status_code == 409:
            status_now = None
            try:
                status_now = orjson.loads(r.content).get("status_now")
            except orjson.JSONDecodeError:
                pass
            raise RatingRefused(status_now)
        raise_for_upstream(r, self.service)
        return TicketRef.model_validate_json(r.content)

    async def unit_names(self) -> dict[str, str]:
        """Handling unit code → its name, as residents should read it (`XX区城市管理局`, without the
        parenthesised remit). Cached for an hour; on failure the last list (maybe empty) is kept."""
        if time.monotonic() - self._units_at < self.UNITS_TTL_S:
            return self._units
        self._units_at = time.monotonic()  # one attempt per period, even when it fails
        try:
            r = await self.request("GET", "/api/v1/departments", idempotent=False)
            raise_for_upstream(r, self.service)
            self._units = {d["code"]: public_unit_name(d["name"]) for d in orjson.loads(r.content)}
        except Exception:
            self._units_at -= self.UNITS_TTL_S - 30  # try again in half a minute
        return self._units


def public_unit_name(name: str | None) -> str | None:
    """`XX区城市管理局（含区城管综合行政执法）` → `XX区城市管理局`."""
    if not name:
        return None
    for bracket in ("（", "("):
        if bracket in name:
            name = name.split(bracket, 1)[0]
    return name.strip() or None


def _problem_type(r: Any) -> str:
    try:
        return str(orjson.loads(r.content).get("type", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""


def _problem_detail(r: Any) -> str:
    try:
        return str(orjson.loads(r.content).get("detail", ""))[:300]
    except (orjson.JSONDecodeError, AttributeError):
        return r.text[:300]
