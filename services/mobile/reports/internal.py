"""`POST /m/internal/v1/ticket-updates`: dispatch tells us of each step of a resident's ticket.

Dispatch drains its `reporter.update` outbox here in batches (services/dispatch/reporter_push.py),
at least once and not necessarily in order; `tickets.apply_updates` makes that safe (one guarded UPDATE
per batch on `event_seq`). The caller must present a service token from the registry (staff audience,
role `service`) of dispatch's own account (`MOBILE_DISPATCH_CLIENT_ID`, default `svc-dispatch`).

Not in /m/docs (`include_in_schema=False`): the mini-program must not call it, and its only client is
dispatch. The contract is `TicketUpdates` in reports/schemas.py:

    POST /m/internal/v1/ticket-updates
    Authorization: Bearer <svc-dispatch token>
    {"updates": [{"seq": 1234, "resident_id": "17", "ticket": "SF20261206000123", "master": null,
                  "action": "accept", "status": "accepted", "at": "2026-12-06T10:05:00+00:00",
                  "unit": "CGJ", "unit_name": "XX区城市管理局（…）", "satisfaction": null}]}
    → 200 {"received": 1, "applied": 1}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from services.mobile.deps import SessionDep
from services.mobile.reports import tickets
from services.mobile.reports.schemas import TicketUpdates, TicketUpdatesResult
from shared.auth import SERVICE_ROLE, STAFF_AUDIENCE, bearer_token
from shared.problems import Forbidden, Unauthorized

router = APIRouter()


async def _dispatch_only(request: Request) -> None:
    expected = request.app.state.settings.dispatch_client_id
    token = bearer_token(request)
    if not token:
        raise Unauthorized("Send dispatch's service token as 'Authorization: Bearer <token>'.")
    principal = await request.app.state.verifier.verify(token, audience=STAFF_AUDIENCE)
    if principal.role != SERVICE_ROLE or principal.sub != expected:
        raise Forbidden(f"Only the dispatch service ({expected}) may push ticket updates.")


@router.post(
    "/m/internal/v1/ticket-updates",
    response_model=TicketUpdatesResult,
    include_in_schema=False,
    dependencies=[Depends(_dispatch_only)],  # before the body is validated: strangers get a 401, not a 422
)
async def receive_ticket_updates(body: TicketUpdates, session: SessionDep) -> dict[str, Any]:
    """Apply a batch of dispatch's `reporter.update` pushes to the mirrored tickets."""
    applied = await tickets.apply_updates(session, body.updates)
    return {"received": len(body.updates), "applied": applied}
