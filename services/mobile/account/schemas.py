"""Request and response bodies of login, binding and "my home", each with an OpenAPI example (the
mini-program developers build against /m/docs)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.types import no_nul


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- login and tokens ----------------------------------------------------------------------------------


class WechatLogin(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "0a3Xk2Ga1Yb1xL0"}]})

    code: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="The code from `wx.login()`: valid for 5 minutes, once. Under `make run` the local "
        "WeChat fake accepts `test:<openid>`.",
    )


class RefreshBody(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"refresh_token": "q8Jm0c3R1w6s2Fh5tT9yX4vB7nK1pL0aZ3eD6gU2iO8"}]},
    )

    refresh_token: str = Field(
        min_length=20,
        max_length=128,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The refresh token from the last login or refresh; each one works once.",
    )


TOKEN_EXAMPLE = {
    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Im0tM2Y5YTFjMmI3ZDRlIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiJ9.c2ln",
    "token_type": "Bearer",
    "expires_in": 7200,
    "refresh_token": "q8Jm0c3R1w6s2Fh5tT9yX4vB7nK1pL0aZ3eD6gU2iO8",
    "refresh_expires_in": 2592000,
    "bound": False,
}


class TokenPair(BaseModel):
    """A resident access token and the refresh token that replaces it when it expires."""

    model_config = _examples(TOKEN_EXAMPLE)

    access_token: str = Field(description="Send as `Authorization: Bearer <access_token>`.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_token: str = Field(
        description="Spend it once at `POST /m/v1/auth/refresh` for a new pair. Keep it in storage; never "
        "send it anywhere else."
    )
    refresh_expires_in: int = Field(description="Seconds until the refresh token (and the session) ends.")
    bound: bool = Field(description="Whether this WeChat user is bound to a household yet.")


# ---- binding -------------------------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LAST4 = re.compile(r"^[0-9]{3}[0-9X]$")


def _name(v: str) -> str:
    v = " ".join(no_nul(v).split())
    if not 2 <= len(v) <= 30:
        raise ValueError("name: your real name as registered, 2 to 30 characters")
    if any(not c.isprintable() for c in v):
        raise ValueError("name must not contain control characters")
    return v


def _phone(v: str) -> str:
    p = re.sub(r"[\s-]", "", no_nul(v))
    if p.startswith("+86"):
        p = p[3:]
    if not _MOBILE.match(p):
        raise ValueError(
            "phone: the 11-digit mainland mobile number registered with your household, e.g. 13912345678"
        )
    return p


def _last4(v: str) -> str:
    v = no_nul(v).strip().upper()
    if not _LAST4.match(v):
        raise ValueError(
            "id_last4: the last 4 characters of your identity number: 3 digits, then a digit or X"
        )
    return v


class BindingCreate(Body):
    """Prove who you are: all three must match one resident in the registry."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "张秀英", "phone": "13912345678", "id_last4": "123X"}]},
    )

    name: Annotated[str, Field(max_length=60), AfterValidator(_name)] = Field(
        description="Real name, 2–30 characters."
    )
    phone: Annotated[str, Field(max_length=20), AfterValidator(_phone)] = Field(
        description="11-digit mainland mobile (spaces, dashes and +86 are ignored)."
    )
    id_last4: Annotated[str, Field(max_length=8), AfterValidator(_last4)] = Field(
        description="Last 4 characters of the identity number: 3 digits, then a digit or X."
    )


class BindingRead(BaseModel):
    model_config = _examples(
        {
            "bound": True,
            "household_id": 1207,
            "bound_at": "2026-12-06T09:30:00+08:00",
            "message": "绑定成功",
        }
    )

    bound: Literal[True] = True
    household_id: int = Field(description="The household now bound; `GET /m/v1/me` shows its address.")
    bound_at: datetime
    message: str = "绑定成功"


# ---- my home -------------------------------------------------------------------------------------------


ME_UNBOUND = {
    "bound": False,
    "message": "尚未绑定住户，请先绑定：填写姓名、手机号和身份证号后4位。",
    "account": {"id": 42, "created_at": "2026-12-06T09:20:00+08:00", "bind_attempts_left": 5},
}
ME_BOUND = {
    "bound": True,
    "account": {"id": 42, "created_at": "2026-12-06T09:20:00+08:00", "bound_at": "2026-12-06T09:30:00+08:00"},
    "me": {"name": "张*英"},
    "household": {"id": 1207, "address": "新北区三井街道龙锦社区龙锦花园3幢1单元502室"},
    "micro_grid": {"code": "320411001001001001", "name": "龙锦第1网格-1"},
    "grid": {"code": "320411001001001", "name": "龙锦第1网格"},
    "community": {"code": "320411001001", "name": "龙锦社区"},
    "street": {"code": "320411001", "name": "三井街道"},
    "grid_team": [
        {
            "name": "王芳",
            "role": "grid_chief",
            "role_label": "网格长",
            "phone": "0519-85101234",
            "callable": True,
        },
        {
            "name": "李强",
            "role": "full_time",
            "role_label": "专职网格员",
            "phone": "139****5678",
            "callable": False,
        },
    ],
    "party_central": {"name": "陈建国", "phone": "138****4321"},
    "representative": {"name": "赵丽", "phone": "137****1122"},
}


class AreaBrief(BaseModel):
    model_config = _examples({"code": "320411001001001", "name": "龙锦第1网格"})

    code: str
    name: str


class TeamMember(BaseModel):
    """One member of the grid team (一格五员 / 一长六员)."""

    model_config = _examples(ME_BOUND["grid_team"][0], ME_BOUND["grid_team"][1])

    name: str
    role: str = Field(description="Role code, e.g. full_time.")
    role_label: str = Field(description="Role as residents know it, e.g. 专职网格员.")
    phone: str | None = Field(
        description="The service phone in full, or a personal mobile masked (138****1234), never a "
        "personal number in full."
    )
    callable: bool = Field(description="True when `phone` is a full number: show a call button.")


class Neighbour(BaseModel):
    """A resident who looks after nearby households: the party-member central household (党员中心户) or
    the resident representative (居民代表). Their own numbers are private: reach them through the grid
    team or in person."""

    model_config = _examples(ME_BOUND["party_central"])

    name: str
    phone: str | None = Field(description="Always masked (138****1234).")


class PersonBrief(BaseModel):
    model_config = _examples(ME_BOUND["me"])

    name: str = Field(description="Masked: 张*英.")


class HouseholdBrief(BaseModel):
    model_config = _examples(ME_BOUND["household"])

    id: int
    address: str


class AccountBrief(BaseModel):
    model_config = _examples(ME_BOUND["account"], ME_UNBOUND["account"])

    id: int
    created_at: datetime
    bound_at: datetime | None = None
    bind_attempts_left: int | None = Field(
        default=None, description="Before binding: wrong tries left before binding locks."
    )
    bind_locked_until: datetime | None = Field(default=None, description="Before binding: locked until then.")


class MeRead(BaseModel):
    """Me and my home. Before binding only `bound`, `message` and `account`; fields with no value are
    left out to keep the payload small."""

    model_config = _examples(ME_BOUND, ME_UNBOUND)

    bound: bool
    message: str | None = Field(default=None, description="What to do next, for the resident (Chinese).")
    account: AccountBrief
    me: PersonBrief | None = Field(default=None, description="Me, as the registry knows me (masked).")
    household: HouseholdBrief | None = None
    micro_grid: AreaBrief | None = None
    grid: AreaBrief | None = None
    community: AreaBrief | None = None
    street: AreaBrief | None = None
    grid_team: list[TeamMember] | None = Field(default=None, description="Who serves my grid.")
    party_central: Neighbour | None = Field(default=None, description="My party-member central household.")
    representative: Neighbour | None = Field(default=None, description="My resident representative.")
