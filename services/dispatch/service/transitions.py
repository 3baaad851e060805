"""Taking one step of the loop: check state, role and ticket, apply the effect, append to the trail.

The ticket row is locked (`FOR UPDATE`) for the step, so two people acting at once are serialised and
the second sees the first's result (and usually a 409 naming what is allowed now).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.errors import (
    ActionForbidden,
    ActionInvalid,
    ExtensionTooLate,
    ReturnAlreadyRuled,
    StandardNotFound,
    TicketNotFound,
    TransitionNotAllowed,
    UnknownUnit,
)
from services.dispatch.hotline import callbacks as hotline_callbacks
from services.dispatch.models import OPEN_STATUSES, Extension, Outbox, Ticket, TicketEvent, TicketReturn
from services.dispatch.schemas import TransitionCreate
from services.dispatch.service import clock
from services.dispatch.service import standards as catalog_service
from services.dispatch.service.context import Dispatch
from services.dispatch.service.standards import StandardRef
from services.dispatch.workflow import (
    ACTIONS,
    COMMUNITY,
    COMMUNITY_AS_HANDLER,
    DISPATCHERS,
    HANDLER,
    INTEGRATION,
    Action,
    allowed_actions,
    next_level,
)
from shared.auth import SERVICE_ROLE, Principal


def may_see(principal: Principal, ticket: Ticket) -> bool:
    role = principal.role
    if role == SERVICE_ROLE:
        return True
    if role == HANDLER:
        return ticket.unit is not None and ticket.unit in principal.scope
    if role == INTEGRATION:
        return ticket.channel == "hotline"
    if ticket.area_code is None:
        # not placed yet: the dispatch centres triage it
        return role in DISPATCHERS
    return principal.covers_area(ticket.area_code)


def may_act(principal: Principal, action: Action, ticket: Ticket) -> bool:
    """Per-ticket checks on top of the role table: whose unit, whose area, which level."""
    if not may_see(principal, ticket):
        return False
    if principal.role == COMMUNITY and action.name in COMMUNITY_AS_HANDLER:
        # a community admin handles only community-level matters (小事不出网格, 大事不出社区)
        return ticket.level == "community"
    return True


def allowed_for(principal: Principal, ticket: Ticket) -> list[str]:
    return [
        name
        for name in allowed_actions(ticket.status, principal.role)
        if may_act(principal, ACTIONS[name], ticket) and _state_ok(name, ticket)
    ]


def _state_ok(name: str, ticket: Ticket) -> bool:
    if name == "decide_extension":
        return ticket.extension_pending
    if name == "request_extension":
        return not ticket.extension_pending
    if name == "escalate":
        return ticket.level is not None and next_level(ticket.level) is not None
    if name == "close" and ticket.status == "handled":
        return not ticket.verify_on_site  # its standard requires the grid worker's on-site check first
    return True


async def load_for_update(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = (
        await session.execute(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    ).scalar_one_or_none()
    if ticket is None:
        raise TicketNotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


def _standard(env: Dispatch, code: str) -> StandardRef:
    std = env.catalog.active(code)
    if std is None:
        raise StandardNotFound(f"No active handling standard has code {code}.")
    return std


def _unit_standard(env: Dispatch, ticket: Ticket, unit: str) -> StandardRef:
    """Reassigning by unit only: keep the matter's limits, change who handles it."""
    if unit not in env.catalog.departments:
        raise UnknownUnit(f"Unit {unit!r} is not one of the 23 handling units; see GET /api/v1/departments.")
    base = env.catalog.current.get(ticket.standard_code or "")
    if base is None:
        raise ActionInvalid("This ticket has no standard yet: give standard_code, not only unit.")
    return StandardRef(**{**base.__dict__, "unit": unit})


async def transition(
    session: AsyncSession, env: Dispatch, principal: Principal, ticket_id: int, body: TransitionCreate
) -> Ticket:
    ticket = await load_for_update(session, ticket_id)
    if not may_see(principal, ticket):
        raise TicketNotFound(f"Ticket {ticket_id} does not exist.")  # out of scope reads as absent
    action = ACTIONS[body.action]
    if ticket.status not in action.sources:
        allowed = allowed_for(principal, ticket)
        raise TransitionNotAllowed(
            f"Ticket {ticket.number} is {ticket.status!r}; {body.action!r} is possible only from "
            f"{', '.join(action.sources)}. You may now: {', '.join(allowed) or 'nothing'}.",
            status_now=ticket.status,
            allowed=allowed,
        )
    if principal.role not in action.roles or not may_act(principal, action, ticket):
        raise ActionForbidden(
            f"{body.action!r} on ticket {ticket.number} is for {', '.join(action.roles)}"
            + (" (community admins: community-level tickets only)" if principal.role == COMMUNITY else "")
            + (f" of unit {ticket.unit}" if principal.role == HANDLER else "")
            + ".",
            allowed=allowed_for(principal, ticket),
        )
    if action.needs_note and not body.note:
        raise ActionInvalid(f"{body.action!r} needs a note saying why or what was done.")
    if action.needs_photos and not any(a.kind == "photo" for a in body.attachments):
        raise ActionInvalid(f"{body.action!r} needs at least one on-site photo in attachments.")
    now = datetime.now(UTC)
    before = ticket.status
    data: dict[str, Any] = {}
    effect = _EFFECTS[body.action]
    await effect(session, env, principal, ticket, body, now, data)
    if action.target is not None and ticket.status == before and body.action not in ("request_extension",):
        ticket.status = action.target
    clock.schedule(ticket, env.rules)
    ticket.updated_at = now
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            action=body.action,
            from_status=before,
            to_status=ticket.status,
            actor=principal.sub,
            actor_role=principal.role,
            at=now,
            note=body.note,
            attachments=[a.model_dump(exclude_none=True) for a in body.attachments],
            data=data,
        )
    )
    await _notify_reporters(session, ticket, body.action, now)
    await hotline_callbacks.enqueue(
        session, env.settings, env.catalog.departments, ticket, body.action, body.note, data, now
    )
    await session.flush()
    return ticket


# ---- effects -------------------------------------------------------------------------------------


async def _route(
    session: AsyncSession,
    env: Dispatch,
    principal: Principal,
    ticket: Ticket,
    body: TransitionCreate,
    now: datetime,
    data: dict[str, Any],
    *,
    need_target: bool,
) -> None:
    """Dispatch/reassign to a standard (or a unit); a choice that differs from the router's is a correction."""
    if body.standard_code:
        std = _standard(env, body.standard_code)
    elif body.unit:
        std = _unit_standard(env, ticket, body.unit)
    elif need_target:
        raise ActionInvalid(f"{body.action!r} needs standard_code (or unit) saying where the ticket goes.")
    elif ticket.standard_code:
        std = _standard(env, ticket.standard_code)
    else:
        raise ActionInvalid("This ticket has no standard yet: give standard_code.")
    if need_target and std.unit == ticket.unit and std.code == ticket.standard_code:
        raise ActionInvalid(f"The ticket is already with {std.unit} under standard {std.code}.")
    level = body.level or std.level
    data.update(
        from_unit=ticket.unit,
        unit=std.unit,
        standard_code=std.code,
        standard_version=std.version,
        level=level,
    )
    if body.standard_code and body.standard_code != ticket.suggested_code:
        await catalog_service.add_correction(
            session,
            ticket_id=ticket.id,
            text=ticket.text,
            from_code=ticket.suggested_code,
            to_code=std.code,
            actor=principal.sub,
        )
        env.catalog.learn(ticket.text, std.code)
        ticket.suggested_code = std.code
        data["correction"] = True
    ticket.status = "dispatched"
    await _lapse_extension(session, ticket, now)
    clock.start_round(ticket, std, level, now, env.rules)


async def _lapse_extension(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """A new round (another unit or level) starts a new clock: a request for more time on the old one lapses."""
    if ticket.extension_pending:
        await session.execute(
            update(Extension)
            .where(Extension.ticket_id == ticket.id, Extension.decision.is_(None))
            .values(decision="lapsed", decided_by="system", decided_at=now, note="新一轮派遣，原延期申请失效")
        )


async def _confirm(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if ticket.standard_code is None:
        raise ActionInvalid("This ticket has no standard: dispatch it with standard_code instead.")
    await _route(session, env, principal, ticket, body, now, data, need_target=False)


async def _dispatch(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    await _route(session, env, principal, ticket, body, now, data, need_target=False)


async def _reassign(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    await _route(session, env, principal, ticket, body, now, data, need_target=True)


async def _accept(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    ticket.accepted_at = now
    data["in_time"] = ticket.response_due_at is None or now <= ticket.response_due_at


async def _nothing(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    return None


async def _suspend(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    clock.pause(ticket, now)


async def _resume(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    ticket.status = "handling"
    clock.resume(ticket, now, env.rules)
    data["handling_due_at"] = ticket.handling_due_at.isoformat() if ticket.handling_due_at else None


async def _handle(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    ticket.handled_at = now
    clock.finish(ticket, now, env.rules)
    data.update(on_time=ticket.on_time, work_hours=round((ticket.work_seconds or 0) / 3600, 2))


async def _verify(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    ticket.verified_at = now


async def _verify_fail(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    # back to the unit; its clock keeps running from where it was
    ticket.handled_at = None
    ticket.work_seconds = ticket.on_time = None
    ticket.status = "handling"
    clock.recompute(ticket, env.rules)


async def _close(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if ticket.status == "handled":
        if ticket.verify_on_site:
            raise TransitionNotAllowed(
                f"Standard {ticket.standard_code} requires an on-site check: a grid worker must verify "
                f"ticket {ticket.number} before it is closed.",
                status_now=ticket.status,
                allowed=allowed_for(principal, ticket),
            )
    if ticket.status == "reopened":
        data["review"] = "upheld"  # the review found the handling sound
    ticket.closed_at = now


async def _feedback(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if body.satisfaction is None:
        raise ActionInvalid("feedback needs satisfaction: satisfied, basically_satisfied or dissatisfied.")
    ticket.satisfaction = body.satisfaction
    ticket.feedback_at = now
    data["satisfaction"] = body.satisfaction
    if body.satisfaction == "dissatisfied":
        ticket.status = "reopened"  # 不满意: the dispatch centre reviews it
        ticket.reopen_count += 1
    else:
        ticket.status = "feedback"


async def _return(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if body.suggested_unit and body.suggested_unit not in env.catalog.departments:
        raise UnknownUnit(f"suggested_unit {body.suggested_unit!r} is not a handling unit.")
    rejected = (
        await session.execute(
            select(TicketReturn.id).where(
                TicketReturn.ticket_id == ticket.id,
                TicketReturn.unit == ticket.unit,
                TicketReturn.ruling == "rejected",
            )
        )
    ).first()
    if rejected is not None:
        raise ReturnAlreadyRuled(
            f"The dispatch centre already ruled that ticket {ticket.number} belongs to {ticket.unit}; "
            "the ruling is final. Handle it, or ask for an extension."
        )
    session.add(
        TicketReturn(
            ticket_id=ticket.id,
            unit=ticket.unit,
            reason=body.note,
            suggested_unit=body.suggested_unit,
            requested_by=principal.sub,
            requested_at=now,
        )
    )
    ticket.return_count += 1
    data.update(unit=ticket.unit, suggested_unit=body.suggested_unit)


async def _rule_return(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if body.ruling is None:
        raise ActionInvalid(
            "rule_return needs ruling: upheld (give the right standard_code or unit) or rejected."
        )
    pending = (
        await session.execute(
            select(TicketReturn)
            .where(TicketReturn.ticket_id == ticket.id, TicketReturn.ruling.is_(None))
            .order_by(TicketReturn.id.desc())
            .limit(1)
        )
    ).scalar_one()
    pending.ruling, pending.ruling_note, pending.ruled_by, pending.ruled_at = (
        body.ruling,
        body.note,
        principal.sub,
        now,
    )
    data["ruling"] = body.ruling
    if body.ruling == "upheld":
        await _route(session, env, principal, ticket, body, now, data, need_target=True)
    else:
        # back to the same unit on its running clock: returning a ticket buys no time
        ticket.status = "dispatched"
        clock.recompute(ticket, env.rules)


async def _escalate(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    up = next_level(ticket.level or "district")
    if up is None:
        raise TransitionNotAllowed(
            f"Ticket {ticket.number} is already at district level; it cannot go higher.",
            status_now=ticket.status,
            allowed=[a for a in allowed_for(principal, ticket) if a != "escalate"],
        )
    std = _standard(env, ticket.standard_code) if ticket.standard_code else None
    if std is None:
        raise ActionInvalid("This ticket has no standard yet; dispatch it first.")
    std = StandardRef(**{**std.__dict__, "unit": ticket.unit or std.unit})
    data.update(from_level=ticket.level, level=up)
    await _lapse_extension(session, ticket, now)
    clock.start_round(ticket, std, up, now, env.rules)
    ticket.status = "dispatched"


async def _request_extension(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if body.hours is None:
        raise ActionInvalid("request_extension needs hours (working hours to add).")
    if ticket.extension_pending:
        raise TransitionNotAllowed(
            f"Ticket {ticket.number} already has an extension request waiting for a decision.",
            status_now=ticket.status,
            allowed=allowed_for(principal, ticket),
        )
    if ticket.handling_due_at is not None and now > ticket.handling_due_at:
        raise ExtensionTooLate(
            f"Ticket {ticket.number} was due at {ticket.handling_due_at.isoformat()}; an extension must be "
            "requested before the deadline. Finish it, or explain the delay in the handling note."
        )
    session.add(
        Extension(
            ticket_id=ticket.id,
            hours=body.hours,
            reason=body.note,
            requested_by=principal.sub,
            requested_at=now,
        )
    )
    ticket.extension_pending = True
    data["hours"] = body.hours


async def _decide_extension(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if body.decision is None:
        raise ActionInvalid("decide_extension needs decision: approved or refused.")
    if not ticket.extension_pending:
        raise TransitionNotAllowed(
            f"Ticket {ticket.number} has no extension request waiting.",
            status_now=ticket.status,
            allowed=allowed_for(principal, ticket),
        )
    ext = (
        await session.execute(
            select(Extension)
            .where(Extension.ticket_id == ticket.id, Extension.decision.is_(None))
            .order_by(Extension.id.desc())
            .limit(1)
        )
    ).scalar_one()
    ext.decision, ext.decided_by, ext.decided_at, ext.note = body.decision, principal.sub, now, body.note
    ticket.extension_pending = False
    data.update(decision=body.decision, hours=ext.hours)
    if body.decision == "approved":
        ticket.handling_hours = (ticket.handling_hours or 0) + ext.hours
        clock.recompute(ticket, env.rules)
        data["handling_due_at"] = ticket.handling_due_at.isoformat() if ticket.handling_due_at else None


async def _cancel(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    ticket.alarm_at = None


async def _link(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    if not body.master_number:
        raise ActionInvalid("link needs master_number: the ticket this report repeats.")
    master = (
        await session.execute(select(Ticket).where(Ticket.number == body.master_number))
    ).scalar_one_or_none()
    if master is None or not may_see(principal, master):
        raise TicketNotFound(f"Ticket {body.master_number} does not exist.")
    if master.id == ticket.id or master.master_id is not None or master.status not in OPEN_STATUSES:
        raise ActionInvalid(
            f"Ticket {master.number} is not an open master ticket; link to an open, unlinked one."
        )
    ticket.master_id = master.id
    ticket.alarm_at = None
    data["master"] = master.number
    # its own duplicates follow it: a duplicate hangs off an open master, never off another duplicate
    moved = await session.execute(
        update(Ticket)
        .where(Ticket.master_id == ticket.id)
        .values(master_id=master.id)
        .returning(Ticket.number)
    )
    if numbers := sorted(moved.scalars()):
        data["moved"] = numbers


async def _unlink(session, env, principal, ticket, body, now, data) -> None:  # type: ignore[no-untyped-def]
    data["master_id"] = ticket.master_id
    ticket.master_id = None
    std = env.catalog.active(ticket.standard_code) if ticket.standard_code else None
    if std is None:
        ticket.status = "triage"
    else:
        ticket.status = "dispatched"
        clock.start_round(ticket, std, ticket.level or std.level, now, env.rules)


_EFFECTS = {
    "confirm": _confirm,
    "dispatch": _dispatch,
    "reassign": _reassign,
    "accept": _accept,
    "start": _nothing,
    "suspend": _suspend,
    "resume": _resume,
    "handle": _handle,
    "verify": _verify,
    "verify_fail": _verify_fail,
    "close": _close,
    "feedback": _feedback,
    "return": _return,
    "rule_return": _rule_return,
    "escalate": _escalate,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "cancel": _cancel,
    "link": _link,
    "unlink": _unlink,
}
assert set(_EFFECTS) == set(ACTIONS), "every action needs an effect"


async def _notify_reporters(session: AsyncSession, ticket: Ticket, action: str, now: datetime) -> None:
    """Reporters of this ticket and of its linked duplicates hear about each step (outbox, after commit)."""
    subs = [(ticket.number, ticket.reporter_sub)] if ticket.reporter_sub else []
    if ticket.master_id is None:
        children = await session.execute(
            select(Ticket.number, Ticket.reporter_sub).where(
                Ticket.master_id == ticket.id, Ticket.reporter_sub.is_not(None)
            )
        )
        subs += [(n, s) for n, s in children]
    for number, sub in subs:
        session.add(
            Outbox(
                topic="reporter.update",
                ticket_id=ticket.id,
                payload={
                    "resident_id": sub,
                    "ticket": number,
                    "master": ticket.number if number != ticket.number else None,
                    "action": action,
                    "status": ticket.status,
                    "at": now.isoformat(),
                },
            )
        )
