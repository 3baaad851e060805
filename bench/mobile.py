"""`make bench`, mobile part: the residents' "my tickets" list over 1,000,000 tickets, and a report (随手拍)
with one 1 MB photo through mobile, dispatch and the registry, each read against bare baselines
measured in the same run.

    python -m bench.mobile            # full run (a few minutes on 2 idle cores)
    python -m bench.mobile --quick    # 100,000 tickets, shorter load runs

What runs, all on this machine (the embedded cluster in .data/pg-bench, database gridgov_bench_mobile,
created afresh and migrated):

1. **Data**, written before any server starts: the registry's map (bench.run.seed: 500 grids), and in
   mobile's own tables (COPY) 100,000 bound accounts (quick 10,000), each with a live session (10% with
   a second, logged out), and 1,000,000 mirrored tickets (quick 100,000) spread with a realistic skew
   (log-normal: 15% never reported, the median resident has a few, 1% have over 100, the busiest 1,000),
   ids in time order and numbered like dispatch's (dispatch's day counters are moved past them); then
   VACUUM ANALYZE. These mirrored tickets have no dispatch ticket behind them: the list never asks
   dispatch. Resident access tokens are minted with the key mobile is given (services/mobile/tokens.py).
2. **Baselines**: the bare FastAPI + asyncpg insert (bench/baseline_app.py) at 1, 8 and 32 clients, before
   the services start; mobile's own `GET /healthz` at 1, 8 and 32.
3. **My tickets**: `GET /m/v1/tickets?limit=20` at 1, 8 and 32 clients, each request a random resident's
   token (2,000 residents who have tickets); 30% of the requests are deeper pages of the busiest
   residents, with the `cursor` a previous page gave. Target p99 < 50 ms. Informative: first pages of only
   50 residents, whose session checks mobile answers from its cache. Before the load, whole lists
   are walked page by page and compared with the database (newest first, nothing repeated or skipped).
4. **Report with a 1 MB photo**: the registry, dispatch and mobile run as their own processes; 64
   residents imported into the registry (its CSV import) and bound to accounts; `POST /m/v1/reports`
   (multipart: text, lat, lng, one ~1 MB 2000×1500 JPEG with EXIF make/model/time/GPS, generated with
   Pillow) at 1, 8 and 32 clients (quick: 1 and 8), 20 s measured per run (quick 8 s: an answer takes up
   to seconds), points inside the map's grids. The per-resident and per-IP daily report
   limits are raised for the run (settings), and each resident's requests carry its own
   X-Forwarded-For address, read as behind the production proxy (MOBILE_TRUSTED_PROXIES=["127.0.0.1"]),
   so the limits count (one counter row per resident and per address) but never refuse.
   Target p99 < 300 ms. Afterwards every 201 must have left exactly one mobile.report row and one
   dispatch ticket (counted, and joined on ticket id and number).

Results go to bench/results/mobile.json and MOBILE.md. An endpoint that is not in mobile's OpenAPI yet
is reported as "not measured: endpoint missing".
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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import mobile_data as md
from bench.dispatch import _service_account, eval_cases, fresh_database, markdown, start_registry
from bench.mobile_checks import check_list, check_reports, count_after_reports, explain_list, has_route
from bench.mobile_report import figures, report
from bench.run import (
    ROOT,
    Children,
    Config,
    Layout,
    insert_baseline,
    key,
    login,
    pg_info,
    run_load,
    run_part,
    seed,
    start_uvicorn,
    upload,
    write_lines,
)

RESULTS = ROOT / "bench" / "results"
DATABASE = "gridgov_bench_mobile"
TOKEN_ISSUER = "gridgov-mobile"
REPORTERS = 64
LIMIT_RAISED = 1_000_000  # MOBILE_REPORTS_PER_RESIDENT_DAY and MOBILE_REPORTS_PER_IP_DAY for the run
LIST_PATH, REPORT_PATH = "/m/v1/tickets", "/m/v1/reports"


def mobile_env(
    url: str, registry: Any, dispatch: Any, secret: str, token_key: str, work: Path
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REGISTRY_", "DISPATCH_", "WISHES_", "MOBILE_"))
    }
    env.update(
        {
            "DATABASE_URL": url,
            "PYTHONPATH": str(ROOT),
            "MOBILE_REGISTRY_URL": registry.base,
            "MOBILE_JWKS_URL": registry.base + "/.well-known/jwks.json",
            "MOBILE_DISPATCH_URL": dispatch.base,
            "MOBILE_CLIENT_SECRET": secret,
            "MOBILE_TOKEN_KEY": token_key,
            "MOBILE_TOKEN_ISSUER": TOKEN_ISSUER,
            "MOBILE_LOG_LEVEL": "WARNING",
            "MOBILE_MEDIA_DIR": str(work / "media"),
            "MOBILE_WECHAT_APP_SECRET": secrets.token_urlsafe(16),
            "MOBILE_REPORTS_PER_RESIDENT_DAY": str(LIMIT_RAISED),
            "MOBILE_REPORTS_PER_IP_DAY": str(LIMIT_RAISED),
            # as behind the production proxy: each resident's own address counts, not the proxy's
            "MOBILE_TRUSTED_PROXIES": '["127.0.0.1"]',
        }
    )
    return env


def list_requests(
    tokens: dict[int, str], first: list[int], deep: list[tuple[int, str]], rng: random.Random, n: int
) -> list[str]:
    """Request lines: 70% a random resident's first page, 30% a deeper page of a busy resident."""
    lines = []
    for _ in range(n):
        if deep and rng.random() < 0.3:
            aid, cursor = rng.choice(deep)
            path = f"{LIST_PATH}?limit=20&cursor={cursor}"
        else:
            aid = rng.choice(first)
            path = f"{LIST_PATH}?limit=20"
        lines.append(json.dumps({"headers": {"Authorization": f"Bearer {tokens[aid]}"}, "path": path}))
    return lines


def report_bodies(layout: Layout, rng: random.Random, n_photos: int, work: Path) -> list[dict[str, Any]]:
    """Multipart bodies on disk: each a complaint, a point inside a grid and one ~1 MB photo taken there
    (four texts per photo, a few metres apart)."""
    texts = [c["text"] for c in eval_cases()]
    out = []
    for p in range(n_photos):
        lat, lng = md.point_in(layout, rng)
        photo = md.photo_jpeg(1000 + p, lat, lng)
        for k in range(4):
            plat, plng = round(lat + rng.uniform(-2e-4, 2e-4), 6), round(lng + rng.uniform(-2e-4, 2e-4), 6)
            fields = {"text": rng.choice(texts), "lat": str(plat), "lng": str(plng)}
            ctype, body = md.multipart(
                fields, [("photos", f"IMG_20261206_{p:03d}{k}.jpg", "image/jpeg", photo)]
            )
            path = work / f"report-{p:03d}-{k}.bin"
            path.write_bytes(body)
            out.append(
                {
                    "file": str(path),
                    "content_type": ctype,
                    "bytes": len(body),
                    "photo_bytes": len(photo),
                    **fields,
                }
            )
    return out


def report_requests(reporters: list[dict[str, Any]], bodies: list[dict[str, Any]], n: int) -> list[str]:
    lines = []
    for i in range(n):
        r, b = reporters[i % len(reporters)], bodies[(i * 7) % len(bodies)]
        headers = {
            "Authorization": f"Bearer {r['token']}",
            "Content-Type": b["content_type"],
            "X-Forwarded-For": r["ip"],
        }
        lines.append(json.dumps({"headers": headers, "body_file": b["file"], "path": REPORT_PATH}))
    return lines


def bench(cfg: Config, args: argparse.Namespace, children: Children, work: Path) -> dict[str, Any]:
    from services.mobile.tokens import ResidentTokens

    res: dict[str, Any] = {
        "config": {
            "quick": cfg.quick,
            "duration": cfg.duration,
            "warmup": cfg.warmup,
            "concurrency": cfg.concurrency,
            "list_concurrency": args.list_concurrency,
            "report_concurrency": args.report_concurrency,
            "report_duration": args.report_duration,
            "tickets": args.tickets,
            "accounts": args.accounts,
            "grids": args.grids,
            "reporters": REPORTERS,
            "report_limits_raised_to": LIMIT_RAISED,
        },
        "loadavg_at_start": [round(v, 2) for v in os.getloadavg()],
    }
    rng = random.Random(20261206)
    started = time.perf_counter()

    print(f"• database {DATABASE}", flush=True)
    url, pg_pid = fresh_database(DATABASE)
    res["postgres"] = pg_info(url)
    layout = Layout(args.grids, 4)
    admin, password = "bench-admin", secrets.token_urlsafe(18)
    seeded = asyncio.run(seed(url, layout, 400, admin, password))
    building_codes = seeded.pop("building_codes")
    res["seed_map"] = seeded
    disp_secret, mobile_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    asyncio.run(_service_account(url, disp_secret, "dispatch"))
    asyncio.run(_service_account(url, mobile_secret, "mobile"))

    print(f"• {args.accounts:,} accounts, {args.tickets:,} tickets (COPY)", flush=True)
    t0 = time.perf_counter()
    summaries = sorted({c["text"][:40] for c in eval_cases()})
    now = datetime.now(UTC)
    rows = md.generate(layout, rng, args.accounts, args.tickets, summaries, now)
    res["seed"] = {"generate_s": round(time.perf_counter() - t0, 2), **asyncio.run(md.load(url, rows))}
    res["seed"]["skew"] = md.skew_summary(rows["counts"])
    res["seed"]["sessions"] = len(rows["sessions"])
    print(f"    {res['seed']}", flush=True)
    counts, live = rows["counts"], rows["live"]
    del rows

    token_key = key()
    minter = ResidentTokens(token_key, issuer=TOKEN_ISSUER, ttl_s=6 * 3600)
    with_tickets = [a for a, c in enumerate(counts, start=1) if c]
    first = rng.sample(with_tickets, min(2000, len(with_tickets)))
    busy = sorted((a for a, c in enumerate(counts, start=1) if c >= 60), key=lambda a: -counts[a - 1])
    busy = busy[:5] + rng.sample(busy[5:], min(195, max(0, len(busy) - 5)))
    tokens = {a: minter.issue(a, live[a])[0] for a in {*first, *busy}}

    # baselines while nothing else runs: the bare insert at every concurrency measured below
    def more_inserts(server: Any) -> dict[str, Any]:
        watch = {"server": server.proc.pid, "postgres": pg_pid}
        insert_file = work / "insert.jsonl"
        return {
            "by_concurrency": {
                str(c): run_load(
                    children,
                    "baseline POST /insert (FastAPI + asyncpg)",
                    cfg,
                    url=server.base + "/insert",
                    concurrency=c,
                    method="POST",
                    bodies_file=insert_file,
                    watch=watch,
                )
                for c in sorted(set(args.list_concurrency) | set(args.report_concurrency))
                if c != cfg.concurrency
            }
        }

    res["baseline_insert"] = insert_baseline(children, cfg, url, work, pg_pid, also=more_inserts)

    registry, disp_env = start_registry(children, url, work, disp_secret, key())
    print("• 1,000 residents into the registry (its CSV import), to bind the reporting accounts", flush=True)
    from tools import gen_residents

    csv_path = work / "residents.csv"
    gen_residents.write_csv(csv_path, 1000, building_codes, start=0)
    admin_token = login(registry.base, admin, password)
    imp = upload(registry.base, admin_token, csv_path, "text/csv", registry.proc.pid, pg_pid, 300.0)
    if imp.get("status") != 201:
        raise RuntimeError(f"resident import failed: {imp.get('status')} {imp.get('error')}")
    reporters = asyncio.run(md.bind_reporters(url, REPORTERS, rng, args.accounts + 1, now))
    for i, r in enumerate(reporters):
        r["token"] = minter.issue(r["account_id"], r["session_id"])[0]
        r["ip"] = f"10.{20 + i // 250}.{i % 250}.{rng.randrange(2, 250)}"

    t0 = time.perf_counter()
    dispatch = start_uvicorn(
        children, "dispatch", "services.dispatch.app:create_app", disp_env, work, "/readyz", factory=True
    )
    res["dispatch_startup_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    env = mobile_env(url, registry, dispatch, mobile_secret, token_key, work)
    mobile = start_uvicorn(
        children, "mobile", "services.mobile.app:create_app", env, work, "/readyz", factory=True
    )
    res["mobile_startup_s"] = round(time.perf_counter() - t0, 2)
    watch = {
        "mobile": mobile.proc.pid,
        "dispatch": dispatch.proc.pid,
        "registry": registry.proc.pid,
        "postgres": pg_pid,
    }
    concurrencies = sorted(set(args.list_concurrency) | set(args.report_concurrency))
    res["healthz"] = {
        str(c): run_load(
            children, "mobile GET /healthz", cfg, url=mobile.base + "/healthz", concurrency=c, watch=watch
        )
        for c in concurrencies
    }

    # ---- my tickets ----
    if has_route(mobile.base, LIST_PATH, "get"):
        check_ids = [busy[0], *rng.sample(with_tickets, 8)]
        if len(busy) > 10:
            check_ids.append(busy[10])
        res["list_check"], deep = check_list(
            mobile.base,
            url,
            {a: tokens.get(a) or minter.issue(a, live[a])[0] for a in check_ids},
            tokens,
            busy,
        )
        print(f"    list check: {json.dumps(res['list_check']['summary'], ensure_ascii=False)}", flush=True)
        requests_file = write_lines(work / "list.jsonl", list_requests(tokens, first, deep, rng, 6000))
        os.chmod(requests_file, 0o600)
        res["list"] = {
            str(c): run_load(
                children,
                "mobile GET /m/v1/tickets?limit=20 (70% first pages, 30% deeper)",
                cfg,
                url=mobile.base,
                concurrency=c,
                requests_file=requests_file,
                watch=watch,
            )
            for c in args.list_concurrency
        }
        # informative: the same first pages from only 50 residents, whose session checks mobile answers
        # from its cache (session_cache_s) instead of reading the session row: what that read costs
        few = write_lines(work / "list-few.jsonl", list_requests(tokens, first[:50], [], rng, 2000))
        os.chmod(few, 0o600)
        res["list_few"] = run_load(
            children,
            "mobile GET /m/v1/tickets?limit=20, first pages of 50 residents (sessions cached)",
            cfg,
            url=mobile.base,
            concurrency=cfg.concurrency,
            requests_file=few,
            watch=watch,
        )
        res["list_explain"] = asyncio.run(explain_list(url, busy[0]))
    else:
        res["list"] = {"missing": f"GET {LIST_PATH} is not in mobile's OpenAPI yet"}
        print(f"    not measured: {res['list']['missing']}", flush=True)

    # ---- report with one 1 MB photo ----
    if has_route(mobile.base, REPORT_PATH, "post"):
        print(
            f"• {args.photos} photos of ~1 MB (Pillow, EXIF with GPS), {4 * args.photos} report bodies",
            flush=True,
        )
        bodies = report_bodies(layout, rng, args.photos, work)
        res["report_bodies"] = {
            "bodies": len(bodies),
            "photo_bytes": sorted({b["photo_bytes"] for b in bodies}),
            "body_bytes_max": max(b["bytes"] for b in bodies),
        }
        res["report_check"] = check_reports(
            mobile.base, url, reporters[:3], bodies[:3], env["MOBILE_MEDIA_DIR"]
        )
        print(f"    report check: {json.dumps(res['report_check'], ensure_ascii=False)[:600]}", flush=True)
        requests_file = write_lines(
            work / "reports.jsonl", report_requests(reporters, bodies, 4 * len(bodies))
        )
        os.chmod(requests_file, 0o600)
        res["reports"] = {}
        # a report takes ~0.1 s of CPU: at 8 and 32 clients answers take seconds, and a short window
        # would count only the requests that fit in it (fewer, and the quick ones)
        rcfg = replace(cfg, duration=args.report_duration, warmup=max(cfg.warmup, 2.0))
        for c in args.report_concurrency:
            res["reports"][str(c)] = run_load(
                children,
                "mobile POST /m/v1/reports (one ~1 MB photo)",
                rcfg,
                url=mobile.base,
                method="POST",
                concurrency=c,
                requests_file=requests_file,
                watch=watch,
            )
        answered = {"check": res["report_check"].get("created", 0)}
        answered.update({c: r["statuses_all"].get("201", 0) for c, r in res["reports"].items()})
        res["report_verify"] = asyncio.run(
            count_after_reports(url, [r["account_id"] for r in reporters], answered, res["reports"])
        )
        print(f"    after the load: {res['report_verify']}", flush=True)
    else:
        res["reports"] = {"missing": f"POST {REPORT_PATH} is not in mobile's OpenAPI yet"}
        print(f"    not measured: {res['reports']['missing']}", flush=True)

    res["mobile_log_tail"] = mobile.log_tail(30)
    res["dispatch_log_tail"] = dispatch.log_tail(15)
    for s in (mobile, dispatch, registry):
        children.stop(s.proc)
    res["total_s"] = round(time.perf_counter() - started, 1)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="GridGov mobile benchmark; report in bench/results/")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--duration", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--grids", type=int, default=500)
    p.add_argument("--tickets", type=int, help="mirrored tickets (default 1,000,000; quick 100,000)")
    p.add_argument("--accounts", type=int, help="accounts (default tickets / 10)")
    p.add_argument("--photos", type=int, help="distinct 1 MB photos (default 12; quick 6)")
    p.add_argument("--list-concurrency", default="1,8,32", help="comma-separated client counts")
    p.add_argument("--report-concurrency", help="comma-separated client counts (default 1,8,32; quick 1,8)")
    p.add_argument(
        "--report-duration", type=float, help="measured seconds per report run (default 20; quick 8)"
    )
    args, _unknown = p.parse_known_args(argv)  # make bench passes the registry's options too
    args.tickets = args.tickets or (100_000 if args.quick else 1_000_000)
    args.accounts = args.accounts or max(1000, args.tickets // 10)
    args.photos = args.photos or (6 if args.quick else 12)
    args.list_concurrency = [int(c) for c in str(args.list_concurrency).split(",") if c.strip()]
    args.report_concurrency = [
        int(c)
        for c in str(args.report_concurrency or ("1,8" if args.quick else "1,8,32")).split(",")
        if c.strip()
    ]
    args.report_duration = args.report_duration or (8.0 if args.quick else 20.0)
    cfg = Config.for_service(args)
    return run_part(
        "mobile",
        lambda children, work: bench(cfg, args, children, work),
        figures,
        markdown,
        report,
    )


if __name__ == "__main__":
    sys.exit(main())
