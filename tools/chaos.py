"""`make chaos`: faults under a bounded load, then proof that nothing was lost, doubled or left stuck.

    make chaos                          # about 4 minutes of load (plus set-up and the drain)
    make chaos CHAOS_ARGS="--quick"     # about 90 s of load

Everything runs on 127.0.0.1: an embedded PostgreSQL cluster of its own (.data/pg-chaos, database
gridgov_chaos, migrated, with the demo district), the four services as separate uvicorn processes on
free ports, the WeChat fake, and the fake 12345 platform's callback receiver (in this process).
While the load runs (signed 12345 orders, staff intake with Idempotency-Keys, residents' 随手拍 reports,
staff taking tickets through the loop), these faults come one after another:

1. dispatch is killed with SIGKILL (no graceful shutdown) and started again;
2. the registry is frozen with SIGSTOP for 30 s (its port still accepts connections, nothing answers:
   callers hit their timeouts, the harder case than a refused connection), then SIGCONT;
3. PostgreSQL is stopped (`pg_ctl stop -m fast`: every connection is cut) and started again.

Clients retry as real ones do: the 12345 platform resends an order until it gets a 2xx (signed afresh),
intake and reports resend with the same Idempotency-Key. Afterwards the outboxes get a bounded time to
drain and tools/chaos_check.py checks the invariants; the report goes to bench/results/CHAOS.md and
chaos.json, and the exit code is non-zero if an invariant fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from tools.chaos_stack import ACCOUNTS, CLUSTER, DATABASE, WORK, Cluster, Proc, free_port, set_up, stack_env
from tools.db import ROOT
from tools.hotline_platform import CST, CallbackReceiver, PlatformClient, make_orders

HANDLERS = ("dept-cgj", "dept-swj")  # the demo's unit accounts: tickets of these units are walked
PHOTO_STEP = {"url": "https://img.example.org/chaos/after.jpg", "kind": "photo"}
TEXTS = (
    "小区门口路边那堆垃圾好几天了没人清，臭得不行，麻烦尽快处理",
    "路边的垃圾桶满了溢出来，垃圾散落一地，请环卫来清运",
    "人行道上有建筑垃圾乱堆乱放，行人只能走机动车道",
    "雨水井盖缺失，晚上路过很危险，请尽快补上",
    "路面积水严重，下水道堵塞，车辆经过溅水",
    "小区旁边的绿化带里有人倾倒生活垃圾，气味难闻",
)


# ---- the load -------------------------------------------------------------------------------------


@dataclass
class Request:
    kind: str  # hotline | intake | report | transition
    key: str  # order_no / Idempotency-Key / "ticket_id:action"
    attempts: list[tuple[float, str, str]] = field(default_factory=list)  # (t, phase, status)
    status: int | None = None  # the final answer's status
    number: str | None = None  # the ticket number a 2xx returned
    replayed: bool = False
    detail: str | None = None  # a refusal's problem title

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Load:
    def __init__(self, args: argparse.Namespace, procs: dict[str, Proc], sec: dict[str, str]) -> None:
        self.args, self.procs, self.sec = args, procs, sec
        self.run_id = datetime.now(CST).strftime("%H%M%S") + uuid.uuid4().hex[:4]
        self.t0 = time.monotonic()
        self.phase = "steady"
        self.requests: list[Request] = []
        self.walk_queue: asyncio.Queue[str] = asyncio.Queue()
        self.stop_at = 0.0
        self.give_up_at = 0.0
        self.rng = random.Random(self.run_id)
        self.accounts = json.loads(ACCOUNTS.read_text())
        self.tokens: dict[str, dict[str, str]] = {}
        self.spots: list[tuple[str, float, float]] = []
        self.http = httpx.AsyncClient(timeout=10.0, limits=httpx.Limits(max_connections=64))

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    def running(self) -> bool:
        return time.monotonic() < self.stop_at

    async def login_all(self) -> None:
        from tools.demo_hotline import grid_spots

        reg = self.procs["registry"].base
        for a in self.accounts["accounts"]:
            if a["role"] in ("district_admin", "grid_worker", "community_admin", "department_handler"):
                r = await self.http.post(
                    reg + "/api/v1/auth/token", data={"username": a["username"], "password": a["password"]}
                )
                r.raise_for_status()
                self.tokens[a["username"]] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        self.spots = await grid_spots(self.http, reg, self.tokens["admin"])

    async def send(
        self, req: Request, call: Any, *, retry: bool = True, record: bool = True
    ) -> httpx.Response | None:
        """Send until a 2xx or a final refusal (4xx other than 408/429), as a real client would."""
        if record:
            self.requests.append(req)
        delay = 0.5
        while True:
            phase = self.phase
            try:
                r = await call()
                req.attempts.append((self.now(), phase, str(r.status_code)))
                if r.is_success or (r.status_code < 500 and r.status_code not in (408, 429)) or not retry:
                    req.status = r.status_code
                    if not r.is_success:
                        req.detail = r.text[:160]
                    if r.is_success:
                        body = r.json()
                        req.number = body.get("ticket_number") or body.get("number")
                        req.replayed = r.headers.get("Idempotent-Replayed", "").lower() == "true"
                    return r
            except httpx.HTTPError as exc:
                req.attempts.append((self.now(), phase, type(exc).__name__))
                if not retry:
                    return None
            if time.monotonic() > self.give_up_at:
                return None
            await asyncio.sleep(delay * (0.5 + self.rng.random()))
            delay = min(delay * 2, 4.0)

    def spot(self) -> tuple[str, float, float]:
        address, lat, lng = self.rng.choice(self.spots)
        return (
            address,
            round(lat + self.rng.uniform(-4e-4, 4e-4), 6),
            round(lng + self.rng.uniform(-4e-4, 4e-4), 6),
        )

    async def hotline(self, rate: float) -> None:
        hl = self.accounts["hotline"]
        client = PlatformClient(self.procs["dispatch"].base, hl["app_key"], hl["app_secret"], timeout=10)
        pending: set[asyncio.Task[Any]] = set()
        i = 0
        async with client:
            while self.running():
                i += 1
                now = datetime.now(CST)
                order = make_orders(1, day=now.date(), seed=i, areas=[self.spot()])[0]
                order["order_no"] = f"CH{self.run_id}{i:05d}"
                order["received_at"] = (now - timedelta(seconds=30)).isoformat()
                # a third with a 12345 deadline just over a minute away: overdue cards during the run
                ahead = timedelta(seconds=75) if i % 3 == 0 else timedelta(days=5)
                order["deadline_at"] = (now + ahead).isoformat()
                req = Request("hotline", order["order_no"])
                task = asyncio.create_task(self._then_walk(req, lambda o=order: client.post_order(o)))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(1 / rate)
            await asyncio.gather(*pending)

    async def _then_walk(self, req: Request, call: Any) -> None:
        await self.send(req, call)
        if req.acked and req.number and self.rng.random() < 0.1:
            # a client that missed the answer sends it once more: the same ticket back, 200, replayed
            await self.send(Request(req.kind, req.key), call)
        if req.acked and req.number and self.rng.random() < 0.7:
            self.walk_queue.put_nowait(req.number)

    async def intake(self, rate: float) -> None:
        url = self.procs["dispatch"].base + "/api/v1/tickets"
        pending: set[asyncio.Task[Any]] = set()
        i = 0
        while self.running():
            i += 1
            address, lat, lng = self.spot()
            body: dict[str, Any] = {"channel": "patrol", "text": f"{self.rng.choice(TEXTS)}（巡查{i}）"}
            if i % 2:
                body.update(lat=lat, lng=lng)
            else:  # an address only: placing it needs the registry's locate
                body["address"] = address
            key = f"chaos-{self.run_id}-{i:05d}"
            headers = {**self.tokens["admin"], "Idempotency-Key": key}
            req = Request("intake", key)
            task = asyncio.create_task(
                self._then_walk(req, lambda b=body, h=headers: self.http.post(url, json=b, headers=h))
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*pending)

    async def resident(self, n: int, rate: float) -> None:
        from tools.demo_mobile import photo_jpeg

        mobile = self.procs["mobile"].base
        res = self.accounts["residents"][n]
        r = await self.http.post(mobile + "/m/v1/auth/wechat", json={"code": f"test:chaos-resident-{n}"})
        r.raise_for_status()
        me = {"Authorization": f"Bearer {r.json()['access_token']}"}
        if not r.json()["bound"]:
            body = {k: res[k] for k in ("name", "phone", "id_last4")}
            (await self.http.post(mobile + "/m/v1/me/binding", json=body, headers=me)).raise_for_status()
        photo = photo_jpeg(320)
        i = 0
        while self.running():
            i += 1
            _, lat, lng = self.spot()
            key = f"chaos-{self.run_id}-r{n}-{i:04d}"
            data = {"text": f"{self.rng.choice(TEXTS)}（随手拍{n}-{i}）", "lat": str(lat), "lng": str(lng)}
            files = [("photos", ("scene.jpg", photo, "image/jpeg"))]
            headers = {**me, "Idempotency-Key": key}
            req = Request("report", key)
            await self._then_walk(
                req,
                lambda d=data, h=headers, f=files: self.http.post(
                    mobile + "/m/v1/reports", data=d, files=f, headers=h
                ),
            )
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) / rate)

    async def walker(self) -> None:
        """Staff take tickets through the loop; a step that timed out is re-read, never blindly resent."""
        dispatch = self.procs["dispatch"].base
        admin = self.tokens["admin"]
        while True:
            number = await self.walk_queue.get()
            if number is None:
                return
            r = await self.send(
                Request("read", number),
                lambda n=number: self.http.get(f"{dispatch}/api/v1/tickets/by-number/{n}", headers=admin),
                record=False,  # reads are not part of the ledger
            )
            if r is None or not r.is_success:
                continue
            t = r.json()
            handler = f"dept-{(t['routing'].get('unit') or '').lower()}"
            if t["status"] != "dispatched" or handler not in HANDLERS:
                continue
            checker = self.checker(t.get("place") or {})
            steps = [(handler, "accept", {}), (handler, "start", {})]
            steps.append((handler, "handle", {"note": "已现场处置完毕", "attachments": [PHOTO_STEP]}))
            if checker:
                steps.append((checker, "verify", {"note": "现场核实已处置", "attachments": [PHOTO_STEP]}))
            steps += [("admin", "close", {}), ("admin", "feedback", {"satisfaction": "satisfied"})]
            for who, action, body in steps:
                if not await self.step(t["id"], who, action, body):
                    break
                await asyncio.sleep(0.2)

    async def step(self, tid: int, who: str, action: str, body: dict[str, Any]) -> bool:
        url = f"{self.procs['dispatch'].base}/api/v1/tickets/{tid}/transitions"
        req = Request("transition", f"{tid}:{action}")
        call = lambda: self.http.post(url, json={"action": action, **body}, headers=self.tokens[who])  # noqa: E731
        self.requests.append(req)
        # a transition has no idempotency key: after an error, look at the trail before resending
        while time.monotonic() < self.give_up_at:
            r = await self.send(req, call, retry=False, record=False)
            if r is not None and r.status_code < 500:
                return r.is_success
            req.status = None
            await asyncio.sleep(1.0)
            try:
                got = await self.http.get(
                    f"{self.procs['dispatch'].base}/api/v1/tickets/{tid}", headers=self.tokens["admin"]
                )
            except httpx.HTTPError:
                continue
            if got.is_success and action in [e["action"] for e in got.json().get("events", [])]:
                return True  # done, but never acknowledged: it counts as unknown
        return False

    def checker(self, place: dict[str, Any]) -> str | None:
        """Who checks on site: the grid worker of the place, else its community admin (as the demo does)."""
        code = place.get("grid_code") or place.get("community_code") or ""
        for role in ("grid_worker", "community_admin"):
            for a in self.accounts["accounts"]:
                if a["role"] == role and code and code.startswith(str(a["scope"])):
                    return a["username"]
        return None


# ---- faults ---------------------------------------------------------------------------------------


async def faults(load: Load, cluster: Cluster, quick: bool) -> list[dict[str, Any]]:
    """The three faults in sequence; each entry says when it started, what it did and when it recovered."""
    at = (10, 30, 68) if quick else (25, 80, 150)
    out: list[dict[str, Any]] = []

    async def wait_until(t: float) -> None:
        await asyncio.sleep(max(0.0, t - load.now()))

    await wait_until(at[0])
    load.phase = "dispatch killed"
    t = load.now()
    load.procs["dispatch"].signal(signal.SIGKILL)
    load.procs["dispatch"].popen.wait()  # type: ignore[union-attr]
    await asyncio.sleep(2)
    load.procs["dispatch"].start()
    took = await load.procs["dispatch"].ready()
    out.append(
        {
            "fault": "kill -9 dispatch, restart after 2 s",
            "at_s": t,
            "back_after_s": round(load.now() - t, 1),
            "start_s": round(took, 1),
        }
    )
    await asyncio.sleep(5)
    load.phase = "steady"

    await wait_until(at[1])
    load.phase = "registry stopped"
    t = load.now()
    load.procs["registry"].signal(signal.SIGSTOP)
    await asyncio.sleep(30)
    load.procs["registry"].signal(signal.SIGCONT)
    await load.procs["registry"].ready()
    out.append(
        {
            "fault": "registry frozen (SIGSTOP) 30 s, then SIGCONT",
            "at_s": t,
            "back_after_s": round(load.now() - t, 1),
        }
    )
    await asyncio.sleep(5)
    load.phase = "steady"

    await wait_until(at[2])
    load.phase = "postgres restart"
    t = load.now()
    await asyncio.to_thread(cluster.stop)
    await asyncio.sleep(3)
    await asyncio.to_thread(cluster.start)
    back = round(load.now() - t, 1)
    await asyncio.gather(*(p.ready() for n, p in load.procs.items() if n != "wechat"))
    out.append({"fault": "PostgreSQL stop -m fast, start after 3 s", "at_s": t, "back_after_s": back})
    await asyncio.sleep(5)
    load.phase = "steady"
    return out


async def drive(
    args: argparse.Namespace, cluster: Cluster, url: str, env: dict[str, str], sec: dict[str, str]
) -> int:
    from tools.chaos_check import check, write_report

    receiver = CallbackReceiver(sec["HOTLINE_CALLBACK_KEY"], sec["HOTLINE_CALLBACK_SECRET"])
    procs: dict[str, Proc] = {}
    async with receiver.serve("127.0.0.1", 0) as callback_url:
        ports = {n: free_port() for n in ("registry", "dispatch", "wishes", "mobile", "wechat")}
        env = stack_env(env, ports, callback_url)
        apps = {"wechat": "tools.wechat_fake:create_app"}
        for name in ("wechat", "registry", "dispatch", "wishes", "mobile"):
            procs[name] = Proc(name, apps.get(name, f"services.{name}.app:create_app"), ports[name], env)
        try:
            for name in ("wechat", "registry"):
                procs[name].start()
                await procs[name].ready()
            for name in ("dispatch", "wishes", "mobile"):
                procs[name].start()
            await asyncio.gather(*(procs[n].ready() for n in ("dispatch", "wishes", "mobile")))
            load = Load(args, procs, sec)
            await load.login_all()
            duration = args.duration or (90 if args.quick else 220)
            load.t0 = time.monotonic()
            load.stop_at = load.t0 + duration
            load.give_up_at = load.stop_at + 60
            print(f"• load for {duration} s (run {load.run_id}); faults follow one another", flush=True)
            walkers = [asyncio.create_task(load.walker()) for _ in range(4)]
            fault_task = asyncio.create_task(faults(load, cluster, args.quick))
            await asyncio.gather(
                load.hotline(2.0), load.intake(2.0), *(load.resident(n, 0.5) for n in range(3)), fault_task
            )
            for _ in walkers:
                load.walk_queue.put_nowait(None)  # type: ignore[arg-type]
            await asyncio.gather(*walkers)
            print(f"• load done at {load.now()} s; draining the outboxes", flush=True)
            result = await check(url, load, receiver, drain_s=60 if args.quick else 90)
            result["faults"] = fault_task.result()
            result["load_s"] = duration
            code = write_report(result, quick=args.quick)
            await load.http.aclose()
            return code
        finally:
            for name in ("mobile", "wishes", "dispatch", "registry", "wechat"):
                if name in procs:
                    procs[name].stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 90 s of load instead of ~4 min")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (overrides)")
    args = parser.parse_args(argv)
    (WORK / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"• embedded PostgreSQL in .data/{CLUSTER}, database {DATABASE}: migrations and demo data")
    cluster = Cluster()
    try:
        url, env, sec = set_up(cluster)
        code = asyncio.run(drive(args, cluster, url, env, sec))
    finally:
        try:
            cluster.stop()
        except Exception as exc:  # already stopped, or never started
            print(f"(PostgreSQL stop: {exc})", file=sys.stderr)
        cluster.server._postmaster_info = None  # stopped: pgserver has nothing left to stop at exit
    print(
        f"• chaos run took {time.monotonic() - started:.0f} s in all; logs in {WORK.relative_to(ROOT)}/logs"
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
