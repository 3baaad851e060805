"""Dispatch tables (schema `dispatch`).

A ticket (案件) keeps a snapshot of where it happened (area codes and names from the registry at intake,
no cross-schema keys), the standard *version* it was routed with, and its clock: response and handling
deadlines in real time computed on the working calendar, plus the alarm time the supervision job wakes
up for next. Every transition appends one row to `ticket_event`, which a trigger keeps append-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import service_metadata

Code = String(32, collation="C")  # area codes: a plain btree serves prefix LIKE

CHANNELS = (
    "patrol",
    "wechat_group",
    "snapshot",
    "hotline",
    "phone",
    "petition",
    "video_patrol",
    "mailbox",
    "mini_program",
)
LEVELS = ("community", "street", "district")
URGENCIES = ("normal", "urgent", "emergency")
STATUSES = (
    "registered",  # 登记: filed, waiting for dispatch (or an on-site check first)
    "triage",  # 待分拨: routing was not confident; a dispatcher picks the standard
    "linked",  # a duplicate of an open ticket; follows its master
    "dispatched",  # 派遣
    "accepted",  # 签收
    "handling",  # 处置
    "suspended",  # waiting for the resident; the clock is paused
    "handled",  # 办结 by the unit, waiting for the on-site check
    "verified",  # 核实 by the grid worker
    "closed",  # 结案
    "feedback",  # 反馈/回访 done: the loop is complete
    "returned",  # 退单 waiting for the dispatch centre's ruling
    "reopened",  # 不满意: waiting for the dispatch centre's review
    "cancelled",  # 作废: not a case (false report, outside the district, ...)
)
OPEN_STATUSES = (
    "registered",
    "dispatched",
    "accepted",
    "handling",
    "suspended",
    "handled",
    "returned",
    "reopened",
)
SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")
PLACE_STATES = ("resolved", "pending", "unresolved", "none")


def sql_in(values: tuple[str, ...]) -> str:
    return "(" + ",".join(f"'{v}'" for v in values) + ")"


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Base(DeclarativeBase):
    metadata = service_metadata("dispatch")


class Department(Base):
    """One of the 23 handling units. Codes are contracts (tokens, tickets and reports carry them)."""

    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(Text)


class Standard(Base):
    """One version of a handling standard. An edit adds a version; tickets keep the row they used."""

    __tablename__ = "standard"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint(f"level IN {sql_in(LEVELS)}", name="level"),
        CheckConstraint(f"urgency IN {sql_in(URGENCIES)}", name="urgency"),
        CheckConstraint("status IN ('active','superseded','retired')", name="status"),
        CheckConstraint("response_hours > 0 AND handling_hours >= response_hours", name="limits"),
        # at most one current (active or retired) row per code
        Index("uq_standard_current", "code", unique=True, postgresql_where=text("status <> 'superseded'")),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(6))
    version: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(12), default="active")
    category_l1: Mapped[str] = mapped_column(String(40))
    category_l2: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    filing_condition: Mapped[str] = mapped_column(Text)
    closing_condition: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text))
    examples: Mapped[list[str]] = mapped_column(ARRAY(Text))
    unit: Mapped[str] = mapped_column(ForeignKey("department.code"))
    level: Mapped[str] = mapped_column(String(12))
    response_hours: Mapped[float] = mapped_column(Float)
    handling_hours: Mapped[float] = mapped_column(Float)
    urgency: Mapped[str] = mapped_column(String(12))
    verify_on_site: Mapped[bool] = mapped_column(Boolean)
    channel_rule: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64), default="migration")
    created_at: Mapped[datetime] = _now()
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CatalogRevision(Base):
    """Bumped by every standards edit and routing correction, so each replica rebuilds its router."""

    __tablename__ = "catalog_revision"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    rev: Mapped[int] = mapped_column(BigInteger, default=0)


class RoutingCorrection(Base):
    """A dispatcher said this text belongs to that standard; the router learns from it."""

    __tablename__ = "routing_correction"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(Text)
    from_code: Mapped[str | None] = mapped_column(String(6))
    to_code: Mapped[str] = mapped_column(String(6))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class TicketCounter(Base):
    """Per-day sequence behind the human-readable ticket number SFyyyymmddNNNNNN."""

    __tablename__ = "ticket_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint(f"channel IN {sql_in(CHANNELS)}", name="channel"),
        CheckConstraint(f"status IN {sql_in(STATUSES)}", name="status"),
        CheckConstraint(f"urgency IN {sql_in(URGENCIES)}", name="urgency"),
        CheckConstraint(f"level IS NULL OR level IN {sql_in(LEVELS)}", name="level"),
        CheckConstraint(f"place_status IN {sql_in(PLACE_STATES)}", name="place_status"),
        CheckConstraint(
            f"satisfaction IS NULL OR satisfaction IN {sql_in(SATISFACTION)}", name="satisfaction"
        ),
        UniqueConstraint("idem_owner", "idem_key"),
        Index("ix_ticket_created_at", "created_at"),
        Index("ix_ticket_closed_at", "closed_at", postgresql_where=text("closed_at IS NOT NULL")),
        Index("ix_ticket_feedback_at", "feedback_at", postgresql_where=text("feedback_at IS NOT NULL")),
        Index("ix_ticket_alarm_at", "alarm_at", postgresql_where=text("alarm_at IS NOT NULL")),
        Index("ix_ticket_unit_status", "unit", "status"),
        Index("ix_ticket_status", "status"),
        # a resident's own tickets (mobile); most tickets have no resident account
        Index("ix_ticket_reporter_sub", "reporter_sub", postgresql_where=text("reporter_sub IS NOT NULL")),
        Index("ix_ticket_place_pending", "id", postgresql_where=text("place_status = 'pending'")),
        Index("ix_ticket_master_id", "master_id", postgresql_where=text("master_id IS NOT NULL")),
        Index(
            "ix_ticket_open_standard",
            "standard_code",
            "created_at",
            postgresql_where=text(f"status IN {sql_in(OPEN_STATUSES)} AND master_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(12), default="normal")
    # where: what the reporter gave, and what the registry made of it
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    place_status: Mapped[str] = mapped_column(String(12), default="none")
    place_attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    district_code: Mapped[str | None] = mapped_column(Code)
    street_code: Mapped[str | None] = mapped_column(Code)
    street_name: Mapped[str | None] = mapped_column(String(100))
    community_code: Mapped[str | None] = mapped_column(Code)
    community_name: Mapped[str | None] = mapped_column(String(100))
    grid_code: Mapped[str | None] = mapped_column(Code)
    grid_name: Mapped[str | None] = mapped_column(String(100))
    micro_grid_code: Mapped[str | None] = mapped_column(Code)
    area_code: Mapped[str | None] = mapped_column(Code, index=True)  # the finest code known: scope tests
    # who reported it (optional); contact hidden from handlers unless the reporter allows it
    reporter_name: Mapped[str | None] = mapped_column(String(50))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    reporter_sub: Mapped[str | None] = mapped_column(String(64))  # a resident's account id
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    attachments: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    # routing
    standard_id: Mapped[int | None] = mapped_column(ForeignKey("standard.id"))
    standard_code: Mapped[str | None] = mapped_column(String(6))
    unit: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    level: Mapped[str | None] = mapped_column(String(12))
    route_score: Mapped[float | None] = mapped_column(Float)
    route_confident: Mapped[bool] = mapped_column(Boolean, default=False)
    suggested_code: Mapped[str | None] = mapped_column(String(6))  # the router's pick, for corrections
    verify_on_site: Mapped[bool] = mapped_column(Boolean, default=True)  # from the standard it was routed to
    master_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    # clock (all timestamptz; limits count working hours on the official calendar)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_hours: Mapped[float | None] = mapped_column(Float)
    handling_hours: Mapped[float | None] = mapped_column(Float)  # the standard's limit plus extensions
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handling_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    external_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a platform's limit
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pauses: Mapped[list[Any]] = mapped_column(JSONB, default=list)  # [[start, end], ...] ISO strings
    alarm_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatch_round: Mapped[int] = mapped_column(SmallInteger, default=0)  # each (re)dispatch starts a clock
    supervision_level: Mapped[int] = mapped_column(SmallInteger, default=0)  # 0, 1 warned, 2 yellow, 3 red
    response_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    work_seconds: Mapped[float | None] = mapped_column(Float)  # working seconds dispatch → handled
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    extension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    reopen_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    return_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    external_ref: Mapped[str | None] = mapped_column(String(64))  # e.g. a 12345 work-order number
    created_by: Mapped[str] = mapped_column(String(64))
    idem_owner: Mapped[str | None] = mapped_column(String(64))
    idem_key: Mapped[str | None] = mapped_column(String(200))
    idem_hash: Mapped[str | None] = mapped_column(String(64))


class TicketEvent(Base):
    """The trail (全程留痕): one row per transition, never updated or deleted (a trigger enforces it)."""

    __tablename__ = "ticket_event"
    __table_args__ = (Index("ix_ticket_event_ticket_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = _now()
    note: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class TicketReturn(Base):
    """A unit's 退单 and the dispatch centre's final ruling on it."""

    __tablename__ = "ticket_return"
    __table_args__ = (
        CheckConstraint("ruling IS NULL OR ruling IN ('upheld','rejected')", name="ruling"),
        Index("ix_ticket_return_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    unit: Mapped[str] = mapped_column(ForeignKey("department.code"))
    reason: Mapped[str] = mapped_column(Text)
    suggested_unit: Mapped[str | None] = mapped_column(String(8))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = _now()
    ruling: Mapped[str | None] = mapped_column(String(12))
    ruling_note: Mapped[str | None] = mapped_column(Text)
    ruled_by: Mapped[str | None] = mapped_column(String(64))
    ruled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Extension(Base):
    """A request for more working hours (延期) and its decision."""

    __tablename__ = "extension"
    __table_args__ = (
        CheckConstraint("decision IS NULL OR decision IN ('approved','refused','lapsed')", name="decision"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    hours: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = _now()
    decision: Mapped[str | None] = mapped_column(String(12))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class Supervision(Base):
    """督办: an early warning, a yellow card (overdue) or a red card (long overdue), at most one of each
    kind per clock per ticket; the unique key is what makes parallel job runs harmless."""

    __tablename__ = "supervision"
    __table_args__ = (
        UniqueConstraint("ticket_id", "round", "clock", "kind"),
        CheckConstraint("kind IN ('warning','yellow','red')", name="kind"),
        CheckConstraint("clock IN ('response','handling')", name="clock"),
        Index("ix_supervision_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    round: Mapped[int] = mapped_column(SmallInteger)
    clock: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    unit: Mapped[str | None] = mapped_column(String(8))
    street_code: Mapped[str | None] = mapped_column(Code)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    note: Mapped[str] = mapped_column(Text)


class Outbox(Base):
    """Work that must follow a commit (notifying linked reporters, 12345 callbacks), drained by a job."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "id", postgresql_where=text("sent_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    topic: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


# ---- 12345 hotline ---------------------------------------------------------------------------------

APPEAL_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
CALLBACK_EVENTS = (
    "accepted",  # 签收
    "returned",  # 回退: the district gives the order back (not its matter, not a case)
    "extension_requested",  # 延期申请
    "extension_decided",  # 延期审批
    "completed",  # 办结 (on 结案, with the unit's result)
    "satisfaction",  # 回访
)
CALLBACK_STATES = ("pending", "delivered", "dead")


class HotlineKey(Base):
    """An app key the 12345 platform signs with. The secret is sealed (AES-GCM, key from the environment):
    HMAC needs the secret itself, so it cannot be hashed, but a database dump alone does not reveal it.
    Two keys may be active at once, so the platform can switch to a new one before the old is revoked."""

    __tablename__ = "hotline_key"
    __table_args__ = (CheckConstraint("status IN ('active','revoked')", name="status"),)

    app_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_secret: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="active")
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HotlineNonce(Base):
    """Nonces seen in the last few minutes (a signed request cannot be replayed). Purged by a job: a
    request older than the allowed clock skew is refused by its timestamp anyway."""

    __tablename__ = "hotline_nonce"
    __table_args__ = (Index("ix_hotline_nonce_seen_at", "seen_at"),)

    app_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = _now()


class HotlineOrder(Base):
    """A 12345 work order (工单) as the platform sent it, and the ticket it became (one per order_no)."""

    __tablename__ = "hotline_order"
    __table_args__ = (CheckConstraint(f"appeal_type IN {sql_in(APPEAL_TYPES)}", name="appeal_type"),)

    order_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    app_key: Mapped[str] = mapped_column(String(64))
    appeal_type: Mapped[str] = mapped_column(String(4))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    suggested_unit: Mapped[str | None] = mapped_column(String(100))
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class HotlineCallback(Base):
    """The hotline outbox: one status callback owed to the platform, written in the same transaction as
    the change it reports. Delivered in `seq` order per order; retried with backoff; `dead` after the
    configured number of tries (and then it holds back the order's later callbacks until re-driven)."""

    __tablename__ = "hotline_callback"
    __table_args__ = (
        UniqueConstraint("order_no", "seq"),
        CheckConstraint(f"event IN {sql_in(CALLBACK_EVENTS)}", name="event"),
        CheckConstraint(f"state IN {sql_in(CALLBACK_STATES)}", name="state"),
        # what the drain job claims: due, pending callbacks
        Index("ix_hotline_callback_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
        # head-of-line per order: is an earlier callback of this order still undelivered?
        Index("ix_hotline_callback_open", "order_no", "seq", postgresql_where=text("state <> 'delivered'")),
        Index("ix_hotline_callback_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(24))
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[datetime] = _now()
    next_attempt_at: Mapped[datetime] = _now()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(Text)


class HotlineDelivery(Base):
    """The delivery log: every attempt to deliver a callback, with what the platform answered."""

    __tablename__ = "hotline_delivery"
    __table_args__ = (Index("ix_hotline_delivery_callback_id", "callback_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("hotline_callback.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(SmallInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(12))  # delivered, retry, dead
