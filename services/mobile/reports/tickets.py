"""One of my tickets: its detail live from dispatch, rating it, and dispatch's status pushes.

**Ordering.** `report.event_seq` is the id of the newest dispatch trail event the row reflects. Dispatch's
pushes carry the id of the step's event; a detail view knows every event id. Both write only
`WHERE event_seq < new` (a detail view: `<=`), so an update that arrives late, or twice, never replaces
a newer one. For a report merged into another ticket, the master's events count (its steps are pushed
to every reporter of the problem).

**Privacy.** A ticket is found by number *and* the caller's account: someone else's number reads
exactly like an unknown one (404, never 403), so numbers cannot be probed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile.clients.dispatch import DispatchClient, RatingRefused, TicketDetailRef, public_unit_name
from services.mobile.errors import NotRatable, TicketNotFound
from services.mobile.models import Report
from services.mobile.reports import timeline
from services.mobile.reports.schemas import RatingCreate, TicketUpdate
from services.mobile.reports.service import area_name
from services.mobile.reports.status import (
    LABELS,
    SATISFACTION_LABELS,
    ratable,
    resident_status,
    why_not_ratable,
)


async def own_report(session: AsyncSession, account_id: int, number: str, *, lock: bool = False) -> Report:
    stmt = select(Report).where(Report.ticket_number == number, Report.account_id == account_id)
    if lock:
        stmt = stmt.with_for_update()
    report = (await session.execute(stmt)).scalar_one_or_none()
    if report is None:
        raise TicketNotFound(f"You have no ticket {number}. Your tickets are listed at GET /m/v1/tickets.")
    return report


async def _live(dispatch: DispatchClient, report: Report) -> tuple[TicketDetailRef, TicketDetailRef | None]:
    own = await dispatch.get_ticket(report.ticket_id)
    if own is None:
        raise TicketNotFound(f"Ticket {report.ticket_number} no longer exists.")
    master = await dispatch.get_ticket_by_number(own.master_number) if own.master_number else None
    return own, master


async def _mirror(
    session: AsyncSession,
    report: Report,
    own: TicketDetailRef,
    master: TicketDetailRef | None,
    names: dict[str, str],
) -> None:
    """Bring the mirror row up to what dispatch just said (unless a newer push got there first)."""
    lead = master or own
    status = lead.status if own.status == "linked" and master is not None else own.status
    unit = lead.routing.unit
    seq = timeline.last_seq(own, master)
    values: dict[str, Any] = {
        "status": status,
        "unit_name": (names.get(unit) if unit else None) or public_unit_name(lead.routing.unit_name),
        "merged_into": own.master_number,
        "event_seq": seq,
        "updated_at": timeline.latest_at(own, master),
    }
    if own.satisfaction is not None and report.satisfaction is None:
        values["satisfaction"] = own.satisfaction
    done = await session.execute(
        update(Report)
        .where(Report.id == report.id, Report.event_seq <= seq)
        .values(**values)
        .returning(Report.id)
        .execution_options(synchronize_session=False)
    )
    if done.first() is not None:
        for k, v in values.items():
            setattr(report, k, v)


async def detail(
    session: AsyncSession, dispatch: DispatchClient, settings: Any, account_id: int, number: str
) -> dict[str, Any]:
    report = await own_report(session, account_id, number)
    own, master = await _live(dispatch, report)
    names = await dispatch.unit_names()
    await _mirror(session, report, own, master, names)
    code = resident_status(report.status, report.satisfaction, report.merged_into)
    return {
        "number": report.ticket_number,
        "status": code,
        "status_label": LABELS[code],
        "text": own.text,
        "address": own.address,
        "lat": own.lat,
        "lng": own.lng,
        "area_name": area_name(own),
        "unit_name": report.unit_name,
        "photos": [a["url"] for a in own.attachments if isinstance(a.get("url"), str)],
        "merged_into": report.merged_into,
        "ratable": ratable(report.status, report.satisfaction, report.merged_into),
        "satisfaction": report.satisfaction,
        "satisfaction_label": SATISFACTION_LABELS.get(report.satisfaction or ""),
        "timeline": timeline.build(own, names, master),
        "created_at": report.created_at,
        "updated_at": report.updated_at,
    }


async def rate(
    session: AsyncSession, dispatch: DispatchClient, account_id: int, number: str, body: RatingCreate
) -> dict[str, Any]:
    report = await own_report(session, account_id, number, lock=True)  # two taps at once: one rating
    if report.satisfaction is not None or report.merged_into or report.status in ("feedback", "linked"):
        # what the mirror knows for certain; any other state is asked of dispatch (the mirror may lag)
        raise NotRatable(
            why_not_ratable(report.status, report.satisfaction, report.merged_into),
            ticket_status=report.status,
        )
    try:
        ticket = await dispatch.feedback(report.ticket_id, body.satisfaction, body.comment)
    except RatingRefused as exc:
        now = exc.status_now or report.status
        raise NotRatable(why_not_ratable(now, None, report.merged_into), ticket_status=now) from None
    report.satisfaction = body.satisfaction
    report.status = ticket.status
    report.updated_at = ticket.updated_at
    await session.flush()
    try:  # the rating step's event id, so an older push arriving late cannot undo it
        own, master = await _live(dispatch, report)
        await _mirror(session, report, own, master, await dispatch.unit_names())
    except Exception:  # noqa: S110 — the rating is recorded; the next push or view refreshes the rest
        pass
    code = resident_status(report.status, report.satisfaction, report.merged_into)
    return {
        "number": report.ticket_number,
        "satisfaction": body.satisfaction,
        "satisfaction_label": SATISFACTION_LABELS[body.satisfaction],
        "status": code,
        "status_label": LABELS[code],
    }


# ---- dispatch's pushes -------------------------------------------------------------------------------

APPLY = text(
    """
UPDATE mobile.report r SET
    status = u.status,
    unit_name = COALESCE(u.unit_name, r.unit_name),
    merged_into = CASE WHEN u.master IS NOT NULL THEN u.master
                       WHEN u.status = 'linked' THEN r.merged_into END,
    satisfaction = COALESCE(r.satisfaction, u.satisfaction),
    event_seq = u.seq,
    updated_at = u.at
FROM unnest(CAST(:tickets AS text[]), CAST(:accounts AS bigint[]), CAST(:seqs AS bigint[]),
            CAST(:statuses AS text[]), CAST(:units AS text[]), CAST(:masters AS text[]),
            CAST(:sats AS text[]), CAST(:ats AS timestamptz[]))
     AS u(ticket, account, seq, status, unit_name, master, satisfaction, at)
WHERE r.ticket_number = u.ticket AND r.account_id = u.account AND r.event_seq < u.seq
RETURNING r.id
"""
)


async def apply_updates(session: AsyncSession, updates: list[TicketUpdate]) -> int:
    """Apply a batch of pushes in one statement; returns how many rows changed. Idempotent: a repeat, or
    anything older than the row, changes nothing."""
    newest: dict[str, TicketUpdate] = {}
    for u in updates:
        if not u.resident_id.isdigit():  # not a mini-program reporter
            continue
        have = newest.get(u.ticket)
        if have is None or u.seq >= have.seq:
            newest[u.ticket] = u
    if not newest:
        return 0
    rows = list(newest.values())
    params: dict[str, list[Any]] = {
        "tickets": [u.ticket for u in rows],
        "accounts": [int(u.resident_id) for u in rows],
        "seqs": [u.seq for u in rows],
        "statuses": [u.status for u in rows],
        "units": [public_unit_name(u.unit_name) for u in rows],
        "masters": [u.master for u in rows],
        "sats": [u.satisfaction for u in rows],
        "ats": [u.at for u in rows],
    }
    done = await session.execute(APPLY, params)
    return len(done.all())
