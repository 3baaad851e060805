"""Request and response bodies of 微心愿 in the mini-program, each with an OpenAPI example.

Residents see plain Chinese labels for states and steps, the name of the unit that took their wish, and
photo links they can put straight into an `<image src>`; never the accounts of the staff involved.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from shared.types import no_nul, trimmed

CST = ZoneInfo("Asia/Shanghai")

CATEGORIES = ("助老", "助残", "助学", "助困", "就业", "医疗健康", "生活服务", "其他")
Category = Literal["助老", "助残", "助学", "助困", "就业", "医疗健康", "生活服务", "其他"]
Status = Literal[
    "submitted",
    "approved",
    "rejected",
    "published",
    "claimed",
    "in_progress",
    "completed",
    "confirmed",
    "closed",
    "cancelled",
]
ResidentAction = Literal["confirm", "dispute", "withdraw"]

STATUS_LABELS: dict[str, str] = {
    "submitted": "待审核",
    "approved": "审核通过，待发布",
    "rejected": "未通过审核",
    "published": "待认领",
    "claimed": "已被认领",
    "in_progress": "正在实现",
    "completed": "已完成，待您确认",
    "confirmed": "已确认完成",
    "closed": "心愿已圆梦",
    "cancelled": "已取消",
}

MAX_PHOTOS = 3


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


_PHONE = re.compile(r"^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")


def _phone(v: str) -> str:
    v = re.sub(r"\s", "", no_nul(v))
    if not _PHONE.fullmatch(v):
        raise ValueError("give a mainland mobile number (11 digits) or a landline with its area code")
    return v


def today_cst() -> date:
    return datetime.now(CST).date()


# ---- making a wish -------------------------------------------------------------------------------------


class WishForm(BaseModel):
    """The fields of `POST /m/v1/wishes` (multipart/form-data, sent with `wx.uploadFile`'s `formData` or
    built by hand); the photos go in the `photos` part."""

    category: Category = Field(description="One of 助老, 助残, 助学, 助困, 就业, 医疗健康, 生活服务, 其他.")
    title: Annotated[str, Field(min_length=2, max_length=60), AfterValidator(trimmed)] = Field(
        description="A short title (2–60 characters).", examples=["需要一台轮椅"]
    )
    description: Annotated[str, Field(min_length=4, max_length=2000), AfterValidator(trimmed)] = Field(
        description="What is needed and why (4–2000 characters).",
        examples=["老伴中风后行动不便，想要一台折叠轮椅，方便去社区卫生服务站复查。"],
    )
    estimated_value: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=Decimal("99999999.99"),
        max_digits=10,
        decimal_places=2,
        description="Estimated value in yuan; 0 for a service (a visit, a repair, tutoring).",
        examples=["600.00"],
    )
    wanted_by: date | None = Field(
        default=None, description="Wanted by this date (China time): today or later.", examples=["2026-12-31"]
    )
    privacy: bool = Field(
        default=False,
        description="Keep my name off the wish wall; only the unit that takes the wish sees who I am.",
    )
    contact_phone: Annotated[str, Field(max_length=20), AfterValidator(_phone)] | None = Field(
        default=None,
        description="A phone for the unit that takes the wish (staff and that unit see it; the wall never).",
        examples=["13912345678"],
    )

    @field_validator("wanted_by")
    @classmethod
    def _not_past(cls, v: date | None) -> date | None:
        if v is not None and v < today_cst():
            raise ValueError(f"wanted_by {v} is in the past; give today ({today_cst()}) or a later date")
        return v


class ConfirmBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "轮椅收到了，谢谢！"}]}
    )

    note: Annotated[str, Field(max_length=500), AfterValidator(no_nul)] | None = Field(
        default=None, description="Optional thanks or remarks, shown on the wish's trail."
    )


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=2, max_length=500), AfterValidator(trimmed)] = Field(
        description="Why (2–500 characters); shown on the wish's trail."
    )


class WithdrawBody(ReasonBody):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "家里已经买到轮椅了"}]}
    )


class DisputeBody(ReasonBody):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "轮椅还没有送到，请再联系一下"}]}
    )


# ---- reading wishes ------------------------------------------------------------------------------------

PHOTO_URL = "https://m.gridgov.example.org/m/v1/wishes/photos/6f1c2b3a-9d8e-4f7a-b1c2-3d4e5f6a7b8c?exp=1796054400&sig=Jx2kq9vR1mT0aZ8cW4yN6pL3sQ"

SUMMARY_EXAMPLE = {
    "id": 1024,
    "category": "助老",
    "title": "需要一台轮椅",
    "status": "claimed",
    "status_label": "已被认领",
    "estimated_value": "600.00",
    "wanted_by": "2026-12-31",
    "privacy": False,
    "submitted_at": "2026-12-06T09:30:00+08:00",
}


class MyWishSummary(BaseModel):
    """A row of "my wishes"."""

    model_config = _examples(SUMMARY_EXAMPLE)

    id: int
    category: Category
    title: str
    status: Status
    status_label: str = Field(description="The state in plain Chinese, for display.")
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    submitted_at: datetime


class Claimant(BaseModel):
    kind: Literal["unit", "volunteer"]
    name: str = Field(description="The member unit's name; a volunteer's name is masked (王*明).")


class TrailStep(BaseModel):
    at: datetime
    label: str = Field(description="The step in Chinese: 点单, 审核通过, 派单, 接单, 完成, 居民确认 …")
    status: Status = Field(description="The state the step led to.")
    status_label: str
    by: str = Field(
        description="Who took it, as a resident would say it: 我, 网格员, 社区, a unit's name, 系统."
    )
    note: str | None = Field(description="The reason or remark given with the step, if any.")


DETAIL_EXAMPLE = {
    "id": 1024,
    "category": "助老",
    "title": "需要一台轮椅",
    "description": "老伴中风后行动不便，想要一台折叠轮椅，方便去社区卫生服务站复查。",
    "estimated_value": "600.00",
    "wanted_by": "2026-12-31",
    "privacy": False,
    "contact_phone": "13912345678",
    "status": "completed",
    "status_label": "已完成，待您确认",
    "grid_name": "龙锦第1网格",
    "community_name": "龙锦社区",
    "submitted_at": "2026-12-06T09:30:00+08:00",
    "claimant": {"kind": "unit", "name": "龙锦社区卫生服务站"},
    "completion_note": "已送达折叠轮椅一台，并教会家属使用。",
    "review_note": None,
    "cancel_reason": None,
    "photos": [PHOTO_URL],
    "proof_photos": [PHOTO_URL.replace("6f1c2b3a", "0b9e8d7c")],
    "actions": ["confirm", "dispute"],
    "trail": [
        {
            "at": "2026-12-06T09:30:00+08:00",
            "label": "点单",
            "status": "submitted",
            "status_label": "待审核",
            "by": "我",
            "note": None,
        },
        {
            "at": "2026-12-06T10:02:00+08:00",
            "label": "审核通过",
            "status": "approved",
            "status_label": "审核通过，待发布",
            "by": "网格员",
            "note": "符合条件",
        },
        {
            "at": "2026-12-06T10:05:00+08:00",
            "label": "派单",
            "status": "published",
            "status_label": "待认领",
            "by": "网格员",
            "note": None,
        },
        {
            "at": "2026-12-07T08:40:00+08:00",
            "label": "接单",
            "status": "claimed",
            "status_label": "已被认领",
            "by": "龙锦社区卫生服务站",
            "note": "我单位认领",
        },
        {
            "at": "2026-12-07T14:00:00+08:00",
            "label": "开始实施",
            "status": "in_progress",
            "status_label": "正在实现",
            "by": "龙锦社区卫生服务站",
            "note": None,
        },
        {
            "at": "2026-12-08T16:20:00+08:00",
            "label": "完成",
            "status": "completed",
            "status_label": "已完成，待您确认",
            "by": "龙锦社区卫生服务站",
            "note": "已送达折叠轮椅一台，并教会家属使用。",
        },
    ],
    "claimed_at": "2026-12-07T08:40:00+08:00",
    "completed_at": "2026-12-08T16:20:00+08:00",
    "confirmed_at": None,
    "auto_confirmed": False,
    "closed_at": None,
    "cancelled_at": None,
}


class MyWishRead(BaseModel):
    """One of my wishes with its trail: what happened, when, and who took it on."""

    model_config = _examples(DETAIL_EXAMPLE)

    id: int
    category: Category
    title: str
    description: str
    estimated_value: Decimal
    wanted_by: date | None
    privacy: bool
    contact_phone: str | None
    status: Status
    status_label: str
    grid_name: str
    community_name: str
    submitted_at: datetime
    claimant: Claimant | None = Field(description="Who took the wish on, once claimed.")
    completion_note: str | None = Field(description="What was done, once completed.")
    review_note: str | None = Field(description="The grid's remark at review (the reason, if not approved).")
    cancel_reason: str | None
    photos: list[str] = Field(description="My photos: signed links, valid for a day.")
    proof_photos: list[str] = Field(
        description="Photos of the fulfilled wish: signed links, valid for a day."
    )
    actions: list[ResidentAction] = Field(
        description="What I may do now: `confirm` or `dispute` a completed wish, `withdraw` an open one."
    )
    trail: list[TrailStep] = Field(description="Every step, oldest first.")
    claimed_at: datetime | None
    completed_at: datetime | None = Field(
        description="Unless I confirm or dispute, the wish is confirmed for me some days after this."
    )
    confirmed_at: datetime | None
    auto_confirmed: bool = Field(description="Confirmed by the system because I did not answer in time.")
    closed_at: datetime | None
    cancelled_at: datetime | None


WALL_EXAMPLE = {
    "id": 977,
    "category": "助学",
    "title": "孩子需要一套初中数学辅导书",
    "description": "孩子读初二，数学基础薄弱，想要一套同步辅导书。",
    "estimated_value": "120.00",
    "wanted_by": None,
    "resident_name": "李**",
    "grid_name": "龙锦第2网格",
    "published_at": "2026-12-05T15:00:00+08:00",
    "photos": [PHOTO_URL],
}


class WallCard(BaseModel):
    """A wish on my community's wall: no address, the name masked (or left out when private)."""

    model_config = _examples(WALL_EXAMPLE)

    id: int
    category: Category
    title: str
    description: str
    estimated_value: Decimal
    wanted_by: date | None
    resident_name: str | None = Field(description="Masked (李**); null when the resident asked for privacy.")
    grid_name: str
    published_at: datetime | None
    photos: list[str] = Field(description="Signed links, valid for a day.")


MY_PAGE_EXAMPLE = {"items": [SUMMARY_EXAMPLE], "next_cursor": "WzEwMjQsMjBd"}
WALL_PAGE_EXAMPLE = {"items": [WALL_EXAMPLE], "next_cursor": "WyIyMDI2LTEyLTA1VDA3OjAwOjAwWiIsOTc3LDIwXQ"}
