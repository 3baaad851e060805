"""`make demo-hotline`: a day of 12345 work orders pushed into a running `make run` stack, and the
status callbacks received back, with the fake 12345 platform (tools/hotline_platform.py) on both ends.

    make run            # in one terminal
    make demo-hotline   # in another

1. The fake platform's callback receiver listens on 127.0.0.1:8090 (where `make run` points dispatch's
   DISPATCH_HOTLINE_CALLBACK_URL) and checks every callback's signature, order and uniqueness.
2. About 150 realistic work orders for yesterday are signed with the `hotline` key of
   .data/demo-accounts.json and posted; ten are posted again, as a platform retry would (same ticket,
   200). Running the demo again re-sends the same orders: all replays, nothing doubled.
3. Demo staff take some of the tickets through the loop (签收, 延期申请/审批, 办结, 回访, 回退), so the
   callbacks flow; the demo waits for them and prints what the platform received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx

from tools.db import DATA
from tools.hotline_platform import CST, CallbackReceiver, PlatformClient, make_orders, push_orders

PHOTO = {"url": "https://img.example.org/demo/after.jpg", "kind": "photo"}


def _secrets() -> dict[str, str]:
    path = DATA / "secrets.env"
    if not path.exists():
        raise SystemExit("No .data/secrets.env: run `make run` first (it sets up the stack and its secrets).")
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


async def grid_spots(
    http: httpx.AsyncClient, registry: str, admin: dict[str, str]
) -> list[tuple[str, float, float]]:
    """A point inside each grid of the demo district (from the registry's map), named like an address."""
    from shapely.geometry import shape

    r = await http.get(f"{registry}/api/v1/map", headers=admin)
    r.raise_for_status()
    names = {a["code"]: a["name"] for a in r.json()["areas"]}
    spots = []
    for a in r.json()["areas"]:
        if a["level"] == "grid" and a.get("boundary"):
            p = shape(a["boundary"]).representative_point()
            community = names.get(a["code"][:12], "")
            spots.append((f"{community}{a['name']}附近", round(p.y, 6), round(p.x, 6)))
    return sorted(spots)


def orders_for(day: date, n: int, areas: list[tuple[str, float, float]] | None) -> list[dict[str, Any]]:
    """The fake platform's orders for `day`, with deadlines a week on (so they are still ahead when the
    demo runs on a later day). Deterministic: a second run sends the very same orders."""
    out = []
    for o in make_orders(n, day=day, areas=areas or None):
        received = datetime.fromisoformat(o["received_at"])
        o["deadline_at"] = datetime.combine(
            received.date() + timedelta(days=7), time(17, 30), CST
        ).isoformat()
        out.append(o)
    return out


class Staff:
    def __init__(self, http: httpx.AsyncClient, accounts: list[dict[str, Any]]) -> None:
        self.http = http
        self.accounts = accounts
        self.passwords = {a["username"]: a["password"] for a in accounts}
        self.tokens: dict[str, dict[str, str]] = {}

    def checker_for(self, place: dict[str, Any]) -> str | None:
        """The grid worker (or else the community admin) whose area holds this place: they check on site."""
        code = place.get("grid_code") or place.get("community_code") or ""
        for role in ("grid_worker", "community_admin"):
            for a in self.accounts:
                if a["role"] == role and code and code.startswith(str(a["scope"])):
                    return a["username"]
        return None

    async def login(self, registry: str, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = await self.http.post(
                f"{registry}/api/v1/auth/token",
                data={"username": username, "password": self.passwords[username]},
            )
            r.raise_for_status()
            self.tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self.tokens[username]


async def walk_some(dispatch: str, registry: str, staff: Staff, numbers: list[str]) -> Counter[str]:
    """Take the demo's tickets a few steps; returns how many of each step succeeded."""
    http = staff.http
    admin = await staff.login(registry, "admin")
    handlers = {
        "CGJ": await staff.login(registry, "dept-cgj"),
        "SWJ": await staff.login(registry, "dept-swj"),
    }
    done: Counter[str] = Counter()

    async def act(who: dict[str, str], tid: int, action: str, **body: Any) -> bool:
        r = await http.post(
            f"{dispatch}/api/v1/tickets/{tid}/transitions", json={"action": action, **body}, headers=who
        )
        if r.status_code == 200:
            done[action] += 1
        return r.status_code == 200

    async def finish(t: dict[str, Any]) -> None:
        """The on-site check by whoever covers the place, then close and call the resident back."""
        checker = staff.checker_for(t["place"])
        if checker:
            who = await staff.login(registry, checker)
            await act(who, t["id"], "verify", note="现场核实已处置", attachments=[PHOTO])
        if await act(admin, t["id"], "close"):
            await act(admin, t["id"], "feedback", satisfaction="satisfied", note="回访：来电人表示满意")

    tickets = []
    for number in numbers:
        r = await http.get(f"{dispatch}/api/v1/tickets/by-number/{number}", headers=admin)
        if r.status_code == 200:
            tickets.append(r.json())
    handled = 0
    for i, t in enumerate(tickets):
        tid, unit = t["id"], t["routing"]["unit"]
        if t["status"] == "triage" and done["cancel"] < 3:
            await act(admin, tid, "cancel", note="经核实不属于本区管辖范围，退回12345平台重新派单")
            continue
        if t["status"] == "handled":  # handled in an earlier run: check, close and call back now
            await finish(t)
            continue
        if t["status"] != "dispatched" or unit not in handlers:
            continue
        h = handlers[unit]
        if not await act(h, tid, "accept"):
            continue
        if i % 3 == 0 and await act(h, tid, "start"):
            note = "需协调专业队伍和车辆，申请延期一个工作日"
            if await act(h, tid, "request_extension", hours=7, note=note):
                await act(admin, tid, "decide_extension", decision="approved", note="同意延期")
        elif i % 4 == 1 and handled < 12 and await act(h, tid, "start"):
            note = "已安排人员现场处置完毕，并已电话告知来电人"
            if await act(h, tid, "handle", note=note, attachments=[PHOTO]):
                handled += 1
                await finish(t)
    return done


async def demo(args: argparse.Namespace) -> int:
    sec = _secrets()
    accounts = json.loads((DATA / "demo-accounts.json").read_text())
    hotline = accounts["hotline"]
    host = "127.0.0.1"
    dispatch = f"http://{host}:{os.environ.get('DISPATCH_PORT', 8002)}"
    registry = f"http://{host}:{os.environ.get('REGISTRY_PORT', 8001)}"
    async with httpx.AsyncClient(timeout=30) as http:
        try:
            (await http.get(f"{dispatch}/readyz")).raise_for_status()
        except httpx.HTTPError:
            print(
                f"dispatch is not answering at {dispatch}: start the stack with `make run` first.",
                file=sys.stderr,
            )
            return 1
        receiver = CallbackReceiver(sec["HOTLINE_CALLBACK_KEY"], sec["HOTLINE_CALLBACK_SECRET"])
        async with receiver.serve(host, args.port) as url:
            print(f"• fake 12345 platform receiving callbacks at {url}")
            day = args.day or datetime.now(CST).date() - timedelta(days=1)
            staff = Staff(http, accounts["accounts"])
            spots = await grid_spots(http, registry, await staff.login(registry, "admin"))
            orders = orders_for(day, args.orders, spots)
            async with PlatformClient(dispatch, hotline["app_key"], hotline["app_secret"]) as client:
                print(f"• pushing {len(orders)} work orders of {day.isoformat()} to {dispatch}")
                summary = await push_orders(client, orders, concurrency=8)
                print(
                    f"    HTTP: {dict(summary['by_http_status'])}, tickets: {dict(summary['by_ticket_status'])}"
                )
                for p in summary["problems"]:
                    print(f"    ! {p['order_no']}: {p['status']} {p['body']}")
                again = await push_orders(client, orders[:10], concurrency=4)
                print(
                    f"• the first 10 again (a platform retry): HTTP {dict(again['by_http_status'])}, replays {again['replayed']}"
                )
                numbers = []
                for o in orders:
                    r = await client.get_order(o["order_no"])
                    if r.status_code == 200:
                        numbers.append(r.json()["ticket_number"])
                print("• demo staff take tickets through the loop")
                done = await walk_some(dispatch, registry, staff, numbers)
                print(f"    steps: {dict(done)}")
                admin = await staff.login(registry, "admin")
                for _ in range(int(args.wait / 0.5)):
                    r = await http.get(
                        f"{dispatch}/api/v1/hotline/callbacks?state=pending&limit=1", headers=admin
                    )
                    if r.json()["total"] == 0:
                        break
                    await asyncio.sleep(0.5)
                sample = await client.get_order(orders[0]["order_no"])
            s = receiver.summary()
            print(
                f"• callbacks received: {s['received']} (duplicates {s['duplicates']}, order violations "
                f"{s['order_violations']}, rejected signatures {s['rejected']})"
            )
            print(
                "    by event: "
                + ", ".join(
                    f"{k} {v}" for k, v in Counter(c["event_label"] for c in receiver.received).items()
                )
            )
            for c in receiver.received[:8]:
                print(
                    f"    {c['order_no']} #{c['seq']} {c['event_label']} → {c['status']} ({c['unit_name'] or '-'})"
                )
            if sample.status_code == 200:
                o = sample.json()
                print(
                    f"• GET /api/v1/hotline/orders/{o['order_no']}: {o['status_label']}, "
                    f"{(o['unit'] or {}).get('name', '待分拨')}, timeline: "
                    + " → ".join(e["label"] for e in o["timeline"])
                )
    return 0 if s["duplicates"] == 0 and s["order_violations"] == 0 and s["rejected"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo_hotline", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--port", type=int, default=int(os.environ.get("HOTLINE_PORT", 8090)))
    parser.add_argument(
        "--day", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: yesterday)"
    )
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for callbacks")
    return asyncio.run(demo(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
