"""The resident's journey of `make demo-mobile` (tools/demo_mobile.py `walk`), run in-process: log in
through the WeChat fake, bind, read the grid card, report with a photo, see it routed, staff close it
through the loop, the resident sees the timeline and rates it — and dispatch records the rating."""

from __future__ import annotations

from typing import Any

from tests.mobile.account_helpers import details
from tools.demo_mobile import walk


async def test_a_resident_reports_follows_and_rates_a_ticket(
    mobile, registry, dispatch, world, token
) -> None:
    roles = {
        "admin": ("district_admin", "320411"),
        "dept-cgj": ("department_handler", "CGJ"),
        "longjin-grid01": ("grid_worker", "320411001001001"),
    }

    async def staff(username: str) -> dict[str, str]:
        role, scope = roles[username]
        return token(role, scope, username=username)

    resident: dict[str, Any] = {**details(world, 0), "household_id": world.residents[0].household_id}
    lines: list[str] = []
    seen = await walk(mobile, registry, dispatch, staff, resident, openid="journey", say=lines.append)

    assert seen["home"]["bound"] is True
    assert seen["home"]["grid"]["code"] == "320411001001001"
    assert seen["routed_to"] == "CGJ"
    number = seen["report"]["number"]
    detail = seen["detail"]
    assert detail["number"] == number
    titles = [s["title"] for s in detail["timeline"]]
    assert len(titles) >= 5, titles  # registered … closed
    assert "已结案" in titles, titles
    assert detail["ratable"] is True
    assert [i["number"] for i in seen["mine"]["items"]] == [number]

    admin = await staff("admin")
    t = (await dispatch.get(f"/api/v1/tickets/by-number/{number}", headers=admin)).json()
    assert t["status"] == "feedback"
    assert t["satisfaction"] == "satisfied"
    assert t["channel"] == "mini_program"
    assert t["attachments"] and t["attachments"][0]["url"].startswith("http://mobile/m/v1/photos/")
    # the resident's own list now says it was rated
    r = await mobile.post(
        f"/m/v1/tickets/{number}/rating",
        json={"satisfaction": "dissatisfied"},
        headers={"Authorization": (await _token(mobile))},
    )
    assert r.status_code == 409, r.text


async def _token(mobile) -> str:
    r = await mobile.post("/m/v1/auth/wechat", json={"code": "test:journey"})
    return f"Bearer {r.json()['access_token']}"
