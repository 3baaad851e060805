"""`make bench`, dispatch part: intake throughput against a bare insert baseline in the same run,
routing quality and speed, and the weekly report over 1,000,000 tickets.

    python -m bench.dispatch            # full run (a few minutes)
    python -m bench.dispatch --quick    # shorter load runs, 200,000 tickets for the report

Intake runs as real processes: the baseline (bench/baseline_app.py), the registry and dispatch each in
their own uvicorn, the load generator in another, all on this machine's cores. Two intake loads are
measured: every report at a new point, and reports from 2,000 recurring spots (the same corner, the same
bin: what a district sees). Dispatch places points on its copy of the registry's map (fetched over REST
at start, refreshed by revision), so neither run makes a registry call per report; address-only reports
would (through a short cache). Results go to bench/results/dispatch.json and DISPATCH.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.run import (
    CLUSTER,
    ROOT,
    Children,
    Config,
    Layout,
    asyncpg_dsn,
    insert_baseline,
    key,
    login,
    run_load,
    run_part,
    seed,
    start_uvicorn,
    write_lines,
)

RESULTS = ROOT / "bench" / "results"
DATABASE = "gridgov_bench_dispatch"
REPORT_DATABASE = "gridgov_bench_report"
EVAL = sorted((ROOT / "tests" / "data").glob("complaints_eval_part*.jsonl"))
# targets from the issue
INTAKE_MIN_RATIO = 0.35
INTAKE_MAX_P99_MS = 100.0
MATCH_MAX_P99_MS = 5.0
REPORT_MAX_S = 3.0
TOP1_AIM = 0.92


def eval_cases() -> list[dict[str, Any]]:
    return [
        json.loads(line) for p in EVAL for line in p.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def routing_quality() -> dict[str, Any]:
    """Accuracy on the labelled set and the in-process latency of one match (285 standards)."""
    from services.dispatch.catalog import load_standards
    from services.dispatch.routing import Router

    cases = eval_cases()
    t0 = time.perf_counter()
    router = Router(load_standards())
    build_s = time.perf_counter() - t0
    top1 = top3 = confident = confident_right = 0
    for c in cases:
        m = router.match(c["text"], 3)
        right = bool(m.candidates) and m.candidates[0].department == c["unit"]
        top1 += right
        top3 += c["standard"] in [x.code for x in m.candidates]
        if m.confident:
            confident += 1
            confident_right += right
    hard = [c for c in cases if c.get("hard")]
    hard_right = sum(
        1
        for c in hard
        if (m := router.match(c["text"], 3)).candidates and m.candidates[0].department == c["unit"]
    )
    times = []
    for _ in range(5):
        for c in cases:
            t = time.perf_counter()
            router.match(c["text"], 3)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    n = len(cases)
    return {
        "cases": n,
        "hard_cases": len(hard),
        "top1_unit_accuracy": round(top1 / n, 4),
        "hard_top1_unit_accuracy": round(hard_right / max(len(hard), 1), 4),
        "top3_standard_recall": round(top3 / n, 4),
        "confident_share": round(confident / n, 4),
        "confident_accuracy": round(confident_right / max(confident, 1), 4),
        "match_ms_p50": round(times[len(times) // 2], 3),
        "match_ms_p99": round(times[int(len(times) * 0.99)], 3),
        "match_ms_max": round(times[-1], 3),
        "router_build_s": round(build_s, 2),
    }


async def _service_account(url: str, secret: str, name: str = "dispatch") -> None:
    """The registry account `svc-<name>` a service logs in with (client credentials)."""
    from services.registry.service.accounts import upsert_service_account
    from shared.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        await upsert_service_account(session, name, secret)
        await session.commit()
    await engine.dispose()


def fresh_database(name: str) -> tuple[str, int | None]:
    from tools import db as devdb

    external = os.environ.get("BENCH_DATABASE_URL", "")
    if external:
        raise SystemExit("bench.dispatch uses its own embedded databases; unset BENCH_DATABASE_URL")
    server = devdb.embedded_server(CLUSTER)
    url = devdb.ensure_database(server, name, fresh=True)
    asyncio.run(devdb.wait_ready(url))
    devdb.upgrade(url)
    try:
        pid = int((devdb.DATA / CLUSTER / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid = None
    return url, pid


def intake_bodies(layout: Layout, rng: random.Random, n: int, spots: int | None) -> list[str]:
    cases = eval_cases()
    channels = ["mini_program", "patrol", "hotline", "wechat_group", "snapshot", "phone"]
    if spots:
        fixed = []
        for _ in range(spots):
            x0, y0, x1, y1 = layout.grid_rect(rng.randrange(layout.n_grids))
            fixed.append((round(rng.uniform(y0, y1), 6), round(rng.uniform(x0, x1), 6)))
    out = []
    for i in range(n):
        if spots:
            lat, lng = fixed[rng.randrange(spots)]
        else:
            x0, y0, x1, y1 = layout.grid_rect(rng.randrange(layout.n_grids))
            lat, lng = round(rng.uniform(y0, y1), 6), round(rng.uniform(x0, x1), 6)
        c = cases[i % len(cases)]
        out.append(
            json.dumps(
                {
                    "channel": channels[i % len(channels)],
                    "text": c["text"],
                    "lat": lat,
                    "lng": lng,
                    "reporter": {"name": "张三", "phone": f"139{rng.randrange(10**8):08d}"},
                },
                ensure_ascii=False,
            )
        )
    return out


def start_registry(
    children: Children,
    url: str,
    work: Path,
    svc_secret: str,
    secrets_key: str | None,
    *,
    service: str = "dispatch",
) -> tuple[Any, dict[str, str]]:
    """The registry as its own uvicorn process on `url`; returns it and the environment `service`
    (dispatch, wishes) needs to run against it, as `<SERVICE>_*` settings (none of the caller's
    REGISTRY_/<SERVICE>_ settings leak in). `secrets_key`: the service's sealing key, if it has one."""
    prefix = service.upper() + "_"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "DISPATCH_", prefix))}
    env.update({"DATABASE_URL": url, "PYTHONPATH": str(ROOT)})
    reg_env = {
        **env,
        "REGISTRY_DATA_KEY": key(),
        "REGISTRY_LOOKUP_KEY": key(),
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    registry = start_uvicorn(
        children, "registry", "services.registry.app:create_app", reg_env, work, "/readyz", factory=True
    )
    svc_env = {
        **env,
        f"{prefix}REGISTRY_URL": registry.base,
        f"{prefix}JWKS_URL": registry.base + "/.well-known/jwks.json",
        f"{prefix}CLIENT_SECRET": svc_secret,
        f"{prefix}LOG_LEVEL": "WARNING",
    }
    if secrets_key is not None:
        svc_env[f"{prefix}SECRETS_KEY"] = secrets_key
    return registry, svc_env


def bench(cfg: Config, args: argparse.Namespace, children: Children, work: Path) -> dict[str, Any]:
    res: dict[str, Any] = {
        "config": {"duration": cfg.duration, "warmup": cfg.warmup, "concurrency": cfg.concurrency}
    }
    rng = random.Random(20261122)
    started = time.perf_counter()

    print("• routing quality and match latency (in process)", flush=True)
    res["routing"] = routing_quality()
    print(f"    {res['routing']}", flush=True)

    print("• database for intake", flush=True)
    url, pg_pid = fresh_database(DATABASE)
    layout = Layout(args.grids, 4)
    username, password = "bench-admin", secrets.token_urlsafe(18)
    res["seed"] = {
        k: v
        for k, v in asyncio.run(seed(url, layout, 400, username, password)).items()
        if k != "building_codes"
    }
    svc_secret = secrets.token_urlsafe(24)
    asyncio.run(_service_account(url, svc_secret))

    cold_file = write_lines(work / "intake-cold.jsonl", intake_bodies(layout, rng, 20_000, None))
    warm_file = write_lines(work / "intake-recurring.jsonl", intake_bodies(layout, rng, 20_000, 2_000))

    res["baseline_insert"] = insert_baseline(children, cfg, url, work, pg_pid)

    registry, disp_env = start_registry(children, url, work, svc_secret, key())
    t0 = time.perf_counter()
    dispatch = start_uvicorn(
        children, "dispatch", "services.dispatch.app:create_app", disp_env, work, "/readyz", factory=True
    )
    res["dispatch_startup_s"] = round(time.perf_counter() - t0, 2)
    token = login(registry.base, username, password)
    headers_file = write_lines(work / "headers.txt", [f"Authorization: Bearer {token}"])
    os.chmod(headers_file, 0o600)
    auth = {"Authorization": f"Bearer {token}"}

    # Check a few answers before loading: routed, placed, numbered.
    sample = [json.loads(line) for line in cold_file.read_text(encoding="utf-8").splitlines()[:30]]
    statuses: dict[str, int] = {}
    placed = 0
    for body in sample:
        r = httpx.post(dispatch.base + "/api/v1/tickets", json=body, headers=auth, timeout=10)
        if r.status_code != 201:
            raise RuntimeError(f"intake check failed: {r.status_code} {r.text[:500]}")
        t = r.json()
        statuses[t["status"]] = statuses.get(t["status"], 0) + 1
        placed += t["place"]["status"] == "resolved"
    res["intake_check"] = {"asked": len(sample), "statuses": statuses, "placed": placed}
    print(f"    intake check: {res['intake_check']}", flush=True)

    watch = {"dispatch": dispatch.proc.pid, "registry": registry.proc.pid, "postgres": pg_pid}
    # the service's own bare endpoint, the second baseline every ratio is reported against
    res["healthz"] = run_load(
        children,
        "dispatch GET /healthz",
        cfg,
        url=dispatch.base + "/healthz",
        concurrency=cfg.concurrency,
        watch=watch,
    )
    for key_, label, bodies in (
        ("intake_cold", "every report at a new point", cold_file),
        ("intake_recurring", "reports from 2,000 recurring spots", warm_file),
    ):
        res[key_] = run_load(
            children,
            f"dispatch POST /api/v1/tickets, {label}",
            cfg,
            url=dispatch.base + "/api/v1/tickets",
            concurrency=cfg.concurrency,
            method="POST",
            bodies_file=bodies,
            headers_file=headers_file,
            watch=watch,
        )
    res["tickets_after_load"] = asyncio.run(_count(url))
    children.stop(dispatch.proc)
    children.stop(registry.proc)

    print(f"• weekly report over {args.report_tickets:,} tickets", flush=True)
    from bench.report_bench import bench_weekly_report

    report_url, _ = fresh_database(REPORT_DATABASE)
    res["weekly_report"] = asyncio.run(bench_weekly_report(report_url, tickets=args.report_tickets))
    print(f"    {res['weekly_report']}", flush=True)
    res["total_s"] = round(time.perf_counter() - started, 1)
    return res


async def _count(url: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT status, count(*) FROM dispatch.ticket GROUP BY status ORDER BY 2 DESC"
        )
        return {r[0]: r[1] for r in rows}
    finally:
        await conn.close()


def figures(res: dict[str, Any]) -> list[dict[str, Any]]:
    base = res["baseline_insert"]["rps"]
    rows = []

    def add(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append({"figure": name, "value": value, "target": target, "ok": ok})

    r = res["routing"]
    add(
        "routing top-1 unit accuracy",
        f"{r['top1_unit_accuracy']:.3f} ({r['cases']} complaints, {r['hard_cases']} hard)",
        f"aim ≥ {TOP1_AIM}",
        r["top1_unit_accuracy"] >= TOP1_AIM,
    )
    add("routing top-3 standard recall", f"{r['top3_standard_recall']:.3f}", "report", None)
    add(
        "confident share / accuracy when confident",
        f"{r['confident_share']:.3f} / {r['confident_accuracy']:.3f}",
        "report",
        None,
    )
    add(
        "standards/match in process",
        f"p50 {r['match_ms_p50']} ms, p99 {r['match_ms_p99']} ms",
        f"p99 < {MATCH_MAX_P99_MS} ms",
        r["match_ms_p99"] < MATCH_MAX_P99_MS,
    )
    b = res["baseline_insert"]
    add(
        f"baseline FastAPI + asyncpg insert @{res['config']['concurrency']}",
        f"{b['rps']:,.0f} rps, p99 {b['p99_ms']:.1f} ms",
        "reference",
        None,
    )
    if hz := res.get("healthz"):  # parts run before it was measured have none
        add(
            f"baseline dispatch GET /healthz @{res['config']['concurrency']}",
            f"{hz['rps']:,.0f} rps, p99 {hz['p99_ms']:.1f} ms",
            "reference",
            None,
        )
    for key_, label in (
        ("intake_cold", "intake, every report at a new point"),
        ("intake_recurring", "intake, 2,000 recurring spots"),
    ):
        x = res[key_]
        ratio = x["rps"] / base if base else 0.0
        ok = (
            ratio >= INTAKE_MIN_RATIO
            and x["p99_ms"] < INTAKE_MAX_P99_MS
            and not x["errors"]
            and not x["non_2xx"]
        )
        add(
            f"{label} @{res['config']['concurrency']}",
            f"{x['rps']:,.0f} rps = {ratio:.2f} × baseline, p99 {x['p99_ms']:.1f} ms, errors {x['errors']}, non-2xx {x['non_2xx'] or 0}",
            f"≥ {INTAKE_MIN_RATIO} ×, p99 < {INTAKE_MAX_P99_MS:.0f} ms",
            ok,
        )
    w = res["weekly_report"]
    secs = w["report_ms_median"] / 1000
    add(
        f"weekly report over {w['tickets']:,} tickets ({w['in_week']:,} in the week)",
        f"median {w['report_ms_median']:.0f} ms (min {w['report_ms_min']:.0f}, max {w['report_ms_max']:.0f})",
        f"< {REPORT_MAX_S:.0f} s",
        secs < REPORT_MAX_S,
    )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    out = ["| figure | value | target | |", "|---|---|---|---|"]
    for r in rows:
        mark = "" if r["ok"] is None else ("✔" if r["ok"] else "✘")
        out.append(f"| {r['figure']} | {r['value']} | {r['target']} | {mark} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="GridGov dispatch benchmark; report in bench/results/")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--duration", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--grids", type=int, default=500)
    p.add_argument("--report-tickets", type=int)
    args, _unknown = p.parse_known_args(argv)  # make bench passes the registry's options too
    args.report_tickets = args.report_tickets or (200_000 if args.quick else 1_000_000)
    cfg = Config.for_service(args)
    return run_part(
        "dispatch",
        lambda children, work: bench(cfg, args, children, work),
        figures,
        markdown,
        lambda res, table: (
            "# Dispatch benchmark\n\n"
            + table
            + f"\n\nMachine: {os.cpu_count()} cores shared by the load generator, the servers and PostgreSQL. "
            f"Run took {res['total_s']:.0f} s. Raw figures: dispatch.json.\n"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
