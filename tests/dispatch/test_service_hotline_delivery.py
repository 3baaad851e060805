"""12345 integration on a real, committing database: twenty copies of one order at once, and callbacks
that survive the platform being down and the service being restarted.

These run the service as production does (its own engine and pool, background jobs on), in a fresh
database; the registry is unreachable (orders are stored with their place pending, as in an outage).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.dispatch.models import HotlineCallback, HotlineOrder, Ticket
from services.dispatch.schemas import TransitionCreate
from services.dispatch.service import transitions
from shared.auth import Principal
from tests.dispatch.hotline_helpers import APP_KEY, APP_SECRET, install_key, work_order
from tools import db as devdb
from tools import hotline_platform as fake

HANDLER = Principal(sub="cgj-handler", role="department_handler", scope=("CGJ",), audience="", expires_at=0)
DISPATCHER = Principal(sub="qu-admin", role="district_admin", scope=("320411",), audience="", expires_at=0)


def _no_registry(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("registry down in this test", request=request)


@pytest.fixture
async def database(empty_db: str) -> str:
    await asyncio.to_thread(devdb.upgrade, empty_db)
    return empty_db


@asynccontextmanager
async def running(settings: Any, platform: fake.CallbackReceiver, *, background: bool) -> AsyncIterator[Any]:
    """One dispatch process: start-up, serve, shut down (what a deploy or a crash-restart does)."""
    from services.dispatch.app import create_app

    app = create_app(
        settings,
        registry_transport=httpx.MockTransport(_no_registry),
        callback_transport=platform.transport(),
        background=background,
        configure_logs=False,
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def settings(dispatch_settings: Any, database: str) -> Any:
    return dispatch_settings.model_copy(
        update={
            "database_url": database,
            "db_pool_size": 10,
            "db_max_overflow": 15,
            "hotline_callback_interval_s": 0.05,
            "hotline_callback_backoff_s": 0.05,
            "hotline_callback_backoff_max_s": 0.2,
            "hotline_callback_max_attempts": 100,
            # the other jobs stay out of the way
            "job_interval_s": 3600,
            "place_retry_s": 3600,
            "map_refresh_s": 3600,
            "router_refresh_s": 3600,
        }
    )


async def test_twenty_concurrent_copies_of_an_order_make_one_ticket(settings, platform):
    async with running(settings, platform, background=False) as app:
        await install_key(app, app.state.sessionmaker)
        order = work_order("GD202611220020")
        async with fake.PlatformClient(
            "http://dispatch", APP_KEY, APP_SECRET, transport=httpx.ASGITransport(app=app)
        ) as client:
            answers = await asyncio.gather(*(client.post_order(order) for _ in range(20)))
            changed = await client.post_order({**order, "content": "市民来电反映：另一件事，路灯不亮"})
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200] * 19 + [201], [r.text for r in answers if r.status_code >= 300]
        assert len({r.json()["ticket_number"] for r in answers}) == 1
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 19
        assert changed.status_code == 409
        async with app.state.sessionmaker() as s:
            tickets = (await s.execute(select(func.count()).select_from(Ticket))).scalar_one()
            orders = (await s.execute(select(func.count()).select_from(HotlineOrder))).scalar_one()
        assert (tickets, orders) == (1, 1)


async def _act(app: Any, principal: Principal, ticket_id: int, action: str, **body: Any) -> None:
    async with app.state.sessionmaker() as s:
        await transitions.transition(
            s, app.state.dispatch, principal, ticket_id, TransitionCreate(action=action, **body)
        )
        await s.commit()


async def _wait(predicate: Any, limit_s: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_callbacks_survive_a_platform_outage_and_a_restart(settings, platform):
    """Five orders, three callbacks each, written while the platform is down. The service retries, is
    restarted with all of them pending, and the next process delivers every one: in order per order,
    none twice."""
    orders = [f"GD2026112200{n:02d}" for n in range(5)]
    platform.down = True
    async with running(settings, platform, background=True) as first:
        await install_key(first, first.state.sessionmaker)
        async with fake.PlatformClient(
            "http://dispatch", APP_KEY, APP_SECRET, transport=httpx.ASGITransport(app=first)
        ) as client:
            for n, order_no in enumerate(orders):
                # far apart, so none is merged into another as a duplicate
                r = await client.post_order(work_order(order_no, lat=31.70 + n * 0.05, lng=119.90 + n * 0.05))
                assert r.status_code == 201, r.text
        async with first.state.sessionmaker() as s:
            ids = dict((await s.execute(select(HotlineOrder.order_no, HotlineOrder.ticket_id))).all())
        for order_no in orders:
            tid = ids[order_no]
            await _act(first, HANDLER, tid, "accept")
            await _act(first, HANDLER, tid, "start")
            await _act(first, HANDLER, tid, "request_extension", hours=7, note="需协调环卫车辆")
            await _act(first, DISPATCHER, tid, "decide_extension", decision="approved")

        async def retried() -> bool:
            async with first.state.sessionmaker() as s:
                tries = (
                    await s.execute(
                        select(func.min(HotlineCallback.attempts)).where(HotlineCallback.seq == 1)
                    )
                ).scalar_one()
            return tries is not None and tries >= 2

        # each order's head is retried; the callbacks behind it wait their turn
        assert await _wait(retried), "the courier did not retry while the platform was down"
        assert platform.received == []
    # the process is gone; its leases may still be held (a crash would leave them too)
    async with running(settings, platform, background=False) as probe:
        async with probe.state.sessionmaker() as s:
            states = dict(
                (
                    await s.execute(
                        select(HotlineCallback.state, func.count()).group_by(HotlineCallback.state)
                    )
                ).all()
            )
    assert states == {"pending": 15}

    platform.down = False
    async with running(settings, platform, background=True) as second:
        assert await platform.wait_for(15, timeout=60), f"only {len(platform.received)} of 15 arrived"
        async with second.state.sessionmaker() as s:
            states = dict(
                (
                    await s.execute(
                        select(HotlineCallback.state, func.count()).group_by(HotlineCallback.state)
                    )
                ).all()
            )
    assert states == {"delivered": 15}
    assert platform.duplicates == 0 and platform.violations == [] and platform.rejected == 0
    for order_no in orders:
        got = platform.by_order[order_no]
        assert [(c["seq"], c["event"]) for c in got] == [
            (1, "accepted"),
            (2, "extension_requested"),
            (3, "extension_decided"),
        ]


async def test_a_shutdown_mid_delivery_hands_the_callbacks_back_for_the_next_process(settings, platform):
    """The platform is slow; the service stops while posts are in flight. It hands its claims back, so
    the next process delivers at once instead of waiting out the lease (25 s at these settings)."""
    async with running(settings, platform, background=False) as first:
        await install_key(first, first.state.sessionmaker)
        async with fake.PlatformClient(
            "http://dispatch", APP_KEY, APP_SECRET, transport=httpx.ASGITransport(app=first)
        ) as client:
            r = await client.post_order(work_order("GD202611220099"))
        assert r.status_code == 201, r.text
        await _act(first, HANDLER, await _ticket_id(first, "GD202611220099"), "accept")
    platform.delay_s = 30.0
    async with running(settings, platform, background=True) as second:
        assert await _wait(lambda: _attempted(second), 5.0)  # claimed and posting, the platform is slow
    platform.delay_s = 0.0
    assert platform.received == []
    async with running(settings, platform, background=True):
        assert await platform.wait_for(1, timeout=5), "the claim was not handed back"
    assert [c["event"] for c in platform.received] == ["accepted"] and platform.duplicates == 0


async def _ticket_id(app: Any, order_no: str) -> int:
    async with app.state.sessionmaker() as s:
        return (
            await s.execute(select(HotlineOrder.ticket_id).where(HotlineOrder.order_no == order_no))
        ).scalar_one()


async def _attempted(app: Any) -> bool:
    async with app.state.sessionmaker() as s:
        return bool((await s.execute(select(func.max(HotlineCallback.attempts)))).scalar_one())
