"""A logged-in resident for tests of the mobile API: logs in through `POST /m/v1/auth/wechat` (the WeChat
fake) and, to stay independent of the binding flow, binds the account by writing the registry ids
straight onto it, as binding would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile.models import Account


@dataclass
class LoggedIn:
    headers: dict[str, str]
    account_id: int
    resident: Any | None  # the registry Resident when bound


async def resident(
    mobile: httpx.AsyncClient,
    session: AsyncSession,
    world: Any,
    i: int | None = 0,
    *,
    openid: str | None = None,
) -> LoggedIn:
    """Log in as `openid` and bind to the world's i-th resident (`i=None`: leave the account unbound)."""
    openid = openid or f"resident-{i if i is not None else 'unbound'}"
    r = await mobile.post("/m/v1/auth/wechat", json={"code": f"test:{openid}"})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    account_id = (await session.execute(select(Account.id).where(Account.openid == openid))).scalar_one()
    who = None
    if i is not None:
        who = world.residents[i]
        await session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(
                resident_id=who.id,
                household_id=who.household_id,
                area_code=who.area_code,
                bound_at=datetime.now(UTC),
            )
        )
        await session.commit()
    return LoggedIn(headers, account_id, who)
