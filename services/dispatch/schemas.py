"""Request and response bodies (`XCreate` / `XUpdate` / `XRead`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.dispatch.models import CHANNELS, LEVELS, SATISFACTION, URGENCIES
from services.dispatch.workflow import ACTIONS
from shared.types import Name, no_nul, trimmed

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Level = Literal[LEVELS]  # type: ignore[valid-type]
Urgency = Literal[URGENCIES]  # type: ignore[valid-type]
Satisfaction = Literal[SATISFACTION]  # type: ignore[valid-type]
ActionName = Literal[tuple(ACTIONS)]  # type: ignore[valid-type]
UnitCode = Annotated[str, Field(pattern=r"^[A-Z]{2,4}$", description="A handling unit code, e.g. CGJ.")]
StandardCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="A 6-digit handling-standard code.")]
Note = Annotated[str, Field(max_length=2000), AfterValidator(no_nul)]

# Mainland China, generously: the registry refuses anything outside it anyway.
LAT_RANGE, LNG_RANGE = (3.8, 53.6), (73.4, 135.1)
_PHONE = re.compile(r"^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}|[0-9]{5,8})$")


def _phone(v: str) -> str:
    v = re.sub(r"[\s-]", "", no_nul(v)) if not re.fullmatch(r"0\d{2,3}-\d{7,8}", v) else v
    if not _PHONE.fullmatch(v):
        raise ValueError("a mainland mobile (11 digits), a landline with area code, or a short number")
    return v


def _complaint(v: str) -> str:
    v = trimmed(v)  # the length that counts is the text's, not its padding
    if len(v) < 2:
        raise ValueError("the complaint needs at least 2 characters besides spaces")
    return v


# ---- standards ---------------------------------------------------------------------------------------


class StandardFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category_l1: Name = Field(max_length=40, description="一级类别, e.g. 市容环境")
    category_l2: Name = Field(max_length=40, description="二级类别, e.g. 环境卫生")
    title: Name = Field(description="The matter, e.g. 暴露垃圾; unique among active standards.")
    filing_condition: Annotated[str, Field(min_length=4, max_length=2000), AfterValidator(trimmed)] = Field(
        description="立案条件: when a report becomes a case."
    )
    closing_condition: Annotated[str, Field(min_length=4, max_length=2000), AfterValidator(trimmed)] = Field(
        description="结案条件: what handled means."
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=30), AfterValidator(trimmed)]] = Field(
        min_length=3, max_length=60, description="Words residents use for it (routing)."
    )
    examples: list[Annotated[str, Field(min_length=2, max_length=200), AfterValidator(trimmed)]] = Field(
        min_length=1, max_length=30, description="Example complaints, in residents' words (routing)."
    )
    unit: UnitCode
    level: Level
    response_hours: float = Field(gt=0, le=70, description="Working hours to sign for it.")
    handling_hours: float = Field(
        gt=0, le=2100, description="Working hours to handle it (7 per working day)."
    )
    urgency: Urgency = "normal"
    verify_on_site: bool = Field(default=True, description="Must a grid worker check the result on site?")
    channel_rule: Literal["direct", "verify_first"] = Field(
        default="direct",
        description="direct: dispatched at once; verify_first: a public report is checked on site first.",
    )

    @model_validator(mode="after")
    def _limits(self) -> StandardFields:
        if self.response_hours > self.handling_hours:
            raise ValueError("response_hours must not exceed handling_hours")
        return self


class StandardCreate(StandardFields):
    code: StandardCode = Field(
        description="New code: 2-digit 大类, 2-digit 小类, 2-digit serial. Never reused."
    )


class StandardUpdate(BaseModel):
    """Any subset of the fields; the result is a new version of the standard."""

    model_config = ConfigDict(extra="forbid")

    category_l1: Name | None = None
    category_l2: Name | None = None
    title: Name | None = None
    filing_condition: Annotated[str, Field(min_length=4, max_length=2000), AfterValidator(trimmed)] | None = (
        None
    )
    closing_condition: (
        Annotated[str, Field(min_length=4, max_length=2000), AfterValidator(trimmed)] | None
    ) = None
    keywords: list[Annotated[str, Field(min_length=1, max_length=30), AfterValidator(trimmed)]] | None = (
        Field(default=None, min_length=3, max_length=60)
    )
    examples: list[Annotated[str, Field(min_length=2, max_length=200), AfterValidator(trimmed)]] | None = (
        Field(default=None, min_length=1, max_length=30)
    )
    unit: UnitCode | None = None
    level: Level | None = None
    response_hours: float | None = Field(default=None, gt=0, le=70)
    handling_hours: float | None = Field(default=None, gt=0, le=2100)
    urgency: Urgency | None = None
    verify_on_site: bool | None = None
    channel_rule: Literal["direct", "verify_first"] | None = None


class StandardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The id of this version; tickets refer to it.")
    code: str
    version: int
    status: Literal["active", "superseded", "retired"]
    category_l1: str
    category_l2: str
    title: str
    filing_condition: str
    closing_condition: str
    keywords: list[str]
    examples: list[str]
    unit: str
    level: str
    response_hours: float
    handling_hours: float
    urgency: str
    verify_on_site: bool
    channel_rule: str
    created_by: str
    created_at: datetime
    retired_at: datetime | None


class DepartmentRead(BaseModel):
    code: str
    name: str
    short_name: str
    scope: str
    standards: int = Field(description="Active standards routed to this unit.")


class MatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(trimmed)] = Field(
        examples=["市民来电反映：小区门口的雨水井盖坏了，晚上很危险"]
    )
    top_k: int = Field(default=3, ge=1, le=10)


class CandidateRead(BaseModel):
    code: str
    title: str
    department: str = Field(description="Handling unit code.")
    level: Level
    score: float
    matched_terms: list[str]


class MatchRead(BaseModel):
    candidates: list[CandidateRead]
    confident: bool = Field(description="False: the text goes to the manual triage queue instead of a guess.")


# ---- tickets ---------------------------------------------------------------------------------------


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str,
        Field(min_length=3, max_length=500, pattern=r"^(https?://|[A-Za-z0-9][\w./-]*$)"),
        AfterValidator(no_nul),
    ] = Field(description="An http(s) URL or an object-store key of an uploaded file.")
    kind: Literal["photo", "video", "audio", "document"] = "photo"
    name: Annotated[str, Field(max_length=100), AfterValidator(no_nul)] | None = None


class ReporterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=50), AfterValidator(trimmed)] | None = None
    phone: Annotated[str, Field(max_length=20), AfterValidator(_phone)] | None = None
    resident_id: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(trimmed)] | None = Field(
        default=None, description="The mini-program account of a resident reporter."
    )
    anonymous: bool = Field(
        default=False, description="Keep name and contact from everyone but the dispatch centre."
    )
    contact_allowed: bool = Field(default=False, description="The unit handling it may call the reporter.")


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    text: Annotated[str, AfterValidator(_complaint)] = Field(
        max_length=2000,
        description="The complaint in the reporter's words (hotline transcripts included).",
        examples=["市民来电反映：龙锦路和锦绣街路口的雨水井盖缺失，晚上很危险，请尽快处理。"],
    )
    lat: float | None = Field(
        default=None, ge=LAT_RANGE[0], le=LAT_RANGE[1], description="WGS84, inside China."
    )
    lng: float | None = Field(
        default=None, ge=LNG_RANGE[0], le=LNG_RANGE[1], description="WGS84, inside China."
    )
    address: Annotated[str, Field(min_length=2, max_length=200), AfterValidator(trimmed)] | None = None
    urgency: Urgency = "normal"
    reporter: ReporterIn | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=9)
    external_ref: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(trimmed)] | None = Field(
        default=None, description="The source system's own number (a 12345 work order, a petition number)."
    )
    external_due_at: datetime | None = Field(
        default=None, description="A deadline set by the source platform; caps the standard's handling limit."
    )

    @model_validator(mode="after")
    def _place(self) -> TicketCreate:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("give both lat and lng, or neither")
        if self.external_due_at is not None and self.external_due_at.tzinfo is None:
            raise ValueError("external_due_at needs a time zone (e.g. +08:00)")
        return self


class PlaceRead(BaseModel):
    status: Literal["resolved", "pending", "unresolved", "none"] = Field(
        description="pending: the registry was unreachable and a job will retry; unresolved: no grid matches."
    )
    district_code: str | None = None
    street_code: str | None = None
    street_name: str | None = None
    community_code: str | None = None
    community_name: str | None = None
    grid_code: str | None = None
    grid_name: str | None = None
    micro_grid_code: str | None = None


class ReporterRead(BaseModel):
    name: str | None
    phone: str | None = Field(description="Masked unless your role needs it or the reporter allowed contact.")
    anonymous: bool
    contact_allowed: bool


class RoutingRead(BaseModel):
    standard_id: int | None = Field(description="The standard version this ticket was routed with.")
    standard_code: str | None
    standard_version: int | None
    standard_title: str | None
    unit: str | None
    unit_name: str | None
    level: str | None
    score: float | None
    confident: bool
    suggested_code: str | None = Field(description="The router's own pick at intake.")


class ClockRead(BaseModel):
    dispatched_at: datetime | None
    response_due_at: datetime | None
    handling_due_at: datetime | None
    accepted_at: datetime | None
    handled_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    feedback_at: datetime | None
    response_hours: float | None
    handling_hours: float | None = Field(
        description="The handling limit in working hours, extensions included."
    )
    paused: bool
    overdue: bool
    supervision_level: int = Field(description="0 none, 1 early warning, 2 yellow card, 3 red card.")
    work_hours: float | None = Field(description="Working hours from dispatch to handled.")
    on_time: bool | None


class TicketSummary(BaseModel):
    id: int
    number: str
    channel: str
    status: str
    text: str
    urgency: str
    unit: str | None
    level: str | None
    standard_code: str | None
    street_name: str | None
    community_name: str | None
    grid_name: str | None
    grid_code: str | None
    created_at: datetime
    handling_due_at: datetime | None
    overdue: bool
    supervision_level: int
    master_number: str | None = None


class TicketRead(BaseModel):
    id: int
    number: str
    channel: str
    status: str
    text: str
    urgency: str
    lat: float | None
    lng: float | None
    address: str | None
    place: PlaceRead
    reporter: ReporterRead | None
    attachments: list[dict[str, Any]]
    routing: RoutingRead
    clock: ClockRead
    satisfaction: str | None
    extension_pending: bool
    reopen_count: int
    return_count: int
    master_number: str | None = Field(description="Set when this report is a duplicate of that ticket.")
    external_ref: str | None
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[str] = Field(description="What you may do with it now.")


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    label: str
    from_status: str | None
    to_status: str
    actor: str
    actor_role: str
    at: datetime
    note: str | None
    attachments: list[dict[str, Any]]
    data: dict[str, Any]


class ReturnRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unit: str
    reason: str
    suggested_unit: str | None
    requested_by: str
    requested_at: datetime
    ruling: str | None
    ruling_note: str | None
    ruled_by: str | None
    ruled_at: datetime | None


class ExtensionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    hours: float
    reason: str
    requested_by: str
    requested_at: datetime
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None


class SupervisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    round: int
    clock: str
    kind: Literal["warning", "yellow", "red"]
    unit: str | None
    due_at: datetime
    created_at: datetime
    note: str


class TicketDetail(TicketRead):
    events: list[EventRead] = Field(description="The full trail (全程留痕), oldest first.")
    returns: list[ReturnRead]
    extensions: list[ExtensionRead]
    supervisions: list[SupervisionRead]
    duplicates: list[str] = Field(description="Numbers of reports linked to this ticket as duplicates.")


class TransitionCreate(BaseModel):
    """One step of the loop. Which fields an action needs:

    - `dispatch` (from triage/registered/reopened): `standard_code` when the ticket has none; optional `level`.
    - `reassign`: `standard_code` or `unit`, and `note`.
    - `return` (退单): `note` saying why it is not this unit's; optional `suggested_unit`.
    - `rule_return`: `ruling` (`upheld` → give `standard_code` or `unit` of the right unit; `rejected` → back
      to the same unit, final) and `note`.
    - `escalate`: `note`. `suspend`: `note`. `handle`: `note` (photos recommended).
    - `verify`: `note` and at least one photo in `attachments`. `verify_fail`: `note`.
    - `feedback`: `satisfaction`. `request_extension`: `hours` and `note`. `decide_extension`: `decision`.
    - `cancel`: `note`. `link`: `master_number`.
    """

    model_config = ConfigDict(extra="forbid")

    action: ActionName
    note: Note | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=9)
    standard_code: StandardCode | None = None
    unit: UnitCode | None = None
    level: Level | None = None
    hours: float | None = Field(default=None, gt=0, le=700, description="Extension, in working hours.")
    satisfaction: Satisfaction | None = None
    ruling: Literal["upheld", "rejected"] | None = None
    decision: Literal["approved", "refused"] | None = None
    suggested_unit: UnitCode | None = None
    master_number: Annotated[str, Field(pattern=r"^SF[0-9]{14}$")] | None = None

    @field_validator("note")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None


class WeekQuery(BaseModel):
    week: Annotated[str, Field(pattern=r"^[0-9]{4}-W[0-9]{2}$")]
