"""Statistics responses: wish figures per grid, community or member unit, and the star ranking (星级排行榜)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GroupBy = Literal["grid", "community", "unit"]
RankingKind = Literal["volunteer", "unit"]


class _Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: date = Field(alias="from", description="First day of the period (China time), inclusive.")
    to: date = Field(description="Last day of the period (China time), inclusive.")


class WishFigures(BaseModel):
    submitted: int = Field(description="The cohort: wishes submitted in the period (rejected ones included).")
    collected: int = Field(description="The cohort without rejected wishes (征集).")
    claimed: int = Field(
        description="Collected wishes that were ever claimed (认领), even if later withdrawn."
    )
    fulfilled: int = Field(description="Collected wishes now completed, confirmed or closed (实现).")
    fulfilment_rate: float | None = Field(
        description="fulfilled / collected, 4 decimals; null when nothing was collected.", examples=[0.8125]
    )
    median_days_to_close: float | None = Field(
        description="Median days from submission to close over the closed wishes, 1 decimal; null if none.",
        examples=[4.0],
    )


class _RowKey(BaseModel):
    key: str = Field(description="The grid code, the community code, or the member unit's code.")
    name: str
    unit_id: int | None = Field(default=None, description="The member unit's id (group_by=unit only).")


class WishStatsRow(WishFigures, _RowKey):
    pass


class WishStatsRead(_Period):
    group_by: GroupBy
    area_code: str | None
    category: str | None
    rows: list[WishStatsRow] = Field(description="One row per grid, community or unit, sorted by key.")
    total: WishFigures = Field(
        description="The same figures over every wish the rows count: the whole cohort by grid or community; "
        "the wishes held by the units shown by unit."
    )


class RankingRow(BaseModel):
    rank: int = Field(
        description="Standard competition ranking (1, 2, 2, 4) on points, then completed wishes."
    )
    id: int = Field(description="The volunteer's or the member unit's id.")
    code: str | None = Field(description="The member unit's code; null for volunteers.")
    name: str
    area_code: str
    points: int = Field(description="Points earned (ledger `earn` rows) in the period.")
    completed_wishes: int = Field(description="Wishes completed in the period and not disputed since.")
    stars: int = Field(ge=0, le=5, description="How many of the five star thresholds the points reach.")


class RankingRead(_Period):
    kind: RankingKind
    area_code: str | None
    star_thresholds: list[int] = Field(description="Points for 1 to 5 stars, ascending.")
    total: int = Field(description="Entries ranked (before `limit`).")
    rows: list[RankingRow]
