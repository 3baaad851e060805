"""A 12345 work order becomes a dispatch ticket: once per `order_no`, however often and however
concurrently the platform sends it.

The order's row goes in with the ticket and its first trail event in ONE statement (see
`service.intake.insert_statement`): the ticket's unique (idem_owner, idem_key) = ("hotline:12345",
order_no) makes the 2nd…20th concurrent copy wait for the first and then insert nothing; they read the
stored ticket and compare digests of the validated order: the same order gets the same ticket (200), a
different body under the same number is a 409. A refused order leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.errors import IdempotencyMismatch, OrderConflict, OrderNotFound
from services.dispatch.hotline.callbacks import EVENT_OF_ACTION
from services.dispatch.hotline.schemas import URGENCY, HotlineOrderCreate
from services.dispatch.models import HotlineCallback, HotlineOrder, Ticket, TicketEvent
from services.dispatch.schemas import AttachmentIn, ReporterIn, TicketCreate
from services.dispatch.service import intake as intake_service
from services.dispatch.service.context import Dispatch
from services.dispatch.service.intake import Compiled, Idempotency
from services.dispatch.service.views import EVENT_LABELS
from services.dispatch.worktime import CST
from shared.auth import Principal

STATUS_LABELS = {
    "registered": "已登记",
    "triage": "待分拨",
    "linked": "已合并",
    "dispatched": "已派遣",
    "accepted": "已签收",
    "handling": "处置中",
    "suspended": "挂起",
    "handled": "已办结待核实",
    "verified": "已核实",
    "closed": "已办结",
    "feedback": "已回访",
    "returned": "退单审核中",
    "reopened": "重新办理",
    "cancelled": "已回退",
}
# steps whose note the platform may read (results and reasons it is told about anyway)
SHARED_NOTES = frozenset(EVENT_OF_ACTION) | {"handle"}
_MEDIA = {
    "audio": (".mp3", ".wav", ".amr", ".m4a", ".ogg"),
    "video": (".mp4", ".mov", ".avi"),
    "photo": (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".bmp"),
}


def _order_row(t: Any) -> Any:
    cols = ("order_no", "app_key", "appeal_type", "received_at", "deadline_at", "suggested_unit", "body_hash")
    types = {"received_at": DateTime(timezone=True), "deadline_at": DateTime(timezone=True)}
    rows = select(t.c.id, *(bindparam("o_" + c, type_=types.get(c, String())) for c in cols)).select_from(t)
    return pg_insert(HotlineOrder).from_select(["ticket_id", *cols], rows)


INSERT_ORDER_TICKET = Compiled(intake_service.insert_statement(_order_row), json=intake_service.TICKET_JSON)
REMEMBER_NONCE = Compiled(
    text(
        "INSERT INTO dispatch.hotline_nonce (app_key, nonce) VALUES (:app_key, :nonce) "
        "ON CONFLICT DO NOTHING RETURNING 1"
    )
)


async def remember_nonce(session: AsyncSession, app_key: str, nonce: str) -> bool:
    """True the first time a key uses this nonce (within the purge window), False for a replay."""
    return await REMEMBER_NONCE.fetchrow(session, app_key=app_key, nonce=nonce) is not None


def digest(order: HotlineOrderCreate) -> str:
    """Of the validated order (times normalised to UTC), so a re-serialised resend still matches."""
    return hashlib.sha256(order.model_dump_json().encode()).hexdigest()


def _kind(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    return next((k for k, exts in _MEDIA.items() if path.endswith(exts)), "document")


def resolve_unit(env: Dispatch, hint: str | None) -> str | None:
    """建议承办单位 as a code (CGJ) or a name (区城管局, 城管局); None when it names no unit of ours."""
    if not hint:
        return None
    units = env.catalog.departments
    if hint.upper() in units:
        return hint.upper()
    for d in units.values():
        if hint in (d.name, d.short_name):
            return d.code
    for d in units.values():
        if d.short_name and (d.short_name in hint or hint in d.name):
            return d.code
    return None


def as_ticket(order: HotlineOrderCreate) -> TicketCreate:
    """The order in the shape intake takes (already validated; content may exceed a ticket's own cap)."""
    anonymous = order.caller_name is None and order.caller_phone is None
    return TicketCreate.model_construct(
        channel="hotline",
        text=order.content,
        lat=order.lat,
        lng=order.lng,
        address=order.address,
        urgency=URGENCY[order.urgency],
        reporter=ReporterIn.model_construct(
            name=order.caller_name,
            phone=order.caller_phone,
            resident_id=None,
            anonymous=anonymous,
            # a whistle-blower's (举报) contact stays with the dispatch centre
            contact_allowed=order.appeal_type != "举报",
        ),
        attachments=[
            AttachmentIn.model_construct(url=u, kind=_kind(u), name=None) for u in order.attachments
        ],
        external_ref=order.order_no,
        external_due_at=order.deadline_at,
    )


async def receive(
    session: AsyncSession, env: Dispatch, app_key: str, order: HotlineOrderCreate
) -> tuple[dict[str, Any], bool]:
    """Store the order as a ticket (or find the one it already is). Returns the answer and whether it
    was a replay."""
    owner = env.settings.hotline_idem_owner
    principal = Principal(
        sub=f"12345:{app_key}", role="integration", scope=("12345",), audience="", expires_at=0
    )
    d = digest(order)
    extra = {
        "o_order_no": order.order_no,
        "o_app_key": app_key,
        "o_appeal_type": order.appeal_type,
        "o_received_at": order.received_at,
        "o_deadline_at": order.deadline_at,
        "o_suggested_unit": order.suggested_unit,
        "o_body_hash": d,
    }
    try:
        ticket, replayed = await intake_service.intake(
            session,
            env,
            principal,
            as_ticket(order),
            Idempotency(owner, order.order_no, d),
            statement=INSERT_ORDER_TICKET,
            extra=extra,
            prefer_unit=resolve_unit(env, order.suggested_unit),
        )
    except IdempotencyMismatch as exc:
        raise OrderConflict(
            f"Work order {order.order_no} was received before with different content (ticket "
            f"{exc.extra.get('ticket_number')}). Resend the identical order, or give a changed order a new "
            "order_no.",
            ticket_number=exc.extra.get("ticket_number"),
        ) from None
    master = await _master(session, ticket)
    return order_read(env, order.order_no, ticket, master, order.received_at, order.deadline_at), replayed


async def _master(session: AsyncSession, ticket: Any) -> Ticket | None:
    if ticket.master_id is None:
        return None
    return await session.get(Ticket, ticket.master_id)


def _cst(v: datetime | None) -> datetime | None:
    """Times go to the platform in China Standard Time, as it sends them."""
    return v.astimezone(CST) if v is not None else None


def order_read(
    env: Dispatch,
    order_no: str,
    ticket: Any,
    master: Ticket | None,
    received_at: datetime,
    deadline_at: datetime,
) -> dict[str, Any]:
    """A merged order reads as its master: that is the case being handled."""
    live = master or ticket
    unit = env.catalog.departments.get(live.unit or "")
    return {
        "order_no": order_no,
        "ticket_number": ticket.number,
        "status": live.status,
        "status_label": STATUS_LABELS.get(live.status, live.status),
        "unit": {"code": unit.code, "name": unit.name} if unit is not None else None,
        "level": live.level,
        "received_at": _cst(received_at),
        "deadline_at": _cst(deadline_at),
        "response_due_at": _cst(live.response_due_at),
        "handling_due_at": _cst(live.handling_due_at),
        "merged_into": master.number if master is not None else None,
    }


async def order_detail(session: AsyncSession, env: Dispatch, order_no: str) -> dict[str, Any]:
    order = await session.get(HotlineOrder, order_no)
    if order is None:
        raise OrderNotFound(f"No work order {order_no} has been received.")
    ticket = await session.get(Ticket, order.ticket_id)
    assert ticket is not None
    master = await _master(session, ticket)
    out = order_read(env, order_no, ticket, master, order.received_at, order.deadline_at)
    ids = [ticket.id] + ([master.id] if master is not None else [])
    events = (
        await session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id.in_(ids)).order_by(TicketEvent.at, TicketEvent.id)
        )
    ).scalars()
    out["appeal_type"] = order.appeal_type
    out["timeline"] = [
        {
            "at": _cst(e.at),
            "action": e.action,
            "label": EVENT_LABELS.get(e.action, e.action),
            "status": e.to_status,
            "note": e.note if e.action in SHARED_NOTES else None,
        }
        for e in events
        # the master's own history before this order joined it is another caller's business
        if e.ticket_id == ticket.id or e.at >= ticket.created_at
    ]
    live = master or ticket
    handled = [e for e in out["timeline"] if e["action"] == "handle"]
    out["result"] = (
        {
            "text": handled[-1]["note"] if handled else None,
            "handled_at": _cst(live.handled_at),
            "closed_at": _cst(live.closed_at),
            "satisfaction": live.satisfaction,
        }
        if live.handled_at or live.closed_at
        else None
    )
    callbacks = await session.execute(
        select(
            HotlineCallback.seq, HotlineCallback.event, HotlineCallback.state, HotlineCallback.delivered_at
        )
        .where(HotlineCallback.order_no == order_no)
        .order_by(HotlineCallback.seq)
    )
    out["callbacks"] = [{**r._mapping, "delivered_at": _cst(r.delivered_at)} for r in callbacks]
    return out
