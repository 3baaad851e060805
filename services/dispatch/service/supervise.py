"""Overdue supervision (督办): early warnings, yellow and red cards, escalation.

Each ticket on the clock stores its next alarm time (`alarm_at`). The job takes the due ones with
`FOR UPDATE SKIP LOCKED`, so replicas running it at the same moment split the work instead of doing it
twice; PostgreSQL re-checks `alarm_at <= now` on the locked row, so a ticket another replica just
handled is skipped; and a supervision row is unique per (ticket, round, clock, kind) as the last guard.

- response: not signed for (签收) within the response limit → a yellow card on the response clock;
- handling: `warn_share` of the limit used → early warning; past the deadline → yellow card;
  past `red_share` of the limit → red card, and the ticket moves up one level (community → street →
  district) so the next level's dispatch centre takes charge.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.models import Supervision, Ticket, TicketEvent
from services.dispatch.service import clock
from services.dispatch.service.context import Dispatch
from services.dispatch.workflow import SYSTEM, next_level

log = logging.getLogger("gridgov.dispatch.supervise")

NOTES = {
    ("response", "yellow"): "黄牌督办：超过签收时限未签收",
    ("handling", "warning"): "预警：处置时限已用{share:.0%}",
    ("handling", "yellow"): "黄牌督办：超过处置时限",
    ("handling", "red"): "红牌督办：严重超时，提级督办",
}


async def _card(
    session: AsyncSession, ticket: Ticket, clock_name: str, kind: str, due: datetime, note: str
) -> bool:
    """Insert one supervision; False if it already exists (another run got there first)."""
    row = (
        await session.execute(
            pg_insert(Supervision)
            .values(
                ticket_id=ticket.id,
                round=ticket.dispatch_round,
                clock=clock_name,
                kind=kind,
                unit=ticket.unit,
                street_code=ticket.street_code,
                due_at=due,
                note=note,
            )
            .on_conflict_do_nothing(index_elements=["ticket_id", "round", "clock", "kind"])
            .returning(Supervision.id)
        )
    ).first()
    if row is None:
        return False
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            action="supervise",
            from_status=ticket.status,
            to_status=ticket.status,
            actor=SYSTEM,
            actor_role=SYSTEM,
            note=note,
            attachments=[],
            data={"clock": clock_name, "kind": kind, "due_at": due.isoformat(), "unit": ticket.unit},
        )
    )
    return True


async def supervise_ticket(session: AsyncSession, env: Dispatch, ticket: Ticket, now: datetime) -> int:
    rules = env.rules
    issued = 0
    if (
        ticket.accepted_at is None
        and not ticket.response_overdue
        and ticket.response_due_at
        and now >= ticket.response_due_at
    ):
        ticket.response_overdue = True
        issued += await _card(
            session, ticket, "response", "yellow", ticket.response_due_at, NOTES[("response", "yellow")]
        )
    th = clock.thresholds(ticket, rules)
    for level, kind in ((clock.WARNED, "warning"), (clock.YELLOW, "yellow"), (clock.RED, "red")):
        if ticket.supervision_level < level and now >= th[kind]:
            ticket.supervision_level = level
            note = NOTES[("handling", kind)].format(share=rules.warn_share)
            new = await _card(session, ticket, "handling", kind, th[kind], note)
            issued += new
            # escalate only with the card this pass issued: a card that already existed was acted on
            if new and kind == "red" and ticket.level and (up := next_level(ticket.level)):
                session.add(
                    TicketEvent(
                        ticket_id=ticket.id,
                        action="auto_escalate",
                        from_status=ticket.status,
                        to_status=ticket.status,
                        actor=SYSTEM,
                        actor_role=SYSTEM,
                        note=f"红牌督办后提级：{ticket.level} → {up}",
                        attachments=[],
                        data={"from_level": ticket.level, "level": up},
                    )
                )
                ticket.level = up
    clock.schedule(ticket, rules)
    ticket.updated_at = now
    return issued


async def run_once(
    maker: async_sessionmaker[AsyncSession], env: Dispatch, *, now: datetime | None = None
) -> int:
    """One pass over due alarms; returns how many supervision records it issued."""
    now = now or datetime.now(UTC)
    issued = 0
    async with maker() as session:
        tickets = (
            (
                await session.execute(
                    select(Ticket)
                    .where(Ticket.alarm_at <= now)
                    .order_by(Ticket.alarm_at)
                    .limit(env.settings.job_batch)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        for ticket in tickets:
            issued += await supervise_ticket(session, env, ticket, now)
        await session.commit()
    if issued:
        log.info("supervision issued", extra={"tickets": len(tickets), "records": issued})
    return issued
