"""Benchmark of the weekly review (一周一点评) over a million synthetic tickets.

    .venv/bin/python -m bench.report_bench [--tickets 1000000] [--week 2026-W47]

Into a throwaway, migrated database: `tickets` tickets over eight weeks (six before the reported week,
the week itself with ~30% of them, one after), 23 units weighted roughly like a district's caseload,
six streets plus ~2% unlocated, realistic statuses (void reports, duplicates, untriaged, open, closed,
rated), ~85% on time, skewed working hours, a satisfaction mix, yellow cards for ~4% and returns for
~2%. Rows are made inside PostgreSQL (INSERT ... SELECT over generate_series) so loading is a few
statements, not a million round trips. Then ANALYZE, one warm-up run and five timed runs of
`weekly_report`, and the .xlsx and SVG renderings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import ARRAY, DateTime, Float, Integer, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from services.dispatch.service.report import (
    Thresholds,
    report_svg,
    report_xlsx,
    week_window,
    weekly_report,
)

# share of the caseload per unit (percent); 城管, 住建 and 市场监管 carry most of a district's tickets
UNIT_WEIGHTS = {
    "CGJ": 22, "ZJJ": 12, "SCJ": 10, "JJD": 9, "GAJ": 8, "SZC": 7, "YLJ": 5, "STJ": 4, "SWJ": 4,
    "XFD": 2, "JTJ": 2, "WJW": 2, "RSJ": 2, "GSGS": 2, "YJJ": 1, "JYJ": 1, "MZJ": 1, "GZJ": 1,
    "WLJ": 1, "YBJ": 1, "GDGS": 1, "RQGS": 1, "DXGS": 1,
}  # fmt: skip
# on-time share per unit (~85% overall), so the red and black lists have members
UNIT_ON_TIME = {"CGJ": 0.88, "ZJJ": 0.78, "SCJ": 0.9, "JJD": 0.97, "GAJ": 0.96, "SZC": 0.74, "GDGS": 0.98}
STREETS = {
    "330106001": "北山街道",
    "330106002": "西溪街道",
    "330106003": "灵隐街道",
    "330106004": "翠苑街道",
    "330106005": "文新街道",
    "330106006": "古荡街道",
}
STREET_WEIGHTS = (24, 20, 8, 18, 16, 14)
CHANNELS = ("patrol", "wechat_group", "snapshot", "hotline", "phone", "video_patrol", "mini_program")

# Layer 1 draws the random numbers (a subquery with volatile output is not flattened, so each is drawn
# once per row); layer 2 derives the times; the outer SELECT the status and what it implies.
LOAD_TICKETS = text(
    """
INSERT INTO dispatch.ticket (
    number, channel, status, text, urgency, place_status, place_attempts, anonymous, contact_allowed,
    attachments, unit, street_code, street_name, created_at, updated_at, dispatched_at, handled_at,
    closed_at, feedback_at, response_hours, handling_hours, work_seconds, on_time, satisfaction, pauses,
    route_confident, dispatch_round, supervision_level, response_overdue, extension_pending, reopen_count,
    return_count, created_by, verify_on_site)
SELECT
    'BR' || lpad(g::text, 12, '0'),
    (:channels)[1 + floor(r_channel * cardinality(:channels))::int],
    CASE WHEN r_status < 0.02 THEN 'cancelled'
         WHEN r_status < 0.05 THEN 'linked'
         WHEN r_status < 0.07 THEN 'triage'
         WHEN closed_at > :now THEN (ARRAY['dispatched','accepted','handling','handled'])[1 + floor(r_fb * 4)::int]
         WHEN r_fb < 0.6 THEN 'feedback'
         ELSE 'closed' END,
    '基准测试案件', 'normal', CASE WHEN street IS NULL THEN 'unresolved' ELSE 'resolved' END, 1, false, false,
    '[]'::jsonb,
    CASE WHEN r_status >= 0.05 AND r_status < 0.07 THEN NULL ELSE unit END,
    street, (:street_names)[street_ix],
    created_at, created_at,
    CASE WHEN r_status >= 0.07 THEN created_at + interval '10 minutes' END,
    CASE WHEN r_status >= 0.07 AND closed_at <= :now THEN closed_at - interval '3 hours' END,
    CASE WHEN r_status >= 0.07 AND closed_at <= :now THEN closed_at END,
    CASE WHEN r_status >= 0.07 AND closed_at <= :now AND r_fb < 0.6
         THEN closed_at + r_fb_delay * interval '2 days' END,
    4, 40,
    CASE WHEN r_status >= 0.07 AND closed_at <= :now THEN work_s END,
    CASE WHEN r_status >= 0.07 AND closed_at <= :now THEN r_on_time < (:unit_on_time)[unit_ix] END,
    CASE WHEN r_status >= 0.07 AND closed_at <= :now AND r_fb < 0.6 THEN
        CASE WHEN r_sat < 0.72 THEN 'satisfied' WHEN r_sat < 0.90 THEN 'basically_satisfied'
             ELSE 'dissatisfied' END END,
    '[]'::jsonb, true, 1, 0, false, false, 0, 0, 'bench', true
FROM (
    SELECT *,
        -- 1 + 3.4 real hours per working hour (7 working hours a day, weekends), plus the check
        created_at + (work_s * 3.4 + 3600 + r_check * 86400) * interval '1 second' AS closed_at,
        (:street_codes)[street_ix] AS street
    FROM (
        SELECT *,
            -- in insertion order, as real tickets are: 60% over the six weeks before, 30% in the
            -- reported week, 10% in the week after (u is the row's place in the whole load)
            :start + (CASE WHEN u < 0.6 THEN -42 + u / 0.6 * 42
                           WHEN u < 0.9 THEN (u - 0.6) / 0.3 * 7
                           ELSE 7 + (u - 0.9) / 0.1 * 7 END) * interval '1 day' AS created_at,
            -ln(1 - r_work) * 8 * 3600 AS work_s,
            1 + floor(r_unit * cardinality(:units))::int AS unit_ix,
            (:units)[1 + floor(r_unit * cardinality(:units))::int] AS unit,
            CASE WHEN r_street < 0.02 THEN NULL
                 ELSE (:street_ix)[1 + floor(r_street2 * cardinality(:street_ix))::int] END AS street_ix
        FROM (
            SELECT g, (g - 1 + random()) / :total AS u, random() AS r_status,
                   random() AS r_unit, random() AS r_street, random() AS r_street2, random() AS r_work,
                   random() AS r_check, random() AS r_on_time, random() AS r_fb, random() AS r_fb_delay,
                   random() AS r_sat, random() AS r_channel
            FROM generate_series(:first, :last) AS g
        ) AS draw
    ) AS times
) AS t
"""
).bindparams(
    bindparam("channels", type_=ARRAY(String)),
    bindparam("units", type_=ARRAY(String)),
    bindparam("unit_on_time", type_=ARRAY(Float)),
    bindparam("street_codes", type_=ARRAY(String)),
    bindparam("street_names", type_=ARRAY(String)),
    bindparam("street_ix", type_=ARRAY(Integer)),
    bindparam("start", type_=DateTime(timezone=True)),
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("first", type_=Integer),
    bindparam("last", type_=Integer),
    bindparam("total", type_=Float),
)

# Yellow cards for ~30% of the late tickets and for ~5% of the open ones that are old; an early warning
# before each. Returns for ~2% of the routed tickets, a few hours after dispatch.
LOAD_SUPERVISIONS = text(
    """
INSERT INTO dispatch.supervision (ticket_id, round, clock, kind, unit, street_code, due_at, created_at, note)
SELECT id, 1, 'handling', k.kind, unit, street_code, due, due + k.after, 'bench'
FROM (
    SELECT id, unit, street_code, dispatched_at + (coalesce(closed_at, :now) - dispatched_at) * 0.6 AS due
    FROM dispatch.ticket
    WHERE dispatched_at IS NOT NULL
      AND ((on_time IS FALSE AND random() < 0.3) OR (closed_at IS NULL AND random() < 0.05))
) AS late
CROSS JOIN (VALUES ('warning', interval '-2 hours'), ('yellow', interval '5 minutes')) AS k(kind, after)
"""
).bindparams(bindparam("now", type_=DateTime(timezone=True)))
LOAD_RETURNS = text(
    """
INSERT INTO dispatch.ticket_return (ticket_id, unit, reason, requested_by, requested_at, ruling)
SELECT id, unit, '非本单位职责', 'bench', dispatched_at + random() * interval '6 hours',
       CASE WHEN random() < 0.5 THEN 'upheld' ELSE 'rejected' END
FROM dispatch.ticket
WHERE unit IS NOT NULL AND dispatched_at IS NOT NULL AND random() < 0.02
"""
)


def _weighted(weights: dict[str, int] | dict[str, float]) -> list[str]:
    return [code for code, w in weights.items() for _ in range(int(w))]


# Secondary indexes are dropped for the bulk insert and rebuilt afterwards (one sort each instead of a
# million single-row inserts into each); the ones behind constraints stay.
SECONDARY_INDEXES = text(
    """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = 'dispatch' AND i.tablename = 'ticket'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
ORDER BY i.indexname
"""
)


async def load(engine: AsyncEngine, *, tickets: int, week: str, parts: int = 2) -> dict[str, Any]:
    """Load the synthetic tickets in `parts` concurrent statements (one per core) and return the step
    timings and how many tickets were created in the reported week."""
    start, end = week_window(week)
    params = {
        "channels": list(CHANNELS),
        "units": _weighted(UNIT_WEIGHTS),
        "unit_on_time": [UNIT_ON_TIME.get(u, 0.86) for u in _weighted(UNIT_WEIGHTS)],
        "street_codes": list(STREETS),
        "street_names": list(STREETS.values()),
        "street_ix": [i + 1 for i, w in enumerate(STREET_WEIGHTS) for _ in range(w)],
        "start": start,
        "now": end + timedelta(days=7),  # "now" is the end of the week after the reported one
        "total": float(tickets),
    }
    steps: dict[str, float] = {}
    t = time.perf_counter()
    async with engine.begin() as conn:
        indexes = (await conn.execute(SECONDARY_INDEXES)).all()
        for name, _ in indexes:
            await conn.execute(text("DROP INDEX dispatch." + conn.dialect.identifier_preparer.quote(name)))

    async def part(first: int, last: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL synchronous_commit = off"))
            await conn.execute(LOAD_TICKETS, {**params, "first": first, "last": last})

    size = -(-tickets // parts)
    await asyncio.gather(
        *(part(i * size + 1, min(tickets, (i + 1) * size)) for i in range(parts) if i * size < tickets)
    )
    steps["insert_s"] = time.perf_counter() - t

    t = time.perf_counter()
    queue = [ddl for _, ddl in indexes]

    async def build() -> None:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("SET maintenance_work_mem = '256MB'"))
            while queue:
                await conn.execute(text(queue.pop()))

    await asyncio.gather(*(build() for _ in range(parts)))
    steps["index_s"] = time.perf_counter() - t

    t = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(LOAD_SUPERVISIONS, {"now": params["now"]})
        await conn.execute(LOAD_RETURNS)
    steps["cards_and_returns_s"] = time.perf_counter() - t
    t = time.perf_counter()
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE dispatch.ticket, dispatch.supervision, dispatch.ticket_return"))
        steps["analyze_s"] = time.perf_counter() - t
        in_week = await conn.scalar(
            text("SELECT count(*) FROM dispatch.ticket WHERE created_at >= :a AND created_at < :b"),
            {"a": start, "b": end},
        )
    return {"in_week": int(in_week or 0), "steps": {k: round(v, 1) for k, v in steps.items()}}


async def bench_weekly_report(
    url: str, *, tickets: int = 1_000_000, week: str = "2026-W47"
) -> dict[str, Any]:
    engine = create_async_engine(url, pool_size=4)
    try:
        t0 = time.perf_counter()
        loaded = await load(engine, tickets=tickets, week=week)
        load_s = time.perf_counter() - t0

        maker = async_sessionmaker(engine, expire_on_commit=False)
        thresholds = Thresholds()
        timings: list[float] = []
        report: dict[str, Any] = {}
        for i in range(6):  # the first is the warm-up
            async with maker() as session:
                t = time.perf_counter()
                report = await weekly_report(session, week=week, thresholds=thresholds)
                if i:
                    timings.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        xlsx = report_xlsx(report)
        xlsx_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        svg = report_svg(report)
        svg_ms = (time.perf_counter() - t) * 1000
        async with engine.connect() as conn:
            counts = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM dispatch.ticket), "
                        "(SELECT count(*) FROM dispatch.supervision WHERE kind = 'yellow'), "
                        "(SELECT count(*) FROM dispatch.ticket_return)"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return {
        "tickets": counts[0],
        "in_week": loaded["in_week"],
        "yellow_cards": counts[1],
        "returns": counts[2],
        "load_s": round(load_s, 1),
        "load_steps": loaded["steps"],
        "report_ms_min": round(min(timings), 1),
        "report_ms_median": round(statistics.median(timings), 1),
        "report_ms_max": round(max(timings), 1),
        "xlsx_ms": round(xlsx_ms, 1),
        "xlsx_bytes": len(xlsx),
        "svg_ms": round(svg_ms, 2),
        "svg_bytes": len(svg.encode()),
        "totals": report["totals"],
        "ranked": len(report["ranking"]),
        "red_list": [e["code"] for e in report["red_list"]],
        "black_list": [e["code"] for e in report["black_list"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--week", default="2026-W47")
    args = parser.parse_args()

    from tools import db

    server = db.embedded_server("pg-bench")
    url = db.ensure_database(server, "gridgov_bench_report", fresh=True)
    db.upgrade(url)
    result = asyncio.run(bench_weekly_report(url, tickets=args.tickets, week=args.week))
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
