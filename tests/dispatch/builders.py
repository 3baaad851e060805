"""Plain builders for dispatch tests: report bodies, filing through the API, counting rows.

Texts are picked so routing is unambiguous (checked in test_routing's spirit, not mocked):
GARBAGE → 010101 暴露垃圾 (CGJ, street, direct, response 4 h, handling 4 h);
BULKY → 010104 大件垃圾乱堆 (CGJ, community, direct, response 4 h, handling 14 h);
MANHOLE → 060603 雨水井盖缺失 (SWJ, district, direct, response 1 h: stricter than the 4 h rule);
SHED → 010301 私搭乱建 (CGJ, street, verify_first).
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import Supervision, Ticket, TicketEvent

GARBAGE = "小区门口有一堆暴露垃圾没人清理"
GARBAGE_AGAIN = "小区门口暴露垃圾好几天了没人清理"
BULKY = "楼下有人扔了旧沙发和床垫 大件垃圾乱堆好几天"
MANHOLE = "路边一个写着雨水的井盖没了"
SHED = "路口有人私自盖了一间铁皮房"
VAGUE = "你好，请问一下"

# Inside micro-grid 320411001001001001 of grid 320411001001001 (see tests/registry/builders.py).
IN_GRID = {"lat": 31.8116, "lng": 119.951}
# The same grid, about 90 m east of IN_GRID: near enough to be a duplicate.
NEAR = {"lat": 31.8117, "lng": 119.9519}
# Grid 320411001001002, about 600 m east: too far to be a duplicate.
FAR = {"lat": 31.8116, "lng": 119.9570}
# In China (Beijing) but outside every grid of the test district.
NOWHERE = {"lat": 39.9, "lng": 116.4}

STREET, COMMUNITY, GRID, OTHER_GRID = "320411001", "320411001001", "320411001001001", "320411001001002"


def body(text: str = GARBAGE, channel: str = "patrol", **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"channel": channel, "text": text}
    out.update(kw)
    return out


async def file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    text: str = GARBAGE,
    channel: str = "patrol",
    *,
    status: int = 201,
    **kw: Any,
) -> dict[str, Any]:
    """File a report through the API and return the ticket as the caller sees it."""
    r = await client.post("/api/v1/tickets", json=body(text, channel, **kw), headers=headers)
    assert r.status_code == status, r.text
    return r.json()


async def act(
    client: httpx.AsyncClient, headers: dict[str, str], ticket_id: int, action: str, **kw: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/tickets/{ticket_id}/transitions", json={"action": action, **kw}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def ticket_rows(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()


async def supervisions_of(session: AsyncSession, ticket_id: int) -> list[tuple[int, str, str]]:
    rows = await session.execute(
        select(Supervision.round, Supervision.clock, Supervision.kind)
        .where(Supervision.ticket_id == ticket_id)
        .order_by(Supervision.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def events_of(session: AsyncSession, ticket_id: int, action: str | None = None) -> list[TicketEvent]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    if action:
        stmt = stmt.where(TicketEvent.action == action)
    return list((await session.execute(stmt)).scalars())
