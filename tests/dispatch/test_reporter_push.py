"""Dispatch → mobile: the `reporter.update` outbox drained to mobile's internal endpoint, end to end in
process (dispatch posting to the mobile app over ASGI), at least once, in any order, and only from
dispatch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.dispatch.helpers import ACCEPT, CLOSE, HANDLE, People, walk
from tests.mobile.residents import resident
from tests.mobile.test_reports_create import post_report

PUSH = "/m/internal/v1/ticket-updates"


@pytest.fixture
async def pusher_app(
    dispatch_settings: Any, registry_app: Any, mobile_app: Any, maker: Any, platform: Any
) -> AsyncIterator[Any]:
    """A dispatch replica that pushes to the in-process mobile app (DISPATCH_MOBILE_URL set)."""
    from services.dispatch.app import create_app

    app = create_app(
        dispatch_settings.model_copy(update={"mobile_url": "http://mobile"}),
        sessionmaker=maker,
        registry_transport=httpx.ASGITransport(app=registry_app),
        callback_transport=platform.transport(),
        mobile_transport=httpx.ASGITransport(app=mobile_app),
        background=False,
        configure_logs=False,
    )
    async with app.router.lifespan_context(app):
        yield app


async def drain(app: Any, maker: Any) -> int:
    return await app.state.reporter_push.drain(maker)


async def outbox(session: Any) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT id, payload, attempts, sent_at, last_error, next_attempt_at > clock_timestamp() AS later "
            "FROM dispatch.outbox WHERE topic = 'reporter.update' ORDER BY id"
        )
    )
    return rows.all()


async def mirror(session: Any, number: str) -> Any:
    return (
        await session.execute(
            text("SELECT status, event_seq, merged_into, unit_name, satisfaction FROM mobile.report "
                 "WHERE ticket_number = :n"),
            {"n": number},
        )
    ).one()  # fmt: skip


@pytest.fixture
async def filed(mobile: Any, session: Any, world: Any) -> tuple[Any, str, int]:
    alice = await resident(mobile, session, world, 0, openid="alice")
    r = await post_report(mobile, alice.headers)
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    tid = await session.scalar(text("SELECT id FROM dispatch.ticket WHERE number = :n"), {"n": number})
    return alice, number, tid


class TestDelivery:
    async def test_each_step_reaches_the_residents_list(
        self, pusher_app, dispatch, token, maker, session, mobile, filed
    ):
        alice, number, tid = filed
        await walk(dispatch, People(token), tid, CLOSE)
        assert [r.payload["action"] for r in await outbox(session)] == [
            "accept",
            "start",
            "handle",
            "verify",
            "close",
        ]
        assert await drain(pusher_app, maker) == 5
        rows = await outbox(session)
        assert all(r.sent_at is not None and r.attempts == 1 and r.last_error is None for r in rows)
        m = await mirror(session, number)
        last = await session.scalar(
            text("SELECT max(id) FROM dispatch.ticket_event WHERE ticket_id = :t"), {"t": tid}
        )
        assert (m.status, m.event_seq, m.unit_name) == ("closed", last, "XX区城市管理局")
        item = (await mobile.get("/m/v1/tickets", headers=alice.headers)).json()["items"][0]
        assert (item["status"], item["status_label"]) == ("to_rate", "待评价")  # no detail view needed
        assert await drain(pusher_app, maker) == 0

    async def test_unset_mobile_url_keeps_updates_in_the_outbox(
        self, dispatch_app, dispatch, token, maker, session, filed
    ):
        _, _, tid = filed
        await walk(dispatch, People(token), tid, ACCEPT)
        assert not dispatch_app.state.reporter_push.configured
        assert await drain(dispatch_app, maker) == 0
        assert [(r.sent_at, r.attempts) for r in await outbox(session)] == [(None, 0)]

    async def test_a_failed_push_backs_off_and_is_retried(
        self, pusher_app, dispatch, token, maker, session, filed
    ):
        _, number, tid = filed
        await walk(dispatch, People(token), tid, ACCEPT)
        push = pusher_app.state.reporter_push
        live = push.http

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        push.http = httpx.AsyncClient(base_url="http://mobile", transport=httpx.MockTransport(refuse))
        assert await drain(pusher_app, maker) == 0
        (row,) = await outbox(session)
        assert row.sent_at is None and row.attempts == 1 and row.later and "ConnectError" in row.last_error
        push.http = live
        assert await drain(pusher_app, maker) == 0  # not due yet: backing off
        await session.execute(text("UPDATE dispatch.outbox SET next_attempt_at = clock_timestamp()"))
        await session.commit()
        assert await drain(pusher_app, maker) == 1
        assert (await mirror(session, number)).status == "accepted"

    async def test_mobile_answering_503_is_retried_later(
        self, pusher_app, dispatch, token, maker, session, filed
    ):
        _, _, tid = filed
        await walk(dispatch, People(token), tid, ACCEPT)
        push = pusher_app.state.reporter_push
        push.http = httpx.AsyncClient(
            base_url="http://mobile",
            transport=httpx.MockTransport(lambda r: httpx.Response(503, text="busy")),
        )
        assert await drain(pusher_app, maker) == 0
        (row,) = await outbox(session)
        assert row.sent_at is None and row.later and row.last_error.startswith("HTTP 503")


class TestOrder:
    async def test_an_older_update_arriving_late_does_not_overwrite_a_newer_one(
        self, pusher_app, dispatch, token, maker, session, filed
    ):
        _, number, tid = filed
        await walk(dispatch, People(token), tid, HANDLE)  # accept, start, handle
        ids = [r.id for r in await outbox(session)]
        await session.execute(  # hold back all but the newest
            text(
                "UPDATE dispatch.outbox SET next_attempt_at = clock_timestamp() + interval '1 hour' WHERE id <> :last"
            ),
            {"last": ids[-1]},
        )
        await session.commit()
        assert await drain(pusher_app, maker) == 1
        handled = await mirror(session, number)
        assert handled.status == "handled"
        await session.execute(text("UPDATE dispatch.outbox SET next_attempt_at = clock_timestamp()"))
        await session.commit()
        assert await drain(pusher_app, maker) == 2  # delivered, and ignored as older
        assert await mirror(session, number) == handled

    async def test_delivering_everything_twice_changes_nothing(
        self, pusher_app, dispatch, token, maker, session, filed
    ):
        _, number, tid = filed
        await walk(dispatch, People(token), tid, CLOSE)
        await drain(pusher_app, maker)
        before = await mirror(session, number)
        await session.execute(
            text("UPDATE dispatch.outbox SET sent_at = NULL, next_attempt_at = clock_timestamp()")
        )
        await session.commit()
        assert await drain(pusher_app, maker) == 5
        assert await mirror(session, number) == before

    async def test_a_detail_view_and_the_pushes_share_one_order(
        self, pusher_app, dispatch, token, maker, session, mobile, filed
    ):
        alice, number, tid = filed
        await walk(dispatch, People(token), tid, CLOSE)
        assert (await mobile.get(f"/m/v1/tickets/{number}", headers=alice.headers)).status_code == 200
        seen = await mirror(session, number)
        assert seen.status == "closed"
        await drain(pusher_app, maker)  # all five are older than what the view saw
        assert await mirror(session, number) == seen

    async def test_a_rating_made_elsewhere_arrives_with_its_satisfaction(
        self, pusher_app, dispatch, token, maker, session, filed
    ):
        _, number, tid = filed
        people = People(token)
        await walk(
            dispatch, people, tid, [*CLOSE, ("street", "feedback", {"satisfaction": "basically_satisfied"})]
        )
        await drain(pusher_app, maker)
        m = await mirror(session, number)
        assert (m.status, m.satisfaction) == ("feedback", "basically_satisfied")


class TestDuplicates:
    async def test_the_reporter_of_a_merged_report_follows_the_master(
        self, pusher_app, dispatch, token, maker, session, mobile, world, filed
    ):
        _, first, tid = filed
        bob = await resident(mobile, session, world, 1, openid="bob")
        r = await post_report(mobile, bob.headers)
        second = r.json()["number"]
        await walk(dispatch, People(token), tid, CLOSE)
        await drain(pusher_app, maker)
        m = await mirror(session, second)
        assert (m.status, m.merged_into) == ("closed", first)
        item = (await mobile.get("/m/v1/tickets", headers=bob.headers)).json()["items"][0]
        assert item["status"] == "resolved"  # not 待评价: the first reporter rates it


class TestMalformed:
    async def test_a_row_mobile_refuses_does_not_hold_up_the_others(
        self, pusher_app, dispatch, token, maker, session, filed
    ):
        _, number, tid = filed
        await session.execute(
            text(
                "INSERT INTO dispatch.outbox (topic, ticket_id, payload, attempts) VALUES ('reporter.update', :t, "
                "CAST(:p AS jsonb), 0)"
            ),
            {"t": tid, "p": '{"resident_id": "1", "ticket": "SF1", "status": "' + "x" * 50 + '", "at": "2026-01-01T00:00:00+00:00", "action": "accept"}'},
        )  # fmt: skip
        await session.commit()
        await walk(dispatch, People(token), tid, ACCEPT)
        assert await drain(pusher_app, maker) == 1
        bad, good = await outbox(session)
        assert bad.sent_at is None and bad.later and bad.last_error.startswith("HTTP 422")
        assert good.sent_at is not None
        assert (await mirror(session, number)).status == "accepted"


class TestEndpoint:
    async def test_only_dispatchs_service_token_is_accepted(self, mobile, token, mobile_app, filed):
        alice, number, _ = filed
        body = {"updates": [{"seq": 1, "resident_id": "1", "ticket": number, "action": "accept",
                             "status": "accepted", "at": "2026-12-06T01:00:00+00:00"}]}  # fmt: skip
        assert (await mobile.post(PUSH, json=body)).status_code == 401
        assert (
            await mobile.post(PUSH, json=body, headers=alice.headers)
        ).status_code == 401  # a resident token
        for who in (token("district_admin", "320411"), token("service", username="svc-wishes")):
            r = await mobile.post(PUSH, json=body, headers=who)
            assert r.status_code == 403 and "svc-dispatch" in r.json()["detail"]
        assert (await mobile.post(PUSH, json={"bogus": 1})).status_code == 401  # strangers learn nothing
        r = await mobile.post(PUSH, json=body, headers=token("service", username="svc-dispatch"))
        assert r.status_code == 200 and r.json() == {"received": 1, "applied": 0}  # not alice's account

    async def test_updates_apply_by_seq_and_only_to_the_reporters_own_row(
        self, mobile, token, session, filed
    ):
        alice, number, _ = filed
        svc = token("service", username="svc-dispatch")

        def upd(seq: int, status: str, resident_id: str | None = None) -> dict[str, Any]:
            return {"seq": seq, "resident_id": resident_id or str(alice.account_id), "ticket": number,
                    "action": "x", "status": status, "at": f"2026-12-06T01:00:{seq:02d}+00:00",
                    "unit": "CGJ", "unit_name": "XX区城市管理局（含区城管综合行政执法）"}  # fmt: skip

        r = await mobile.post(
            PUSH, json={"updates": [upd(5, "handling"), upd(7, "handled"), upd(6, "accepted")]}, headers=svc
        )
        assert r.json() == {"received": 3, "applied": 1}
        assert (await mirror(session, number))[:2] == ("handled", 7)
        r = await mobile.post(
            PUSH, json={"updates": [upd(6, "accepted"), upd(9, "closed", "99999")]}, headers=svc
        )
        assert r.json()["applied"] == 0
        m = await mirror(session, number)
        assert (m.status, m.event_seq, m.unit_name) == ("handled", 7, "XX区城市管理局")
        assert not [i for i in (await mobile.get("/m/openapi.json")).json()["paths"] if "internal" in i]
