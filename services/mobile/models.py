"""Mobile tables (schema `mobile`): resident accounts and their sessions, abuse counters, photos, and
the resident's own list of reports.

A resident account is a WeChat openid, bound at most once to a registry resident (ids only; the registry
keeps the person). `report` mirrors the dispatch tickets a resident filed, so "my tickets" is one indexed
query here; dispatch pushes each status change (its `reporter.update` outbox) and a detail view refreshes
the row from dispatch, so the mirror never lags for long.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import service_metadata

SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")  # 满意 / 基本满意 / 不满意


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Base(DeclarativeBase):
    metadata = service_metadata("mobile")


class Account(Base):
    """A mini-program user (WeChat openid); `resident_id` once bound to a registry resident."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64))
    resident_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # one openid ↔ one resident
    household_id: Mapped[int | None] = mapped_column(BigInteger)
    area_code: Mapped[str | None] = mapped_column(String(32))  # the household's micro-grid, at binding
    bound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bind_failures: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    bind_locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = _now()
    last_login_at: Mapped[datetime] = _now()


class Session(Base):
    """One login on one device. Access tokens carry its id (`sid`); logout revokes it, and with it every
    refresh token of the family."""

    __tablename__ = "session"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshToken(Base):
    """Refresh tokens rotate: each use spends one and issues the next. Presenting a spent one again means
    it was copied, so the whole session is revoked. Only a SHA-256 of the token is stored."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateCounter(Base):
    """Fixed-window counters for abuse limits (reports per resident and per IP a day, bind attempts):
    one upsert per hit; old windows are purged by a job."""

    __tablename__ = "rate_counter"
    __table_args__ = (Index("ix_rate_counter_window_end", "window_end"),)

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer, default=0)


class Photo(Base):
    """An uploaded photo. `key` is the copy others see (EXIF and so GPS stripped); `original_key` is the
    upload as sent, kept private for the record."""

    __tablename__ = "photo"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    original_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class Report(Base):
    """A ticket this resident filed through the mini-program, with its latest status as dispatch last
    told us. `event_seq` orders the pushes, so an older one arriving late cannot overwrite a newer one."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("account_id", "idem_key", name="uq_report_idem"),
        Index("ix_report_account", "account_id", text("id DESC")),
        CheckConstraint(f"satisfaction IS NULL OR satisfaction IN {SATISFACTION}", name="satisfaction"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    ticket_number: Mapped[str] = mapped_column(String(24), unique=True)
    idem_key: Mapped[str | None] = mapped_column(String(80))
    summary: Mapped[str] = mapped_column(String(120))  # the first words of the report
    photo_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    # the first photo's id, so a list row shows a thumbnail without a join
    first_photo_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(20))  # dispatch's status code; residents see a label
    merged_into: Mapped[str | None] = mapped_column(String(24))  # linked as a duplicate of that ticket
    unit_name: Mapped[str | None] = mapped_column(String(80))  # the handling unit, once dispatched
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    note: Mapped[str | None] = mapped_column(Text)


class WishRequest(Base):
    """A wish submitted with an `Idempotency-Key`: the same key again returns the same wish. Wishes keeps
    no keys for submissions, so mobile does; the primary key also makes two concurrent sends of one key
    queue, so only the first reaches wishes."""

    __tablename__ = "wish_request"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the fields and photos sent
    wish_id: Mapped[int | None] = mapped_column(BigInteger)  # set in the same transaction as the row
    created_at: Mapped[datetime] = _now()
