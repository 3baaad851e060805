"""Request and response bodies of 随手拍 (reports), my tickets and rating, with the examples /m/docs shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from services.mobile.models import SATISFACTION
from services.mobile.reports.status import CODES
from shared.types import no_nul, trimmed

StatusCode = Literal[CODES]  # type: ignore[valid-type]
Satisfaction = Literal[SATISFACTION]  # type: ignore[valid-type]
TicketNumber = Annotated[str, Field(pattern=r"^SF[0-9]{14}$", examples=["SF20261206000123"])]

NUMBER, PHOTO = (
    "SF20261206000123",
    "https://m.gridgov.example.org/m/v1/photos/3f1c2a9e-5b7d-4e21-9a0c-1d2e3f4a5b6c",
)
RESULT_PHOTO = "https://m.gridgov.example.org/m/v1/photos/8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"


def _text(v: str) -> str:
    v = trimmed(v)
    if len(v) < 5:
        raise ValueError("describe the problem in at least 5 characters (not counting spaces)")
    return v


class ReportForm(BaseModel):
    """The form fields of `POST /m/v1/reports` (multipart/form-data; photos go in `photos`)."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=5, max_length=500), AfterValidator(_text)] = Field(
        description="What is wrong and where, in the resident's words (5–500 characters).",
        examples=["小区东门外人行道上的井盖松动了，踩上去会翻，晚上很危险"],
    )
    lat: float | None = Field(
        default=None,
        ge=-90,
        le=90,
        description="WGS84 latitude of the problem (wx.getLocation type 'wgs84').",
    )
    lng: float | None = Field(
        default=None, ge=-180, le=180, description="WGS84 longitude; give both or neither."
    )
    address: Annotated[str, Field(min_length=2, max_length=200), AfterValidator(trimmed)] | None = Field(
        default=None,
        description="Where, in words (optional; helps when the location is rough).",
        examples=["龙锦路与锦绣街路口东南角"],
    )
    anonymous: bool = Field(
        default=False, description="Keep your name from the handling unit (only the dispatch centre sees it)."
    )
    contact_allowed: bool = Field(
        default=False, description="The handling unit may contact you about this report."
    )

    @model_validator(mode="after")
    def _pair(self) -> ReportForm:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("give both lat and lng, or neither")
        return self


FORM_EXAMPLE = {
    "text": "小区东门外人行道上的井盖松动了，踩上去会翻，晚上很危险",
    "lat": 31.8116,
    "lng": 119.951,
    "address": "龙锦路与锦绣街路口东南角",
    "anonymous": False,
    "contact_allowed": True,
    "photos": ["(binary JPEG)", "(binary PNG)"],
}


class ReportRead(BaseModel):
    """The report as filed: its ticket number, where it stands and where it went."""

    number: str = Field(description="The ticket number to quote (e.g. on the 12345 hotline).")
    status: StatusCode = Field(description="Where it stands, for clients to switch on.")
    status_label: str = Field(description="The same in plain Chinese, to show.")
    unit_name: str | None = Field(description="The unit it was dispatched to, once known.")
    area_name: str | None = Field(description="The community and grid it was placed in, once known.")
    photos: list[str] = Field(description="Public URLs of your photos (EXIF and location removed).")
    created_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": NUMBER,
                    "status": "dispatched",
                    "status_label": "已派遣",
                    "unit_name": "XX区城市管理局",
                    "area_name": "龙锦社区 龙锦第1网格",
                    "photos": [PHOTO],
                    "created_at": "2026-12-06T09:41:12.345678Z",
                }
            ]
        }
    )


class TicketItem(BaseModel):
    number: str
    summary: str = Field(description="The first words of the report.")
    status: StatusCode
    status_label: str
    unit_name: str | None = Field(description="The handling unit, once dispatched.")
    rated: bool = Field(description="You have rated it (or gave your view on the phone).")
    photo_count: int
    photo_url: str | None = Field(description="The first photo, for a thumbnail.")
    created_at: datetime
    updated_at: datetime = Field(description="The last change dispatch told us of.")


class TicketPage(BaseModel):
    items: list[TicketItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "number": NUMBER,
                            "summary": "小区东门外人行道上的井盖松动了，踩上去会翻，晚上很危险",
                            "status": "to_rate",
                            "status_label": "待评价",
                            "unit_name": "XX区城市管理局",
                            "rated": False,
                            "photo_count": 2,
                            "photo_url": PHOTO,
                            "created_at": "2026-12-06T09:41:12.345678Z",
                            "updated_at": "2026-12-07T15:02:40.120000Z",
                        }
                    ],
                    "next_cursor": "WzEyMzQ1XQ",
                }
            ]
        }
    )


class TimelineStep(BaseModel):
    at: datetime
    step: str = Field(description="The dispatch step it reflects (register, dispatch, accept, handle, …).")
    title: str = Field(
        description="In plain Chinese: 已受理, 已派遣, 已签收, 处理中, 已办结, 已核实, 已结案, …"
    )
    text: str | None = Field(description="One sentence for the resident.")
    unit_name: str | None = Field(description="The unit handling it at that step.")
    result: str | None = Field(
        description="What the unit did or the grid worker found (办结, 核实, 结案 only)."
    )
    photos: list[str] = Field(description="Result photos of that step (办结, 核实, 结案 only).")


class TicketDetailRead(BaseModel):
    """One of your tickets, live from dispatch: the steps so far in plain Chinese. Never staff names or
    phones, internal notes, or other residents' reports."""

    number: str
    status: StatusCode
    status_label: str
    text: str = Field(description="What you reported.")
    address: str | None
    lat: float | None
    lng: float | None
    area_name: str | None
    unit_name: str | None
    photos: list[str] = Field(description="Your photos.")
    merged_into: str | None = Field(
        description="Set when it was merged with an earlier report of the same problem; its progress is "
        "shown here."
    )
    ratable: bool = Field(description="You can rate it now (POST …/rating).")
    satisfaction: Satisfaction | None
    satisfaction_label: str | None
    timeline: list[TimelineStep] = Field(description="Oldest first.")
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": NUMBER,
                    "status": "to_rate",
                    "status_label": "待评价",
                    "text": "小区东门外人行道上的井盖松动了，踩上去会翻，晚上很危险",
                    "address": "龙锦路与锦绣街路口东南角",
                    "lat": 31.8116,
                    "lng": 119.951,
                    "area_name": "龙锦社区 龙锦第1网格",
                    "unit_name": "XX区城市管理局",
                    "photos": [PHOTO],
                    "merged_into": None,
                    "ratable": True,
                    "satisfaction": None,
                    "satisfaction_label": None,
                    "timeline": [
                        {"at": "2026-12-06T09:41:12Z", "step": "register", "title": "已受理",
                         "text": f"您反映的问题已登记，编号 {NUMBER}。", "unit_name": None, "result": None,
                         "photos": []},
                        {"at": "2026-12-06T09:41:12Z", "step": "dispatch", "title": "已派遣",
                         "text": "已派遣至XX区城市管理局处理。", "unit_name": "XX区城市管理局", "result": None,
                         "photos": []},
                        {"at": "2026-12-06T10:05:00Z", "step": "accept", "title": "已签收",
                         "text": "XX区城市管理局已签收，将尽快处理。", "unit_name": "XX区城市管理局",
                         "result": None, "photos": []},
                        {"at": "2026-12-07T11:20:00Z", "step": "handle", "title": "已办结",
                         "text": "XX区城市管理局已处理完毕。", "unit_name": "XX区城市管理局",
                         "result": "已更换井盖并加固，现场清理完毕", "photos": [RESULT_PHOTO]},
                        {"at": "2026-12-07T15:02:40Z", "step": "close", "title": "已结案",
                         "text": "问题已办结，欢迎您对处理结果进行评价。", "unit_name": "XX区城市管理局",
                         "result": None, "photos": []},
                    ],
                    "created_at": "2026-12-06T09:41:12.345678Z",
                    "updated_at": "2026-12-07T15:02:40.120000Z",
                }
            ]
        }
    )  # fmt: skip


class RatingCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"satisfaction": "satisfied", "comment": "处理很及时，谢谢！"}]},
    )

    satisfaction: Satisfaction = Field(
        description="satisfied 满意, basically_satisfied 基本满意, dissatisfied 不满意 (the dispatch centre "
        "then reviews the handling)."
    )
    comment: Annotated[str, Field(max_length=300), AfterValidator(no_nul)] | None = Field(
        default=None, description="Anything you want to add (optional)."
    )


class RatingRead(BaseModel):
    number: str
    satisfaction: Satisfaction
    satisfaction_label: str
    status: StatusCode
    status_label: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": NUMBER,
                    "satisfaction": "satisfied",
                    "satisfaction_label": "满意",
                    "status": "rated",
                    "status_label": "已评价",
                }
            ]
        }
    )


# ---- internal: dispatch's pushes -----------------------------------------------------------------


class TicketUpdate(BaseModel):
    """One `reporter.update` from dispatch's outbox."""

    model_config = ConfigDict(extra="ignore")

    seq: int = Field(ge=0, description="The trail event id of the step: orders updates of one ticket.")
    resident_id: str = Field(max_length=64)
    ticket: str = Field(max_length=24, description="The reporter's own ticket number.")
    master: str | None = Field(default=None, max_length=24, description="Set when merged into that ticket.")
    action: str = Field(max_length=24)
    status: str = Field(max_length=20)
    at: datetime
    unit: str | None = Field(default=None, max_length=8)
    unit_name: str | None = Field(default=None, max_length=200)
    satisfaction: Satisfaction | None = None


class TicketUpdates(BaseModel):
    updates: list[TicketUpdate] = Field(max_length=1000)


class TicketUpdatesResult(BaseModel):
    received: int
    applied: int = Field(description="Rows changed; the rest were older than what we have, or unknown.")


def example(model: type[BaseModel]) -> dict[str, Any]:
    """`responses=` content for a model's first example (FastAPI shows it under the status code)."""
    extra = model.model_config.get("json_schema_extra") or {}
    ex = extra.get("examples", [None])[0] if isinstance(extra, dict) else None
    return {"application/json": {"example": ex}} if ex is not None else {}
