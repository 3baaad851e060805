"""Wishes tables (schema `wishes`).

A wish (微心愿) keeps a snapshot of its resident and place from the registry at submission (ids, area
codes and names; no cross-schema keys) and moves through an explicit state machine (`workflow.py`);
every step appends one row to `wish_event`, which a trigger keeps append-only.

Member units (大党委成员单位) carry the three lists of the big-party-committee model: resources (资源清单),
the community's needs (需求清单) and yearly projects (项目清单) with quarterly progress and a review.

Volunteer points (积分超市): `points_entry` is an append-only ledger per volunteer; `volunteer.points`
is its running balance, moved only together with a ledger row in one statement pair under the row lock,
and a CHECK keeps both from going negative.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import service_metadata

Code = String(32, collation="C")  # area codes: a plain btree serves prefix LIKE

CATEGORIES = ("助老", "助残", "助学", "助困", "就业", "医疗健康", "生活服务", "其他")
STATUSES = (
    "submitted",  # 点单: waiting for the grid's review
    "approved",  # 审核通过: waiting to be published
    "rejected",  # 审核不通过 (final)
    "published",  # 派单: on the wish wall (open) or offered to chosen units (directed)
    "claimed",  # 接单: one claimant holds it
    "in_progress",  # 实施中
    "completed",  # 已完成: proof photos in, waiting for the resident's confirmation
    "confirmed",  # 已确认: by the resident, or automatically after N days
    "closed",  # 销单 (final)
    "cancelled",  # 已取消 (final)
)
FINAL_STATUSES = ("rejected", "closed", "cancelled")
UNIT_KINDS = ("党政机关", "群团组织", "企事业单位", "社会组织", "商户")
RESOURCE_KINDS = ("志愿服务", "场地", "法律援助", "资金", "物资", "医疗健康", "教育培训", "技能服务", "其他")
NEED_STATUSES = ("open", "matched", "met", "dropped")
PROJECT_STATUSES = ("open", "claimed", "in_progress", "done", "dropped")
CLAIMANT_KINDS = ("unit", "volunteer")
ENTRY_KINDS = ("earn", "redeem", "refund", "adjust")
PHOTO_KINDS = ("request", "proof")


def sql_in(values: tuple[str, ...]) -> str:
    return "(" + ",".join(f"'{v}'" for v in values) + ")"


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Base(DeclarativeBase):
    metadata = service_metadata("wishes")


# ---- member units and their three lists -------------------------------------------------------------


class MemberUnit(Base):
    """A member unit of a community's (or street's) big party committee (大党委成员单位).

    `code` is a contract: a `unit_liaison` staff account carries it as its scope. `area_code` is the
    community (or street) whose committee the unit joined; it may take wishes from inside that area.
    """

    __tablename__ = "member_unit"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(UNIT_KINDS)}", name="kind"),
        Index("ix_member_unit_area_code", "area_code"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(16, collation="C"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(Code)
    area_name: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    party_members: Mapped[int] = mapped_column(Integer, default=0)  # in-service members who reported (报到)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class UnitResource(Base):
    """One line of a unit's resource list (资源清单), valid for a half year (`period` e.g. 2026H2)."""

    __tablename__ = "unit_resource"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(RESOURCE_KINDS)}", name="kind"),
        CheckConstraint("period ~ '^[0-9]{4}H[12]$'", name="period"),
        Index("ix_unit_resource_unit_id", "unit_id", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("member_unit.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # wish categories this resource can serve; the suggestion matches on these
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    capacity: Mapped[str] = mapped_column(String(100), default="")  # e.g. 每月 20 小时, 50 座会议室
    created_at: Mapped[datetime] = _now()


class CommunityNeed(Base):
    """One line of a community's needs list (需求清单): what residents asked for, and who took it up."""

    __tablename__ = "community_need"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(NEED_STATUSES)}", name="status"),
        CheckConstraint(f"category IN {sql_in(CATEGORIES)}", name="category"),
        Index("ix_community_need_area_code", "area_code", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    area_code: Mapped[str] = mapped_column(Code)
    category: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="走访")  # 走访, 议事会, 微心愿, 问卷 ...
    households: Mapped[int] = mapped_column(Integer, default=0)  # how many households asked
    status: Mapped[str] = mapped_column(String(8), default="open")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("member_unit.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Project(Base):
    """A yearly livelihood project (项目清单). A unit claims 1–2 a year; progress is reported quarterly
    and the project is reviewed (项目评议) at the end."""

    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(PROJECT_STATUSES)}", name="status"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="budget"),
        CheckConstraint("review_score IS NULL OR review_score BETWEEN 0 AND 100", name="review_score"),
        Index("ix_project_area_code", "area_code", "year"),
        Index("ix_project_unit_id", "unit_id", "year"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    area_code: Mapped[str] = mapped_column(Code)
    year: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(8), default="其他")
    budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(12), default="open")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("member_unit.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class ProjectProgress(Base):
    """One quarter's progress report on a project."""

    __tablename__ = "project_progress"
    __table_args__ = (
        UniqueConstraint("project_id", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    quarter: Mapped[int] = mapped_column(SmallInteger)
    percent: Mapped[int] = mapped_column(SmallInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    reported_by: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = _now()


# ---- volunteers ---------------------------------------------------------------------------------------


class Volunteer(Base):
    """A person who serves wishes and earns points: an in-service party member who reported to the
    community (在职党员双报到), usually through their member unit, or another registered volunteer."""

    __tablename__ = "volunteer"
    __table_args__ = (
        CheckConstraint("points >= 0", name="points"),
        UniqueConstraint("area_code", "phone"),
        Index("ix_volunteer_unit_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(Code)  # the community they reported to
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("member_unit.id"))
    party_member: Mapped[bool] = mapped_column(Boolean, default=True)
    in_service: Mapped[bool] = mapped_column(Boolean, default=True)  # 在职党员
    resident_id: Mapped[int | None] = mapped_column(Integer)  # the registry's id, when they live here
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    points: Mapped[int] = mapped_column(Integer, default=0)  # = the last ledger row's balance_after
    created_at: Mapped[datetime] = _now()


# ---- photos -------------------------------------------------------------------------------------------


class Photo(Base):
    """An uploaded image (checked by content, metadata stripped), stored under the media directory."""

    __tablename__ = "photo"
    __table_args__ = (
        CheckConstraint("content_type IN ('image/jpeg','image/png','image/webp')", name="type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


# ---- wishes -------------------------------------------------------------------------------------------


class Wish(Base):
    __tablename__ = "wish"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(STATUSES)}", name="status"),
        CheckConstraint(f"category IN {sql_in(CATEGORIES)}", name="category"),
        CheckConstraint("estimated_value >= 0", name="value"),
        CheckConstraint(
            f"claimant_kind IS NULL OR claimant_kind IN {sql_in(CLAIMANT_KINDS)}", name="claimant"
        ),
        CheckConstraint(
            "(claimant_kind IS NULL AND claimant_unit_id IS NULL AND claimant_volunteer_id IS NULL)"
            " OR (claimant_kind = 'unit' AND claimant_unit_id IS NOT NULL)"
            " OR (claimant_kind = 'volunteer' AND claimant_volunteer_id IS NOT NULL)",
            name="claimant_set",
        ),
        CheckConstraint("source IN ('mini_program','grid_worker')", name="source"),
        # the wish wall: published wishes (a small share of all), of one community or of all, newest first
        Index(
            "ix_wish_wall",
            "community_code",
            text("published_at DESC"),
            text("id DESC"),
            postgresql_where=text("status = 'published'"),
            postgresql_include=["directed", "area_code"],
        ),
        Index(
            "ix_wish_wall_all",
            text("published_at DESC"),
            text("id DESC"),
            postgresql_where=text("status = 'published'"),
            postgresql_include=["directed", "area_code"],
        ),
        Index("ix_wish_area", "grid_code", "status"),
        Index("ix_wish_resident_id", "resident_id", text("id DESC")),
        Index("ix_wish_claimant_unit_id", "claimant_unit_id", "status"),
        Index("ix_wish_claimant_volunteer_id", "claimant_volunteer_id", "status"),
        # the lapse and auto-confirm jobs
        Index("ix_wish_lapse_due", "claimed_at", postgresql_where=text("status = 'claimed'")),
        Index("ix_wish_confirm_due", "completed_at", postgresql_where=text("status = 'completed'")),
        Index("ix_wish_submitted_at", "submitted_at"),
        # a retried 点单 (same caller, same Idempotency-Key) gets the wish it made, not a second one
        Index(
            "uq_wish_submit_key",
            "submitted_by",
            "submit_key",
            unique=True,
            postgresql_where=text("submit_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    category: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    estimated_value: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))
    wanted_by: Mapped[date | None] = mapped_column(Date)
    privacy: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(12))
    # the resident, a snapshot from the registry at submission
    resident_id: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int] = mapped_column(Integer)
    resident_name: Mapped[str] = mapped_column(String(50))
    resident_address: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(Code)  # the household's micro-grid (or grid)
    grid_code: Mapped[str] = mapped_column(Code)
    grid_name: Mapped[str] = mapped_column(String(100), default="")
    community_code: Mapped[str] = mapped_column(Code)
    community_name: Mapped[str] = mapped_column(String(100), default="")
    submitted_by: Mapped[str] = mapped_column(String(64))
    submit_key: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[datetime] = _now()
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    directed: Mapped[bool] = mapped_column(Boolean, default=False)  # offered only to `wish_target` units
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimant_kind: Mapped[str | None] = mapped_column(String(10))
    claimant_unit_id: Mapped[int | None] = mapped_column(ForeignKey("member_unit.id"))
    claimant_volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completion_note: Mapped[str | None] = mapped_column(Text)
    # who served it and for how long: [{"volunteer_id": 1, "hours": 2.5}], points are earned on these
    served: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    auto_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    ever_claimed: Mapped[bool] = mapped_column(Boolean, default=False)  # statistics: claimed at least once
    updated_at: Mapped[datetime] = _now()


class WishTarget(Base):
    """The units a directed wish is offered to (定向派单)."""

    __tablename__ = "wish_target"

    wish_id: Mapped[int] = mapped_column(ForeignKey("wish.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("member_unit.id"), primary_key=True, index=True)


class WishPhoto(Base):
    __tablename__ = "wish_photo"
    __table_args__ = (CheckConstraint(f"kind IN {sql_in(PHOTO_KINDS)}", name="kind"),)

    wish_id: Mapped[int] = mapped_column(ForeignKey("wish.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("photo.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)


class WishEvent(Base):
    """The trail (全程留痕): one row per step, never updated or deleted (a trigger enforces it)."""

    __tablename__ = "wish_event"
    __table_args__ = (Index("ix_wish_event_wish_id", "wish_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    wish_id: Mapped[int] = mapped_column(ForeignKey("wish.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = _now()
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


# ---- points supermarket (积分超市) ---------------------------------------------------------------------


class PointsRule(Base):
    """How completed service earns points: `points` per wish, plus `points_per_hour` per hour served;
    `category` NULL applies to every category. All active matching rules add up."""

    __tablename__ = "points_rule"
    __table_args__ = (
        CheckConstraint(f"category IS NULL OR category IN {sql_in(CATEGORIES)}", name="category"),
        CheckConstraint("points >= 0 AND points_per_hour >= 0", name="points"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    category: Mapped[str | None] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(Integer, default=0)
    points_per_hour: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class PointsEntry(Base):
    """The ledger: one row per change of a volunteer's points, never updated or deleted (trigger)."""

    __tablename__ = "points_entry"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(ENTRY_KINDS)}", name="kind"),
        CheckConstraint("delta <> 0", name="delta"),
        CheckConstraint("balance_after >= 0", name="balance"),
        # a wish pays each volunteer once
        Index(
            "uq_points_entry_earn",
            "volunteer_id",
            "wish_id",
            unique=True,
            postgresql_where=text("kind = 'earn' AND wish_id IS NOT NULL"),
        ),
        Index("ix_points_entry_volunteer_id", "volunteer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id"))
    kind: Mapped[str] = mapped_column(String(8))
    delta: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    wish_id: Mapped[int | None] = mapped_column(ForeignKey("wish.id"))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _now()


class CatalogueItem(Base):
    """What the points supermarket of a community offers, at a points price, with stock."""

    __tablename__ = "catalogue_item"
    __table_args__ = (
        CheckConstraint("price > 0", name="price"),
        CheckConstraint("stock >= 0", name="stock"),
        Index("ix_catalogue_item_area_code", "area_code"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    area_code: Mapped[str] = mapped_column(Code)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[int] = mapped_column(Integer)  # points
    stock: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Redemption(Base):
    __tablename__ = "redemption"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("points > 0", name="points"),
        CheckConstraint("status IN ('redeemed','cancelled')", name="status"),
        Index("ix_redemption_volunteer_id", "volunteer_id", "id"),
        # a retried redemption (same Idempotency-Key) is answered, not redeemed twice
        Index(
            "uq_redemption_idem",
            "volunteer_id",
            "idem_key",
            unique=True,
            postgresql_where=text("idem_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"))
    item_name: Mapped[str] = mapped_column(String(60))
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="redeemed")
    redeemed_by: Mapped[str] = mapped_column(String(64))
    redeemed_at: Mapped[datetime] = _now()
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    idem_key: Mapped[str | None] = mapped_column(String(100))
