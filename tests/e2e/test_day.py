"""The end-to-end day on real processes (issue 7): PostgreSQL, the four services and the WeChat fake as
separate uvicorn processes (tools/stack.py), the fake 12345 platform on both ends; then every count is
reconciled with the databases. Select or skip it with `-m e2e` / `-m "not e2e"`.

Under pytest-xdist it uses the worker's database server, with a fresh database of its own (the other
tests' rolled-back transactions never see it).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from tests.e2e.day import run_day
from tools import db as devdb
from tools import stack as stack_mod

pytestmark = pytest.mark.e2e

ORDERS, RESIDENTS, PER_RESIDENT, PATROLS = 20, 3, 2, 4
RESTING = ("closed", "feedback", "cancelled", "linked")  # not OPEN_STATUSES: nothing left to do


@pytest.fixture(scope="module")
def e2e_stack(database_url: str) -> Iterator[Any]:
    t0 = time.monotonic()
    url = devdb.fresh_sibling(database_url, "e2e")
    name = url.partition("?")[0].rpartition("/")[2]
    try:
        # the services' logs stay in .data/e2e-logs/<database> for a look after a failure
        with stack_mod.start(url, log_dir=devdb.DATA / "e2e-logs" / name) as s:
            s.timings["startup_total"] = round(time.monotonic() - t0, 2)
            yield s
    finally:
        asyncio.run(_drop(url))


async def _drop(url: str) -> None:
    """Drop the day's database (11,000 demo residents) once the services are gone."""
    base, _, query = url.partition("?")
    head, _, name = base.rpartition("/")
    dsn = (head + "/postgres" + ("?" + query if query else "")).replace(
        "postgresql+asyncpg://", "postgresql://", 1
    )
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _poll(check: Any, what: str, timeout: float = 20.0) -> Any:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        ok, detail = await check()
        if ok:
            return detail
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not settle in {timeout:.0f} s: {detail}")
        await asyncio.sleep(0.25)


async def test_a_whole_day_reconciles(e2e_stack: Any) -> None:
    s = e2e_stack
    t0 = time.monotonic()
    day = await run_day(s, orders=ORDERS, residents=RESIDENTS, patrols=PATROLS)
    t_day = time.monotonic() - t0
    conn = await asyncpg.connect(s.database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        # callbacks and status pushes drain (bounded wait)
        async def drained() -> tuple[bool, Any]:
            cb = await conn.fetchval(
                "SELECT count(*) FROM dispatch.hotline_callback WHERE state <> 'delivered'"
            )
            ob = await conn.fetchval("SELECT count(*) FROM dispatch.outbox WHERE sent_at IS NULL")
            return cb == 0 and ob == 0, {"callbacks not delivered": cb, "outbox unsent": ob}

        await _poll(drained, "the callback and push outboxes")

        # 12345: orders posted = hotline tickets = orders with their callbacks on the platform
        posted = day["orders"]
        assert len(posted) == ORDERS == len(set(posted))
        assert day["push"]["by_http_status"] == {201: ORDERS}, day["push"]
        assert day["replayed"] == 3
        rows = await conn.fetch(
            "SELECT o.order_no, t.channel, t.status FROM dispatch.hotline_order o JOIN dispatch.ticket t ON t.id = o.ticket_id"
        )
        assert sorted(r["order_no"] for r in rows) == sorted(posted)
        assert {r["channel"] for r in rows} == {"hotline"}
        assert await conn.fetchval("SELECT count(*) FROM dispatch.ticket WHERE channel = 'hotline'") == ORDERS
        expected: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for r in await conn.fetch(
            "SELECT order_no, seq, event FROM dispatch.hotline_callback ORDER BY order_no, seq"
        ):
            expected[r["order_no"]].append((r["seq"], r["event"]))
        rec = s.receiver
        assert rec.duplicates == 0 and rec.rejected == 0, rec.summary()
        assert not rec.violations and not rec.malformed, (rec.violations, rec.malformed)
        assert set(rec.by_order) == set(posted) == set(expected)
        for order_no in posted:
            got = [c["seq"] for c in rec.by_order[order_no]]
            assert got == [seq for seq, _ in expected[order_no]], order_no  # all of them, in order
            events = [e for _, e in expected[order_no]]
            assert events[0] == "accepted" and events[-2:] == ["completed", "satisfaction"], (
                order_no,
                events,
            )
        n_callbacks = sum(len(v) for v in expected.values())
        assert len(rec.received) == n_callbacks

        # residents: every 201 report = one mobile mirror row = one dispatch ticket
        reports = day["reports"]
        assert day["report_statuses"] == Counter({201: RESIDENTS * PER_RESIDENT})
        assert len(reports) == len(set(reports)) == RESIDENTS * PER_RESIDENT
        mirror = {r["ticket_number"]: r for r in await conn.fetch("SELECT * FROM mobile.report")}
        assert sorted(mirror) == sorted(reports)
        mp = await conn.fetch(
            "SELECT number, id FROM dispatch.ticket WHERE number = ANY($1::text[])", reports
        )
        assert len(mp) == len(reports)
        assert all(mirror[r["number"]]["ticket_id"] == r["id"] for r in mp)

        # every ticket has a trail, the full loop, and rests (nothing transient, no place pending)
        tickets = await conn.fetch("SELECT id, number, channel, status, place_status FROM dispatch.ticket")
        assert len(tickets) == ORDERS + len(reports) + PATROLS
        trail = {
            r["ticket_id"]: r["actions"]
            for r in await conn.fetch(
                "SELECT ticket_id, array_agg(action ORDER BY id) AS actions FROM dispatch.ticket_event GROUP BY ticket_id"
            )
        }
        stuck = [
            (t["number"], t["status"], t["place_status"])
            for t in tickets
            if t["status"] not in RESTING or t["place_status"] == "pending"
        ]
        assert not stuck, stuck
        by_channel = Counter((t["channel"], t["status"]) for t in tickets)
        assert by_channel == {
            ("hotline", "feedback"): ORDERS,  # 回访 done by the centre
            ("mini_program", "feedback"): len(reports),  # rated by the residents
            ("patrol", "closed"): PATROLS,
        }, by_channel
        for t in tickets:
            actions = trail.get(t["id"], [])
            assert actions, f"{t['number']} has no trail"
            for step in ("accept", "handle", "close"):
                assert step in actions, (t["number"], actions)
        returns = await conn.fetchval("SELECT count(*) FROM dispatch.ticket_return")
        assert returns == day["steps"]["return"] == day["steps"]["rule_return"] > 0

        # the mini-program's mirror matches dispatch once the pushes drained (ratings included)
        async def mirrored() -> tuple[bool, Any]:
            rows = await conn.fetch(
                "SELECT m.ticket_number, m.status AS m, t.status AS d, m.satisfaction FROM mobile.report m "
                "JOIN dispatch.ticket t ON t.number = m.ticket_number"
            )
            off = [dict(r) for r in rows if r["m"] != r["d"] or r["satisfaction"] != "satisfied"]
            return not off and len(rows) == len(reports), off

        await _poll(mirrored, "the mobile mirror")
        rated = await conn.fetchval(
            "SELECT count(*) FROM dispatch.ticket_event e JOIN dispatch.ticket t ON t.id = e.ticket_id "
            "WHERE e.action = 'feedback' AND t.number = ANY($1::text[])",
            reports,
        )
        assert rated == len(reports)

        # the wish: closed, its trail complete, points awarded to the volunteer who served
        wish = day["wish"]
        assert wish["status"] == "closed"
        w = await conn.fetchrow("SELECT status FROM wishes.wish WHERE id = $1", wish["id"])
        assert w["status"] == "closed"
        steps = [
            r["action"]
            for r in await conn.fetch(
                "SELECT action FROM wishes.wish_event WHERE wish_id = $1 ORDER BY id", wish["id"]
            )
        ]
        for step in ("submit", "approve", "publish", "claim", "start", "complete", "confirm", "close"):
            assert step in steps, steps
        awarded = await conn.fetchval(
            "SELECT coalesce(sum(delta), 0) FROM wishes.points_entry WHERE wish_id = $1 AND volunteer_id = $2",
            wish["id"],
            wish["volunteer"]["id"],
        )
        assert awarded > 0
    finally:
        await conn.close()
    summary = {
        "timings": s.timings,
        "day_s": round(t_day, 2),
        "orders": ORDERS,
        "callbacks": n_callbacks,
        "reports": len(reports),
        "patrols": PATROLS,
        "tickets": len(tickets),
        "returns": returns,
        "steps": day["steps"],
        "wish_points": awarded,
    }
    print(f"\ne2e day: {summary}")
