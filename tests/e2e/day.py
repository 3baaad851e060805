"""A compressed working day against a running stack (tools/stack.py): every actor over real HTTP.

`run_day(stack)` drives it and returns what it did (the test reconciles that with the databases):
the fake 12345 platform posts signed orders (and retries a few); residents log in through the fake
WeChat, bind and report with photos; grid workers report from patrol; units accept, handle (with
photos) and sometimes return (退单) for the dispatch centre to rule; grid workers verify; tickets close;
residents rate theirs and the hotline's get their 回访; one micro-wish runs its whole loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx

from tools.demo_hotline import Staff, orders_for
from tools.demo_mobile import inside_point, photo_jpeg, resident_checker
from tools.hotline_platform import CST, PlatformClient, push_orders

PIC = {"url": "https://img.example.org/e2e/after.jpg", "kind": "photo"}
HANDLERS = ("CGJ", "SWJ")
CHECKED_COMMUNITIES = ("320411001001", "320411002001")  # 龙锦, 春江: they have community admins
REPORTS = [
    "小区门口路边那堆垃圾好几天了没人清，臭得不行，麻烦尽快处理",
    "楼道里的声控灯坏了一个多月，晚上老人上下楼很危险",
    "健身器材的单杠松动了，孩子玩的时候晃得厉害",
    "路边有辆共享单车倒在盲道上，挡着路了",
    "绿化带里的窨井盖破了一个角，怕有人踩空",
    "小区北门的路面塌陷了一块，下雨积水很深",
]
PATROLS = [
    "巡查发现人行道地砖破损三块，影响通行",
    "巡查发现沿街商铺占道经营，堆放货物",
    "巡查发现垃圾分类亭满溢未及时清运",
    "巡查发现小广告张贴在公交站牌上",
]


class Day:
    def __init__(
        self, stack: Any, http: httpx.AsyncClient, *, orders: int, residents: int, patrols: int
    ) -> None:
        self.s = stack
        self.http = http
        self.n_orders, self.n_residents, self.n_patrols = orders, residents, patrols
        self.staff = Staff(http, stack.accounts["accounts"])
        self.reg = stack.urls["registry"]
        self.disp = stack.urls["dispatch"]
        self.mob = stack.urls["mobile"]
        self.wish = stack.urls["wishes"]
        self.steps: Counter[str] = Counter()
        self.problems: list[str] = []
        self.out: dict[str, Any] = {"orders": [], "reports": [], "patrols": [], "report_statuses": Counter()}

    async def who(self, username: str) -> dict[str, str]:
        return await self.staff.login(self.reg, username)

    def check(self, r: httpx.Response, what: str, *codes: int) -> dict[str, Any]:
        if r.status_code not in (codes or (200, 201)):
            raise AssertionError(f"{what}: HTTP {r.status_code} {r.text[:500]}")
        return r.json() if r.content else {}

    async def spots(self) -> list[tuple[str, float, float]]:
        """Points inside the grids of the communities that have an admin in the demo: a hotline order
        that only resolves to its community then still has someone to check it on site."""
        from shapely.geometry import shape

        r = await self.http.get(f"{self.reg}/api/v1/map", headers=await self.who("admin"))
        areas = self.check(r, "map", 200)["areas"]
        names = {a["code"]: a["name"] for a in areas}
        out = []
        for a in areas:
            if a["level"] == "grid" and a.get("boundary") and a["code"][:12] in CHECKED_COMMUNITIES:
                p = shape(a["boundary"]).representative_point()
                out.append((f"{names.get(a['code'][:12], '')}{a['name']}附近", round(p.y, 6), round(p.x, 6)))
        return sorted(out)

    # ---- the 12345 platform -------------------------------------------------------------------

    async def hotline(self, spots: list[tuple[str, float, float]]) -> list[str]:
        day = datetime.now(CST).date() - timedelta(days=1)
        orders = orders_for(day, self.n_orders, spots)
        self.out["orders"] = [o["order_no"] for o in orders]
        hl = self.s.accounts["hotline"]
        async with PlatformClient(self.disp, hl["app_key"], hl["app_secret"]) as client:
            summary = await push_orders(client, orders, concurrency=6)
            again = await push_orders(client, orders[:3], concurrency=3)  # a platform retry
            self.out["push"], self.out["replayed"] = summary, again["replayed"]
            numbers = []
            for o in orders:
                numbers.append(
                    self.check(await client.get_order(o["order_no"]), "get order")["ticket_number"]
                )
        return numbers

    # ---- residents (mini-program) ---------------------------------------------------------------

    async def resident(self, i: int, per: int) -> list[tuple[str, dict[str, str]]]:
        res = self.s.accounts["residents"][i]
        r = await self.http.post(f"{self.mob}/m/v1/auth/wechat", json={"code": f"test:e2e-resident-{i}"})
        me = {"Authorization": f"Bearer {self.check(r, 'wechat login')['access_token']}"}
        body = {k: res[k] for k in ("name", "phone", "id_last4")}
        self.check(
            await self.http.post(f"{self.mob}/m/v1/me/binding", json=body, headers=me), "bind", 200, 201
        )
        home = self.check(await self.http.get(f"{self.mob}/m/v1/me", headers=me), "me")
        grid = home["grid"]["code"]
        async with httpx.AsyncClient(base_url=self.reg, timeout=30) as registry:
            lat, lng = await inside_point(registry, await self.who("admin"), grid)
        mine = []
        for k in range(per):
            text = REPORTS[(i * per + k) % len(REPORTS)] + f"（第{i + 1}户第{k + 1}次反映）"
            data = {"text": text, "lat": str(lat + 0.0004 * k), "lng": str(lng)}
            files = [("photos", (f"p{j}.jpg", photo_jpeg(320 + 16 * j), "image/jpeg")) for j in range(2)]
            r = await self.http.post(f"{self.mob}/m/v1/reports", data=data, files=files, headers=me)
            self.out["report_statuses"][r.status_code] += 1
            mine.append((self.check(r, "report", 201)["number"], me))
        self.out.setdefault("homes", {})[i] = home
        return mine

    # ---- grid workers on patrol -----------------------------------------------------------------

    async def patrol(self, k: int, spots: list[tuple[str, float, float]]) -> str:
        grid = f"320411001001{k + 1:03d}"
        worker = resident_checker({}, grid)
        async with httpx.AsyncClient(base_url=self.reg, timeout=30) as registry:
            lat, lng = await inside_point(registry, await self.who("admin"), grid)
        body = {
            "channel": "patrol",
            "text": PATROLS[k % len(PATROLS)] + f"（{grid[-3:]}网格）",
            "lat": lat,
            "lng": lng,
            "attachments": [PIC],
        }
        r = await self.http.post(f"{self.disp}/api/v1/tickets", json=body, headers=await self.who(worker))
        return self.check(r, "patrol ticket", 201)["number"]

    # ---- the loop -------------------------------------------------------------------------------

    async def act(self, who: dict[str, str], tid: int, action: str, **body: Any) -> dict[str, Any]:
        r = await self.http.post(
            f"{self.disp}/api/v1/tickets/{tid}/transitions", json={"action": action, **body}, headers=who
        )
        out = self.check(r, f"{action} on ticket {tid}", 200)
        self.steps[action] += 1
        return out

    async def ticket(self, tid: int) -> dict[str, Any]:
        r = await self.http.get(f"{self.disp}/api/v1/tickets/{tid}", headers=await self.who("admin"))
        return self.check(r, "ticket", 200)

    async def walk(self, number: str, i: int, *, hotline: bool) -> None:
        admin = await self.who("admin")
        r = await self.http.get(f"{self.disp}/api/v1/tickets/by-number/{number}", headers=admin)
        t = self.check(r, "ticket by number", 200)
        tid = t["id"]
        if t["status"] in ("registered", "triage"):
            if t["status"] == "registered" and t["routing"].get("unit"):
                await self.act(admin, tid, "confirm")
            else:
                await self.act(
                    admin,
                    tid,
                    "dispatch",
                    **({} if t["routing"].get("unit") else {"standard_code": "010101"}),
                )
            t = await self.ticket(tid)
        unit = t["routing"]["unit"]
        if unit not in HANDLERS:  # only these units have demo handlers: the centre sends it to one
            await self.act(admin, tid, "reassign", unit="CGJ", note="改派城管局处置")
            unit = "CGJ"
        if i % 5 == 2:  # 退单: the unit says it is not theirs; the centre upholds and sends it on
            other = "SWJ" if unit == "CGJ" else "CGJ"
            h = await self.who(f"dept-{unit.lower()}")
            await self.act(
                h, tid, "return", note="经核实不属于本单位职责范围，申请退回", suggested_unit=other
            )
            await self.act(admin, tid, "rule_return", ruling="upheld", unit=other, note="退单理由成立，改派")
            unit = other
        elif i % 5 == 4:  # 退单 refused: back to the same unit, final
            h = await self.who(f"dept-{unit.lower()}")
            await self.act(h, tid, "return", note="人手不足，申请退回")
            await self.act(admin, tid, "rule_return", ruling="rejected", note="属于本单位职责，驳回退单")
        h = await self.who(f"dept-{unit.lower()}")
        await self.act(h, tid, "accept")
        await self.act(h, tid, "start")
        await self.act(h, tid, "handle", note="已安排人员现场处置完毕", attachments=[PIC, PIC])
        t = await self.ticket(tid)
        checker = self.staff.checker_for(t["place"])
        if checker:
            await self.act(
                await self.who(checker), tid, "verify", note="网格员现场核实：已处置", attachments=[PIC]
            )
        await self.act(admin, tid, "close")
        if hotline:
            await self.act(admin, tid, "feedback", satisfaction="satisfied", note="回访：来电人表示满意")

    async def rate(self, number: str, me: dict[str, str], deadline: float) -> None:
        """The resident rates once their ticket shows as closed in the mini-program (after the push)."""
        loop = asyncio.get_running_loop()
        while True:
            d = self.check(
                await self.http.get(f"{self.mob}/m/v1/tickets/{number}", headers=me), "my ticket", 200
            )
            if d["status"] in ("to_rate", "closed"):  # 待评价: closed, not rated yet
                break
            if loop.time() > deadline:
                raise AssertionError(f"{number} never showed as closed to its resident: {d['status']}")
            await asyncio.sleep(0.2)
        r = await self.http.post(
            f"{self.mob}/m/v1/tickets/{number}/rating",
            json={"satisfaction": "satisfied", "comment": "处理很及时，谢谢"},
            headers=me,
        )
        self.check(r, "rating", 200, 201)
        self.steps["rating"] += 1

    # ---- a micro-wish ---------------------------------------------------------------------------

    async def wish_loop(self, me: dict[str, str], grid: str) -> dict[str, Any]:
        form = {
            "category": "助老",
            "title": "需要一台折叠轮椅",
            "description": "老伴中风后行动不便，想要一台折叠轮椅，方便去社区卫生服务站复查。",
            "estimated_value": "600.00",
            "privacy": "false",
        }
        files = [("photos", ("w.jpg", photo_jpeg(400), "image/jpeg"))]
        r = await self.http.post(f"{self.mob}/m/v1/wishes", data=form, files=files, headers=me)
        wid = self.check(r, "make a wish", 201)["id"]
        grid_staff = await self.who(resident_checker({}, grid))
        liaison = await self.who("unit-liaison")
        w = self.wish + f"/api/v1/wishes/{wid}"
        self.check(await self.http.post(w + "/approve", json={}, headers=grid_staff), "approve", 200)
        self.check(await self.http.post(w + "/publish", json={}, headers=grid_staff), "publish", 200)
        self.check(await self.http.post(w + "/claim", json={}, headers=liaison), "claim", 200)
        self.check(await self.http.post(w + "/start", json={}, headers=liaison), "start", 200)
        vols = self.check(
            await self.http.get(self.wish + "/api/v1/volunteers", headers=liaison), "volunteers", 200
        )
        vol = vols["items"][0]
        files = {"file": ("proof.jpg", photo_jpeg(480), "image/jpeg")}
        photo = self.check(
            await self.http.post(self.wish + "/api/v1/photos", files=files, headers=liaison), "photo", 201
        )
        body = {
            "note": "已送达折叠轮椅一台，并教会家属使用。",
            "proof_photo_ids": [photo["id"]],
            "served": [{"volunteer_id": vol["id"], "hours": 2}],
        }
        self.check(await self.http.post(w + "/complete", json=body, headers=liaison), "complete", 200)
        r = await self.http.post(f"{self.mob}/m/v1/wishes/{wid}/confirm", json={"note": "谢谢"}, headers=me)
        self.check(r, "confirm", 200)
        closed = self.check(await self.http.post(w + "/close", json={}, headers=grid_staff), "close", 200)
        return {"id": wid, "status": closed["status"], "volunteer": vol}

    # ---- the day --------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        spots = await self.spots()
        per = 2
        hotline, residents, patrols = await asyncio.gather(
            self.hotline(spots),
            asyncio.gather(*(self.resident(i, per) for i in range(self.n_residents))),
            asyncio.gather(*(self.patrol(k, spots) for k in range(self.n_patrols))),
        )
        reports = [x for mine in residents for x in mine]
        self.out["hotline_numbers"] = hotline
        self.out["reports"] = [n for n, _ in reports]
        self.out["patrols"] = patrols
        me0 = reports[0][1]
        grid0 = self.out["homes"][0]["grid"]["code"]
        numbers = (
            [(n, True) for n in hotline] + [(n, False) for n, _ in reports] + [(n, False) for n in patrols]
        )
        gate = asyncio.Semaphore(8)

        async def one(i: int, number: str, hl: bool) -> None:
            async with gate:
                await self.walk(number, i, hotline=hl)

        wish_task = asyncio.create_task(self.wish_loop(me0, grid0))
        await asyncio.gather(*(one(i, n, hl) for i, (n, hl) in enumerate(numbers)))
        deadline = asyncio.get_running_loop().time() + 20
        await asyncio.gather(*(self.rate(n, me, deadline) for n, me in reports))
        self.out["wish"] = await wish_task
        self.out["steps"] = dict(self.steps)
        return self.out


async def run_day(stack: Any, *, orders: int = 20, residents: int = 3, patrols: int = 4) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        return await Day(stack, http, orders=orders, residents=residents, patrols=patrols).run()
