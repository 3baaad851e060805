"""Fuzz the residents' API (/m/v1) with a bound resident's token (see harness.py).

Logging out ends the session the other cases use, so each logout case gets a fresh resident session;
unbinding runs last, since every bound operation depends on the binding.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from tests.fuzz.harness import assert_clean, fuzz
from tests.mobile.account_helpers import bound_resident, login
from tests.wishes.builders import image_bytes

pytestmark = pytest.mark.fuzz

LOGOUT = "POST /m/v1/auth/logout"
WISH = {"category": "助老", "title": "需要一台轮椅", "description": "老伴中风后行动不便，想要一台折叠轮椅。"}
PHOTO = ("photos", ("p.jpg", image_bytes(), "image/jpeg"))
UNBIND = "DELETE /m/v1/me/binding"


async def test_mobile_api_holds_its_contract(mobile_app: Any, mobile: httpx.AsyncClient, world: Any) -> None:
    resident = (await bound_resident(mobile, world))["headers"]
    r = await mobile.post("/m/v1/wishes", data=WISH, files=[PHOTO], headers=resident)
    assert r.status_code == 201, r.text
    wish = r.json()
    known = {"wish_id": [wish["id"]]}
    n = itertools.count()

    async def headers_for(case: Any) -> dict[str, str]:
        if case.operation.label == LOGOUT:
            return (await login(mobile, f"fuzz-logout-{next(n)}"))["headers"]
        return resident

    report = await fuzz("mobile", mobile_app, "http://mobile", headers_for, last=[UNBIND], known=known)
    assert_clean(report)
