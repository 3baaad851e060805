"""Request and response bodies for wishes and photos (`XCreate` / `XRead`), and the field types every
part of the wishes service uses (units, points and statistics have their own schema modules)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from services.wishes.models import CATEGORIES, STATUSES
from shared.types import no_nul, trimmed

Category = Literal[CATEGORIES]  # type: ignore[valid-type]
WishStatus = Literal[STATUSES]  # type: ignore[valid-type]
AreaCode = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{6}(?:[0-9]{3}){0,4}$",
        description="An area code (district 6 digits … micro-grid 18).",
    ),
]
UnitCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,16}$", description="A member unit code, e.g. MU001.")]
Note = Annotated[str, Field(max_length=2000), AfterValidator(no_nul)]
Reason = Annotated[str, Field(min_length=2, max_length=2000), AfterValidator(trimmed)]
ShortText = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(trimmed)]
LongText = Annotated[str, Field(max_length=4000), AfterValidator(no_nul)]
PersonName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(trimmed)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("99999999.99"), max_digits=10, decimal_places=2)]

_PHONE = re.compile(r"^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")


def _phone(v: str) -> str:
    v = re.sub(r"\s", "", no_nul(v))
    if not _PHONE.fullmatch(v):
        raise ValueError("a mainland mobile (11 digits) or a landline with its area code")
    return v


Phone = Annotated[str, Field(max_length=20, examples=["13912345678"]), AfterValidator(_phone)]


def mask_phone(v: str | None) -> str | None:
    if not v:
        return v
    return v[:3] + "****" + v[-4:] if len(v) >= 11 else v[:2] + "****" + v[-2:]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- photos -------------------------------------------------------------------------------------------


class PhotoRead(Schema):
    id: uuid.UUID
    url: str = Field(description="Where the photo is served (a staff or service token is needed).")
    content_type: str
    size: int
    width: int
    height: int
    created_at: datetime


PhotoIds = Annotated[
    list[uuid.UUID], Field(max_length=9, description="Ids from POST /api/v1/photos (at most 9).")
]


# ---- wishes -------------------------------------------------------------------------------------------


class WishCreate(Body):
    """A wish ordered by a resident (点单): through the mini-program (the mobile service, role `service`)
    or by a grid worker on the resident's behalf."""

    resident_id: int = Field(gt=0, lt=2147483647, description="The resident, as the registry knows them.")
    category: Category
    title: Annotated[str, Field(min_length=2, max_length=60), AfterValidator(trimmed)] = Field(
        examples=["需要一台轮椅"]
    )
    description: Annotated[str, Field(min_length=4, max_length=2000), AfterValidator(trimmed)] = Field(
        examples=["老伴中风后行动不便，想要一台折叠轮椅，方便去社区卫生服务站复查。"]
    )
    estimated_value: Money = Field(
        default=Decimal(0), description="Estimated value in yuan (0 for a service)."
    )
    wanted_by: date | None = Field(default=None, description="Wanted by this date (CST); today or later.")
    privacy: bool = Field(
        default=False,
        description="Hide the resident's name and address on the wish wall; the claimant sees them after claiming.",
    )
    contact_phone: Phone | None = Field(default=None, description="Shown to staff and to the claimant only.")
    photo_ids: PhotoIds = Field(default_factory=list)


class ClaimantRead(Schema):
    kind: Literal["unit", "volunteer"]
    id: int
    name: str


class WishCard(Schema):
    """A wish as the wish wall shows it: no name or address when the resident asked for privacy."""

    id: int
    status: WishStatus
    category: Category
    title: str
    description: str
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    resident_name: str | None = Field(description="Masked (张**) on the wall; null when private.")
    resident_address: str | None = Field(description="Null when private.")
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    directed: bool
    published_at: datetime | None
    photos: list[str] = Field(default_factory=list, description="Photo URLs.")


class WishSummary(Schema):
    """A row of the staff work list."""

    id: int
    status: WishStatus
    category: Category
    title: str
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    resident_name: str | None
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    submitted_at: datetime
    published_at: datetime | None
    directed: bool
    claimant_kind: Literal["unit", "volunteer"] | None
    claimant_unit_id: int | None
    claimant_volunteer_id: int | None
    claimed_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None


class WishRead(Schema):
    """A wish with everything the caller may see: staff of its area, the mobile service for its resident,
    and the claimant see the resident; other units see what the wall shows."""

    id: int
    status: WishStatus
    category: Category
    title: str
    description: str
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    source: str
    resident_id: int | None
    resident_name: str | None
    resident_address: str | None
    contact_phone: str | None
    area_code: str
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    submitted_by: str | None
    submitted_at: datetime
    review_note: str | None
    reviewed_at: datetime | None
    directed: bool
    target_unit_ids: list[int]
    published_at: datetime | None
    claimant: ClaimantRead | None
    claimed_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    completion_note: str | None
    served: list[dict[str, Any]]
    confirmed_at: datetime | None
    auto_confirmed: bool
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    photos: list[str]
    proof_photos: list[str]
    allowed_actions: list[str] = Field(description="What the caller's role may do next from this state.")


class WishEventRead(Schema):
    id: int
    action: str
    label: str
    from_status: str | None
    to_status: str
    actor: str
    actor_role: str
    at: datetime
    note: str | None
    data: dict[str, Any]


class ActionBody(Body):
    note: Note | None = None


class ReasonBody(Body):
    note: Reason = Field(description="Why: shown on the trail and to the resident.")


class PublishBody(Body):
    """Publish to the open wish wall of the community, or offer only to chosen member units (定向派单)."""

    unit_ids: list[Annotated[int, Field(gt=0, lt=2147483647)]] = Field(
        default_factory=list,
        max_length=20,
        description="Empty: the open wall. Otherwise only these units may claim.",
    )
    note: Note | None = None


class ClaimBody(Body):
    """A unit liaison claims for their unit (naming a volunteer of the unit is optional); grid staff
    record the claim of a volunteer (在职党员) or of a unit that called in."""

    unit_id: int | None = Field(default=None, gt=0, lt=2147483647)
    volunteer_id: int | None = Field(default=None, gt=0, lt=2147483647)
    note: Note | None = None


class ServedBy(Body):
    volunteer_id: int = Field(gt=0, lt=2147483647)
    hours: float = Field(default=0, ge=0, le=200, description="Hours served (points rules may pay per hour).")


class CompleteBody(Body):
    note: Annotated[str, Field(min_length=2, max_length=2000), AfterValidator(trimmed)] = Field(
        description="What was done.", examples=["已送达折叠轮椅一台，并教会家属使用。"]
    )
    proof_photo_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=9)] = Field(
        description="At least one photo of the fulfilled wish (from POST /api/v1/photos)."
    )
    served: list[ServedBy] = Field(
        default_factory=list,
        max_length=50,
        description="Volunteers who served and their hours; they earn points when the wish closes. A "
        "volunteer claimant is included by default.",
    )

    @model_validator(mode="after")
    def _unique(self) -> CompleteBody:
        ids = [s.volunteer_id for s in self.served]
        if len(ids) != len(set(ids)):
            raise ValueError("each volunteer may appear once in served")
        return self


class ResidentActionBody(Body):
    """The mobile service (role `service`) names the resident it acts for; staff leave it out."""

    resident_id: int | None = Field(default=None, gt=0, lt=2147483647)
    note: Note | None = None


class ResidentReasonBody(Body):
    resident_id: int | None = Field(default=None, gt=0, lt=2147483647)
    note: Reason = Field(description="Why: shown on the trail.")
