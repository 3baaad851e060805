"""The overdue job (督办): warnings, yellow and red cards, escalation, paused clocks, and that passes run
twice or at the same time never issue a record twice.

Tickets are filed through the API (dispatched now, on the real calendar); the job is then run at
moments computed independently with `WorkCalendar` from the ticket's dispatch time and limits.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.dispatch.clients import RegistryClient
from services.dispatch.models import Supervision, Ticket, TicketEvent
from services.dispatch.service import clock
from services.dispatch.service.context import Dispatch
from services.dispatch.service.intake import blank_ticket
from services.dispatch.service.standards import load_catalog
from services.dispatch.service.supervise import run_once
from services.dispatch.worktime import CST, WorkCalendar
from tests.dispatch.builders import BULKY, act, events_of, file, supervisions_of
from tools import db as devdb

SECOND = timedelta(seconds=1)
CAL = WorkCalendar()
# BULKY routes to 010104 大件垃圾乱堆: CGJ, community level, response 4 h, handling 14 working hours.
RESPONSE_H, HANDLING_H = 4.0, 14.0


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return token("district_admin", "320411")


@pytest.fixture
def cgj(token: Any) -> dict[str, str]:
    return token("department_handler", "CGJ")


@pytest.fixture
def env(dispatch_app: Any) -> Dispatch:
    return dispatch_app.state.dispatch


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def moments(ticket: dict[str, Any], env: Dispatch) -> dict[str, datetime]:
    """When each alarm of the ticket's round falls due, from its dispatch time on the official calendar."""
    start = at(ticket["clock"]["dispatched_at"])
    return {
        "response": CAL.add_working_hours(start, RESPONSE_H),
        "warning": CAL.add_working_hours(start, HANDLING_H * env.settings.warn_share),
        "yellow": CAL.add_working_hours(start, HANDLING_H),
        "red": CAL.add_working_hours(start, HANDLING_H * env.settings.red_share),
    }


async def filed(dispatch: Any, admin: dict[str, str]) -> dict[str, Any]:
    t = await file(dispatch, admin, BULKY, "patrol")
    assert t["routing"]["standard_code"] == "010104"
    assert (t["clock"]["response_hours"], t["clock"]["handling_hours"]) == (RESPONSE_H, HANDLING_H)
    return t


async def level_of(session: Any, ticket_id: int) -> tuple[int, str | None, bool]:
    row = (
        await session.execute(
            select(Ticket.supervision_level, Ticket.level, Ticket.response_overdue).where(
                Ticket.id == ticket_id
            )
        )
    ).one()
    return row.supervision_level, row.level, row.response_overdue


class TestHandlingClock:
    async def test_early_warning_at_the_warn_share_of_the_limit(
        self, dispatch, admin, cgj, maker, env, session
    ):
        t = await filed(dispatch, admin)
        await act(dispatch, cgj, t["id"], "accept")
        m = moments(t, env)
        assert await run_once(maker, env, now=m["warning"] - SECOND) == 0
        assert await run_once(maker, env, now=m["warning"] + SECOND) == 1
        assert await supervisions_of(session, t["id"]) == [(1, "handling", "warning")]
        assert (await level_of(session, t["id"]))[0] == clock.WARNED
        [ev] = await events_of(session, t["id"], "supervise")
        assert ev.data["kind"] == "warning" and ev.actor == "system"
        assert "80%" in ev.note

    async def test_yellow_card_after_the_deadline(self, dispatch, admin, cgj, maker, env, session):
        t = await filed(dispatch, admin)
        await act(dispatch, cgj, t["id"], "accept")
        m = moments(t, env)
        assert m["yellow"] == at(t["clock"]["handling_due_at"])
        assert await run_once(maker, env, now=m["yellow"] - SECOND) == 1  # the warning only
        assert await run_once(maker, env, now=m["yellow"] + SECOND) == 1
        assert await supervisions_of(session, t["id"]) == [
            (1, "handling", "warning"),
            (1, "handling", "yellow"),
        ]
        assert (await level_of(session, t["id"]))[0] == clock.YELLOW
        r = await dispatch.get("/api/v1/supervisions?kind=yellow", headers=admin)
        assert [s["ticket_id"] for s in r.json()["items"]] == [t["id"]]

    async def test_red_card_at_the_red_share_escalates_one_level(
        self, dispatch, admin, cgj, maker, env, session
    ):
        t = await filed(dispatch, admin)
        assert t["routing"]["level"] == "community"
        await act(dispatch, cgj, t["id"], "accept")
        m = moments(t, env)
        assert await run_once(maker, env, now=m["red"] - SECOND) == 2  # warning and yellow
        assert (await level_of(session, t["id"]))[1] == "community"
        assert await run_once(maker, env, now=m["red"] + SECOND) == 1
        assert [k for _, _, k in await supervisions_of(session, t["id"])] == ["warning", "yellow", "red"]
        assert await level_of(session, t["id"]) == (clock.RED, "street", False)
        [esc] = await events_of(session, t["id"], "auto_escalate")
        assert esc.data == {"from_level": "community", "level": "street"}
        detail = (await dispatch.get(f"/api/v1/tickets/{t['id']}", headers=admin)).json()
        assert detail["routing"]["level"] == "street"
        assert detail["clock"]["supervision_level"] == 3
        assert [s["kind"] for s in detail["supervisions"]] == ["warning", "yellow", "red"]

    async def test_all_due_alarms_at_once_when_the_job_was_away(
        self, dispatch, admin, cgj, maker, env, session
    ):
        t = await filed(dispatch, admin)
        await act(dispatch, cgj, t["id"], "accept")
        later = moments(t, env)["red"] + timedelta(days=3)
        assert await run_once(maker, env, now=later) == 3
        assert len(await events_of(session, t["id"], "supervise")) == 3
        assert len(await events_of(session, t["id"], "auto_escalate")) == 1


class TestResponseClock:
    async def test_response_overdue_yellow_when_not_signed_for(self, dispatch, admin, maker, env, session):
        t = await filed(dispatch, admin)
        m = moments(t, env)
        assert m["response"] == at(t["clock"]["response_due_at"])
        assert await run_once(maker, env, now=m["response"] - SECOND) == 0
        assert await run_once(maker, env, now=m["response"] + SECOND) == 1
        assert await supervisions_of(session, t["id"]) == [(1, "response", "yellow")]
        assert await level_of(session, t["id"]) == (0, "community", True)

    async def test_signed_for_in_time_gets_no_response_card(self, dispatch, admin, cgj, maker, env, session):
        t = await filed(dispatch, admin)
        await act(dispatch, cgj, t["id"], "accept")
        assert await run_once(maker, env, now=moments(t, env)["response"] + SECOND) == 0
        assert await supervisions_of(session, t["id"]) == []


class TestPausedAndRepeated:
    async def test_suspended_ticket_gets_nothing(self, dispatch, admin, cgj, maker, env, session):
        t = await filed(dispatch, admin)
        await act(dispatch, cgj, t["id"], "accept")
        await act(dispatch, cgj, t["id"], "start")
        out = await act(dispatch, cgj, t["id"], "suspend", note="等待居民在家时上门")
        assert out["status"] == "suspended" and out["clock"]["paused"] is True
        far = moments(t, env)["red"] + timedelta(days=30)
        assert await run_once(maker, env, now=far) == 0
        assert await supervisions_of(session, t["id"]) == []
        assert await events_of(session, t["id"], "supervise") == []

    async def test_closed_loop_states_get_nothing(self, dispatch, admin, cgj, maker, env, session):
        t = await filed(dispatch, admin)
        await act(dispatch, cgj, t["id"], "accept")
        await act(dispatch, cgj, t["id"], "start")
        await act(dispatch, cgj, t["id"], "handle", note="已清运")
        assert await run_once(maker, env, now=moments(t, env)["red"] + timedelta(days=30)) == 0

    async def test_running_twice_issues_nothing_new(self, dispatch, admin, maker, env, session):
        a = await filed(dispatch, admin)
        b = await file(dispatch, admin, BULKY, "hotline")
        later = moments(a, env)["red"] + timedelta(days=3)
        first = await run_once(maker, env, now=later)
        assert first == 8  # each: response yellow, warning, yellow, red
        assert await run_once(maker, env, now=later) == 0
        assert await run_once(maker, env, now=later + timedelta(days=30)) == 0
        for t in (a, b):
            assert len(await supervisions_of(session, t["id"])) == 4
            assert len(await events_of(session, t["id"], "supervise")) == 4
            assert len(await events_of(session, t["id"], "auto_escalate")) == 1

    async def test_new_round_after_reassign_starts_supervision_over(
        self, dispatch, admin, cgj, maker, env, session
    ):
        t = await filed(dispatch, admin)
        await act(dispatch, cgj, t["id"], "accept")
        await run_once(maker, env, now=moments(t, env)["warning"] + SECOND)
        out = await act(dispatch, admin, t["id"], "reassign", standard_code="010101", note="按暴露垃圾处理")
        assert out["clock"]["supervision_level"] == 0
        start = at(out["clock"]["dispatched_at"])
        issued = await run_once(maker, env, now=CAL.add_working_hours(start, 4) + SECOND)
        assert issued >= 1
        rounds = {r for r, _, _ in await supervisions_of(session, t["id"])}
        assert rounds == {1, 2}


# ---- two passes at the same moment on two connections ---------------------------------------------


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("the supervision job never calls the registry", request=request)


async def test_parallel_passes_do_not_double_issue(empty_db, dispatch_settings):
    """Two replicas' jobs run the same pass at the same moment, each on its own connection, with small
    batches so they fight over the same due tickets. Every record and trail entry exists exactly once."""
    await asyncio.to_thread(devdb.upgrade, empty_db)
    engines = [create_async_engine(empty_db, pool_size=2) for _ in range(2)]
    makers = [async_sessionmaker(e, expire_on_commit=False) for e in engines]
    http = httpx.AsyncClient(transport=httpx.MockTransport(_refuse), base_url="http://registry")
    try:
        async with makers[0]() as s:
            catalog = await load_catalog(s)
        settings = dispatch_settings.model_copy(update={"database_url": empty_db, "job_batch": 3})
        env = Dispatch.build(settings, RegistryClient(http), catalog)
        std = catalog.active("010104")
        assert std is not None and std.level == "community"

        n = 40
        t0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)  # a Monday morning
        async with makers[0]() as s:
            for i in range(n):
                t = blank_ticket(
                    number=f"SF20260302{i + 1:06d}",
                    channel="patrol",
                    status="dispatched",
                    text=BULKY,
                    created_at=t0,
                    updated_at=t0,
                    created_by="test",
                )
                clock.start_round(t, std, std.level, t0, env.rules)
                s.add(t)
            await s.commit()
        now = t0 + timedelta(days=60)  # past every alarm: response, warning, yellow, red

        async def replica(maker: Any) -> int:
            total = 0
            for _ in range(100):
                issued = await run_once(maker, env, now=now)
                total += issued
                if issued == 0:
                    break
            return total

        totals = await asyncio.gather(replica(makers[0]), replica(makers[1]))
        assert await run_once(makers[0], env, now=now) == 0

        async with makers[0]() as s:
            dup = (
                await s.execute(
                    select(Supervision.ticket_id, Supervision.round, Supervision.clock, Supervision.kind)
                    .group_by(Supervision.ticket_id, Supervision.round, Supervision.clock, Supervision.kind)
                    .having(func.count() > 1)
                )
            ).all()
            assert dup == []
            per_kind = dict(
                (
                    await s.execute(
                        select(Supervision.clock + ":" + Supervision.kind, func.count()).group_by(
                            Supervision.clock, Supervision.kind
                        )
                    )
                ).all()
            )
            assert per_kind == {
                "response:yellow": n,
                "handling:warning": n,
                "handling:yellow": n,
                "handling:red": n,
            }
            events = dict(
                (
                    await s.execute(
                        select(TicketEvent.action, func.count())
                        .where(TicketEvent.action.in_(("supervise", "auto_escalate")))
                        .group_by(TicketEvent.action)
                    )
                ).all()
            )
            assert events == {"supervise": 4 * n, "auto_escalate": n}
            levels = (await s.execute(select(Ticket.level, Ticket.supervision_level).distinct())).all()
            assert levels == [("street", clock.RED)]  # escalated exactly once each, not twice
        assert sum(totals) == 4 * n
        assert all(x > 0 for x in totals), totals  # both replicas really took part
    finally:
        await http.aclose()
        for e in engines:
            await e.dispose()
