"""Races on a committing database: the mobile and registry apps run on a real pool (not the one rolled-back
test connection), and requests go in together with asyncio.gather over ASGI."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.mobile.account import service as account_service
from services.mobile.account.errors import RefreshInvalid, RefreshReused
from services.mobile.models import Account, RefreshToken, Session
from shared.db import make_sessionmaker
from tests.conftest import MOBILE_SECRET
from tests.mobile.account_helpers import details
from tests.registry.builders import make_world
from tools import db as devdb
from tools.wechat_fake import create_app as wechat_app


@pytest.fixture(scope="module")
async def stack(database_url: str, registry_settings: Any, mobile_settings: Any) -> AsyncIterator[Any]:
    """A fresh committed database with a small world, the registry and mobile apps on a pool over it."""
    from services.mobile.app import create_app as mobile_create
    from services.registry.app import create_app as registry_create
    from services.registry.service.accounts import upsert_service_account

    name = f"race_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as c:
        await c.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, query = database_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")
    await asyncio.to_thread(devdb.upgrade, url)
    engine = create_async_engine(url, pool_size=30, max_overflow=30)
    maker = make_sessionmaker(engine)
    reg = registry_create(registry_settings, sessionmaker=maker, background=False, configure_logs=False)
    try:
        async with reg.router.lifespan_context(reg):
            async with maker() as s:
                world = await make_world(
                    s, reg.state.codec, households_per_building=2, residents_per_household=2
                )
                await upsert_service_account(s, "mobile", MOBILE_SECRET)
                await s.commit()
            mob = mobile_create(
                mobile_settings,
                sessionmaker=maker,
                registry_transport=httpx.ASGITransport(app=reg),
                wechat_transport=httpx.ASGITransport(
                    app=wechat_app(mobile_settings.wechat_app_id, mobile_settings.wechat_app_secret)
                ),
                background=False,
                configure_logs=False,
            )
            async with mob.router.lifespan_context(mob):
                transport = httpx.ASGITransport(app=mob)
                async with httpx.AsyncClient(transport=transport, base_url="http://mobile") as client:
                    yield SimpleNamespace(client=client, maker=maker, world=world, app=mob)
    finally:
        await engine.dispose()
        async with admin.connect() as c:
            await c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def login(client: httpx.AsyncClient, openid: str) -> dict[str, Any]:
    r = await client.post("/m/v1/auth/wechat", json={"code": f"test:{openid}"})
    assert r.status_code == 200, r.text
    return {**r.json(), "headers": {"Authorization": f"Bearer {r.json()['access_token']}"}}


class TestLoginRace:
    async def test_ten_first_logins_of_one_openid_at_once_make_one_account(self, stack):
        rs = await asyncio.gather(
            *(stack.client.post("/m/v1/auth/wechat", json={"code": "test:racer"}) for _ in range(10))
        )
        assert [r.status_code for r in rs] == [200] * 10
        async with stack.maker() as s:
            ids = (await s.execute(select(Account.id).where(Account.openid == "racer"))).scalars().all()
            sessions = await s.scalar(
                select(func.count()).select_from(Session).where(Session.account_id == ids[0])
            )
        assert len(ids) == 1 and sessions == 10


class TestRefreshRace:
    async def test_one_client_refreshing_from_ten_requests_at_once_keeps_its_session(self, stack):
        tok = await login(stack.client, "refresher")
        rs = await asyncio.gather(
            *(
                stack.client.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
                for _ in range(10)
            )
        )
        codes = Counter(r.status_code for r in rs)
        assert codes == {200: 10}, [r.text for r in rs]
        assert len({r.json()["refresh_token"] for r in rs}) == 10
        # one spend of the token; the other nine came within the grace interval, so nothing is revoked
        async with stack.maker() as s:
            sess = (
                await s.execute(select(Session).join(Account).where(Account.openid == "refresher"))
            ).scalar_one()
            tokens = (
                (await s.execute(select(RefreshToken).where(RefreshToken.session_id == sess.id)))
                .scalars()
                .all()
            )
        assert sess.revoked_at is None
        assert len(tokens) == 11 and sum(t.used_at is not None for t in tokens) == 1

    async def test_the_guarded_update_lets_exactly_one_of_two_transactions_through(self, stack):
        tok = await login(stack.client, "guarded")
        tokens = stack.app.state.tokens

        async def spend() -> str:
            async with stack.maker() as s:
                try:
                    await account_service.refresh(s, tokens, tok["refresh_token"])
                    await s.commit()
                    return "won"
                except RefreshReused:
                    await s.commit()  # the revocation stays, as the API keeps it
                    return "reused"
                except RefreshInvalid:
                    await s.rollback()
                    return "invalid"

        results = await asyncio.gather(spend(), spend())
        assert sorted(results) == ["reused", "won"]


class TestBindRaces:
    async def test_two_accounts_binding_one_resident_at_once_one_wins(self, stack):
        w = stack.world
        pairs = [
            (await login(stack.client, f"twin-a{i}"), await login(stack.client, f"twin-b{i}"))
            for i in range(4)
        ]
        calls = []
        for i, (a, b) in enumerate(pairs):
            for tok in (a, b):
                calls.append(
                    stack.client.post("/m/v1/me/binding", json=details(w, i), headers=tok["headers"])
                )
        rs = await asyncio.gather(*calls)
        for i in range(4):
            pair = sorted(r.status_code for r in rs[2 * i : 2 * i + 2])
            assert pair == [201, 409], [r.text for r in rs[2 * i : 2 * i + 2]]
            loser = next(r for r in rs[2 * i : 2 * i + 2] if r.status_code == 409)
            assert loser.json()["type"].endswith("/already-bound")
        async with stack.maker() as s:
            bound = (
                await s.execute(
                    select(Account.resident_id, func.count())
                    .where(Account.openid.like("twin-%"), Account.resident_id.is_not(None))
                    .group_by(Account.resident_id)
                )
            ).all()
        assert sorted(n for _, n in bound) == [1, 1, 1, 1]

    async def test_one_account_binding_two_residents_at_once_binds_one(self, stack):
        tok = await login(stack.client, "greedy")
        rs = await asyncio.gather(
            *(
                stack.client.post("/m/v1/me/binding", json=details(stack.world, i), headers=tok["headers"])
                for i in (8, 9)
            )
        )
        assert sorted(r.status_code for r in rs) == [201, 409]

    async def test_parallel_wrong_attempts_of_one_account_are_counted_exactly(self, stack):
        tok = await login(stack.client, "guesser")
        wrong = {**details(stack.world, 10), "id_last4": "0000"}
        rs = await asyncio.gather(
            *(stack.client.post("/m/v1/me/binding", json=wrong, headers=tok["headers"]) for _ in range(8))
        )
        codes = Counter(r.status_code for r in rs)
        assert codes == {422: 4, 429: 4}, [r.text for r in rs]
        assert sorted(r.json()["remaining_attempts"] for r in rs if r.status_code == 422) == [1, 2, 3, 4]
        assert all(r.json()["type"].endswith("/bind-locked") for r in rs if r.status_code == 429)
        right = await stack.client.post(
            "/m/v1/me/binding", json=details(stack.world, 10), headers=tok["headers"]
        )
        assert right.status_code == 429
