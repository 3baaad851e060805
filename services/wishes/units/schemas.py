"""Bodies for member units (大党委成员单位) and their three lists: resources (资源清单), needs (需求清单)
and projects (项目清单), and for the unit suggestions of a wish."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from services.wishes.models import NEED_STATUSES, PROJECT_STATUSES, RESOURCE_KINDS, UNIT_KINDS
from services.wishes.schemas import (
    Body,
    Category,
    LongText,
    Money,
    Note,
    PersonName,
    Phone,
    Schema,
    ShortText,
    UnitCode,
)
from shared.types import no_nul, trimmed

UnitKind = Literal[UNIT_KINDS]  # type: ignore[valid-type]
ResourceKind = Literal[RESOURCE_KINDS]  # type: ignore[valid-type]
NeedStatus = Literal[NEED_STATUSES]  # type: ignore[valid-type]
ProjectStatus = Literal[PROJECT_STATUSES]  # type: ignore[valid-type]

PERIOD = r"^[0-9]{4}H[12]$"
Period = Annotated[
    str, Field(pattern=PERIOD, description="A half year: 2026H1 (Jan–Jun) or 2026H2 (Jul–Dec).")
]
CommitteeArea = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{9}(?:[0-9]{3})?$",
        description="The community (12 digits) or street (9 digits) whose big party committee it belongs to.",
    ),
]
CommunityCode = Annotated[str, Field(pattern=r"^[0-9]{12}$", description="A community code (12 digits).")]
Address = Annotated[str, Field(max_length=200), AfterValidator(no_nul)]
Capacity = Annotated[str, Field(max_length=100), AfterValidator(no_nul)]
Source = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(trimmed)]
Households = Annotated[int, Field(ge=0, le=100_000)]
Year = Annotated[int, Field(ge=2000, le=2100)]
Score = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
Id = Annotated[int, Field(gt=0, lt=2147483647)]


# ---- units --------------------------------------------------------------------------------------------


class UnitCreate(Body):
    """A unit joining a community's (or street's) big party committee."""

    code: UnitCode = Field(description="Its code; a unit liaison account carries it as its scope. Fixed.")
    name: ShortText = Field(examples=["常州市新北区龙锦社区卫生服务站"])
    kind: UnitKind
    area_code: CommitteeArea
    address: Address = ""
    contact_name: PersonName | None = None
    contact_phone: Phone | None = None
    party_members: Annotated[int, Field(ge=0, le=100_000)] = Field(
        default=0, description="In-service party members who reported to the community (报到)."
    )
    joined_on: date | None = None


# a liaison may change only these fields of its own unit
LIAISON_FIELDS = frozenset({"address", "contact_name", "contact_phone"})
_NOT_NULL = ("name", "kind", "area_code", "party_members", "active")


class UnitUpdate(Body):
    """Change what is sent. The code is fixed (liaison accounts carry it). A unit liaison may change only
    its own unit's address and contact; area managers change the rest, `active: false` retires a unit."""

    name: ShortText | None = None
    kind: UnitKind | None = None
    area_code: CommitteeArea | None = None
    address: Address | None = None
    contact_name: PersonName | None = None
    contact_phone: Phone | None = None
    party_members: Annotated[int, Field(ge=0, le=100_000)] | None = None
    active: bool | None = None
    joined_on: date | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> UnitUpdate:
        nulls = [f for f in _NOT_NULL if f in self.model_fields_set and getattr(self, f) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; leave the field out to keep it")
        return self


class UnitRef(Schema):
    id: int
    code: str
    name: str
    kind: str
    area_code: str
    area_name: str


class UnitRead(Schema):
    id: int
    code: str
    name: str
    kind: UnitKind
    area_code: str
    area_name: str
    address: str
    contact_name: str
    contact_phone: str
    party_members: int
    active: bool
    joined_on: date | None
    created_at: datetime
    updated_at: datetime
    period: str = Field(description="The current half year, which `resources` counts.")
    resources: int = Field(description="Lines on its resource list for the current half year.")
    open_claims: int = Field(description="Wishes it holds now (claimed or in progress).")
    reviewed_projects: int
    review_score: Decimal | None = Field(description="Average review score (项目评议) of its projects.")


# ---- resources ----------------------------------------------------------------------------------------


class ResourceCreate(Body):
    kind: ResourceKind
    title: ShortText = Field(examples=["爱心义诊"])
    description: LongText = ""
    categories: Annotated[list[Category], Field(min_length=1, max_length=8)] = Field(
        description="The wish categories this resource can serve (the suggestion matches on these)."
    )
    capacity: Capacity = Field(default="", examples=["每月 20 小时"])

    @model_validator(mode="after")
    def _unique(self) -> ResourceCreate:
        self.categories = list(dict.fromkeys(self.categories))
        return self


class ResourceRead(Schema):
    id: int
    unit_id: int
    period: str
    kind: ResourceKind
    title: str
    description: str
    categories: list[str]
    capacity: str
    created_at: datetime


class PooledResourceRead(ResourceRead):
    """A line of the committee's pooled resource list, with the unit that offers it."""

    unit: UnitRef


# ---- needs --------------------------------------------------------------------------------------------


class NeedCreate(Body):
    area_code: CommunityCode
    category: Category
    title: ShortText = Field(examples=["老年助餐点"])
    description: LongText = ""
    source: Source = Field(default="走访", description="Where it came from: 走访, 议事会, 微心愿, 问卷 …")
    households: Households = Field(default=0, description="How many households asked.")


class NeedUpdate(Body):
    """Staff of the community change what is sent. Setting `unit_id` matches the need to a unit of the
    committee (status → matched); a unit liaison may send only `unit_id` = its own unit, to take up an
    open need (认领需求)."""

    status: NeedStatus | None = None
    unit_id: Id | None = None
    category: Category | None = None
    title: ShortText | None = None
    description: LongText | None = None
    source: Source | None = None
    households: Households | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> NeedUpdate:
        nulls = [
            f
            for f in ("status", "category", "title", "description", "source", "households")
            if f in self.model_fields_set and getattr(self, f) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; leave the field out to keep it")
        return self


class NeedRead(Schema):
    id: int
    area_code: str
    category: Category
    title: str
    description: str
    source: str
    households: int
    status: NeedStatus
    unit_id: int | None
    unit_name: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


# ---- projects -----------------------------------------------------------------------------------------


class ProjectCreate(Body):
    area_code: CommitteeArea
    year: Year
    title: ShortText = Field(examples=["老旧小区适老化改造"])
    description: LongText = ""
    category: Category = "其他"
    budget: Money | None = Field(default=None, description="Yuan; at least 0.")


class ProjectClaimBody(Body):
    """A liaison claims for its own unit (leave `unit_id` out); an area manager names the unit."""

    unit_id: Id | None = None


class ProgressBody(Body):
    percent: Annotated[int, Field(ge=0, le=100)] = Field(
        description="Done so far, 0–100; never less than before."
    )
    note: Note = ""


class ReviewBody(Body):
    score: Score = Field(description="项目评议: 0–100.")
    note: Note = ""


class ProgressRead(Schema):
    quarter: int
    percent: int
    note: str
    reported_by: str
    reported_at: datetime


class ProjectRead(Schema):
    id: int
    area_code: str
    year: int
    title: str
    description: str
    category: str
    budget: Decimal | None
    status: ProjectStatus
    unit_id: int | None
    unit_name: str | None
    claimed_at: datetime | None
    percent: int | None = Field(description="The latest quarter's reported progress.")
    review_score: Decimal | None
    review_note: str | None
    reviewed_at: datetime | None
    created_by: str
    created_at: datetime


class ProjectDetail(ProjectRead):
    reviewed_by: str | None
    progress: list[ProgressRead]


# ---- suggestions --------------------------------------------------------------------------------------


class SuggestedUnit(Schema):
    unit: UnitRef
    score: int = Field(description="Higher is a better fit; only the order matters.")
    reasons: list[str] = Field(description="Why, in words (中文).")
    open_claims: int
    completed: int = Field(description="Closed wishes of the same category it fulfilled.")
    resources: list[ResourceRead] = Field(description="Its current resources that serve the wish's category.")
