"""Status callbacks to the 12345 platform: written with the change, delivered in order, never lost.

**Writing.** `enqueue` runs inside the transition's transaction (the ticket row is locked), so a callback
exists exactly when the change it reports committed. Linked duplicates that came from 12345 get the
master's steps too. `seq` numbers an order's callbacks 1, 2, 3…

**Delivering.** `Courier.drain` claims due callbacks with `FOR UPDATE SKIP LOCKED` (replicas share the
work), taking only the head of each order's queue: a callback waits while an earlier one of the same
order is undelivered, so the platform sees them in order. A claim is a lease (next_attempt_at moves past
the request timeout), so a crash mid-flight means a retry after the lease, never a loss. Outcomes:

- 2xx: delivered.
- 408, 425, 429, 5xx or no answer: retried after `backoff·2^(n-1)` seconds (capped), times a random
  0.5–1 (jitter keeps replicas and orders from retrying in lockstep); dead after `max_attempts`.
- any other 4xx: dead at once; the platform refused this request and the same bytes cannot succeed.

A dead callback holds back its order's later ones until an admin re-drives it (order over liveness: the
platform must never see 办结 before 签收). Every attempt goes to `hotline_delivery`, the delivery log.
Delivery is at-least-once: a crash between the platform's 200 and our bookkeeping re-sends, so
receivers de-duplicate on `event_id` (stable across retries).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.hotline.signature import signed_headers
from services.dispatch.models import HotlineCallback, Ticket, TicketEvent
from services.dispatch.service.intake import Compiled
from services.dispatch.settings import DispatchSettings
from services.dispatch.worktime import CST

log = logging.getLogger("gridgov.dispatch.hotline")

# which steps of the loop the platform hears about, and what it calls them
EVENT_OF_ACTION = {
    "accept": "accepted",
    "cancel": "returned",
    "request_extension": "extension_requested",
    "decide_extension": "extension_decided",
    "close": "completed",
    "feedback": "satisfaction",
}
EVENT_LABELS = {
    "accepted": "签收",
    "returned": "回退",
    "extension_requested": "延期申请",
    "extension_decided": "延期审批",
    "completed": "办结",
    "satisfaction": "回访",
}
SATISFACTION_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
RETRYABLE = frozenset({408, 425, 429})


def order_no_of(ticket: Ticket, settings: DispatchSettings) -> str | None:
    """The 12345 order a ticket came from (only orders received through this integration)."""
    if ticket.channel == "hotline" and ticket.idem_owner == settings.hotline_idem_owner:
        return ticket.idem_key
    return None


async def _next_seq(session: AsyncSession, order_no: str) -> int:
    got = await session.execute(
        select(func.coalesce(func.max(HotlineCallback.seq), 0)).where(HotlineCallback.order_no == order_no)
    )
    return int(got.scalar_one()) + 1


async def _result(session: AsyncSession, ticket_id: int) -> tuple[str | None, list[str], datetime | None]:
    """The unit's last 办结 note, its attachments and when."""
    row = (
        await session.execute(
            select(TicketEvent.note, TicketEvent.attachments, TicketEvent.at)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == "handle")
            .order_by(TicketEvent.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None, [], None
    return row.note, [a.get("url") for a in row.attachments or [] if a.get("url")], row.at


async def event_data(
    session: AsyncSession, ticket: Ticket, action: str, note: str | None, data: dict[str, Any]
) -> dict[str, Any]:
    if action == "accept":
        return {"level": ticket.level, "response_due_at": _iso(ticket.response_due_at)}
    if action == "cancel":
        return {"reason": note}
    if action == "request_extension":
        return {"hours": data.get("hours"), "reason": note, "handling_due_at": _iso(ticket.handling_due_at)}
    if action == "decide_extension":
        return {
            "decision": data.get("decision"),
            "hours": data.get("hours"),
            "note": note,
            "handling_due_at": _iso(ticket.handling_due_at),
        }
    if action == "close":
        result, urls, handled_at = await _result(session, ticket.id)
        return {
            "result": result,
            "handled_at": _iso(handled_at),
            "closed_at": _iso(ticket.closed_at),
            "on_time": ticket.on_time,
            "attachments": urls,
            "note": note,
        }
    if action == "feedback":
        sat = ticket.satisfaction or data.get("satisfaction")
        return {"satisfaction": sat, "satisfaction_label": SATISFACTION_LABELS.get(sat or ""), "note": note}
    return {}


def _iso(v: datetime | None) -> str | None:
    return v.astimezone(CST).isoformat() if v is not None else None


async def enqueue(
    session: AsyncSession,
    settings: DispatchSettings,
    units: dict[str, Any],
    ticket: Ticket,
    action: str,
    note: str | None,
    data: dict[str, Any],
    now: datetime,
) -> int:
    """Write the callbacks a step owes the platform: for the ticket itself if it is a 12345 order, and for
    its linked duplicates that are. Returns how many were written."""
    event = EVENT_OF_ACTION.get(action)
    if event is None:
        return 0
    targets: list[tuple[str, str, str | None]] = []  # (order_no, its own ticket number, merged into)
    own = order_no_of(ticket, settings)
    if own:
        targets.append((own, ticket.number, None))
    if ticket.master_id is None:
        children = await session.execute(
            select(Ticket.idem_key, Ticket.number).where(
                Ticket.master_id == ticket.id,
                Ticket.channel == "hotline",
                Ticket.idem_owner == settings.hotline_idem_owner,
            )
        )
        targets += [(order_no, number, ticket.number) for order_no, number in children]
    if not targets:
        return 0
    detail = await event_data(session, ticket, action, note, data)
    unit = units.get(ticket.unit or "")
    for order_no, number, merged_into in targets:
        seq = await _next_seq(session, order_no)
        payload = {
            "event_id": f"{order_no}-{seq}",
            "order_no": order_no,
            "seq": seq,
            "event": event,
            "event_label": EVENT_LABELS[event],
            "occurred_at": _iso(now),
            "ticket_number": number,
            "status": ticket.status,
            "unit_code": ticket.unit,
            "unit_name": unit.name if unit is not None else None,
            "merged_into": merged_into,
            "data": detail,
        }
        session.add(
            HotlineCallback(
                order_no=order_no,
                seq=seq,
                event=event,
                ticket_id=ticket.id,
                payload=payload,
                state="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
    return len(targets)


# ---- delivery --------------------------------------------------------------------------------------

CLAIM = Compiled(
    text(
        """
WITH due AS (
    SELECT c.id FROM dispatch.hotline_callback c
    WHERE c.state = 'pending' AND c.next_attempt_at <= clock_timestamp()
      AND NOT EXISTS (
          SELECT 1 FROM dispatch.hotline_callback p
          WHERE p.order_no = c.order_no AND p.seq < c.seq AND p.state <> 'delivered')
    ORDER BY c.next_attempt_at, c.id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
UPDATE dispatch.hotline_callback c
SET attempts = c.attempts + 1, next_attempt_at = clock_timestamp() + make_interval(secs => :lease)
FROM due WHERE c.id = due.id
RETURNING c.id, c.order_no, c.seq, c.payload::text AS payload, c.attempts
"""
    ).bindparams()
)

RECORD = """
WITH r AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::int[], $5::text[], $6::int[],
                         $7::float8[], $8::timestamptz[])
        AS r(id, outcome, delay_s, status, error, attempt, duration_ms, at)
), upd AS (
    UPDATE dispatch.hotline_callback c SET
        state = CASE r.outcome WHEN 'retry' THEN 'pending' ELSE r.outcome END,
        next_attempt_at = CASE WHEN r.outcome = 'retry' THEN clock_timestamp() + make_interval(secs => r.delay_s)
                               ELSE c.next_attempt_at END,
        delivered_at = CASE WHEN r.outcome = 'delivered' THEN r.at END,
        dead_at = CASE WHEN r.outcome = 'dead' THEN r.at END,
        last_status = r.status,
        last_error = r.error
    FROM r WHERE c.id = r.id
)
INSERT INTO dispatch.hotline_delivery (callback_id, attempt, at, duration_ms, status_code, error, outcome)
SELECT id, attempt, at, duration_ms, status, error, outcome FROM r
"""


class Courier:
    """Delivers due callbacks to the platform. One per replica; `drain` is safe to run in several."""

    def __init__(self, settings: DispatchSettings, clients: list[httpx.AsyncClient]) -> None:
        """`clients`: one per delivery in flight, each with a single connection. httpcore's pool scans
        every connection (a getpeername and a poll each) for every request it places; with 32
        connections in one pool that scan was most of the courier's CPU (measured), with one it is
        nothing."""
        self.settings = settings
        self.clients = clients
        self._rng = random.Random()
        self._inflight: set[int] = set()  # claimed by this process, outcome not yet recorded

    @property
    def configured(self) -> bool:
        return bool(self.settings.hotline_callback_url)

    def backoff(self, attempts: int) -> float:
        s = self.settings
        ceiling = min(s.hotline_callback_backoff_max_s, s.hotline_callback_backoff_s * 2 ** (attempts - 1))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def drain(self, maker: async_sessionmaker[AsyncSession], *, max_passes: int = 1000) -> int:
        """Deliver until nothing is due (or `max_passes` claims). Returns how many attempts were made."""
        if not self.configured:
            return 0
        total = 0
        for _ in range(max_passes):
            n = await self.run_once(maker)
            total += n
            if n == 0:
                break
        return total

    async def run_once(self, maker: async_sessionmaker[AsyncSession]) -> int:
        s = self.settings
        lease = s.hotline_callback_timeout_s * 2 + 5
        async with maker() as session:
            rows = await CLAIM.fetch(session, batch=s.hotline_callback_batch, lease=lease)
            await session.commit()
        if not rows:
            return 0
        ids = {r["id"] for r in rows}
        self._inflight |= ids
        pending = iter(rows)  # shared: each row goes to exactly one worker
        results: list[tuple[Any, ...]] = []

        async def worker(client: httpx.AsyncClient) -> None:
            for row in pending:
                results.append(await self._send(client, row))

        await asyncio.gather(*(worker(c) for c in self.clients[: len(rows)]))
        async with maker() as session:
            driver = await Compiled.driver(session)
            await driver.execute(RECORD, *map(list, zip(*results, strict=True)))
            await session.commit()
        self._inflight -= ids
        return len(rows)

    async def release(self, maker: async_sessionmaker[AsyncSession]) -> int:
        """At shutdown: hand back what this process claimed but did not finish, so the next process (or
        another replica) sends it at once instead of after the lease. A crash skips this; the lease
        then runs out. Something posted but not recorded is sent again (receivers dedupe on event_id)."""
        if not self._inflight:
            return 0
        ids, self._inflight = sorted(self._inflight), set()
        async with maker() as session:
            done = await session.execute(
                text(
                    "UPDATE dispatch.hotline_callback SET next_attempt_at = clock_timestamp() "
                    "WHERE id = ANY(:ids) AND state = 'pending'"
                ),
                {"ids": ids},
            )
            await session.commit()
        return done.rowcount or 0  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        for c in self.clients:
            await c.aclose()

    async def _send(self, client: httpx.AsyncClient, row: Any) -> tuple[Any, ...]:
        s = self.settings
        url = s.hotline_callback_url or ""
        body = row["payload"].encode()
        headers = signed_headers(
            s.hotline_callback_app_key, s.hotline_callback_secret, "POST", urlsplit(url).path or "/", body
        )
        headers["Content-Type"] = "application/json"
        headers["X-Event-Id"] = f"{row['order_no']}-{row['seq']}"
        at = datetime.now(UTC)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            r = await client.post(url, content=body, headers=headers, timeout=s.hotline_callback_timeout_s)
            status = r.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {r.text[:300]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        attempts = row["attempts"]
        if status is not None and 200 <= status < 300:
            outcome, delay = "delivered", 0.0
        elif status is not None and 400 <= status < 500 and status not in RETRYABLE:
            outcome, delay = "dead", 0.0
        elif attempts >= s.hotline_callback_max_attempts:
            outcome, delay = "dead", 0.0
        else:
            outcome, delay = "retry", self.backoff(attempts)
        if outcome == "dead":
            log.warning(
                "hotline callback dead-lettered",
                extra={"order_no": row["order_no"], "seq": row["seq"], "attempts": attempts, "error": error},
            )
        return (row["id"], outcome, delay, status, error, attempts, duration_ms, at)


async def redrive(
    session: AsyncSession, *, actor: str, ids: list[int] | None = None, order_no: str | None = None
) -> int:
    """Put dead callbacks back in the queue (attempts start again); logged in the delivery log."""
    rows = await session.execute(
        text(
            """
WITH d AS (
    UPDATE dispatch.hotline_callback SET state = 'pending', attempts = 0, dead_at = NULL, next_attempt_at = clock_timestamp()
    WHERE state = 'dead'
      AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(CAST(:ids AS bigint[])))
      AND (CAST(:order_no AS text) IS NULL OR order_no = CAST(:order_no AS text))
    RETURNING id
)
INSERT INTO dispatch.hotline_delivery (callback_id, attempt, at, duration_ms, error, outcome)
SELECT id, 0, clock_timestamp(), 0, :actor, 'redriven' FROM d
RETURNING callback_id
"""
        ),
        {"actor": f"re-driven by {actor}", "ids": ids, "order_no": order_no},
    )
    return len(rows.all())


async def purge_nonces(maker: async_sessionmaker[AsyncSession], settings: DispatchSettings) -> int:
    """Forget nonces older than twice the allowed skew: their timestamps would be refused anyway."""
    async with maker() as session:
        r = await session.execute(
            text("DELETE FROM dispatch.hotline_nonce WHERE seen_at < :before"),
            {"before": datetime.now(UTC) - timedelta(seconds=2 * settings.hotline_skew_s)},
        )
        await session.commit()
    return r.rowcount or 0  # type: ignore[attr-defined]
