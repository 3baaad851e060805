"""`make demo-mobile`: one resident's journey through the mini-program API of a running `make run` stack.

    make run            # in one terminal
    make demo-mobile    # in another

1. Log in as the mini-program does: the code `test:<openid>` goes to POST /m/v1/auth/wechat, which asks
   the local WeChat fake (tools/wechat_fake.py) and returns resident tokens.
2. Bind the first demo resident of .data/demo-accounts.json (name, phone, last 4 of the identity
   number); a later run logs in as the same openid and finds the binding in place.
3. Read my home (GET /m/v1/me): household, grid, the grid card.
4. Report a problem with a photo (随手拍) at a point inside my grid, and see where it was routed.
5. Staff take the ticket through the loop (签收, 处置, 核实, 结案) with the demo staff accounts.
6. The resident sees it closed, with its timeline, and rates it.

`walk()` is the whole journey against any three httpx clients, so tests/mobile/test_journey.py runs
the very same steps in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tools.db import DATA

Say = Callable[[str], None]
Login = Callable[[str], Awaitable[dict[str, str]]]
GARBAGE = "小区门口路边那堆垃圾好几天了没人清，臭得不行，麻烦尽快处理"


def photo_jpeg(size: int = 640) -> bytes:
    """A small real JPEG (a resident's photo)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size * 3 // 4), (120, 160, 90))
    ImageDraw.Draw(img).rectangle((size // 4, size // 4, size // 2, size // 2), fill=(90, 70, 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _ok(r: httpx.Response, what: str, *codes: int) -> dict[str, Any]:
    if r.status_code not in (codes or (200, 201)):
        raise SystemExit(f"{what}: HTTP {r.status_code} {r.text[:400]}")
    return r.json() if r.content else {}


async def inside_point(
    registry: httpx.AsyncClient, admin: dict[str, str], grid_code: str
) -> tuple[float, float]:
    """A point inside the grid (from the registry's map)."""
    from shapely.geometry import shape

    r = await registry.get("/api/v1/map", headers=admin)
    for a in _ok(r, "GET /api/v1/map")["areas"]:
        if a["code"] == grid_code and a.get("boundary"):
            p = shape(a["boundary"]).representative_point()
            return round(p.y, 6), round(p.x, 6)
    raise SystemExit(f"grid {grid_code} has no boundary on the map")


async def walk(
    mobile: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    dispatch: httpx.AsyncClient,
    staff: Login,
    resident: dict[str, Any],
    *,
    openid: str,
    say: Say = print,
) -> dict[str, Any]:
    """The whole journey; returns what it saw (the test asserts on it)."""
    seen: dict[str, Any] = {}
    r = await mobile.post("/m/v1/auth/wechat", json={"code": f"test:{openid}"})
    tokens = _ok(r, "login")
    me = {"Authorization": f"Bearer {tokens['access_token']}"}
    say(f"• logged in as openid {openid} (bound: {tokens['bound']})")

    if not tokens["bound"]:
        body = {k: resident[k] for k in ("name", "phone", "id_last4")}
        _ok(await mobile.post("/m/v1/me/binding", json=body, headers=me), "bind", 200, 201)
        say(f"• bound to resident {resident['name']} (household {resident['household_id']})")
    home = _ok(await mobile.get("/m/v1/me", headers=me), "GET /m/v1/me")
    seen["home"] = home
    grid = home["grid"]
    say(f"• my grid: {grid['name']} ({grid['code']}); grid card:")
    for s in home.get("grid_team", [])[:6]:
        say(f"    {s.get('role_label') or s.get('role')}: {s['name']} {s.get('phone') or ''}")

    admin = await staff("admin")
    lat, lng = await inside_point(registry, admin, grid["code"])
    files = [("photos", ("scene.jpg", photo_jpeg(), "image/jpeg"))]
    data = {"text": GARBAGE, "lat": str(lat), "lng": str(lng)}
    r = await mobile.post("/m/v1/reports", data=data, files=files, headers=me)
    report = _ok(r, "report", 201)
    number = report["number"]
    seen["report"] = report
    say(f"• reported {number}: {report.get('status_label')}")

    ticket = _ok(await dispatch.get(f"/api/v1/tickets/by-number/{number}", headers=admin), "ticket")
    unit = ticket["routing"].get("unit")
    seen["routed_to"] = unit
    say(f"• routed to {unit} ({ticket['routing'].get('standard_title')}), status {ticket['status']}")

    async def act(who: dict[str, str], action: str, **body: Any) -> None:
        r = await dispatch.post(
            f"/api/v1/tickets/{ticket['id']}/transitions", json={"action": action, **body}, headers=who
        )
        _ok(r, f"{action}")
        say(f"    staff: {action}")

    pic = {"url": "https://img.example.org/demo/after.jpg", "kind": "photo"}
    if ticket["status"] in ("registered", "triage"):
        await act(admin, "dispatch", **({} if unit else {"standard_code": "010101"}))
        ticket = _ok(await dispatch.get(f"/api/v1/tickets/{ticket['id']}", headers=admin), "ticket")
        unit = ticket["routing"]["unit"]
    handler = await staff(f"dept-{unit.lower()}")
    await act(handler, "accept")
    await act(handler, "start")
    await act(handler, "handle", note="已安排保洁人员清运完毕，现场已清理干净", attachments=[pic])
    checker = await staff(resident_checker(ticket, grid["code"]))
    await act(checker, "verify", note="网格员现场核实：已清理", attachments=[pic])
    await act(admin, "close")

    detail = _ok(await mobile.get(f"/m/v1/tickets/{number}", headers=me), "my ticket")
    seen["detail"] = detail
    say(f"• my ticket {number}: {detail.get('status_label')}")
    for step in detail.get("timeline", []):
        say(f"    {step['at'][:16]} {step['title']} {step.get('unit_name') or ''} {step.get('result') or ''}")
    r = await mobile.post(
        f"/m/v1/tickets/{number}/rating",
        json={"satisfaction": "satisfied", "comment": "处理很及时，谢谢"},
        headers=me,
    )
    seen["rating"] = _ok(r, "rate")
    say("• rated: 满意")
    mine = _ok(await mobile.get("/m/v1/tickets", headers=me), "my tickets")
    seen["mine"] = mine
    say(f"• my tickets: {len(mine['items'])} on the first page")
    return seen


def resident_checker(ticket: dict[str, Any], grid_code: str) -> str:
    """The demo grid worker account of the grid (services/registry/demo.py names them)."""
    n = int(grid_code[-3:])
    prefix = "longjin" if grid_code.startswith("320411001001") else grid_code[8:12]
    return f"{prefix}-grid{n:02d}"


async def demo(args: argparse.Namespace) -> int:
    accounts = json.loads((DATA / "demo-accounts.json").read_text())
    passwords = {a["username"]: a["password"] for a in accounts["accounts"]}
    resident = accounts["residents"][args.resident]
    host = "127.0.0.1"

    def url(name: str, port: int) -> str:
        return f"http://{host}:{os.environ.get(f'{name.upper()}_PORT', port)}"

    async with (
        httpx.AsyncClient(base_url=url("mobile", 8000), timeout=30) as mobile,
        httpx.AsyncClient(base_url=url("registry", 8001), timeout=30) as registry,
        httpx.AsyncClient(base_url=url("dispatch", 8002), timeout=30) as dispatch,
    ):
        try:
            (await mobile.get("/readyz")).raise_for_status()
        except httpx.HTTPError:
            print(
                f"mobile is not answering at {mobile.base_url}: start the stack with `make run` first.",
                file=sys.stderr,
            )
            return 1
        tokens: dict[str, dict[str, str]] = {}

        async def staff(username: str) -> dict[str, str]:
            if username not in tokens:
                r = await registry.post(
                    "/api/v1/auth/token", data={"username": username, "password": passwords[username]}
                )
                r.raise_for_status()
                tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            return tokens[username]

        await walk(mobile, registry, dispatch, staff, resident, openid=f"demo-resident-{args.resident}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo_mobile", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--resident", type=int, default=0, help="which demo resident (index in demo-accounts.json)"
    )
    return asyncio.run(demo(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
