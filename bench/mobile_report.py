"""Figures and the Markdown report of bench/mobile.py (bench/results/MOBILE.md)."""

from __future__ import annotations

import json
from typing import Any

LIST_MAX_P99_MS = 50.0
REPORT_MAX_P99_MS = 300.0
DISTURBED_PCT = 20.0
SERVICES = ("mobile", "dispatch", "registry", "postgres")


def cpu_ms(r: dict[str, Any], who: str) -> float:
    """CPU milliseconds `who` spent per request sent (warm-up included, as in the CPU window)."""
    pct = r.get(f"{who}_cpu_pct", r.get("server_cpu_pct", 0.0) if who == "server" else 0.0)
    return 10.0 * pct * r.get("cpu_window_s", 0.0) / max(r.get("requests_issued", 0), 1)


def _bad(r: dict[str, Any]) -> int:
    return r["errors"] + sum(r["non_2xx"].values())


def _disturbed(r: dict[str, Any]) -> str:
    other = r.get("other_cpu_pct", 0.0)
    return f"; ⚠ other processes {other:.0f}% of a core" if other >= DISTURBED_PCT else ""


def _inserts(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    b = res["baseline_insert"]
    return {str(res["config"]["concurrency"]): b, **b.get("by_concurrency", {})}


def _x(ratio: float) -> str:
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.4f}"


def _ratios(res: dict[str, Any], c: str, r: dict[str, Any]) -> str:
    hz, ins = res["healthz"].get(c), _inserts(res).get(c)
    parts = []
    if hz and hz["rps"]:
        parts.append(f"{_x(r['rps'] / hz['rps'])} × healthz")
    if ins and ins["rps"]:
        parts.append(f"{_x(r['rps'] / ins['rps'])} × insert baseline")
    return " = " + ", ".join(parts) if parts else ""


def figures(res: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append({"figure": name, "value": value, "target": target, "ok": ok})

    for c, b in sorted(_inserts(res).items(), key=lambda kv: int(kv[0])):
        add(
            f"baseline FastAPI + asyncpg insert @{c}",
            f"{b['rps']:,.0f} rps, p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms",
            "reference",
            None,
        )
    for c, h in res["healthz"].items():
        add(
            f"mobile GET /healthz @{c} (the service's bare stack)",
            f"{h['rps']:,.0f} rps, p50 {h['p50_ms']:.1f} ms, p99 {h['p99_ms']:.1f} ms; mobile CPU "
            f"{cpu_ms(h, 'mobile'):.1f} ms per request",
            "reference",
            None,
        )
    n = res["config"]["tickets"]
    if "missing" in res["list"]:
        add(
            f'"my tickets" over {n:,} tickets',
            f"not measured: endpoint missing ({res['list']['missing']})",
            f"p99 < {LIST_MAX_P99_MS:.0f} ms @32",
            False,
        )
    else:
        chk = res["list_check"]["summary"]
        add(
            '"my tickets": answers against the database',
            f"{chk['accounts_checked']} whole lists walked page by page ({chk['tickets_walked']:,} tickets, the "
            f"longest {chk['largest_list']:,}): "
            + ("newest first, none repeated or skipped" if chk["all_match"] else "MISMATCH (see MOBILE.md)")
            + f"; {chk['deep_cursors']:,} deeper-page cursors for the load",
            "the database's order",
            res["list_check"]["ok"],
        )
        for c, r in res["list"].items():
            add(
                f'"my tickets" GET /m/v1/tickets?limit=20 @{c} ({n:,} tickets)',
                f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; {r['rps']:,.0f} rps{_ratios(res, c, r)}; "
                f"mobile CPU {cpu_ms(r, 'mobile'):.1f} ms per request (healthz "
                f"{cpu_ms(res['healthz'][c], 'mobile'):.1f}), postgres {cpu_ms(r, 'postgres'):.1f} ms"
                + (f"; {_bad(r)} non-2xx/errors" if _bad(r) else "")
                + _disturbed(r),
                f"p99 < {LIST_MAX_P99_MS:.0f} ms" + (" (the issue's figure)" if c == "32" else ""),
                r["p99_ms"] < LIST_MAX_P99_MS and not _bad(r),
            )
        few = res.get("list_few")
        if few:
            main = res["list"].get(str(few["concurrency"]))
            add(
                f'"my tickets" @{few["concurrency"]}, first pages of only 50 residents (their session checks '
                "answered from mobile's cache)",
                f"p50 {few['p50_ms']:.1f} ms, p99 {few['p99_ms']:.1f} ms; {few['rps']:,.0f} rps; mobile CPU "
                f"{cpu_ms(few, 'mobile'):.1f} ms per request"
                + (f" (2,000 residents: {cpu_ms(main, 'mobile'):.1f})" if main else "")
                + _disturbed(few),
                "info: what reading the session row costs",
                None,
            )
    if "missing" in res["reports"]:
        add(
            "report with one 1 MB photo",
            f"not measured: endpoint missing ({res['reports']['missing']})",
            f"p99 < {REPORT_MAX_P99_MS:.0f} ms",
            False,
        )
        return rows
    chk = res["report_check"]
    photo = chk.get("photo", {})
    add(
        "report with a photo: answers checked first",
        f"{chk['created']} of {len(chk['answers'])} × 201"
        + (
            f"; first {chk['first']['number']}: mirror row and dispatch ticket {chk['first'].get('dispatch_id')}"
            if chk.get("first")
            else ""
        )
        + (
            f"; photo stored {photo.get('stored_bytes', 0):,} B {photo.get('size', '')}, public copy GPS "
            f"{'stripped' if photo.get('gps_stripped') else photo.get('public_copy_gps')}, original keeps GPS: "
            f"{photo.get('original_has_gps')}"
            if photo
            else ""
        ),
        "201, GPS stripped",
        chk["ok"] and (not photo or bool(photo.get("gps_stripped"))),
    )
    body = res["report_bodies"]
    for c, r in res["reports"].items():
        add(
            f"report with one ~1 MB photo POST /m/v1/reports @{c}",
            f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; {r['rps']:,.1f} rps{_ratios(res, c, r)}; CPU per "
            "request: "
            + ", ".join(f"{s} {cpu_ms(r, s):.0f} ms" for s in SERVICES)
            + (f"; {_bad(r)} non-2xx/errors {json.dumps(r['non_2xx'])}" if _bad(r) else "")
            + _disturbed(r),
            f"p99 < {REPORT_MAX_P99_MS:.0f} ms",
            r["p99_ms"] < REPORT_MAX_P99_MS and not _bad(r),
        )
    v = res["report_verify"]
    add(
        "after the report load: one mirror row and one dispatch ticket per 201",
        f"{v['answered_201']:,} × 201 answered → {v['report_rows']:,} mobile.report rows ({v['distinct_tickets']:,} "
        f"distinct tickets), {v['dispatch_tickets']:,} dispatch tickets, {v['joined']:,} joined on id and number, "
        f"{v['tickets_without_row']} tickets without a row; {v['photos']:,} photos stored",
        "all equal, none orphaned",
        v["ok"],
    )
    add(
        "report bodies",
        f"{body['bodies']} multipart bodies up to {body['body_bytes_max']:,} B; photos "
        f"{min(body['photo_bytes']):,}–{max(body['photo_bytes']):,} B (2000×1500 JPEG, EXIF make/model/time/GPS)",
        "info",
        None,
    )
    return rows


def run_table(res: dict[str, Any]) -> str:
    out = [
        "| Run | Clients | Requests | rps | p50 | p95 | p99 | max | non-2xx / errors | CPU % mobile / dispatch / "
        "registry / postgres | CPU ms per request mobile / dispatch / registry / postgres | loadgen CPU | other CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = [
        *(r for _c, r in sorted(_inserts(res).items(), key=lambda kv: int(kv[0]))),
        *res["healthz"].values(),
    ]
    for key in ("list", "reports"):
        if "missing" not in res[key]:
            runs += list(res[key].values())
        if key == "list" and res.get("list_few"):
            runs.append(res["list_few"])
    for r in runs:
        base = "server_cpu_pct" in r
        pct = (
            f"{r['server_cpu_pct']:.0f}% (baseline) / — / — / {r.get('postgres_cpu_pct', 0):.0f}%"
            if base
            else " / ".join(f"{r.get(f'{s}_cpu_pct', 0):.0f}%" for s in SERVICES)
        )
        ms = (
            f"{cpu_ms(r, 'server'):.1f} (baseline) / — / — / {cpu_ms(r, 'postgres'):.1f}"
            if base
            else " / ".join(f"{cpu_ms(r, s):.1f}" for s in SERVICES)
        )
        out.append(
            f"| {r['label']} | {r['concurrency']} | {r['requests']:,} | {r['rps']:,.1f} | {r['p50_ms']:.1f} ms | "
            f"{r['p95_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['max_ms']:.1f} ms | {_bad(r)} | {pct} | {ms} | "
            f"{r['loadgen_cpu_pct']:.0f}% | {r.get('other_cpu_pct', 0):.0f}% |"
        )
    return "\n".join(out)


def report(res: dict[str, Any], table: str) -> str:
    env, pg, cfg, seed = res["environment"], res["postgres"], res["config"], res["seed"]
    skew = seed["skew"]
    lines = [
        "# Mobile benchmark",
        "",
        f"{env['date']} · commit {env['git_commit']} · {'quick run' if cfg['quick'] else 'full run'} · total "
        f"{res['total_s']:.0f} s",
        "",
        table,
        "",
        f"**Machine: {env['cores_logical']} cores** ({env['cpu_model']}), {env['memory_gb']} GB RAM. The load "
        "generator, mobile, dispatch, the registry and PostgreSQL all run on this one machine and share those "
        "cores: read the ratios more than the absolute numbers. "
        f"{pg['version'].split(',')[0]} (embedded; fsync {pg['fsync']}, synchronous_commit "
        f"{pg['synchronous_commit']}). Python {env['python']}; servers are uvicorn (1 process, uvloop, httptools). "
        "On a saturated single process latency is mostly queueing (p50 ≈ clients / rps). *Postgres CPU* counts "
        "the whole pg-bench cluster, whatever else uses it; *other* is everything outside the benchmark.",
        "",
        "## Data",
        "",
        f"{cfg['accounts']:,} bound accounts with {seed['sessions']:,} sessions and {cfg['tickets']:,} mirrored tickets "
        f"in mobile.report, written with COPY ({seed['copy_s']} s, generated in {seed['generate_s']} s, VACUUM "
        f"ANALYZE {seed['vacuum_analyze_s']} s; table {seed['report_table_size']}, index (account_id, id DESC) "
        f"{seed['report_index_size']}). Tickets per account: {skew['without_tickets']:,} accounts have none; "
        + ", ".join(f"{k} {v}" for k, v in skew["percentiles"].items())
        + f", p99.9 {skew['p99.9']}, max {skew['max']}; {skew['at_least_100']:,} accounts have ≥ 100 and "
        f"{skew['at_least_300']:,} ≥ 300. These rows have no dispatch ticket behind them (the list is served "
        "from mobile's own table); dispatch's day counters were moved past their numbers.",
        "",
        "The load's tokens were minted with the key mobile was given (services/mobile/tokens.py ResidentTokens), "
        "one per resident with its live session: 2,000 residents who have tickets for first pages, 200 of the "
        "busiest for deeper pages.",
        "",
    ]
    if "missing" not in res["reports"]:
        lines += [
            "**Report limits raised for this run**: MOBILE_REPORTS_PER_RESIDENT_DAY and MOBILE_REPORTS_PER_IP_DAY "
            f"= {cfg['report_limits_raised_to']:,} (defaults 20 and 60), or the first minute would end in 429s. "
            f"The limits are still counted on every report. {cfg['reporters']} residents imported into the registry "
            "(its CSV import) post the reports, each with its own X-Forwarded-For address, as behind the "
            'production proxy (MOBILE_TRUSTED_PROXIES=["127.0.0.1"]), so the per-IP counter is not one hot row.',
            "",
        ]
    lines += [
        "## Load runs",
        "",
        f"Closed loop, HTTP/1.1 keep-alive, {cfg['warmup']:g} s warm-up + "
        f"{cfg['duration']:g} s measured (report runs: at least 2 s warm-up + {cfg['report_duration']:g} s, as "
        "their answers take up to seconds). CPU is % of one core over warm-up + measurement; per request it is "
        "divided by every request sent in that window.",
        "",
        run_table(res),
        "",
    ]
    if "missing" not in res["list"]:
        lines += [
            "## My tickets: the check",
            "",
            "| Account | Tickets | Pages | First page matches | Whole list matches | Repeated | Failed |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| {a['account_id']} | {a['tickets']:,} | {a['pages']} | {a['first_page_matches']} | "
                f"{a['whole_list_matches']} | {a['repeated']} | {a['failed_status'] or '—'} |"
                for a in res["list_check"]["accounts"]
            ),
            "",
            "First answer (two items shown):",
            "",
            "```json",
            json.dumps(res["list_check"]["first_answer"], ensure_ascii=False, indent=1)[:3000],
            "```",
            "",
            "## My tickets: query plans (EXPLAIN ANALYZE after the load, the busiest resident)",
            "",
            *(f"**{k}**\n\n```\n" + "\n".join(v) + "\n```\n" for k, v in res["list_explain"].items()),
        ]
    if "missing" not in res["reports"]:
        lines += [
            "## Report: the check and the count",
            "",
            "```json",
            json.dumps(
                {
                    "check": {k: v for k, v in res["report_check"].items() if k != "answers"},
                    "first_answer": res["report_check"]["answers"][0],
                    "after_the_load": res["report_verify"],
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            )[:5000],
            "```",
            "",
        ]
    lines += ["Raw figures: mobile.json.", ""]
    return "\n".join(lines)
