"""Which member units to offer a wish to (定向派单): active units whose committee covers the wish, ranked."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import scope as sc
from services.wishes.errors import WishNotFound
from services.wishes.models import MemberUnit, UnitResource, Wish
from services.wishes.units.service import OPEN_CLAIM, current_period, prefixes
from shared.auth import Principal

GOODS_KINDS = ("物资", "资金")
SERVICE_KINDS = ("志愿服务", "技能服务")
# resource kinds that also fit a service wish of the category
CATEGORY_KINDS = {
    "医疗健康": ("医疗健康",),
    "助学": ("教育培训",),
    "就业": ("技能服务", "教育培训"),
    "助困": ("法律援助",),
    "助残": ("医疗健康",),
}


def fitting_kinds(wish: Wish) -> tuple[str, ...]:
    if wish.estimated_value and wish.estimated_value > 0:
        return GOODS_KINDS
    return (*SERVICE_KINDS, *CATEGORY_KINDS.get(wish.category, ()))


async def suggest_units(
    session: AsyncSession, principal: Principal, wish_id: int, *, limit: int
) -> list[dict[str, Any]]:
    """Active units whose committee area covers the wish, best first. The main signal is the current
    resources that serve the wish's category; then a resource kind that fits (goods or money for a wish
    with a value, a service otherwise), a light load of open claims, and past wishes of the category."""
    sc.require_role(principal, (*sc.GRID_STAFF, *sc.SUPERVISORS), "Suggesting units for a wish")
    wish = await session.get(Wish, wish_id)
    if wish is None:
        raise WishNotFound(f"No wish {wish_id}.")
    sc.ensure_area(principal, wish.area_code, f"Wish {wish_id}")
    units = list(
        (
            await session.execute(
                select(MemberUnit)
                .where(MemberUnit.active.is_(True), MemberUnit.area_code.in_(prefixes(wish.area_code)))
                .order_by(MemberUnit.id)
            )
        ).scalars()
    )
    if not units:
        return []
    ids = [u.id for u in units]
    period = current_period()
    resources: dict[int, list[UnitResource]] = defaultdict(list)
    for r in (
        await session.execute(
            select(UnitResource)
            .where(UnitResource.unit_id.in_(ids), UnitResource.period == period)
            .order_by(UnitResource.id)
        )
    ).scalars():
        resources[r.unit_id].append(r)
    open_claims = dict(
        (
            await session.execute(
                select(Wish.claimant_unit_id, func.count())
                .where(Wish.claimant_unit_id.in_(ids), Wish.status.in_(OPEN_CLAIM))
                .group_by(Wish.claimant_unit_id)
            )
        ).all()
    )
    completed = dict(
        (
            await session.execute(
                select(Wish.claimant_unit_id, func.count())
                .where(
                    and_(
                        Wish.claimant_unit_id.in_(ids),
                        Wish.status == "closed",
                        Wish.category == wish.category,
                    )
                )
                .group_by(Wish.claimant_unit_id)
            )
        ).all()
    )
    kinds = fitting_kinds(wish)
    goods = kinds == GOODS_KINDS
    out = []
    for u in units:
        score, reasons = 0, []
        matching = [r for r in resources[u.id] if wish.category in r.categories]
        if matching:
            score += 50 + 5 * min(len(matching) - 1, 2)
            listed = "、".join(f"{r.title}（{r.kind}）" for r in matching[:3])
            reasons.append(f"本期（{period}）资源清单可服务「{wish.category}」：{listed}")
            fit = sorted({r.kind for r in matching if r.kind in kinds})
            if fit:
                score += 20
                reasons.append(f"资源类型适合{'物资类' if goods else '服务类'}心愿：{'、'.join(fit)}")
        else:
            reasons.append(f"本期（{period}）资源清单没有可服务「{wish.category}」的资源")
        n_open = open_claims.get(u.id, 0)
        score += max(0, 15 - 5 * n_open)
        reasons.append("目前没有在办的心愿" if n_open == 0 else f"在办心愿 {n_open} 件")
        done = completed.get(u.id, 0)
        if done:
            score += 3 * min(done, 5)
            reasons.append(f"已完成同类（{wish.category}）心愿 {done} 件")
        out.append(
            {
                "unit": u,
                "score": score,
                "reasons": reasons,
                "open_claims": n_open,
                "completed": done,
                "resources": matching,
            }
        )
    out.sort(key=lambda s: (-s["score"], s["open_claims"], s["unit"].id))
    return out[:limit]
