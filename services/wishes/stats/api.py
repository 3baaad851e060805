"""HTTP handlers for statistics: wish figures per grid, community or member unit, and the star ranking."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from services.wishes.deps import CurrentStaff, ReadSessionDep, SettingsDep
from services.wishes.schemas import AreaCode, Category
from services.wishes.stats import service as svc
from services.wishes.stats.schemas import GroupBy, RankingKind, RankingRead, WishStatsRead
from shared.problems import problems

router = APIRouter(prefix="/api/v1")

From = Annotated[
    date | None,
    Query(
        alias="from",
        description="First day, China time (Asia/Shanghai), inclusive. Default: 1 January of `to`'s year.",
        examples=["2026-01-01"],
    ),
]
To = Annotated[
    date | None,
    Query(description="Last day, China time, inclusive. Default: today.", examples=["2026-03-31"]),
]
Area = Annotated[AreaCode | None, Query(description="Only this area (a code prefix).")]


@router.get(
    "/statistics/wishes",
    response_model=WishStatsRead,
    tags=["statistics"],
    responses=problems(401, 403, 422),
)
async def get_wish_statistics(
    session: ReadSessionDep,
    principal: CurrentStaff,
    group_by: Annotated[GroupBy, Query(description="One row per grid, community or member unit.")],
    from_: From = None,
    to: To = None,
    area_code: Area = None,
    category: Annotated[Category | None, Query(description="Only wishes of this category.")] = None,
) -> WishStatsRead:
    """Collected, claimed and fulfilled wishes (征集、认领、实现) for a period, per grid, community or member
    unit, with a total. The period is whole days in China time: `from` 00:00 to the end of `to`, both
    inclusive (default: this year to date); `from` after `to`, or more than 5 years, is a 422.

    Definitions (a contract):
    - **cohort** (`submitted`): wishes *submitted* in the period (by `submitted_at`), inside `area_code`
      (a prefix of the wish's area) and of `category` when given. Later figures follow this cohort, so
      a wish submitted in March and closed in May counts as fulfilled in March's figures.
    - **collected**: the cohort without rejected wishes.
    - **claimed**: collected wishes ever claimed, even if the claim was later withdrawn or lapsed.
    - **fulfilled**: collected wishes now `completed`, `confirmed` or `closed`.
    - **fulfilment_rate**: fulfilled / collected, rounded to 4 decimals; null when nothing was collected.
    - **median_days_to_close**: the median (`percentile_cont(0.5)`) of `closed_at − submitted_at` in days
      over the cohort's closed wishes, rounded to 1 decimal; null when none is closed.
    - **group_by=unit**: a unit's row counts the cohort's wishes whose *current* claimant is that unit;
      its collected and claimed both equal that count; fulfilled, rate and median as above. Units that
      hold none of the cohort have no row; wishes claimed by volunteers count in no unit row.
    - Rows are sorted by key (grid code, community code, unit code). `total` gives the same figures over
      every wish the rows count: the whole cohort by grid or community, the wishes of the units shown
      by unit.

    Who: area staff see the wishes inside their scope (an `area_code` outside it is a 403); a unit
    liaison may ask `group_by=unit` and sees only its own unit's row; the `service` role sees all."""
    return await svc.wish_statistics(
        session,
        principal,
        group_by=group_by,
        when=svc.period(from_, to),
        area_code=area_code,
        category=category,
    )


@router.get(
    "/statistics/ranking",
    response_model=RankingRead,
    tags=["statistics"],
    responses=problems(401, 403, 422),
)
async def get_star_ranking(
    session: ReadSessionDep,
    principal: CurrentStaff,
    settings: SettingsDep,
    kind: Annotated[
        RankingKind, Query(description="In-service party members (在职党员) or member units.")
    ] = "volunteer",
    from_: From = None,
    to: To = None,
    area_code: Area = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Entries shown (1–100).")] = 20,
) -> RankingRead:
    """The star ranking (星级排行榜) of a period (whole China-time days, as for the wish statistics).

    - **volunteer**: active in-service party members (`party_member` and `in_service`; other volunteers
      are not ranked). `completed_wishes`: wishes now `completed`, `confirmed` or `closed` whose
      `completed_at` is in the period, where the volunteer is in `served` or is the claimant (each wish
      once). `points`: the volunteer's `earn` ledger entries dated in the period.
    - **unit**: active member units. `completed_wishes`: such wishes claimed by the unit; `points`: the
      `earn` entries dated in the period for wishes the unit claimed, whoever served them.
    - Only entries with points or completed wishes in the period are ranked. Order: points (high first),
      completed wishes (high first), name. `rank` is standard competition ranking (1, 2, 2, 4): equal
      points and equal completed wishes share a rank. `stars` (0–5) counts the thresholds
      (`WISHES_STAR_THRESHOLDS`, echoed in `star_thresholds`) the period's points reach.
    - `area_code` keeps volunteers and units whose area lies inside it or contains it (a unit of the
      street's committee is on each of its communities' boards; a community's volunteers on each of its
      grids' boards).

    Who: area staff see their scope's board (an `area_code` outside it is a 403); a unit liaison sees the
    board of its unit's committee area (or an area inside it); the `service` role any."""
    return await svc.star_ranking(
        session,
        principal,
        kind=kind,
        when=svc.period(from_, to),
        area_code=area_code,
        limit=limit,
        thresholds=settings.stars,
    )
