"""Telling residents' mini-program of each step of their tickets: the `reporter.update` outbox, drained to
the mobile service.

**Writing** happens in the transition's transaction (`transitions._notify_reporters`): one outbox row per
reporter of the ticket and of its linked duplicates, so an update exists exactly when the step committed.

**Delivering.** `ReporterPush.drain` claims due rows with `FOR UPDATE SKIP LOCKED` (replicas share the
work) in id order, a batch at a time, and POSTs them in one request to mobile's
`POST /m/internal/v1/ticket-updates` with this service's own token (registry-issued, role `service`).
A claim is a lease (`next_attempt_at` moves past the request timeout), so a crash mid-flight means a
re-send after the lease, never a loss. A 2xx marks the batch sent; anything else (no answer, 5xx, 401…)
retries each row after `backoff·2^(n-1)` seconds (capped, times a random 0.5–1). A batch mobile refuses
as malformed (400/413/422) is re-sent row by row, so one bad row cannot hold up the others.

Delivery is **at least once and not necessarily in order** (a retried batch may land after a later one).
Each update therefore carries `seq`: the id of the trail event the step wrote (found by the ticket and the
step's time, which the transition wrote into both rows), and mobile applies an update only over an older
one. Mobile also reads those event ids when a resident opens a ticket, so pushes and views share one
order. Unset `DISPATCH_MOBILE_URL` keeps the updates in the outbox until it is set.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.service.context import Dispatch
from services.dispatch.settings import DispatchSettings
from shared.http import ServiceToken

log = logging.getLogger("gridgov.dispatch.reporter_push")

PUSH_PATH = "/m/internal/v1/ticket-updates"
TOPIC = "reporter.update"
MALFORMED = frozenset({400, 413, 422})

CLAIM = text(
    """
WITH due AS (
    SELECT o.id FROM dispatch.outbox o
    WHERE o.sent_at IS NULL AND o.topic = :topic AND o.next_attempt_at <= clock_timestamp()
    ORDER BY o.id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE dispatch.outbox o
    SET attempts = LEAST(o.attempts + 1, 32000),
        next_attempt_at = clock_timestamp() + make_interval(secs => :lease)
    FROM due WHERE o.id = due.id
    RETURNING o.id, o.ticket_id, o.payload, o.attempts
)
SELECT c.id, c.payload, c.attempts, t.unit, t.satisfaction,
       COALESCE(
           (SELECT max(e.id) FROM dispatch.ticket_event e
            WHERE e.ticket_id = c.ticket_id AND e.at = CAST(c.payload->>'at' AS timestamptz)),
           (SELECT max(e.id) FROM dispatch.ticket_event e WHERE e.ticket_id = c.ticket_id),
           0) AS seq
FROM claimed c LEFT JOIN dispatch.ticket t ON t.id = c.ticket_id
ORDER BY c.id
"""
)

SENT = text(
    "UPDATE dispatch.outbox SET sent_at = clock_timestamp(), last_error = NULL WHERE id = ANY(CAST(:ids AS bigint[]))"
)

RETRY = text(
    """
UPDATE dispatch.outbox SET
    next_attempt_at = clock_timestamp() + make_interval(
        secs => LEAST(:cap, :base * power(2, GREATEST(attempts - 1, 0))) * (0.5 + random() * 0.5)),
    last_error = :error
WHERE id = ANY(CAST(:ids AS bigint[]))
"""
)


class ReporterPush:
    """One per replica; `drain` is safe to run in several at once."""

    def __init__(
        self, settings: DispatchSettings, http: httpx.AsyncClient, token: ServiceToken, env: Dispatch
    ) -> None:
        self.settings = settings
        self.http = http
        self.token = token
        self.env = env

    @property
    def configured(self) -> bool:
        return bool(self.settings.mobile_url)

    async def drain(self, maker: async_sessionmaker[AsyncSession], *, max_passes: int = 1000) -> int:
        """Push until nothing is due (or a push fails). Returns how many updates were delivered."""
        if not self.configured:
            return 0
        total = 0
        for _ in range(max_passes):
            claimed, sent = await self.run_once(maker)
            total += sent
            if claimed == 0 or sent < claimed:
                break
        return total

    async def run_once(self, maker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
        """One batch: (claimed, delivered)."""
        s = self.settings
        async with maker() as session:
            rows = (
                await session.execute(
                    CLAIM,
                    {"topic": TOPIC, "batch": s.mobile_push_batch, "lease": s.mobile_push_timeout_s * 2 + 5},
                )
            ).all()
            await session.commit()
        if not rows:
            return 0, 0
        updates = {r.id: self._update(r) for r in rows}
        error = await self._post(list(updates.values()))
        if error is None:
            await self._record(maker, sent=list(updates), failed=[], error=None)
            return len(rows), len(rows)
        if error[0] in MALFORMED and len(updates) > 1:
            sent, failed, last = [], [], None
            for oid, update in updates.items():
                one = await self._post([update])
                if one is None:
                    sent.append(oid)
                else:
                    failed.append(oid)
                    last = one[1]
            await self._record(maker, sent=sent, failed=failed, error=last)
            return len(rows), len(sent)
        log.warning("reporter updates not delivered", extra={"rows": len(rows), "error": error[1]})
        await self._record(maker, sent=[], failed=list(updates), error=error[1])
        return len(rows), 0

    def _update(self, r: Any) -> dict[str, Any]:
        p = r.payload if isinstance(r.payload, dict) else orjson.loads(r.payload)
        unit = self.env.catalog.departments.get(r.unit or "")
        return {
            "seq": int(r.seq or 0),
            "resident_id": p.get("resident_id"),
            "ticket": p.get("ticket"),
            "master": p.get("master"),
            "action": p.get("action"),
            "status": p.get("status"),
            "at": p.get("at"),
            "unit": r.unit,
            "unit_name": unit.name if unit is not None else None,
            "satisfaction": r.satisfaction if p.get("action") == "feedback" else None,
        }

    async def _post(self, updates: list[dict[str, Any]]) -> tuple[int | None, str] | None:
        """None when delivered; else (status or None, error text)."""
        body = orjson.dumps({"updates": updates})
        for attempt in range(2):
            try:
                token = await self.token.get()
                r = await self.http.post(
                    PUSH_PATH,
                    content=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    timeout=self.settings.mobile_push_timeout_s,
                )
            except Exception as exc:  # no answer, or no token from the registry
                return None, f"{type(exc).__name__}: {exc}"[:500]
            if r.status_code == 401 and attempt == 0:
                self.token.invalidate()  # rotated keys or an expired token: one fresh try
                continue
            if 200 <= r.status_code < 300:
                return None
            return r.status_code, f"HTTP {r.status_code}: {r.text[:300]}"
        return 401, "HTTP 401 twice"

    async def _record(
        self,
        maker: async_sessionmaker[AsyncSession],
        *,
        sent: list[int],
        failed: list[int],
        error: str | None,
    ) -> None:
        s = self.settings
        async with maker() as session:
            if sent:
                await session.execute(SENT, {"ids": sent})
            if failed:
                await session.execute(
                    RETRY,
                    {
                        "ids": failed,
                        "cap": s.mobile_push_backoff_max_s,
                        "base": s.mobile_push_backoff_s,
                        "error": error,
                    },
                )
            await session.commit()
