"""Registry tables (schema `registry`).

Areas form one prefix-coded tree: district (6 digits, the national 区划代码) → street (9) →
community (12) → grid (15) → micro-grid (18). Everything below a micro-grid (buildings, households,
residents) carries the `area_code` of its micro-grid, so "is this row in the caller's scope?" is a
prefix test on an indexed column, and other services can check scope from a code alone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
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
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import service_metadata

AREA_LEVELS = ("district", "street", "community", "grid", "micro_grid")
CODE_LENGTH = {"district": 6, "street": 9, "community": 12, "grid": 15, "micro_grid": 18}
PARENT_LEVEL = {"street": "district", "community": "street", "grid": "community", "micro_grid": "grid"}

Code = String(32, collation="C")  # C collation: a plain btree index serves prefix LIKE


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Base(DeclarativeBase):
    metadata = service_metadata("registry")


class Area(Base):
    __tablename__ = "area"
    __table_args__ = (
        CheckConstraint("level IN ('district','street','community','grid','micro_grid')", name="level"),
        CheckConstraint(
            "char_length(code) = CASE level WHEN 'district' THEN 6 WHEN 'street' THEN 9 "
            "WHEN 'community' THEN 12 WHEN 'grid' THEN 15 ELSE 18 END AND code ~ '^[0-9]+$'",
            name="code_shape",
        ),
        CheckConstraint("(level = 'district') = (parent_id IS NULL)", name="parent_presence"),
        Index("ix_area_bbox", "min_lng", "max_lng", "min_lat", "max_lat"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(Code, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)
    grid_kind: Mapped[str | None] = mapped_column(String(16))
    management_type: Mapped[str | None] = mapped_column(String(16))
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    min_lng: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lng: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    area_m2: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class MapRevision(Base):
    """One row whose counter moves with every polygon or building edit.

    Writers take its row lock, which serialises the non-overlap check; replicas poll the counter to
    know when their in-memory location index is stale.
    """

    __tablename__ = "map_revision"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    rev: Mapped[int] = mapped_column(BigInteger, default=0)


class Building(Base):
    __tablename__ = "building"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Code, unique=True)
    micro_grid_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)
    area_code: Mapped[str] = mapped_column(Code, index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    unit_count: Mapped[int] = mapped_column(SmallInteger, default=1)
    floor_count: Mapped[int | None] = mapped_column(SmallInteger)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Household(Base):
    __tablename__ = "household"
    __table_args__ = (UniqueConstraint("building_id", "unit_no", "room_no"),)
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Code, unique=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="RESTRICT"), index=True)
    area_code: Mapped[str] = mapped_column(Code, index=True)
    unit_no: Mapped[str] = mapped_column(String(8), default="")
    room_no: Mapped[str] = mapped_column(String(16))
    occupancy: Mapped[str] = mapped_column(String(16), default="owner")
    created_at: Mapped[datetime] = _now()


class Resident(Base):
    __tablename__ = "resident"
    __table_args__ = (
        Index("ix_resident_tags", "tags", postgresql_using="gin"),
        CheckConstraint("gender IN ('M','F')", name="gender"),
    )
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"), index=True)
    area_code: Mapped[str] = mapped_column(Code, index=True)
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    # The identity number is never stored in clear: a keyed blind index to find it, an AES-GCM
    # ciphertext for roles that must read it, and a masked form for everyone else.
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    id_cipher: Mapped[str] = mapped_column(Text)
    id_masked: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    relation: Mapped[str] = mapped_column(String(16), default="其他")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list, server_default="{}")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ResidentMove(Base):
    """A resident's change of household; the history stays when they move."""

    __tablename__ = "resident_move"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    from_household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"))
    to_household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="RESTRICT"))
    moved_at: Mapped[datetime] = _now()
    moved_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(200))


class StaffAccount(Base):
    __tablename__ = "staff_account"
    __table_args__ = (
        CheckConstraint(
            "role IN ('district_admin','street_dispatcher','community_admin','grid_worker',"
            "'department_handler','unit_liaison','integration','service')",
            name="role",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    scope: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    display_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(SmallInteger, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class SigningKey(Base):
    """Ed25519 keys that sign access tokens; retired keys stay published until their tokens expire."""

    __tablename__ = "signing_key"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_cipher: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


GRID_STAFF_ROLES = {
    # 一格五员
    "grid_chief": "网格长",
    "full_time": "专职网格员",
    "part_time": "兼职网格员",
    "instructor": "网格指导员",
    "informant": "网格信息员",
    # 一长六员: the specialist members
    "party_instructor": "党建指导员",
    "safety_inspector": "安全卫生监督员",
    "mediator": "民事纠纷调解员",
    "firefighter": "消防员",
    "police": "警员",
    "patroller": "巡查员",
}


class GridStaff(Base):
    __tablename__ = "grid_staff"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(24))
    service_phone: Mapped[str | None] = mapped_column(String(20))
    personal_phone: Mapped[str | None] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now()


class PartyOrg(Base):
    """Community party committee → residential branch → building group."""

    __tablename__ = "party_org"
    __table_args__ = (CheckConstraint("kind IN ('committee','branch','group')", name="kind"),)
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("party_org.id", ondelete="RESTRICT"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)
    area_code: Mapped[str] = mapped_column(Code, index=True)
    secretary_name: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = _now()


class HouseholdLink(Base):
    """Who covers a household: its party-member central household (党员中心户, 20–30 households)
    and its resident representative (居民代表, 10–15 households). One of each per household."""

    __tablename__ = "household_link"
    __table_args__ = (
        UniqueConstraint("kind", "household_id"),
        CheckConstraint("kind IN ('party_central','representative')", name="kind"),
    )
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    party_org_id: Mapped[int | None] = mapped_column(ForeignKey("party_org.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now()


class PiiAccess(Base):
    """Every reading of a full identity number or phone is recorded (个人信息保护法: accountability)."""

    __tablename__ = "pii_access"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    resident_id: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime] = _now()
