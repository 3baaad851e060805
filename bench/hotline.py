"""`make bench`, 12345 hotline part: signed work-order intake against a bare insert baseline in the same
run, and the callback outbox's drain rate and its behaviour across an outage of the platform.

    python -m bench.hotline            # full run (about 5 minutes: the outages take 60 s each)
    python -m bench.hotline --quick    # shorter load run, 15 s outages

What runs, all on this machine (an embedded PostgreSQL cluster in .data/pg-bench, database
gridgov_bench_hotline, created afresh):

1. **Signed order intake.** The bare FastAPI + asyncpg insert baseline (bench/baseline_app.py,
   POST /insert), then registry and dispatch as their own uvicorn processes (dispatch places points on
   its copy of the registry's map) and `POST /api/v1/hotline/orders` at the same concurrency. Orders are
   `tools.hotline_platform.make_orders` content with unique order numbers, deadlines in the future and
   points inside the seeded map; every request is signed (HMAC-SHA256, a fresh nonce, a timestamp taken
   when the file is written, right before the run: they stay valid for 300 s). The load generator reads
   them with `--requests-file` and the file holds several times what the run can send. A few orders are
   checked first (201, a replay is 200, a reused nonce 401, a changed body 409).
   Target: throughput ≥ 0.30 × the baseline's, every measured answer a 201.
2. **Outbox drain.** Dispatch stopped, 4,000 orders × 5 events (签收, 延期申请, 延期审批, 办结, 回访)
   written straight into dispatch.hotline_callback (payloads as `callbacks.enqueue` builds them, for the
   tickets of step 1), then dispatch started with its callback URL on a `CallbackReceiver` (the fake
   platform, verifying signatures) served by this process. Callbacks/s from dispatch ready (or the
   first arrival, if earlier) to the last arrival. Target ≥ 500/s, every callback once and in order.
3. **Outage.** The receiver stops (connection refused), a fresh batch of callbacks is written, 60 s
   (quick: 15 s) pass, the receiver comes back on the same port: every callback must arrive, in order
   per order, none twice, and end `delivered` in the database. Reported: the time from the receiver's
   return to full delivery, with the district's default backoff (2 s doubling, capped at 600 s), and
   once more, labelled, with the cap at 10 s (and 30 attempts: 12 attempts at a 10 s cap cover only
   about 47–94 s of outage).

Results go to bench/results/hotline.json and HOTLINE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.dispatch import _service_account, fresh_database, start_registry
from bench.run import (
    DISTURBED_PCT,
    ROOT,
    Children,
    Config,
    CpuWatch,
    Layout,
    Server,
    asyncpg_dsn,
    free_port,
    insert_baseline,
    key,
    pg_info,
    run_load,
    run_part,
    seed,
    start_uvicorn,
    wait_for_quiet,
    write_lines,
)

RESULTS = ROOT / "bench" / "results"
DATABASE = "gridgov_bench_hotline"
ORDERS_PATH = "/api/v1/hotline/orders"
# targets from the issue
INTAKE_MIN_RATIO = 0.30
DRAIN_MIN_PER_S = 500.0
# the drain's events per order, in the order a case goes through them, and the ticket status after each
EVENTS = (
    ("accepted", "accepted"),
    ("extension_requested", "handling"),
    ("extension_decided", "handling"),
    ("completed", "closed"),
    ("satisfaction", "feedback"),
)
# signed requests written per second of load: the baseline does ~2,000/s here, so this is ample
SIGNED_PER_S = 5_000


# ---- orders and signed requests -----------------------------------------------------------------------


def realistic_orders(layout: Layout, rng: random.Random, n: int, tag: str) -> list[dict[str, Any]]:
    """`make_orders` content (appeal types, callers, urgencies, attachments), made fit to send now: a
    unique order_no, received in the last four hours, the same time to the deadline as generated, and a
    point inside the seeded map (placed on dispatch's copy of the map, no registry call)."""
    from tools.hotline_platform import CST, make_orders

    now = datetime.now(CST)
    out = make_orders(n, day=now.date(), seed=rng.randrange(2**31))
    for i, o in enumerate(out):
        received = datetime.fromisoformat(o["received_at"])
        deadline = datetime.fromisoformat(o["deadline_at"])
        new_received = (now - timedelta(minutes=rng.uniform(2, 240))).replace(microsecond=0)
        o["order_no"] = f"GD{now:%Y%m%d}{tag}{i:06d}"
        o["received_at"] = new_received.isoformat()
        o["deadline_at"] = (new_received + (deadline - received)).isoformat()
        x0, y0, x1, y1 = layout.grid_rect(rng.randrange(layout.n_grids))
        o["lat"], o["lng"] = round(rng.uniform(y0, y1), 6), round(rng.uniform(x0, x1), 6)
    return out


def order_body(order: dict[str, Any]) -> bytes:
    return json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode()


def signed(app_key: str, secret: str, body: bytes, **kw: Any) -> dict[str, str]:
    from tools.hotline_platform import signed_headers

    return signed_headers(app_key, secret, "POST", ORDERS_PATH, body, **kw)


def write_signed_requests(path: Path, orders: list[dict[str, Any]], app_key: str, secret: str) -> Path:
    """One JSON line per request for `tools.loadgen --requests-file`: its own nonce and signature."""
    lines = []
    for o in orders:
        body = order_body(o)
        lines.append(
            json.dumps({"headers": signed(app_key, secret, body), "body": body.decode()}, ensure_ascii=False)
        )
    write_lines(path, lines)
    os.chmod(path, 0o600)
    return path


async def install_key(url: str, secrets_key: str, app_key: str, secret: str) -> None:
    """The platform's inbound key, sealed as dispatch seals it, written before dispatch starts."""
    import asyncpg

    from shared.crypto import Sealer, decode_key

    sealed = Sealer(decode_key(secrets_key, "DISPATCH_SECRETS_KEY")).seal(secret, app_key.encode())
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(
            "INSERT INTO dispatch.hotline_key (app_key, sealed_secret, status, note, created_by, created_at) "
            "VALUES ($1, $2, 'active', 'benchmark', 'bench', now())",
            app_key,
            sealed,
        )
    finally:
        await conn.close()


def intake_check(base: str, orders: list[dict[str, Any]], app_key: str, secret: str) -> dict[str, Any]:
    """A few orders by hand before the load: each a 201; then the protocol's refusals still refuse."""
    statuses: dict[str, int] = {}
    units: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=10) as c:
        for o in orders:
            body = order_body(o)
            r = c.post(ORDERS_PATH, content=body, headers=signed(app_key, secret, body))
            if r.status_code != 201:
                raise RuntimeError(f"intake check failed: {r.status_code} {r.text[:500]}")
            t = r.json()
            statuses[t["status"]] = statuses.get(t["status"], 0) + 1
            unit = (t["unit"] or {}).get("code") or "-"
            units[unit] = units.get(unit, 0) + 1
        body = order_body(orders[0])
        headers = signed(app_key, secret, body)
        replay = c.post(ORDERS_PATH, content=body, headers=headers)
        same_nonce = c.post(ORDERS_PATH, content=body, headers=headers)
        changed = order_body({**orders[0], "content": orders[0]["content"] + "（补充说明）"})
        conflict = c.post(ORDERS_PATH, content=changed, headers=signed(app_key, secret, changed))
        bad = c.post(ORDERS_PATH, content=body, headers=signed(app_key, secret + "x", body))
    checks = {
        "resent order → 200 replayed": replay.status_code == 200
        and replay.headers.get("Idempotent-Replayed") == "true",
        "reused nonce → 401": same_nonce.status_code == 401,
        "same order_no, changed content → 409": conflict.status_code == 409,
        "wrong secret → 401": bad.status_code == 401,
    }
    if not all(checks.values()):
        raise RuntimeError(f"hotline protocol check failed: {checks}")
    return {"asked": len(orders), "statuses": statuses, "units": units, "protocol": checks}


async def _sessions(url: str) -> int:
    conn = await _conn(url)
    try:
        return int(
            await conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        )
    finally:
        await conn.close()


class PgWatch:
    """What CpuWatch does not see: connections opened during a run (pg_stat_database.sessions) and the
    CPU of backends that exited before the run ended (reaped by the postmaster, so in its children's
    times); CpuWatch counts only processes alive at the end, so that CPU would read as other processes'."""

    def __init__(self, url: str, pg_pid: int | None) -> None:
        self.url, self.pg_pid = url, pg_pid

    def _reaped(self) -> float:
        try:
            t = psutil.Process(self.pg_pid).cpu_times() if self.pg_pid else None
        except psutil.Error:
            t = None
        return t.children_user + t.children_system if t is not None else 0.0

    def start(self) -> None:
        self.s0 = asyncio.run(_sessions(self.url))
        self.c0, self.t0 = self._reaped(), time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        reaped = self._reaped() - self.c0
        return {
            "db_sessions_opened": asyncio.run(_sessions(self.url)) - self.s0 - 1,  # less this query's own
            "postgres_exited_backends_cpu_pct": round(100.0 * reaped / wall, 1) if wall > 0 else 0.0,
        }


def run_signed_load(
    children: Children,
    label: str,
    cfg: Config,
    *,
    url: str,
    concurrency: int,
    watch: dict[str, int | None],
    make_requests: Callable[[], Path],
    pg: PgWatch,
) -> dict[str, Any]:
    """`bench.run.run_load` for signed requests: the file is written after the wait for a quiet machine,
    right before the load generator starts, so every timestamp is seconds old when it is sent."""
    print(f"• {label}: {concurrency} clients, {cfg.warmup:g} s warm-up + {cfg.duration:g} s", flush=True)
    waited = wait_for_quiet(watch)
    t0 = time.perf_counter()
    requests_file = make_requests()
    signing_s = round(time.perf_counter() - t0, 1)
    cmd = [sys.executable, "-m", "tools.loadgen", "--url", url, "--concurrency", str(concurrency)]
    cmd += ["--duration", str(cfg.duration), "--warmup", str(cfg.warmup), "--method", "POST"]
    cmd += ["--requests-file", str(requests_file)]
    cpu = CpuWatch(watch)
    pg.start()
    cpu.start()
    t_start = time.perf_counter()
    p = children.spawn("loadgen", cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=cfg.warmup + cfg.duration + 120)
    finally:
        children.stop(p)
    usage = cpu.stop()
    window_s = time.perf_counter() - t_start
    churn = pg.stop()
    if p.returncode != 0:
        raise RuntimeError(f"loadgen failed ({p.returncode}): {err.decode(errors='replace')[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result.update(usage)
    result.update(churn)
    ours = sum(v for k, v in usage.items() if k != "machine_cpu_pct") + result["loadgen_cpu_pct"]
    ours += churn["postgres_exited_backends_cpu_pct"]
    result["other_cpu_pct"] = round(max(0.0, usage["machine_cpu_pct"] - ours), 1)
    # the CPU window also holds the load generator's start (reading the file) and the warm-up
    result["cpu_window_s"] = round(window_s, 2)
    result["dispatch_cpu_ms_per_request"] = round(
        10.0 * usage.get("dispatch_cpu_pct", 0.0) * window_s / max(result["requests_issued"], 1), 2
    )
    result["label"] = label
    result["waited_for_quiet_s"] = waited
    result["signing_s"] = signing_s
    print(
        f"    {result['rps']:.0f} rps, p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
        f"statuses {result['statuses']}, errors {result['errors']}, {result['requests_issued']:,} of "
        f"{result['distinct_requests']:,} signed requests used; CPU % of one core: "
        + ", ".join(
            f"{k.removesuffix('_cpu_pct')} {v:.0f}" for k, v in usage.items() if k != "machine_cpu_pct"
        )
        + f", postgres backends that exited during the run {churn['postgres_exited_backends_cpu_pct']:.0f}"
        + f", loadgen {result['loadgen_cpu_pct']:.0f}, other processes {result['other_cpu_pct']:.0f}; "
        f"{churn['db_sessions_opened']:,} database connections opened",
        flush=True,
    )
    return result


# ---- the outbox --------------------------------------------------------------------------------------


def callback_rows(
    orders: list[dict[str, Any]], pool: list[dict[str, Any]], n_orders: int, tag: str, now: datetime
) -> list[tuple[Any, ...]]:
    """`n_orders` × 5 pending callbacks shaped as `callbacks.enqueue` writes them: for `orders` (real
    orders of the intake run) while they last, then for new order numbers on tickets from `pool`."""
    from services.dispatch.hotline.callbacks import EVENT_LABELS
    from services.dispatch.worktime import CST

    if not pool:
        raise RuntimeError("no tickets from the intake run to write callbacks for")
    rows = []
    for i in range(n_orders):
        t = orders[i] if i < len(orders) else pool[i % len(pool)]
        order_no = t["order_no"] if i < len(orders) else f"CB{tag}{i:06d}"
        for seq, (event, status) in enumerate(EVENTS, start=1):
            at = now - timedelta(seconds=60 - seq)
            payload = {
                "event_id": f"{order_no}-{seq}",
                "order_no": order_no,
                "seq": seq,
                "event": event,
                "event_label": EVENT_LABELS[event],
                "occurred_at": at.astimezone(CST).isoformat(),
                "ticket_number": t["number"],
                "status": status,
                "unit_code": t["unit"],
                "unit_name": t["unit_name"],
                "merged_into": None,
                "data": {},
            }
            rows.append(
                (
                    order_no,
                    seq,
                    event,
                    t["ticket_id"],
                    json.dumps(payload, ensure_ascii=False),
                    "pending",
                    0,
                    at,
                    at,
                )
            )
    return rows


CALLBACK_COLS = [
    "order_no",
    "seq",
    "event",
    "ticket_id",
    "payload",
    "state",
    "attempts",
    "created_at",
    "next_attempt_at",
]


async def _conn(url: str) -> Any:
    import asyncpg

    return await asyncpg.connect(asyncpg_dsn(url))


async def hotline_tickets(url: str, limit: int) -> list[dict[str, Any]]:
    conn = await _conn(url)
    try:
        rows = await conn.fetch(
            "SELECT o.order_no, o.ticket_id, t.number, t.unit, d.name AS unit_name "
            "FROM dispatch.hotline_order o JOIN dispatch.ticket t ON t.id = o.ticket_id "
            "LEFT JOIN dispatch.department d ON d.code = t.unit ORDER BY o.created_at, o.order_no LIMIT $1",
            limit,
        )
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def write_callbacks(url: str, rows: list[tuple[Any, ...]]) -> float:
    conn = await _conn(url)
    try:
        t0 = time.perf_counter()
        await conn.copy_records_to_table(
            "hotline_callback", schema_name="dispatch", columns=CALLBACK_COLS, records=rows
        )
        await conn.execute("ANALYZE dispatch.hotline_callback")
        return round(time.perf_counter() - t0, 2)
    finally:
        await conn.close()


async def outbox_state(url: str, order_nos: list[str]) -> dict[str, Any]:
    """The batch's callbacks in the database: states, attempts, and the delivery log's outcomes."""
    conn = await _conn(url)
    try:
        states = await conn.fetch(
            "SELECT state, count(*) AS n FROM dispatch.hotline_callback WHERE order_no = ANY($1) GROUP BY state",
            order_nos,
        )
        att = await conn.fetchrow(
            "SELECT max(attempts) AS max, round(avg(attempts), 2)::float AS mean, sum(attempts) AS total "
            "FROM dispatch.hotline_callback WHERE order_no = ANY($1)",
            order_nos,
        )
        log = await conn.fetch(
            "SELECT d.outcome, count(*) AS n FROM dispatch.hotline_delivery d "
            "JOIN dispatch.hotline_callback c ON c.id = d.callback_id WHERE c.order_no = ANY($1) "
            "GROUP BY d.outcome",
            order_nos,
        )
        return {
            "states": {r["state"]: r["n"] for r in states},
            "attempts_max": att["max"],
            "attempts_mean": att["mean"],
            "attempts_total": att["total"],
            "delivery_log": {r["outcome"]: r["n"] for r in log},
        }
    finally:
        await conn.close()


async def wait_all_delivered(url: str, order_nos: list[str], n: int, limit_s: float) -> dict[str, Any]:
    """The courier records outcomes after each pass's sends: poll until the batch reads delivered."""
    deadline = time.monotonic() + limit_s
    while True:
        state = await outbox_state(url, order_nos)
        if state["states"].get("delivered", 0) == n or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.2)


class Arrivals:
    """When each callback reached the receiver (perf_counter seconds)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, payload: dict[str, Any]) -> None:
        self.times.append(time.perf_counter())


def verdict(receiver: Any, expected: set[str], db: dict[str, Any], n: int) -> dict[str, Any]:
    """What the platform saw against what it was owed, and what the database says."""
    got = {p["event_id"] for p in receiver.received}
    out = {
        "expected": n,
        "received": len(receiver.received),
        "missing": len(expected - got),
        "unexpected": len(got - expected),
        "duplicates": receiver.duplicates,
        "order_violations": len(receiver.violations),
        "violation_examples": receiver.violations[:5],
        "rejected": receiver.rejected,
        "rejections": sorted(set(receiver.rejections))[:5],
        "malformed": len(receiver.malformed),
        "attempts_seen_by_receiver": receiver.attempts,
        "db": db,
    }
    out["all_ok"] = (
        out["received"] == n
        and not out["missing"]
        and not out["unexpected"]
        and not out["duplicates"]
        and not out["order_violations"]
        and not out["rejected"]
        and not out["malformed"]
        and db["states"] == {"delivered": n}
    )
    return out


def port_refuses(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_dispatch(children: Children, env: dict[str, str], work: Path, name: str) -> Server:
    return start_uvicorn(
        children, name, "services.dispatch.app:create_app", env, work, "/readyz", factory=True
    )


async def drain_run(
    children: Children,
    work: Path,
    url: str,
    env: dict[str, str],
    pg_pid: int | None,
    rows: list[tuple[Any, ...]],
    port: int,
    cb_key: str,
    cb_secret: str,
) -> tuple[dict[str, Any], Server]:
    """Callbacks waiting in the outbox, then dispatch started against a live receiver: callbacks/s."""
    from tools.hotline_platform import CallbackReceiver

    n = len(rows)
    order_nos = sorted({r[0] for r in rows})
    expected = {f"{r[0]}-{r[1]}" for r in rows}
    print(f"• outbox drain: {n:,} callbacks ({len(order_nos):,} orders × {len(EVENTS)})", flush=True)
    copy_s = await write_callbacks(url, rows)
    arrivals = Arrivals()
    receiver = CallbackReceiver(cb_key, cb_secret, on_event=arrivals)
    async with receiver.serve(port=port):
        await asyncio.to_thread(wait_for_quiet, {"postgres": pg_pid})
        t_spawn = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        dispatch = await asyncio.to_thread(start_dispatch, children, env, work, "dispatch-drain")
        t_ready = time.perf_counter()
        cpu = CpuWatch({"dispatch": dispatch.proc.pid, "postgres": pg_pid})
        cpu.start()
        done = await receiver.wait_for(n, timeout=max(120.0, n / 50))
        usage = cpu.stop()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(0.5)  # anything sent twice or unasked for would arrive now
    db = await wait_all_delivered(url, order_nos, n, 30.0)
    times = arrivals.times
    done = done and len(times) >= n
    first = times[0] if times else t_ready
    last = times[n - 1] if done else time.perf_counter()
    secs = last - min(t_ready, first)
    out = {
        "callbacks": n,
        "orders": len(order_nos),
        "copy_s": copy_s,
        "all_arrived": done,
        "dispatch_start_s": round(t_ready - t_spawn, 2),
        "first_arrival_after_ready_s": round(first - t_ready, 3),
        "drain_s": round(secs, 3),
        "per_s": round(n / secs, 1) if done and secs > 0 else 0.0,
        "per_s_first_to_last": round((n - 1) / (last - first), 1) if done and last > first else 0.0,
        "receiver_cpu_pct": round(
            100.0
            * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime))
            / max(time.perf_counter() - t_spawn, 1e-9),
            1,
        ),
        **usage,
        **verdict(receiver, expected, db, n),
    }
    print(
        f"    {out['per_s']:,.0f} callbacks/s over {secs:.2f} s ({out['per_s_first_to_last']:,.0f}/s first to "
        f"last arrival); received {out['received']:,}, duplicates {out['duplicates']}, order violations "
        f"{out['order_violations']}, rejected {out['rejected']}; DB {db['states']}; CPU % of one core: dispatch "
        f"{usage['dispatch_cpu_pct']:.0f}, postgres {usage['postgres_cpu_pct']:.0f}, receiver (this process) "
        f"{out['receiver_cpu_pct']:.0f}",
        flush=True,
    )
    return out, dispatch


async def outage_run(
    label: str,
    url: str,
    rows: list[tuple[Any, ...]],
    port: int,
    cb_key: str,
    cb_secret: str,
    down_s: float,
    settings: dict[str, str],
) -> dict[str, Any]:
    """With dispatch running and the receiver down: write a batch, wait `down_s`, bring the receiver
    back on the same port and time full delivery."""
    from tools.hotline_platform import CallbackReceiver

    n = len(rows)
    order_nos = sorted({r[0] for r in rows})
    expected = {f"{r[0]}-{r[1]}" for r in rows}
    print(f"• outage, {label}: {n:,} callbacks, receiver down for {down_s:g} s", flush=True)
    if not port_refuses(port):
        raise RuntimeError(f"port {port} still accepts connections: the receiver is not down")
    copy_s = await write_callbacks(url, rows)
    t_down = time.perf_counter()
    await asyncio.sleep(down_s)
    during = await outbox_state(url, order_nos)
    refused = port_refuses(port)
    arrivals = Arrivals()
    receiver = CallbackReceiver(cb_key, cb_secret, on_event=arrivals)
    backoff_max = float(settings["DISPATCH_HOTLINE_CALLBACK_BACKOFF_MAX_S"])
    async with receiver.serve(port=port):
        t_back = time.perf_counter()
        done = await receiver.wait_for(n, timeout=min(backoff_max, 2 * down_s + 10) + 180.0)
        t_wait = time.perf_counter()
        await asyncio.sleep(0.5)
    db = await wait_all_delivered(url, order_nos, n, 30.0)
    times = arrivals.times
    out = {
        "label": label,
        "settings": settings,
        "callbacks": n,
        "orders": len(order_nos),
        "copy_s": copy_s,
        "down_s": round(t_back - t_down, 1),
        "refused_while_down": refused,
        "while_down": during,
        "all_arrived": done,
        "first_arrival_after_return_s": round(times[0] - t_back, 2) if times else None,
        "full_delivery_after_return_s": round(times[n - 1] - t_back, 2) if len(times) >= n else None,
        # first to last arrival after the return: the drain's own rate, or the retry schedule's
        "recovery_per_s": round((n - 1) / (times[n - 1] - times[0]), 1)
        if len(times) >= n and times[n - 1] > times[0]
        else None,
        "waited_s": round(t_wait - t_back, 1),
        **verdict(receiver, expected, db, n),
    }
    print(
        f"    while down: {during['states']}, attempts max {during['attempts_max']} (total "
        f"{during['attempts_total']:,}); back: first arrival after {out['first_arrival_after_return_s']} s, "
        f"all {n:,} after {out['full_delivery_after_return_s']} s; duplicates {out['duplicates']}, order "
        f"violations {out['order_violations']}, missing {out['missing']}, rejected {out['rejected']}; "
        f"DB {db['states']}",
        flush=True,
    )
    return out


async def count_intake(url: str) -> dict[str, Any]:
    conn = await _conn(url)
    try:
        orders = await conn.fetchval("SELECT count(*) FROM dispatch.hotline_order")
        nonces = await conn.fetchval("SELECT count(*) FROM dispatch.hotline_nonce")
        status = await conn.fetch(
            "SELECT status, count(*) AS n FROM dispatch.ticket WHERE channel = 'hotline' "
            "GROUP BY status ORDER BY 2 DESC"
        )
        place = await conn.fetch(
            "SELECT place_status, count(*) AS n FROM dispatch.ticket WHERE channel = 'hotline' GROUP BY 1"
        )
        return {
            "orders": orders,
            "nonces": nonces,
            "ticket_status": {r["status"]: r["n"] for r in status},
            "place_status": {r["place_status"]: r["n"] for r in place},
        }
    finally:
        await conn.close()


# ---- the run -----------------------------------------------------------------------------------------


def _default(setting: str) -> Any:
    from services.dispatch.settings import DispatchSettings

    return DispatchSettings.model_fields[setting].default


def bench(cfg: Config, args: argparse.Namespace, children: Children, work: Path) -> dict[str, Any]:
    res: dict[str, Any] = {
        "config": {
            "quick": cfg.quick,
            "duration": cfg.duration,
            "warmup": cfg.warmup,
            "concurrency": cfg.concurrency,
            "grids": args.grids,
            "drain_orders": args.drain_orders,
            "down_s": args.down,
            "callback_batch": _default("hotline_callback_batch"),
            "callback_concurrency": _default("hotline_callback_concurrency"),
        }
    }
    rng = random.Random(20261122)
    started = time.perf_counter()

    print("• database", flush=True)
    url, pg_pid = fresh_database(DATABASE)
    res["postgres"] = pg_info(url)
    layout = Layout(args.grids, 4)
    username, password = "bench-admin", secrets.token_urlsafe(18)
    res["seed"] = {
        k: v
        for k, v in asyncio.run(seed(url, layout, 400, username, password)).items()
        if k != "building_codes"
    }
    svc_secret = secrets.token_urlsafe(24)
    asyncio.run(_service_account(url, svc_secret))
    secrets_key = key()
    app_key, app_secret = f"hl-bench-{secrets.token_hex(4)}", secrets.token_urlsafe(32)
    cb_key, cb_secret = f"cb-bench-{secrets.token_hex(4)}", secrets.token_urlsafe(32)
    asyncio.run(install_key(url, secrets_key, app_key, app_secret))

    n_signed = int((cfg.warmup + cfg.duration) * SIGNED_PER_S)
    print(f"• {n_signed:,} work orders (make_orders content, points in the seeded map)", flush=True)
    tag = secrets.token_hex(2).upper()
    orders = realistic_orders(layout, rng, n_signed + 30, tag)
    check_orders, load_orders = orders[:30], orders[30:]

    pg = PgWatch(url, pg_pid)
    pg.start()
    res["baseline_insert"] = insert_baseline(children, cfg, url, work, pg_pid)
    res["baseline_insert"]["db_sessions_opened"] = pg.stop()["db_sessions_opened"]

    registry, disp_env = start_registry(children, url, work, svc_secret, secrets_key)
    dispatch = start_dispatch(children, disp_env, work, "dispatch")
    res["intake_check"] = intake_check(dispatch.base, check_orders, app_key, app_secret)
    print(f"    intake check: {res['intake_check']}", flush=True)
    # the service's own bare endpoint, the second baseline every ratio is reported against
    res["healthz"] = run_load(
        children,
        "dispatch GET /healthz",
        cfg,
        url=dispatch.base + "/healthz",
        concurrency=cfg.concurrency,
        watch={"dispatch": dispatch.proc.pid, "registry": registry.proc.pid, "postgres": pg_pid},
    )

    res["hotline_intake"] = run_signed_load(
        children,
        "dispatch POST /api/v1/hotline/orders, signed",
        cfg,
        url=dispatch.base + ORDERS_PATH,
        concurrency=cfg.concurrency,
        watch={"dispatch": dispatch.proc.pid, "registry": registry.proc.pid, "postgres": pg_pid},
        make_requests=lambda: write_signed_requests(work / "signed.jsonl", load_orders, app_key, app_secret),
        pg=pg,
    )
    (work / "signed.jsonl").unlink(missing_ok=True)
    res["intake_after_load"] = asyncio.run(count_intake(url))
    print(f"    stored: {res['intake_after_load']}", flush=True)
    children.stop(dispatch.proc)

    if args.pool_run:
        # Informative: the same load with the pool the services had before (10 kept, 10 overflow), whose
        # overflow connections are closed on return and so churn under 32 clients (db_sessions_opened);
        # the default is now 20 kept, no overflow, like the baseline's asyncpg pool.
        pool_env = {**disp_env, "DISPATCH_DB_POOL_SIZE": "10", "DISPATCH_DB_MAX_OVERFLOW": "10"}
        dispatch = start_dispatch(children, pool_env, work, "dispatch-overflow")
        more = realistic_orders(layout, rng, n_signed, "P" + tag)
        res["hotline_intake_old_pool"] = run_signed_load(
            children,
            "dispatch POST /api/v1/hotline/orders, signed, old pool 10 + 10 overflow (informative)",
            cfg,
            url=dispatch.base + ORDERS_PATH,
            concurrency=cfg.concurrency,
            watch={"dispatch": dispatch.proc.pid, "registry": registry.proc.pid, "postgres": pg_pid},
            make_requests=lambda: write_signed_requests(work / "signed.jsonl", more, app_key, app_secret),
            pg=pg,
        )
        res["hotline_intake_old_pool"]["settings"] = {
            k: v for k, v in pool_env.items() if k.startswith("DISPATCH_DB_")
        }
        (work / "signed.jsonl").unlink(missing_ok=True)
        children.stop(dispatch.proc)

    # ---- the outbox ----
    tickets = asyncio.run(hotline_tickets(url, 3 * args.drain_orders))
    port = free_port()
    cb_env = {
        **disp_env,
        "DISPATCH_HOTLINE_CALLBACK_URL": f"http://127.0.0.1:{port}/callbacks",
        "DISPATCH_HOTLINE_CALLBACK_APP_KEY": cb_key,
        "DISPATCH_HOTLINE_CALLBACK_SECRET": cb_secret,
        "DISPATCH_HOTLINE_CALLBACK_INTERVAL_S": "0.2",
    }
    default_backoff = {
        "DISPATCH_HOTLINE_CALLBACK_BACKOFF_S": "2",
        "DISPATCH_HOTLINE_CALLBACK_BACKOFF_MAX_S": "600",
        "DISPATCH_HOTLINE_CALLBACK_MAX_ATTEMPTS": "12",
    }
    short_cap = {
        "DISPATCH_HOTLINE_CALLBACK_BACKOFF_S": "2",
        "DISPATCH_HOTLINE_CALLBACK_BACKOFF_MAX_S": "10",
        "DISPATCH_HOTLINE_CALLBACK_MAX_ATTEMPTS": "30",
    }
    n = args.drain_orders
    batches = [tickets[i * n : (i + 1) * n] for i in range(3)]  # each order's callbacks in one run only
    now = datetime.now(UTC)

    async def outbox() -> None:
        drain, disp = await drain_run(
            children,
            work,
            url,
            {**cb_env, **default_backoff},
            pg_pid,
            callback_rows(batches[0], tickets, n, "D" + tag, now),
            port,
            cb_key,
            cb_secret,
        )
        res["drain"] = drain
        res["outage"] = await outage_run(
            "default backoff (2 s doubling, cap 600 s, 12 attempts)",
            url,
            callback_rows(batches[1], tickets, n, "O" + tag, datetime.now(UTC)),
            port,
            cb_key,
            cb_secret,
            args.down,
            default_backoff,
        )
        await asyncio.to_thread(children.stop, disp.proc)
        if args.short_cap:
            disp = await asyncio.to_thread(
                start_dispatch, children, {**cb_env, **short_cap}, work, "dispatch-short-cap"
            )
            res["outage_short_cap"] = await outage_run(
                "backoff capped at 10 s, 30 attempts (informative)",
                url,
                callback_rows(batches[2], tickets, n, "S" + tag, datetime.now(UTC)),
                port,
                cb_key,
                cb_secret,
                args.down,
                short_cap,
            )
            await asyncio.to_thread(children.stop, disp.proc)

    asyncio.run(outbox())
    children.stop(registry.proc)
    res["total_s"] = round(time.perf_counter() - started, 1)
    return res


# ---- the report --------------------------------------------------------------------------------------


def figures(res: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []

    def add(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append({"figure": name, "value": value, "target": target, "ok": ok})

    c = res["config"]["concurrency"]
    b = res["baseline_insert"]
    add(
        f"baseline FastAPI + asyncpg insert @{c}",
        f"{b['rps']:,.0f} rps, p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms",
        "reference",
        None,
    )
    if hz := res.get("healthz"):  # parts run before it was measured have none
        add(
            f"baseline dispatch GET /healthz @{c}",
            f"{hz['rps']:,.0f} rps, p50 {hz['p50_ms']:.1f} ms, p99 {hz['p99_ms']:.1f} ms",
            "reference",
            None,
        )
    for key_, label, informative in (
        ("hotline_intake", "signed order intake POST /api/v1/hotline/orders", False),
        ("hotline_intake_old_pool", "the same with the old pool, 10 kept + 10 overflow (informative)", True),
    ):
        x = res.get(key_)
        if not x:
            continue
        ratio = x["rps"] / b["rps"] if b["rps"] else 0.0
        all_201 = set(x["statuses"]) == {"201"} and not x["errors"]
        disturbed = [
            f"⚠ other processes used {r['other_cpu_pct']:.0f}% of a core during the {name} run"
            for name, r in (("baseline", b), ("order", x))
            if r.get("other_cpu_pct", 0.0) >= DISTURBED_PCT
        ]
        add(
            f"{label} @{c}",
            f"{x['rps']:,.0f} rps = {ratio:.2f} × baseline, p50 {x['p50_ms']:.1f} ms, p99 {x['p99_ms']:.1f} ms; "
            f"statuses {', '.join(f'{k}: {v:,}' for k, v in x['statuses'].items())}, errors {x['errors']}; "
            f"dispatch {x['dispatch_cpu_ms_per_request']:.2f} ms CPU per order; "
            f"{x['db_sessions_opened']:,} database connections opened (baseline {b['db_sessions_opened']:,})"
            + (" (signed requests ran out and cycled)" if x["cycled"] else "")
            + "".join(f"; {d}" for d in disturbed),
            "informative" if informative else f"≥ {INTAKE_MIN_RATIO:.2f} ×, all 201",
            None if informative else ratio >= INTAKE_MIN_RATIO and all_201 and not x["cycled"],
        )
    d = res["drain"]
    add(
        f"outbox drain, {d['callbacks']:,} callbacks ({d['orders']:,} orders × {len(EVENTS)})",
        f"{d['per_s']:,.0f} callbacks/s ({d['drain_s']:.1f} s); duplicates {d['duplicates']}, order "
        f"violations {d['order_violations']}, missing {d['missing']}, DB {_states(d['db'])}",
        f"≥ {DRAIN_MIN_PER_S:.0f}/s, each once, in order",
        d["per_s"] >= DRAIN_MIN_PER_S and d["all_ok"],
    )
    for key_ in ("outage", "outage_short_cap"):
        o = res.get(key_)
        if not o:
            continue
        full = o["full_delivery_after_return_s"]
        add(
            f"outage: receiver down {o['down_s']:.0f} s, {o['callbacks']:,} callbacks; {o['label']}",
            f"all delivered {full if full is not None else '—'} s after its return (first after "
            f"{o['first_arrival_after_return_s']} s, then {o['recovery_per_s'] or 0:,.0f}/s); "
            f"duplicates {o['duplicates']}, order violations {o['order_violations']}, missing "
            f"{o['missing']}, rejected {o['rejected']}, DB {_states(o['db'])}; "
            f"attempts while down ≤ {o['while_down']['attempts_max']}"
            + ("" if o["while_down"]["attempts_max"] else " (⚠ none: the retry path was not exercised)"),
            "every callback, in order, none twice, all delivered",
            o["all_ok"],
        )
    return rows


def _states(db: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(db["states"].items())) or "empty"


def markdown(rows: list[dict[str, Any]]) -> str:
    out = ["| figure | value | target | |", "|---|---|---|---|"]
    for r in rows:
        mark = "" if r["ok"] is None else ("✔" if r["ok"] else "✘")
        out.append(f"| {r['figure']} | {r['value']} | {r['target']} | {mark} |")
    return "\n".join(out)


def report(res: dict[str, Any], table: str) -> str:
    env, pg, cfg = res["environment"], res["postgres"], res["config"]
    x = res["hotline_intake"]
    cpu = ", ".join(
        f"{name} {x[k]:.0f}%"
        for k, name in (
            ("dispatch_cpu_pct", "dispatch"),
            ("registry_cpu_pct", "registry"),
            ("postgres_cpu_pct", "postgres"),
            ("postgres_exited_backends_cpu_pct", "postgres backends that exited during the run"),
            ("loadgen_cpu_pct", "loadgen"),
            ("other_cpu_pct", "other processes"),
        )
        if k in x
    )
    d = res["drain"]
    return (
        "# 12345 hotline benchmark\n\n"
        f"{env['date']} · commit {env['git_commit']} · {'quick run' if cfg['quick'] else 'full run'} · "
        f"total {res['total_s']:.0f} s\n\n" + table + "\n\n"
        f"**Machine: {env['cores_logical']} cores** ({env['cpu_model']}), {env['memory_gb']} GB RAM, shared by "
        "the load generator, the servers, the callback receiver and PostgreSQL "
        f"({pg['version'].split(',')[0]}, embedded; fsync {pg['fsync']}, synchronous_commit "
        f"{pg['synchronous_commit']}). Python {env['python']}; servers are uvicorn (1 process, uvloop, "
        "httptools).\n\n"
        f"Intake: closed loop, {cfg['concurrency']} keep-alive clients, {cfg['warmup']:g} s warm-up + "
        f"{cfg['duration']:g} s measured for both the baseline and the orders; {x['distinct_requests']:,} "
        f"distinct signed orders written right before the run, {x['requests_issued']:,} sent. CPU during the "
        f"order run (% of one core, over {x['cpu_window_s']:.0f} s including the load generator's start): "
        f"{cpu}. Database connections opened during the run: dispatch (pool of 20, no overflow) "
        f"{x['db_sessions_opened']:,}, the baseline's asyncpg pool "
        f"{res['baseline_insert']['db_sessions_opened']:,}"
        + (
            f", dispatch with the old pool (10 + 10 overflow, closed on return) "
            f"{res['hotline_intake_old_pool']['db_sessions_opened']:,}"
            if res.get("hotline_intake_old_pool")
            else ""
        )
        + ".\n\n"
        f"Drain: callbacks written with COPY before dispatch starts; receiver = `tools.hotline_platform."
        f"CallbackReceiver` in the benchmark process (it verifies every signature; it used "
        f"{d['receiver_cpu_pct']:.0f}% of a core, dispatch {d['dispatch_cpu_pct']:.0f}%, PostgreSQL "
        f"{d['postgres_cpu_pct']:.0f}%). Dispatch settings: callback interval 0.2 s, batch "
        f"{cfg['callback_batch']}, {cfg['callback_concurrency']} in flight (the defaults). "
        "Raw figures: hotline.json.\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="GridGov 12345 hotline benchmark; report in bench/results/")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--duration", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--grids", type=int, default=500)
    p.add_argument("--drain-orders", type=int, default=4000, help="orders × 5 callbacks per outbox run")
    p.add_argument("--down", type=float, help="seconds the receiver is down (default 60, quick 15)")
    p.add_argument(
        "--pool-run",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the order load with the old 10 + 10 overflow pool (informative)",
    )
    p.add_argument(
        "--short-cap",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the outage with the backoff capped at 10 s (informative)",
    )
    args, _unknown = p.parse_known_args(argv)  # make bench passes the registry's options too
    args.down = args.down or (15.0 if args.quick else 60.0)
    cfg = Config.for_service(args)
    return run_part(
        "hotline",
        lambda children, work: bench(cfg, args, children, work),
        figures,
        markdown,
        report,
    )


if __name__ == "__main__":
    sys.exit(main())
