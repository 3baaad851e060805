"""Helpers for tests that need a resident logged in to the mobile service, bound or not."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from services.registry.crypto import id_check_digit, parse_id_number
from services.registry.models import Resident


async def login(mobile: httpx.AsyncClient, openid: str = "alice") -> dict[str, Any]:
    """Log in through the WeChat fake; returns the token answer plus `headers` for the access token."""
    r = await mobile.post("/m/v1/auth/wechat", json={"code": f"test:{openid}"})
    assert r.status_code == 200, r.text
    body = r.json()
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    return body


def details(world: Any, i: int = 0) -> dict[str, str]:
    """The binding details of the world's i-th resident."""
    r = world.residents[i]
    return {"name": r.name, "phone": r.phone, "id_last4": world.numbers[i][-4:]}


async def bind(mobile: httpx.AsyncClient, headers: dict[str, str], world: Any, i: int = 0) -> dict[str, Any]:
    r = await mobile.post("/m/v1/me/binding", json=details(world, i), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def bound_resident(
    mobile: httpx.AsyncClient, world: Any, openid: str = "alice", i: int = 0
) -> dict[str, Any]:
    """Log in as `openid` and bind to the world's i-th resident."""
    tok = await login(mobile, openid)
    await bind(mobile, tok["headers"], world, i)
    return tok


def x_number(region: str = "320411") -> str:
    """A valid identity number whose check character is X."""
    for order in range(100, 1000):
        first17 = f"{region}19850312{order:03d}"
        if id_check_digit(first17) == "X":
            return first17 + "X"
    raise AssertionError("no X check digit found")


async def add_resident(
    session: Any,
    codec: Any,
    household: Any,
    *,
    name: str,
    phone: str,
    number: str,
    tags: list[str] | None = None,
) -> Resident:
    """A registry resident in `household` (written straight to the test transaction)."""
    num, born, gender = parse_id_number(number)
    id_hash, cipher, masked = codec.seal_id(num)
    r = Resident(
        household_id=household.id,
        area_code=household.area_code,
        name=name,
        gender=gender,
        birth_date=born or date(1985, 3, 12),
        id_hash=id_hash,
        id_cipher=cipher,
        id_masked=masked,
        phone=phone,
        relation="户主",
        tags=tags or [],
    )
    session.add(r)
    await session.flush()
    return r
