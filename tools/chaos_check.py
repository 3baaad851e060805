"""The invariants `make chaos` checks after its faults (tools/chaos.py), and its report.

Each check compares what the clients were told (every request and its final answer, kept by the load)
with what the database holds and what the fake 12345 platform received:

- stored exactly once: every 2xx intake (Idempotency-Key), 12345 order (order_no) and resident report
  (Idempotency-Key) is one ticket with the number the answer gave; no key or order has two tickets;
  every acknowledged transition is one event on the ticket's trail, and none is there twice;
- callbacks: every callback dispatch wrote for this run's orders was delivered and received once per
  event (redeliveries of the same event_id are allowed: at least once, deduplicated by the platform),
  seq 1..n in order per order; an accepted, closed or rated ticket has its 签收, 办结, 回访 callback;
- nothing stuck: no place left `pending`, no outbox row unsent, no callback pending or dead, no
  resident's mirror behind dispatch, no supervision alarm past due and untouched;
- the overdue job did not double-fire: one supervision row per (ticket, round, clock, kind), and no
  more 督办 trail events than supervision rows, no more escalations than red cards.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tools.db import ROOT
from tools.hotline_platform import CallbackReceiver

RESULTS = ROOT / "bench" / "results"
CALLBACK_OF = {"accept": "accepted", "close": "completed", "feedback": "satisfaction"}


async def _pending(
    conn: asyncpg.Connection, run: str, since: datetime, receiver: CallbackReceiver
) -> dict[str, int]:
    q = {
        "places pending": "SELECT count(*) FROM dispatch.ticket WHERE place_status = 'pending' AND created_at >= $1",
        "outbox unsent": "SELECT count(*) FROM dispatch.outbox WHERE sent_at IS NULL AND created_at >= $1",
    }
    out = {k: await conn.fetchval(v, since) for k, v in q.items()}
    out["callbacks pending"] = await conn.fetchval(
        "SELECT count(*) FROM dispatch.hotline_callback WHERE state <> 'delivered' AND order_no LIKE $1",
        f"CH{run}%",
    )
    delivered = await conn.fetchval(
        "SELECT count(*) FROM dispatch.hotline_callback WHERE order_no LIKE $1", f"CH{run}%"
    )
    got = sum(1 for c in receiver.received if c["order_no"].startswith(f"CH{run}"))
    out["callbacks not received"] = max(0, delivered - got)
    out["mirror behind"] = await conn.fetchval(
        # a report linked as a duplicate follows its master ticket
        """SELECT count(*) FROM mobile.report r JOIN dispatch.ticket t ON t.number = r.ticket_number
           LEFT JOIN dispatch.ticket m ON m.id = t.master_id
           WHERE r.idem_key LIKE $1 AND r.status <> t.status AND r.status IS DISTINCT FROM m.status""",
        f"chaos-{run}-%",
    )
    return out


async def check(url: str, load: Any, receiver: CallbackReceiver, *, drain_s: float) -> dict[str, Any]:
    run = load.run_id
    since = datetime.now(UTC) - timedelta(seconds=load.now() + 5)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        t0 = time.monotonic()
        while True:  # the outboxes and retry jobs get a bounded time to catch up
            left = await _pending(conn, run, since, receiver)
            if not any(left.values()) or time.monotonic() - t0 > drain_s:
                break
            await asyncio.sleep(1.0)
        drained_s = round(time.monotonic() - t0, 1)
        await asyncio.sleep(3)  # the supervision job runs every 2 s: let it see the last alarms
        result = await _verify(conn, run, since, load, receiver)
        result["drain"] = {"seconds": drained_s, "left": await _pending(conn, run, since, receiver)}
    finally:
        await conn.close()
    for k, v in result["drain"]["left"].items():
        result["invariants"].append(_inv(f"stuck: {k}", v == 0, f"{v}"))
    return result


def _inv(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"invariant": name, "ok": ok, "detail": detail}


async def _verify(
    conn: asyncpg.Connection, run: str, since: datetime, load: Any, receiver: CallbackReceiver
) -> dict[str, Any]:
    reqs = load.requests
    inv: list[dict[str, Any]] = []
    kinds: dict[str, dict[str, int]] = {}

    async def groups(sql: str, *params: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for row in await conn.fetch(sql, *params):
            out[row[0]].append(row[1])
        return out

    stored = {
        "intake": await groups(
            "SELECT idem_key, number FROM dispatch.ticket WHERE idem_key LIKE $1", f"chaos-{run}-%"
        ),
        "hotline": await groups(
            "SELECT external_ref, number FROM dispatch.ticket WHERE channel = 'hotline' AND external_ref LIKE $1",
            f"CH{run}%",
        ),
        "report": await groups(
            "SELECT idem_key, ticket_number FROM mobile.report WHERE idem_key LIKE $1", f"chaos-{run}-%"
        ),
    }
    # the tickets mobile filed with dispatch: key mobile-<account>-<resident's key>
    filed = await groups(
        "SELECT substring(idem_key from 'chaos-.*$'), number FROM dispatch.ticket WHERE idem_key LIKE $1",
        f"mobile-%-chaos-{run}-%",
    )
    orders = await groups(
        "SELECT o.order_no, t.number FROM dispatch.hotline_order o JOIN dispatch.ticket t ON t.id = o.ticket_id "
        "WHERE o.order_no LIKE $1",
        f"CH{run}%",
    )
    for kind in ("hotline", "intake", "report"):
        mine = [r for r in reqs if r.kind == kind]
        acked = [r for r in mine if r.acked]
        # a resend of an acknowledged request is answered with the same number (200, replayed)
        missing = [r.key for r in acked if stored[kind].get(r.key) != [r.number]]
        doubled = [k for k, v in stored[kind].items() if len(v) > 1]
        if kind == "report":  # and at dispatch: one ticket per report, the one the resident was told
            missing += [r.key for r in acked if filed.get(r.key) != [r.number]]
            doubled += [k for k, v in filed.items() if len(v) > 1]
        if kind == "hotline":
            missing += [r.key for r in acked if orders.get(r.key) != [r.number]]
        kinds[kind] = {
            "sent": len(mine),
            "attempts": sum(len(r.attempts) for r in mine),
            "acknowledged_2xx": len(acked),
            "replayed_200": sum(r.replayed for r in acked),
            "refused_4xx": sum(1 for r in mine if r.status is not None and 400 <= r.status < 500),
            "gave_up": sum(1 for r in mine if r.status is None),
            "stored": len(stored[kind]),
            "stored_not_acknowledged": len(set(stored[kind]) - {r.key for r in acked}),
        }
        inv.append(
            _inv(
                f"{kind}: every 2xx stored once, with the number returned",
                not missing,
                f"{len(acked)} acknowledged, missing or different: {missing[:5]}",
            )
        )
        inv.append(_inv(f"{kind}: no key stored twice", not doubled, f"doubled: {doubled[:5]}"))

    # transitions: each acknowledged step is one event; none is on the trail twice
    steps = [r for r in reqs if r.kind == "transition"]
    tids = sorted({int(r.key.split(":")[0]) for r in steps})
    events = Counter()
    for row in await conn.fetch(
        "SELECT ticket_id, action, count(*) AS n FROM dispatch.ticket_event WHERE ticket_id = ANY($1) GROUP BY 1, 2",
        tids,
    ):
        events[f"{row['ticket_id']}:{row['action']}"] = row["n"]
    lost = [r.key for r in steps if r.acked and events[r.key] != 1]
    twice = [r.key for r in steps if events[r.key] > 1]
    kinds["transition"] = {
        "sent": len(steps),
        "attempts": sum(len(r.attempts) for r in steps),
        "acknowledged_2xx": sum(r.acked for r in steps),
        "replayed_200": 0,
        "refused_4xx": sum(1 for r in steps if r.status is not None and 400 <= r.status < 500),
        "gave_up": sum(1 for r in steps if r.status is None),
        "stored": sum(1 for r in steps if events[r.key] >= 1),
        "stored_not_acknowledged": sum(1 for r in steps if not r.acked and events[r.key] >= 1),
    }
    inv.append(_inv("transitions: every 2xx step is on the trail once", not lost, f"lost: {lost[:5]}"))
    inv.append(_inv("transitions: no step on the trail twice", not twice, f"twice: {twice[:5]}"))

    # callbacks
    rows = await conn.fetch(
        "SELECT order_no, seq, event, state, ticket_id FROM dispatch.hotline_callback WHERE order_no LIKE $1 ORDER BY order_no, seq",
        f"CH{run}%",
    )
    written: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        written[row["order_no"]].append(row)
    got = {k: v for k, v in receiver.by_order.items() if k.startswith(f"CH{run}")}
    mismatch, gaps = [], []
    for order_no in set(written) | set(got):
        want = [(r["seq"], r["event"]) for r in written.get(order_no, [])]
        have = [(c["seq"], c["event"]) for c in got.get(order_no, [])]
        if want != have:
            mismatch.append(order_no)
        if [s for s, _ in want] != list(range(1, len(want) + 1)):
            gaps.append(order_no)
    order_tickets = {r["ticket_id"] for r in rows}
    hot_tids = [
        row["id"]
        for row in await conn.fetch(
            "SELECT id FROM dispatch.ticket WHERE channel = 'hotline' AND external_ref LIKE $1", f"CH{run}%"
        )
    ]
    trail = await conn.fetch(
        "SELECT t.external_ref, e.action FROM dispatch.ticket_event e JOIN dispatch.ticket t ON t.id = e.ticket_id "
        "WHERE e.ticket_id = ANY($1) AND e.action = ANY($2)",
        hot_tids,
        list(CALLBACK_OF),
    )
    without = [
        f"{r['external_ref']}:{r['action']}"
        for r in trail
        if CALLBACK_OF[r["action"]] not in [c["event"] for c in got.get(r["external_ref"], [])]
    ]
    mine_violations = [v for v in receiver.violations if v.startswith(f"CH{run}")]
    callbacks = {
        "written": len(rows),
        "received": sum(len(v) for v in got.values()),
        "by_event": dict(Counter(c["event"] for v in got.values() for c in v)),
        "orders_with_callbacks": len(order_tickets),
        "redeliveries_deduplicated": receiver.duplicates,
        "receiver_attempts": receiver.attempts,
        "rejected_signatures": receiver.rejected,
    }
    inv.append(
        _inv(
            "callbacks: what dispatch wrote is what the platform received, in seq order",
            not mismatch and not mine_violations,
            f"mismatched orders: {mismatch[:5]}; violations: {mine_violations[:3]}",
        )
    )
    inv.append(_inv("callbacks: seq 1..n per order, no gaps, no doubles", not gaps, f"{gaps[:5]}"))
    inv.append(
        _inv(
            "callbacks: every 签收/结案/回访 on a hotline ticket reached the platform",
            not without,
            f"{len(trail)} steps; without callback: {without[:5]}",
        )
    )
    inv.append(
        _inv("callbacks: signatures all accepted", receiver.rejected == 0, f"{receiver.rejected} rejected")
    )

    # supervision
    sup_dupes = await conn.fetch(
        "SELECT ticket_id, round, clock, kind, count(*) FROM dispatch.supervision GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"
    )
    ev_vs_rows = await conn.fetch(
        """WITH ev AS (SELECT ticket_id, data->>'clock' AS clock, data->>'kind' AS kind, count(*) AS n
                       FROM dispatch.ticket_event WHERE action = 'supervise' GROUP BY 1, 2, 3),
                sv AS (SELECT ticket_id, clock, kind, count(*) AS n FROM dispatch.supervision GROUP BY 1, 2, 3)
           SELECT ev.ticket_id FROM ev LEFT JOIN sv USING (ticket_id, clock, kind) WHERE ev.n > coalesce(sv.n, 0)"""
    )
    esc = await conn.fetch(
        """SELECT e.ticket_id FROM dispatch.ticket_event e WHERE e.action = 'auto_escalate' GROUP BY 1
           HAVING count(*) > (SELECT count(*) FROM dispatch.supervision s WHERE s.ticket_id = e.ticket_id AND s.kind = 'red')"""
    )
    late = await conn.fetchval(
        "SELECT count(*) FROM dispatch.ticket WHERE alarm_at < now() - interval '20 seconds' AND created_at >= $1",
        since,
    )
    issued = await conn.fetch(
        "SELECT clock, kind, count(*) AS n FROM dispatch.supervision WHERE created_at >= $1 GROUP BY 1, 2 ORDER BY 1, 2",
        since,
    )
    supervision = {f"{r['clock']} {r['kind']}": r["n"] for r in issued}
    inv.append(_inv("supervision: issued during the run", sum(supervision.values()) > 0, f"{supervision}"))
    inv.append(
        _inv(
            "supervision: one row per ticket/round/clock/kind", not sup_dupes, f"{len(sup_dupes)} duplicated"
        )
    )
    inv.append(
        _inv(
            "supervision: no 督办 event without its row (no double fire)",
            not ev_vs_rows,
            f"{len(ev_vs_rows)} tickets",
        )
    )
    inv.append(_inv("supervision: no escalation beyond the red cards", not esc, f"{len(esc)} tickets"))
    inv.append(_inv("stuck: alarm past due and not processed", late == 0, f"{late}"))

    late_placed = await conn.fetchval(
        "SELECT count(DISTINCT e.ticket_id) FROM dispatch.ticket_event e JOIN dispatch.ticket t ON t.id = e.ticket_id "
        "WHERE e.action = 'locate' AND t.created_at >= $1",
        since,
    )
    refusals = Counter(
        f"{r.kind} {r.key.split(':')[-1] if r.kind == 'transition' else ''} {r.status}: {(r.detail or '')[:90]}"
        for r in reqs
        if r.status is not None and r.status >= 400
    )
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    for r in reqs:
        for _, phase, status in r.attempts:
            if not status.startswith("2"):
                errors[phase][f"{r.kind} {status}"] += 1
    return {
        "run": run,
        "kinds": kinds,
        "callbacks": callbacks,
        "supervision": supervision,
        "placed_late": late_placed,
        "final_refusals": dict(refusals.most_common(12)),
        "errors_by_phase": {k: dict(v.most_common()) for k, v in errors.items()},
        "invariants": inv,
    }


def write_report(result: dict[str, Any], *, quick: bool) -> int:
    ok = all(i["ok"] for i in result["invariants"])
    result.update(
        {
            "ok": ok,
            "quick": quick,
            "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chaos.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    md = [
        f"# Chaos run {result['run']} ({'quick, ' if quick else ''}{result['load_s']:.0f} s of load) — "
        f"{'all invariants hold' if ok else 'INVARIANTS FAILED'}",
        "",
        f"Loopback only, {os.cpu_count()} cores shared by PostgreSQL, the four services, the fakes and the load. "
        f"Written by `make chaos` ({result['finished_at']}).",
        "",
        "## Faults",
        "",
        "| at (s) | fault | back after (s) |",
        "|---:|---|---:|",
        *(f"| {f['at_s']:.0f} | {f['fault']} | {f['back_after_s']} |" for f in result["faults"]),
        "",
        "## Requests: acknowledged vs stored",
        "",
        "| kind | requests | attempts | 2xx | of them replays | refused 4xx | gave up | stored | stored, never acknowledged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {k} | {v['sent']} | {v['attempts']} | {v['acknowledged_2xx']} | {v['replayed_200']} | "
            f"{v['refused_4xx']} | {v['gave_up']} | {v['stored']} | {v['stored_not_acknowledged']} |"
            for k, v in result["kinds"].items()
        ),
        "",
        "## Errors seen, by phase",
        "",
        "| phase | answers other than 2xx (kind status: count) |",
        "|---|---|",
        *(
            f"| {p} | {', '.join(f'{k}: {n}' for k, n in e.items())} |"
            for p, e in result["errors_by_phase"].items()
        ),
        "",
        "## 12345 callbacks and supervision",
        "",
        f"Callbacks: {json.dumps(result['callbacks'], ensure_ascii=False)}",
        "",
        f"Supervision issued during the run: {json.dumps(result['supervision'], ensure_ascii=False)}",
        "",
        f"Tickets stored with their place pending (registry unreachable) and placed later by the job: {result['placed_late']}",
        "",
        "Final refusals (a 4xx the client accepted as the answer; transitions the state no longer allowed):",
        "",
        *(f"- {k} ×{n}" for k, n in result["final_refusals"].items()),
        "",
        f"Drain after the load: {result['drain']['seconds']} s; left: {json.dumps(result['drain']['left'], ensure_ascii=False)}",
        "",
        "## Invariants",
        "",
        "| | invariant | detail |",
        "|---|---|---|",
        *(
            f"| {'ok' if i['ok'] else '**FAIL**'} | {i['invariant']} | {i['detail']} |"
            for i in result["invariants"]
        ),
        "",
    ]
    text = "\n".join(md)
    (RESULTS / "CHAOS.md").write_text(text)
    print(text)
    return 0 if ok else 1
