"""Bodies of the 12345 integration: the work order as the platform sends it, what it gets back, and the
admin views of keys and callback deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.dispatch.models import APPEAL_TYPES, CALLBACK_EVENTS, CALLBACK_STATES
from services.dispatch.schemas import LAT_RANGE, LNG_RANGE, _phone
from services.dispatch.worktime import CST
from shared.types import no_nul, trimmed

AppealType = Literal[APPEAL_TYPES]  # type: ignore[valid-type]
CallbackEvent = Literal[CALLBACK_EVENTS]  # type: ignore[valid-type]
CallbackState = Literal[CALLBACK_STATES]  # type: ignore[valid-type]
ORDER_NO = r"^[A-Za-z0-9_-]{1,64}$"
OrderNo = Annotated[str, Field(pattern=ORDER_NO, description="工单编号: letters, digits, - and _.")]
PlatformUrgency = Literal["一般", "紧急", "特急"]
URGENCY = {"一般": "normal", "紧急": "urgent", "特急": "emergency"}
MAX_CONTENT = 4000
# how far in the future a platform's clock may put received_at (the signature window's width)
FUTURE_SLACK = timedelta(minutes=5)


def _cst(v: datetime) -> datetime:
    """Platforms often send local time without an offset: that is China Standard Time."""
    return (v.replace(tzinfo=CST) if v.tzinfo is None else v).astimezone(UTC)


def _content(v: str) -> str:
    v = trimmed(v)
    if len(v) > MAX_CONTENT:
        raise ValueError(f"诉求内容 is {len(v)} characters; at most {MAX_CONTENT} are accepted")
    return v


class HotlineOrderCreate(BaseModel):
    """A 12345 work order (工单). Times may carry an offset; without one they are China Standard Time."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    order_no: OrderNo
    received_at: datetime = Field(description="来电时间.", examples=["2026-11-21T09:15:00+08:00"])
    caller_name: Annotated[str, Field(min_length=1, max_length=50), AfterValidator(trimmed)] | None = Field(
        default=None, description="来电人; absent for an anonymous caller."
    )
    caller_phone: Annotated[str, Field(max_length=20), AfterValidator(_phone)] | None = Field(
        default=None, description="来电号码."
    )
    appeal_type: AppealType = Field(description="诉求类型.")
    content: Annotated[str, AfterValidator(_content)] = Field(
        description=f"诉求内容, at most {MAX_CONTENT} characters.",
        examples=["市民来电反映：龙锦路18号附近的雨水井盖缺失，晚上很危险，希望相关部门尽快处理。"],
    )
    address: Annotated[str, Field(min_length=2, max_length=200), AfterValidator(trimmed)] = Field(
        description="事发地址."
    )
    lat: float | None = Field(default=None, ge=LAT_RANGE[0], le=LAT_RANGE[1], description="WGS84.")
    lng: float | None = Field(default=None, ge=LNG_RANGE[0], le=LNG_RANGE[1], description="WGS84.")
    urgency: PlatformUrgency = Field(default="一般", description="紧急程度.")
    deadline_at: datetime = Field(
        description="办理时限 set by the platform; it caps a looser handling limit of the standard."
    )
    suggested_unit: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(trimmed)] | None = (
        Field(
            default=None,
            description="建议承办单位: a unit code (CGJ) or name (区城管局); a hint for routing.",
        )
    )
    attachments: list[
        Annotated[str, Field(max_length=500, pattern=r"^https?://\S+$"), AfterValidator(no_nul)]
    ] = Field(default_factory=list, max_length=20, description="URLs of recordings, photos or documents.")

    _times = field_validator("received_at", "deadline_at")(lambda v: _cst(v))

    @model_validator(mode="after")
    def _consistent(self) -> HotlineOrderCreate:
        now = datetime.now(UTC)
        if (self.lat is None) != (self.lng is None):
            raise ValueError("give both lat and lng, or neither")
        if self.received_at > now + FUTURE_SLACK:
            raise ValueError(
                f"received_at {self.received_at.astimezone(CST).isoformat()} is in the future; check the time zone"
            )
        if self.deadline_at <= now:
            raise ValueError(
                f"deadline_at {self.deadline_at.astimezone(CST).isoformat()} is already past; "
                "give the order's real deadline"
            )
        if self.deadline_at <= self.received_at:
            raise ValueError("deadline_at must be after received_at")
        return self


class UnitRef(BaseModel):
    code: str
    name: str


class HotlineOrderRead(BaseModel):
    """The ticket a work order became (the same answer for the same order_no, however often it is sent)."""

    order_no: str
    ticket_number: str
    status: str = Field(description="The ticket's status (see the dispatch loop).")
    status_label: str = Field(description="The same in Chinese, as the platform shows it.")
    unit: UnitRef | None = Field(description="The handling unit, once routed; null while in triage.")
    level: str | None
    received_at: datetime
    deadline_at: datetime
    response_due_at: datetime | None
    handling_due_at: datetime | None
    merged_into: str | None = Field(
        default=None, description="The ticket number this order was merged into as a duplicate."
    )


class TimelineEntry(BaseModel):
    at: datetime
    action: str
    label: str
    status: str
    note: str | None = Field(
        description="Given for the steps the platform is told about (办结, 回退, 延期…)."
    )


class OrderResult(BaseModel):
    text: str | None = Field(description="The unit's result (办结情况).")
    handled_at: datetime | None
    closed_at: datetime | None
    satisfaction: str | None


class CallbackBrief(BaseModel):
    seq: int
    event: CallbackEvent
    state: CallbackState
    delivered_at: datetime | None


class HotlineOrderDetail(HotlineOrderRead):
    appeal_type: AppealType
    timeline: list[TimelineEntry]
    result: OrderResult | None
    callbacks: list[CallbackBrief]


# ---- admin: keys and deliveries ------------------------------------------------------------------


class HotlineKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(max_length=200), AfterValidator(no_nul)] | None = Field(
        default=None, description="Who it was issued to and why, e.g. 2027 rotation."
    )


class HotlineKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    app_key: str
    status: Literal["active", "revoked"]
    note: str | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class HotlineKeyCreated(HotlineKeyRead):
    app_secret: str = Field(description="Shown once: give it to the platform over a secure channel.")


class CallbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_no: str
    seq: int
    event: CallbackEvent
    state: CallbackState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending only).")
    delivered_at: datetime | None
    dead_at: datetime | None
    last_status: int | None = Field(description="The platform's last HTTP status, if it answered.")
    last_error: str | None
    payload: dict[str, Any] = Field(description="The body that is (or was) posted.")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    outcome: Literal["delivered", "retry", "dead", "redriven"]


class CallbackDetail(CallbackRead):
    deliveries: list[DeliveryRead]


class RedriveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_no: OrderNo | None = Field(default=None, description="Only this order's dead callbacks.")


class RedriveRead(BaseModel):
    redriven: int
