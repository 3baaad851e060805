"""Bodies and read models of the points supermarket (积分超市): volunteers, points rules, the ledger, the
catalogue and redemptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from services.wishes.models import ENTRY_KINDS
from services.wishes.schemas import Body, Category, LongText, PersonName, Phone, Reason, Schema
from shared.types import PrimaryKey, trimmed

CommunityCode = Annotated[
    str, Field(pattern=r"^[0-9]{12}$", description="A community code (12 digits).", examples=["320411001001"])
]
ItemName = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(trimmed)]
RuleName = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(trimmed)]
# a ledger row's note is at most 200 characters
EntryNote = Annotated[str, Field(min_length=2, max_length=200), AfterValidator(trimmed)]
Price = Annotated[int, Field(gt=0, le=1_000_000, description="Price in points (at least 1).")]
Stock = Annotated[int, Field(ge=0, le=1_000_000, description="How many are on the shelf.")]
RulePoints = Annotated[int, Field(ge=0, le=10_000)]
EntryKind = Literal[ENTRY_KINDS]  # type: ignore[valid-type]


def _not_null(body: Body, *fields: str) -> None:
    nulls = [f for f in fields if f in body.model_fields_set and getattr(body, f) is None]
    if nulls:
        raise ValueError(f"{', '.join(nulls)} cannot be null; leave it out to keep it")


# ---- volunteers ---------------------------------------------------------------------------------------


class VolunteerCreate(Body):
    """A volunteer registered with a community: an in-service party member who reported there (在职党员
    双报到), usually through their member unit, or another volunteer. Points start at 0."""

    name: PersonName = Field(examples=["王建国"])
    phone: Phone
    area_code: CommunityCode = Field(
        description="The community they reported to; its supermarket serves them."
    )
    unit_id: PrimaryKey | None = Field(
        default=None,
        description="Their member unit: active, and on the committee of this community or its street.",
    )
    party_member: bool = True
    in_service: bool = Field(default=True, description="An in-service party member (在职党员).")
    resident_id: PrimaryKey | None = Field(
        default=None, description="The registry's id, when they live here."
    )


class VolunteerUpdate(Body):
    """Change what is given; `unit_id: null` takes them out of their unit. Points move only through the
    ledger (wishes closed, adjustments, redemptions)."""

    name: PersonName | None = None
    phone: Phone | None = None
    unit_id: PrimaryKey | None = None
    active: bool | None = None
    party_member: bool | None = None
    in_service: bool | None = None

    @model_validator(mode="after")
    def _nulls(self) -> VolunteerUpdate:
        _not_null(self, "name", "phone", "active", "party_member", "in_service")
        return self


class VolunteerRead(Schema):
    id: int
    name: str
    phone: str = Field(description="Masked (139****5678) for unit liaisons.")
    area_code: str
    unit_id: int | None
    party_member: bool
    in_service: bool
    resident_id: int | None
    active: bool
    points: int = Field(description="The balance: the last ledger row's `balance_after`.")
    created_at: datetime


# ---- points rules -------------------------------------------------------------------------------------


class PointsRuleCreate(Body):
    """A rule adds `points` for each closed wish a volunteer served, plus `points_per_hour` for each full
    hour (rounded down per rule). All active rules of the wish's category, and those of any category
    (`category: null`), add up."""

    name: RuleName = Field(examples=["助老服务每小时"])
    category: Category | None = Field(default=None, description="Null: every category.")
    points: RulePoints = 0
    points_per_hour: RulePoints = 0
    active: bool = True

    @model_validator(mode="after")
    def _pays(self) -> PointsRuleCreate:
        if self.points == 0 and self.points_per_hour == 0:
            raise ValueError("a rule must pay something: points or points_per_hour above 0")
        return self


class PointsRuleUpdate(Body):
    """Change what is given; `category: null` makes the rule apply to every category. Points already
    earned stay as they are."""

    name: RuleName | None = None
    category: Category | None = None
    points: RulePoints | None = None
    points_per_hour: RulePoints | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _nulls(self) -> PointsRuleUpdate:
        _not_null(self, "name", "points", "points_per_hour", "active")
        return self


class PointsRuleRead(Schema):
    id: int
    name: str
    category: Category | None
    points: int
    points_per_hour: int
    active: bool
    created_by: str
    created_at: datetime


# ---- ledger -------------------------------------------------------------------------------------------


class AdjustmentCreate(Body):
    """A manual correction (e.g. points for an activity outside the wish flow, or a mistake undone)."""

    delta: int = Field(
        ge=-100_000, le=100_000, description="Points to add (positive) or take (negative); not 0."
    )
    note: EntryNote = Field(description="Why: kept on the ledger.", examples=["社区清洁日活动补记积分"])

    @model_validator(mode="after")
    def _nonzero(self) -> AdjustmentCreate:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


class PointsEntryRead(Schema):
    id: int
    volunteer_id: int
    kind: EntryKind = Field(
        description="earn (a closed wish), redeem, refund (a cancelled redemption), adjust."
    )
    delta: int
    balance_after: int
    wish_id: int | None
    redemption_id: int | None
    note: str
    actor: str
    at: datetime


# ---- catalogue ----------------------------------------------------------------------------------------


class CatalogueItemCreate(Body):
    area_code: CommunityCode = Field(description="The community whose supermarket offers it.")
    name: ItemName = Field(examples=["洗衣液 2kg"])
    description: LongText = ""
    price: Price
    stock: Stock = 0
    active: bool = True


class CatalogueItemUpdate(Body):
    """Change what is given. `stock` sets the count on the shelf (a restock or a stocktake)."""

    name: ItemName | None = None
    description: LongText | None = None
    price: Price | None = None
    stock: Stock | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _nulls(self) -> CatalogueItemUpdate:
        _not_null(self, "name", "description", "price", "stock", "active")
        return self


class CatalogueItemRead(Schema):
    id: int
    area_code: str
    name: str
    description: str
    price: int
    stock: int
    active: bool
    created_at: datetime
    updated_at: datetime


# ---- redemptions --------------------------------------------------------------------------------------


class RedemptionCreate(Body):
    volunteer_id: PrimaryKey
    item_id: PrimaryKey = Field(description="An active item of the volunteer's own community.")
    quantity: int = Field(default=1, ge=1, le=100)


class RedemptionCancel(Body):
    note: Reason = Field(description="Why: kept on the redemption and the refund's ledger row.")


class RedemptionRead(Schema):
    id: int
    volunteer_id: int
    item_id: int
    item_name: str
    quantity: int
    points: int = Field(description="What it cost (price × quantity at the time).")
    status: Literal["redeemed", "cancelled"]
    redeemed_by: str
    redeemed_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str | None
