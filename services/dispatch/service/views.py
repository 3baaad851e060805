"""Reading tickets: one ticket with its timeline, searches, and the work queues, all scoped by role."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.dispatch.errors import TicketNotFound
from services.dispatch.models import Extension, Supervision, Ticket, TicketEvent, TicketReturn
from services.dispatch.models import Standard as StandardRow
from services.dispatch.service import clock
from services.dispatch.service.context import Dispatch
from services.dispatch.service.transitions import allowed_for, may_see
from services.dispatch.workflow import ACTIONS, COMMUNITY, DISPATCHERS, GRID, HANDLER, INTEGRATION
from services.dispatch.worktime import CST
from shared.auth import SERVICE_ROLE, Principal

# Roles that call reporters back (回访) see their contact details; others only with the reporter's consent.
CONTACT_ROLES = (*DISPATCHERS, COMMUNITY, SERVICE_ROLE, INTEGRATION)
EVENT_LABELS = {name: a.label for name, a in ACTIONS.items()} | {
    "register": "登记",
    "supervise": "督办",
    "locate": "定位",
    "auto_escalate": "督办升级",
}


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else phone[:2] + "****"


def reporter_view(ticket: Ticket, principal: Principal) -> dict[str, Any] | None:
    if not (ticket.reporter_name or ticket.reporter_phone or ticket.reporter_sub):
        return None
    full = principal.role in CONTACT_ROLES or (
        principal.role in (HANDLER, GRID, COMMUNITY) and ticket.contact_allowed and not ticket.anonymous
    )
    if ticket.anonymous and principal.role not in (*DISPATCHERS, SERVICE_ROLE):
        return {"name": "匿名", "phone": None, "anonymous": True, "contact_allowed": False}
    name = ticket.reporter_name
    if not full and name:
        name = name[0] + "*" * (len(name) - 1)
    return {
        "name": name,
        "phone": ticket.reporter_phone if full else mask_phone(ticket.reporter_phone),
        "anonymous": ticket.anonymous,
        "contact_allowed": ticket.contact_allowed,
    }


def ticket_read(
    ticket: Ticket,
    principal: Principal,
    env: Dispatch,
    *,
    master_number: str | None = None,
    standard_version: int | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    std = env.catalog.current.get(ticket.standard_code or "")
    unit = env.catalog.departments.get(ticket.unit or "")
    if standard_version is None and std is not None and std.id == ticket.standard_id:
        standard_version = std.version
    return {
        "id": ticket.id,
        "number": ticket.number,
        "channel": ticket.channel,
        "status": ticket.status,
        "text": ticket.text,
        "urgency": ticket.urgency,
        "lat": ticket.lat,
        "lng": ticket.lng,
        "address": ticket.address,
        "place": {
            "status": ticket.place_status,
            "district_code": ticket.district_code,
            "street_code": ticket.street_code,
            "street_name": ticket.street_name,
            "community_code": ticket.community_code,
            "community_name": ticket.community_name,
            "grid_code": ticket.grid_code,
            "grid_name": ticket.grid_name,
            "micro_grid_code": ticket.micro_grid_code,
        },
        "reporter": reporter_view(ticket, principal),
        "attachments": ticket.attachments or [],
        "routing": {
            "standard_id": ticket.standard_id,
            "standard_code": ticket.standard_code,
            "standard_version": standard_version,
            "standard_title": std.title if std else None,
            "unit": ticket.unit,
            "unit_name": unit.short_name if unit else None,
            "level": ticket.level,
            "score": ticket.route_score,
            "confident": ticket.route_confident,
            "suggested_code": ticket.suggested_code,
        },
        "clock": {
            "dispatched_at": ticket.dispatched_at,
            "response_due_at": ticket.response_due_at,
            "handling_due_at": ticket.handling_due_at,
            "accepted_at": ticket.accepted_at,
            "handled_at": ticket.handled_at,
            "verified_at": ticket.verified_at,
            "closed_at": ticket.closed_at,
            "feedback_at": ticket.feedback_at,
            "response_hours": ticket.response_hours,
            "handling_hours": ticket.handling_hours,
            "supervision_level": ticket.supervision_level,
            "work_hours": round(ticket.work_seconds / 3600, 2) if ticket.work_seconds is not None else None,
            "on_time": ticket.on_time,
            **clock.summary(ticket, now),
        },
        "satisfaction": ticket.satisfaction,
        "extension_pending": ticket.extension_pending,
        "reopen_count": ticket.reopen_count,
        "return_count": ticket.return_count,
        "master_number": master_number,
        "external_ref": ticket.external_ref,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "allowed_actions": allowed_for(principal, ticket),
    }


async def get_visible(
    session: AsyncSession, principal: Principal, ticket_id: int | None = None, number: str | None = None
) -> Ticket:
    stmt = (
        select(Ticket).where(Ticket.id == ticket_id)
        if ticket_id is not None
        else select(Ticket).where(Ticket.number == number)
    )
    ticket = (await session.execute(stmt)).scalar_one_or_none()
    if ticket is None or not may_see(principal, ticket):
        raise TicketNotFound(f"Ticket {ticket_id if ticket_id is not None else number} does not exist.")
    return ticket


async def master_number_of(session: AsyncSession, ticket: Ticket) -> str | None:
    if ticket.master_id is None:
        return None
    return (await session.execute(select(Ticket.number).where(Ticket.id == ticket.master_id))).scalar_one()


async def detail(
    session: AsyncSession, env: Dispatch, principal: Principal, ticket: Ticket
) -> dict[str, Any]:
    version = None
    if ticket.standard_id is not None:
        version = (
            await session.execute(select(StandardRow.version).where(StandardRow.id == ticket.standard_id))
        ).scalar_one()
    out = ticket_read(
        ticket,
        principal,
        env,
        master_number=await master_number_of(session, ticket),
        standard_version=version,
    )
    events = (
        await session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    ).scalars()
    out["events"] = [
        {
            "id": e.id,
            "action": e.action,
            "label": EVENT_LABELS.get(e.action, e.action),
            "from_status": e.from_status,
            "to_status": e.to_status,
            "actor": e.actor,
            "actor_role": e.actor_role,
            "at": e.at,
            "note": e.note,
            "attachments": e.attachments or [],
            "data": e.data or {},
        }
        for e in events
    ]
    out["returns"] = (
        (
            await session.execute(
                select(TicketReturn).where(TicketReturn.ticket_id == ticket.id).order_by(TicketReturn.id)
            )
        )
        .scalars()
        .all()
    )
    out["extensions"] = (
        (
            await session.execute(
                select(Extension).where(Extension.ticket_id == ticket.id).order_by(Extension.id)
            )
        )
        .scalars()
        .all()
    )
    out["supervisions"] = (
        (
            await session.execute(
                select(Supervision).where(Supervision.ticket_id == ticket.id).order_by(Supervision.id)
            )
        )
        .scalars()
        .all()
    )
    out["duplicates"] = list(
        (
            await session.execute(
                select(Ticket.number).where(Ticket.master_id == ticket.id).order_by(Ticket.id)
            )
        ).scalars()
    )
    return out


# ---- lists -----------------------------------------------------------------------------------------


def scope_clause(principal: Principal) -> ColumnElement[bool]:
    """The SQL form of `may_see`."""
    role = principal.role
    if role == SERVICE_ROLE:
        return true()
    if role == HANDLER:
        return Ticket.unit.in_(list(principal.scope)) if principal.scope else false()
    if role == INTEGRATION:
        return Ticket.channel == "hotline"
    if not principal.area_scoped or not principal.scope:
        return false()
    within = or_(*(Ticket.area_code.startswith(p, autoescape=True) for p in principal.scope))
    if role in DISPATCHERS:
        return or_(within, Ticket.area_code.is_(None))
    return within


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), CST)


def filters(
    *,
    status: list[str] | None = None,
    channel: list[str] | None = None,
    unit: str | None = None,
    level: str | None = None,
    area: str | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
    overdue: bool | None = None,
    q: str | None = None,
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if status:
        out.append(Ticket.status.in_(status))
    if channel:
        out.append(Ticket.channel.in_(channel))
    if unit:
        out.append(Ticket.unit == unit)
    if level:
        out.append(Ticket.level == level)
    if area:
        out.append(Ticket.area_code.startswith(area, autoescape=True))
    if created_from:
        # no ticket is older; CST midnight of year 1 would fall outside PostgreSQL's timestamptz range
        out.append(Ticket.created_at >= _day_start(max(created_from, date(1970, 1, 1))))
    if created_to and created_to < date.max:  # inclusive; the last representable day has no next day
        out.append(Ticket.created_at < _day_start(created_to + timedelta(days=1)))
    if overdue is not None:
        late = and_(
            Ticket.handling_due_at < func.now(),
            Ticket.status.in_(("dispatched", "accepted", "handling", "suspended", "returned")),
        )
        out.append(late if overdue else ~late)
    if q:
        out.append(
            or_(
                Ticket.number == q,
                Ticket.text.icontains(q, autoescape=True),
                Ticket.address.icontains(q, autoescape=True),
            )
        )
    return out


async def search(
    session: AsyncSession,
    principal: Principal,
    conditions: list[ColumnElement[bool]],
    *,
    limit: int,
    offset: int,
    oldest_first: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    where = and_(scope_clause(principal), *conditions)
    total = (await session.execute(select(func.count()).select_from(Ticket).where(where))).scalar_one()
    master = aliased(Ticket)
    order = Ticket.id.asc() if oldest_first else Ticket.id.desc()
    rows = (
        await session.execute(
            select(Ticket, master.number)
            .outerjoin(master, master.id == Ticket.master_id)
            .where(where)
            .order_by(order)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    now = datetime.now(UTC)
    items = [
        {
            "id": t.id,
            "number": t.number,
            "channel": t.channel,
            "status": t.status,
            "text": t.text if len(t.text) <= 120 else t.text[:119] + "…",
            "urgency": t.urgency,
            "unit": t.unit,
            "level": t.level,
            "standard_code": t.standard_code,
            "street_name": t.street_name,
            "community_name": t.community_name,
            "grid_name": t.grid_name,
            "grid_code": t.grid_code,
            "created_at": t.created_at,
            "handling_due_at": t.handling_due_at,
            "overdue": clock.summary(t, now)["overdue"],
            "supervision_level": t.supervision_level,
            "master_number": m,
        }
        for t, m in rows
    ]
    return items, total


# The work queues: what each desk must act on next.
QUEUES: dict[str, tuple[tuple[str, ...], str]] = {
    "dispatch-centre": (
        ("triage", "returned", "reopened", "registered", "verified"),
        "Street dispatch centre: triage, returns awaiting a ruling, dissatisfied reviews, reports awaiting an "
        "on-site check, verified tickets to close; plus extension requests.",
    ),
    "unit-inbox": (
        ("dispatched", "accepted", "handling", "suspended"),
        "A unit's open tickets, oldest first.",
    ),
    "verification": (
        ("handled",),
        "Handled tickets in the grid worker's area waiting for the on-site check.",
    ),
}


def queue_conditions(name: str) -> list[ColumnElement[bool]]:
    statuses, _ = QUEUES[name]
    cond: ColumnElement[bool] = Ticket.status.in_(statuses)
    if name == "dispatch-centre":
        cond = or_(cond, Ticket.extension_pending.is_(True))
    return [cond]
