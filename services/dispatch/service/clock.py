"""A ticket's clock: deadlines on the working calendar, pauses, and the next alarm for the supervision job.

Each (re)dispatch starts a new round: the response limit (签收, the 4-working-hour rule unless the
standard is stricter) and the handling limit (the standard's, plus approved extensions) count working
hours from the dispatch, less the spans the ticket waited for the resident. A platform deadline (a
12345 办理时限) caps the handling deadline when it is tighter. The next alarm (early warning, response
overdue, yellow card, red card) is stored on the ticket, so the job finds due work with one indexed scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.dispatch.models import Ticket
from services.dispatch.service.standards import StandardRef
from services.dispatch.workflow import ACTIVE_CLOCK
from services.dispatch.worktime import Span, WorkCalendar

WARNED, YELLOW, RED = 1, 2, 3


@dataclass(frozen=True)
class ClockRules:
    calendar: WorkCalendar
    response_rule_hours: float
    warn_share: float
    red_share: float


def pauses_of(ticket: Ticket) -> list[Span]:
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in ticket.pauses or []]


def start_round(ticket: Ticket, std: StandardRef, level: str, now: datetime, rules: ClockRules) -> None:
    """A dispatch to a unit: new deadlines, supervision starts over."""
    ticket.standard_id, ticket.standard_code, ticket.unit, ticket.level = std.id, std.code, std.unit, level
    ticket.verify_on_site = std.verify_on_site
    # a new round is judged on its own: the previous round's outcome no longer stands
    ticket.handled_at = ticket.verified_at = None
    ticket.on_time = None
    ticket.work_seconds = None
    ticket.dispatch_round = (ticket.dispatch_round or 0) + 1
    ticket.dispatched_at = now
    ticket.accepted_at = None
    ticket.response_hours = min(rules.response_rule_hours, std.response_hours)
    ticket.handling_hours = std.handling_hours
    ticket.pauses = []
    ticket.paused_at = None
    ticket.supervision_level = 0
    ticket.response_overdue = False
    ticket.extension_pending = False
    recompute(ticket, rules)


def recompute(ticket: Ticket, rules: ClockRules) -> None:
    """Deadlines from the dispatch time, the limits and the pauses; then the next alarm."""
    if ticket.dispatched_at is None:
        ticket.alarm_at = None
        return
    cal, pauses = rules.calendar, pauses_of(ticket)
    ticket.response_due_at = cal.add_working_hours(ticket.dispatched_at, ticket.response_hours or 0, pauses)
    due = cal.add_working_hours(ticket.dispatched_at, ticket.handling_hours or 0, pauses)
    if ticket.external_due_at is not None and ticket.external_due_at < due:
        due = ticket.external_due_at
    ticket.handling_due_at = due
    schedule(ticket, rules)


def thresholds(ticket: Ticket, rules: ClockRules) -> dict[str, datetime]:
    """When the warning, yellow and red alarms of this round fall due."""
    cal, pauses = rules.calendar, pauses_of(ticket)
    start, hours = ticket.dispatched_at, ticket.handling_hours or 0
    assert start is not None and ticket.handling_due_at is not None
    return {
        "warning": min(
            cal.add_working_hours(start, hours * rules.warn_share, pauses), ticket.handling_due_at
        ),
        "yellow": ticket.handling_due_at,
        "red": max(cal.add_working_hours(start, hours * rules.red_share, pauses), ticket.handling_due_at),
    }


def schedule(ticket: Ticket, rules: ClockRules) -> None:
    if ticket.status not in ACTIVE_CLOCK or ticket.paused_at is not None or ticket.dispatched_at is None:
        ticket.alarm_at = None
        return
    times: list[datetime] = []
    if ticket.accepted_at is None and not ticket.response_overdue and ticket.response_due_at is not None:
        times.append(ticket.response_due_at)
    th = thresholds(ticket, rules)
    for level, kind in ((WARNED, "warning"), (YELLOW, "yellow"), (RED, "red")):
        if ticket.supervision_level < level:
            times.append(th[kind])
    ticket.alarm_at = min(times) if times else None


def pause(ticket: Ticket, now: datetime) -> None:
    ticket.paused_at = now
    ticket.alarm_at = None


def resume(ticket: Ticket, now: datetime, rules: ClockRules) -> None:
    if ticket.paused_at is not None:
        ticket.pauses = [*(ticket.pauses or []), [ticket.paused_at.isoformat(), now.isoformat()]]
        ticket.paused_at = None
    recompute(ticket, rules)


def finish(ticket: Ticket, now: datetime, rules: ClockRules) -> None:
    """The unit reports it handled: working time used and whether it was in time."""
    if ticket.dispatched_at is not None:
        ticket.work_seconds = rules.calendar.working_seconds_between(
            ticket.dispatched_at, now, pauses_of(ticket)
        )
        ticket.on_time = ticket.handling_due_at is None or now <= ticket.handling_due_at
    ticket.alarm_at = None


def summary(ticket: Ticket, now: datetime) -> dict[str, Any]:
    overdue = (
        ticket.handling_due_at is not None
        and ticket.status in (*ACTIVE_CLOCK, "suspended", "returned")
        and now > ticket.handling_due_at
    )
    return {"overdue": overdue, "paused": ticket.paused_at is not None}
