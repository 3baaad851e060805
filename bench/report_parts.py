"""The figures of each part of `make bench`, read from its JSON (used by bench/report.py).

Each builder takes one part's results and adds rows (value, target, ✔/✘, ratio to the baselines that
part measured in its own run) and the load runs for the chart.
"""

from __future__ import annotations

from typing import Any

BUSY_OTHER_PCT = 20.0  # as bench.run: a run during which other processes used ≥ 20% of a core is flagged


def fmt_num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


def fmt_ms(x: float) -> str:
    return f"{x:,.0f} ms" if x >= 1000 else f"{fmt_num(x)} ms"


def fmt_x(a: float, b: float | None) -> str:
    if not b:
        return "—"
    r = a / b
    if r >= 10:
        return f"{r:.0f}"
    return f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"


# ---- baselines and rows ----------------------------------------------------------------------------


def baselines(key: str, d: dict[str, Any]) -> dict[int, dict[str, dict[str, Any]]]:
    """{concurrency: {'insert': run, 'healthz': run}} measured in this part's run."""
    out: dict[int, dict[str, dict[str, Any]]] = {}

    def put(kind: str, run: dict[str, Any] | None) -> None:
        if run and "rps" in run:
            out.setdefault(int(run.get("concurrency", 32)), {})[kind] = run

    ins = d.get("baseline_insert") or {}
    put("insert", ins)
    for run in (ins.get("by_concurrency") or {}).values():
        put("insert", run)
    hz = d.get("healthz") or {}
    if "rps" in hz:
        put("healthz", hz)
    else:
        for run in hz.values():
            put("healthz", run if isinstance(run, dict) else None)
    return out


class Part:
    def __init__(self, key: str, tag: str, data: dict[str, Any]):
        self.key, self.tag, self.d = key, tag, data
        self.base = baselines(key, data)
        self.rows: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []

    def base_at(self, c: int) -> tuple[dict[str, dict[str, Any]], int]:
        if c in self.base:
            return self.base[c], c
        c2 = 32 if 32 in self.base else max(self.base, default=c)
        return self.base.get(c2, {}), c2

    def row(self, figure: str, value: str, target: str, ok: bool | None, ratio: str, **num: Any) -> None:
        self.rows.append(
            {
                "part": self.key,
                "tag": self.tag,
                "figure": figure,
                "value": value,
                "target": target,
                "ok": ok,
                "ratio": ratio,
                **num,
            }
        )

    def chart(
        self, label: str, run: dict[str, Any], *, baseline: bool = False, p99_target: float | None = None
    ) -> None:
        self.runs.append(
            {
                "part": self.key,
                "label": f"{self.tag} {label}",
                "rps": run["rps"],
                "p99_ms": run["p99_ms"],
                "concurrency": run.get("concurrency"),
                "baseline": baseline,
                "p99_target_ms": p99_target,
            }
        )

    def load(
        self,
        figure: str,
        run: dict[str, Any],
        target: str,
        *,
        min_insert: float | None = None,
        min_healthz: float | None = None,
        p99_max: float | None = None,
        expect_404: bool = False,
        chart: str | None = None,
    ) -> None:
        """A row for one load run: rps, p50/p99, errors; ratios to the same part's baselines."""
        c = int(run.get("concurrency", 32))
        b, bc = self.base_at(c)
        ins, hz = b.get("insert"), b.get("healthz")
        non2xx = {k: v for k, v in (run.get("non_2xx") or {}).items() if not (expect_404 and k == "404")}
        clean = run.get("errors", 0) == 0 and not non2xx
        value = f"{fmt_num(run['rps'])} rps; p50 {fmt_ms(run['p50_ms'])}, p99 {fmt_ms(run['p99_ms'])}"
        if not clean:
            value += f"; errors {run.get('errors', 0)}, non-2xx {non2xx}"
        if run.get("other_cpu_pct", 0) >= BUSY_OTHER_PCT:
            value += f" ⚠ other processes used {run['other_cpu_pct']:.0f}% of a core"
        ok: bool | None = None
        checks = []
        if min_insert is not None:
            checks.append(bool(ins) and run["rps"] >= min_insert * ins["rps"])
        if min_healthz is not None:
            checks.append(bool(hz) and run["rps"] >= min_healthz * hz["rps"])
        if p99_max is not None:
            checks.append(run["p99_ms"] < p99_max)
        if checks:
            ok = all(checks) and clean
        parts = []
        if hz:
            parts.append(f"{fmt_x(run['rps'], hz['rps'])} × healthz")
        if ins:
            parts.append(f"{fmt_x(run['rps'], ins['rps'])} × insert")
        ratio = "rps " + ", ".join(parts) if parts else "—"
        if ins:
            ratio += f"; p99 {fmt_x(run['p99_ms'], ins['p99_ms'])} × insert's"
        ratio += f" [{self.tag}@{bc}]" if parts else ""
        self.row(
            figure,
            value,
            target,
            ok,
            ratio,
            rps=run["rps"],
            p99_ms=run["p99_ms"],
            concurrency=c,
            rps_x_insert=round(run["rps"] / ins["rps"], 4) if ins else None,
            rps_x_healthz=round(run["rps"] / hz["rps"], 4) if hz else None,
            p99_x_insert=round(run["p99_ms"] / ins["p99_ms"], 3) if ins else None,
            baseline_at=bc,
        )
        self.chart(chart or figure, run, p99_target=p99_max)

    def baseline_runs(self) -> None:
        for c, b in sorted(self.base.items()):
            for kind in ("healthz", "insert"):
                if kind in b:
                    name = "GET /healthz" if kind == "healthz" else "bare insert"
                    self.chart(f"baseline {name} @{c}", b[kind], baseline=True)


def missing(part: Part, figure: str, why: str) -> None:
    part.row(figure, f"not measured: {why}", "—", False, "—")


# ---- the parts -------------------------------------------------------------------------------------


def registry(p: Part) -> None:
    d = p.d
    p.load(
        "Locate GET /api/v1/locate @32",
        d["locate"],
        "≥ 0.50 × healthz rps, p99 < 20 ms",
        min_healthz=0.5,
        p99_max=20,
        expect_404=True,
        chart="locate @32",
    )
    ins = p.base_at(32)[0].get("insert")
    for key, name in (("import_csv", "default settings"), ("import_csv_retry", "statement timeout raised")):
        imp = d.get(key)
        if not imp:
            continue
        rows = imp.get("rows") or d["config"]["import_rows"]
        if imp.get("status") != 201:
            p.row(
                f"Import {rows:,} residents (CSV, {name})",
                f"failed: HTTP {imp.get('status')}",
                "≥ 10,000 rows/s",
                False,
                "—",
            )
        else:
            rps = imp["rows_per_s"]
            p.row(
                f"Import {rows:,} residents (CSV, {name})",
                f"{rps:,.0f} rows/s ({imp['wall_s']} s wall)",
                "≥ 10,000 rows/s",
                rps >= 10_000,
                f"{fmt_x(rps, ins['rps'])} × insert rps (rows/s vs one-row inserts/s) [{p.tag}@32]"
                if ins
                else "—",
                rows_per_s=rps,
            )
        if "peak_rss_mb" not in imp:
            continue
        peak = imp["peak_rss_mb"]
        p.row(
            f"Import peak RSS of the registry ({name})",
            f"{peak:,.0f} MB",
            "< 1,024 MB",
            peak < 1024,
            f"{fmt_x(peak, imp['rss_before_mb'])} × its RSS before the upload (memory: no request baseline)",
            peak_rss_mb=peak,
        )
    for c, run in sorted(d["lookup"].items(), key=lambda kv: int(kv[0])):
        p.load(
            f"Lookup by id number @{c} ({d.get('residents_in_db', 0):,} residents)",
            run,
            "p99 < 10 ms",
            p99_max=10,
            chart=f"lookup @{c}",
        )


def dispatch(p: Part) -> None:
    d, r = p.d, p.d["routing"]
    p.row(
        "Routing quality (385 labelled complaints)",
        f"top-1 unit {r['top1_unit_accuracy']:.3f} (hard cases {r['hard_top1_unit_accuracy']:.3f}); "
        f"top-3 standards {r['top3_standard_recall']:.3f}; confident {r['confident_share']:.3f} "
        f"at {r['confident_accuracy']:.3f}",
        "top-1 ≥ 0.92",
        r["top1_unit_accuracy"] >= 0.92,
        "n/a (a quality figure)",
        top1=r["top1_unit_accuracy"],
    )
    p.row(
        "Routing speed, one Router.match (in process)",
        f"p50 {fmt_ms(r['match_ms_p50'])}, p99 {fmt_ms(r['match_ms_p99'])}",
        "p99 < 5 ms",
        r["match_ms_p99"] < 5,
        "n/a (in process, no HTTP baseline)",
        p99_ms=r["match_ms_p99"],
    )
    for key, what, short in (
        ("intake_cold", "every report at a new point", "new points"),
        ("intake_recurring", "2,000 recurring spots", "recurring spots"),
    ):
        p.load(
            f"Ticket intake POST /api/v1/tickets @32, {what}",
            d[key],
            "≥ 0.35 × insert rps, p99 < 100 ms",
            min_insert=0.35,
            p99_max=100,
            chart=f"ticket intake, {short} @32",
        )
    w = d["weekly_report"]
    p.row(
        f"Weekly report over {w['tickets']:,} tickets ({w['in_week']:,} in the week)",
        f"median {fmt_ms(w['report_ms_median'])} (min {fmt_ms(w['report_ms_min'])}, max {fmt_ms(w['report_ms_max'])}); "
        f".xlsx {fmt_ms(w['xlsx_ms'])}, SVG {fmt_ms(w['svg_ms'])}",
        "< 3 s",
        w["report_ms_median"] < 3000,
        "n/a (one report, not a request rate)",
        median_ms=w["report_ms_median"],
    )


def hotline(p: Part) -> None:
    d = p.d
    intake = d["hotline_intake"]
    p.load(
        "Signed 12345 order intake POST /api/v1/hotline/orders @32",
        intake,
        "≥ 0.30 × insert rps, all 201",
        min_insert=0.30,
        chart="signed order intake @32",
    )
    if intake.get("db_sessions_opened") is not None:
        p.rows[-1]["value"] += f"; {intake['db_sessions_opened']} DB connections opened"
    if d.get("hotline_intake_old_pool"):
        p.load(
            "The same with the old pool, 10 + 10 overflow (informative)",
            d["hotline_intake_old_pool"],
            "informative",
            chart="intake, old pool @32",
        )
    ins = p.base_at(32)[0].get("insert")
    dr = d["drain"]
    p.row(
        f"Outbox drain, {dr['callbacks']:,} callbacks",
        f"{dr['per_s']:,.0f} callbacks/s ({dr['drain_s']} s); duplicates {dr['duplicates']}, order violations "
        f"{dr['order_violations']}, missing {dr['missing']}",
        "≥ 500/s, each once, in order",
        dr["per_s"] >= 500 and bool(dr["all_ok"]),
        f"{fmt_x(dr['per_s'], ins['rps'])} × insert rps [{p.tag}@32]" if ins else "—",
        per_s=dr["per_s"],
    )
    for key in ("outage", "outage_short_cap"):
        o = d.get(key)
        if not o:
            continue
        full = o.get("full_delivery_after_return_s")
        p.row(
            f"Outage: receiver down {o['down_s']:.0f} s, {o['callbacks']:,} callbacks; {o['label']}",
            f"all {o['received']:,} of {o['expected']:,} delivered {full} s after its return "
            f"({o['recovery_per_s']:,.0f}/s); duplicates {o['duplicates']}, order violations "
            f"{o['order_violations']}, missing {o['missing']}",
            "every callback, once, in order",
            bool(o["all_ok"]),
            f"recovery {fmt_x(o['recovery_per_s'], ins['rps'])} × insert rps [{p.tag}@32]" if ins else "—",
            full_delivery_s=full,
        )


def wishes(p: Part) -> None:
    d = p.d
    cl, bi = d["claims"], d["baseline_insert"]
    worst = max(r["total_ms"] for r in cl["rounds_detail"])
    p.row(
        f"Claim race: 50 units claim one wish at once, {cl['rounds']} rounds",
        f"median {fmt_ms(cl['median_ms'])}, max {fmt_ms(worst)}; "
        + ("every round one 200 + 49 × 409, the database agrees" if cl["all_ok"] else "⚠ a round went wrong"),
        "exactly one 200 and 49 × 409, each round < 1 s",
        bool(cl["all_ok"]) and worst < 1000,
        f"median {fmt_x(cl['median_ms'], bi['burst_50']['median_ms'])} × 50 bare inserts at once, "
        f"{fmt_x(cl['median_ms'], d['healthz_burst']['median_ms'])} × 50 healthz at once [{p.tag}]",
        median_ms=cl["median_ms"],
        max_ms=worst,
    )
    rd = d["redemptions"]
    for bound in ("points", "stock"):
        rounds = [r for r in rd["rounds_detail"] if r["bound"] == bound]
        if not rounds:
            continue
        r0 = rounds[0]
        tot = sorted(r["total_ms"] for r in rounds)
        med = tot[len(tot) // 2]
        p.row(
            f"Redemptions: 100 at once against one {'balance' if bound == 'points' else 'stock'} "
            f"({len(rounds)} round(s), {bound}-bound)",
            f"{r0['statuses'].get('201', 0)} × 201 (expected {r0['expected_successes']}), "
            f"{r0['statuses'].get('409', 0)} × 409; median {fmt_ms(med)}, max {fmt_ms(tot[-1])}; ledger "
            + ("consistent" if all(r["ok"] for r in rounds) else "⚠ inconsistent"),
            "never negative, balance = opening − spent = Σ deltas, the rest 409",
            all(r["ok"] for r in rounds),
            f"median {fmt_x(med, bi['burst_100']['median_ms'])} × 100 bare inserts at once [{p.tag}]",
            median_ms=med,
        )
    names = {
        "liaison": "liaisons' community wall",
        "service_community": "mobile's open wall of a community",
        "service_district": "mobile's open wall of the district",
    }
    for view, byc in d["wall"].items():
        for c, run in sorted(byc.items(), key=lambda kv: int(kv[0])):
            p.load(
                f"Wish wall GET /api/v1/wishes/wall @{c}: {names.get(view, view)}",
                run,
                "p99 < 50 ms",
                p99_max=50,
                chart=f"wall {view.replace('service_', 'open ')} @{c}",
            )


def mobile(p: Part) -> None:
    d = p.d
    if "missing" in d.get("list", {}):
        missing(p, "My tickets GET /m/v1/tickets", d["list"]["missing"])
    else:
        lc = d.get("list_check", {})
        if lc:
            s = lc.get("summary", {})
            p.row(
                "My tickets: whole lists walked against the database",
                f"{s.get('accounts_checked')} lists, {s.get('tickets_walked', 0):,} tickets: "
                + ("newest first, none repeated or skipped" if lc.get("ok") else "⚠ mismatch"),
                "the database's order",
                bool(lc.get("ok")),
                "n/a (a correctness check)",
            )
        for c, run in sorted(d["list"].items(), key=lambda kv: int(kv[0])):
            p.load(
                f"My tickets GET /m/v1/tickets?limit=20 @{c} ({d['config']['tickets']:,} tickets)",
                run,
                "p99 < 50 ms" + (" (the issue's figure)" if c == "32" else ""),
                p99_max=50,
                chart=f"my tickets @{c}",
            )
    if "missing" in d.get("reports", {}):
        missing(p, "Report with one ~1 MB photo POST /m/v1/reports", d["reports"]["missing"])
        return
    for c, run in sorted(d["reports"].items(), key=lambda kv: int(kv[0])):
        p.load(
            f"Report with one ~1 MB photo POST /m/v1/reports @{c}",
            run,
            "p99 < 300 ms",
            p99_max=300,
            chart=f"report + photo @{c}",
        )
    v = d.get("report_verify")
    if v:
        p.row(
            "After the report load: one mirror row and one dispatch ticket per 201",
            f"{v['answered_201']:,} × 201 → {v['report_rows']:,} rows, {v['dispatch_tickets']:,} tickets, "
            f"{v['joined']:,} joined",
            "all equal, none orphaned",
            bool(v["ok"]),
            "n/a (a correctness check)",
        )


BUILDERS = {
    "registry": registry,
    "dispatch": dispatch,
    "hotline": hotline,
    "wishes": wishes,
    "mobile": mobile,
}
