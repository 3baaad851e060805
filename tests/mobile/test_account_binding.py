"""Binding a WeChat account to a registry resident: the identity check, one-to-one, wrong attempts and the
lock, the per-network limit, unbinding; against the in-process registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from services.mobile import limits
from services.mobile.account.binding import BIND_FAILS_PER_IP
from services.mobile.clients.registry import RegistryClient
from services.mobile.models import Account
from tests.mobile.account_helpers import add_resident, bind, details, login, x_number

PROBLEM = "https://gridgov.example.org/problems/"


async def account(session, openid: str = "alice") -> Account:
    stmt = select(Account).where(Account.openid == openid).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one()


def registry_failing(mobile_app, exc: Exception | None = None, status: int | None = None) -> None:
    """Point mobile's registry client at a network that fails (the service token still comes from the
    real registry)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if exc is not None:
            raise exc
        return httpx.Response(status or 503, json={"detail": "down"})

    old: RegistryClient = mobile_app.state.registry
    http = httpx.AsyncClient(base_url="http://registry", transport=httpx.MockTransport(handler))
    mobile_app.state.registry = RegistryClient(http, service_token=old._service_token)


class TestBind:
    async def test_right_details_bind_the_account_to_the_resident_and_household(self, mobile, world, session):
        tok = await login(mobile)
        r = await mobile.post("/m/v1/me/binding", json=details(world, 0), headers=tok["headers"])
        assert r.status_code == 201, r.text
        body = r.json()
        res = world.residents[0]
        assert (
            body["bound"] is True
            and body["household_id"] == res.household_id
            and body["message"] == "绑定成功"
        )
        acc = await account(session)
        assert (acc.resident_id, acc.household_id, acc.area_code) == (res.id, res.household_id, res.area_code)
        assert acc.bound_at is not None and acc.bind_failures == 0
        assert (await mobile.get("/m/v1/me", headers=tok["headers"])).json()["bound"] is True
        # the next login says so
        assert (await login(mobile))["bound"] is True

    @pytest.mark.parametrize("last4", ["X", "x"])
    async def test_an_identity_number_ending_in_x_binds_in_either_case(
        self, mobile, world, session, registry_app, last4
    ):
        number = x_number()
        r = await add_resident(
            session,
            registry_app.state.codec,
            world.households[1],
            name="欧阳娜娜",
            phone="13700001111",
            number=number,
        )
        await session.commit()
        tok = await login(mobile)
        body = {"name": "欧阳娜娜", "phone": "137 0000 1111", "id_last4": number[-4:-1] + last4}
        res = await mobile.post("/m/v1/me/binding", json=body, headers=tok["headers"])
        assert res.status_code == 201, res.text
        assert (await account(session)).resident_id == r.id

    async def test_the_phone_may_come_with_plus86_and_dashes(self, mobile, world, session):
        tok = await login(mobile)
        d = details(world, 2)
        d["phone"] = "+86 " + d["phone"][:3] + "-" + d["phone"][3:]
        assert (await mobile.post("/m/v1/me/binding", json=d, headers=tok["headers"])).status_code == 201

    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("phone", "12345678901", "11-digit mainland mobile"),
            ("phone", "0519-88001234", "11-digit mainland mobile"),
            ("phone", "1391234567", "11-digit mainland mobile"),
            ("id_last4", "12X4", "3 digits, then a digit or X"),
            ("id_last4", "123", "3 digits, then a digit or X"),
            ("id_last4", "12345", "3 digits, then a digit or X"),
            ("name", "张", "2 to 30 characters"),
            ("name", "张" * 31, "2 to 30 characters"),
            ("name", "张\x00三", "NUL"),
            ("name", "张\t\u200b三", "control characters"),
        ],
    )
    async def test_bad_input_is_422_saying_what_to_fix(self, mobile, world, field, value, words):
        tok = await login(mobile)
        body = {**details(world, 0), field: value}
        r = await mobile.post("/m/v1/me/binding", json=body, headers=tok["headers"])
        assert r.status_code == 422
        p = r.json()
        assert p["errors"][0]["loc"] == ["body", field] and words in p["errors"][0]["msg"], p

    async def test_unknown_fields_are_refused(self, mobile, world):
        tok = await login(mobile)
        r = await mobile.post(
            "/m/v1/me/binding", json={**details(world), "resident_id": 1}, headers=tok["headers"]
        )
        assert r.status_code == 422

    async def test_binding_needs_a_resident_token(self, mobile, world):
        assert (await mobile.post("/m/v1/me/binding", json=details(world))).status_code == 401


class TestOneToOne:
    async def test_a_bound_account_cannot_bind_again(self, mobile, world):
        tok = await login(mobile)
        await bind(mobile, tok["headers"], world, 0)
        r = await mobile.post("/m/v1/me/binding", json=details(world, 1), headers=tok["headers"])
        assert r.status_code == 409 and r.json()["type"] == PROBLEM + "already-bound"
        assert "unbind it first" in r.json()["detail"]

    async def test_a_bound_resident_cannot_be_bound_by_another_account(self, mobile, world, session):
        a, b = await login(mobile, "alice"), await login(mobile, "bob")
        await bind(mobile, a["headers"], world, 0)
        r = await mobile.post("/m/v1/me/binding", json=details(world, 0), headers=b["headers"])
        assert r.status_code == 409 and "another WeChat account" in r.json()["detail"]
        assert (await account(session, "bob")).resident_id is None
        # bob's transaction went on after the refused UPDATE: he can still bind someone else
        assert (
            await mobile.post("/m/v1/me/binding", json=details(world, 1), headers=b["headers"])
        ).status_code == 201

    async def test_unbinding_frees_the_resident_for_another_account(self, mobile, world, session):
        a, b = await login(mobile, "alice"), await login(mobile, "bob")
        await bind(mobile, a["headers"], world, 0)
        r = await mobile.delete("/m/v1/me/binding", headers=a["headers"])
        assert r.status_code == 204
        acc = await account(session, "alice")
        assert (acc.resident_id, acc.household_id, acc.area_code, acc.bound_at) == (None, None, None, None)
        assert (await mobile.get("/m/v1/me", headers=a["headers"])).json()["bound"] is False
        await bind(mobile, b["headers"], world, 0)

    async def test_unbinding_an_unbound_account_is_a_no_op(self, mobile):
        tok = await login(mobile)
        assert (await mobile.delete("/m/v1/me/binding", headers=tok["headers"])).status_code == 204


class TestWrongAttempts:
    async def test_wrong_details_are_422_with_attempts_left_and_are_counted(self, mobile, world, session):
        tok = await login(mobile)
        for left in (4, 3):
            r = await mobile.post(
                "/m/v1/me/binding", json={**details(world), "id_last4": "0000"}, headers=tok["headers"]
            )
            assert r.status_code == 422
            p = r.json()
            assert p["type"] == PROBLEM + "bind-mismatch" and p["remaining_attempts"] == left
            assert f"{left} attempt(s) left" in p["detail"] and f"还可尝试{left}次" in p["message"]
        assert (await account(session)).bind_failures == 2
        me = (await mobile.get("/m/v1/me", headers=tok["headers"])).json()
        assert me["account"]["bind_attempts_left"] == 3

    @pytest.mark.parametrize("wrong", ["name", "phone", "id_last4"])
    async def test_each_detail_must_match(self, mobile, world, wrong):
        tok = await login(mobile)
        other = {"name": "王五六", "phone": "13811112222", "id_last4": "9999"}
        r = await mobile.post(
            "/m/v1/me/binding", json={**details(world), wrong: other[wrong]}, headers=tok["headers"]
        )
        assert r.status_code == 422 and r.json()["type"] == PROBLEM + "bind-mismatch"

    async def test_the_fifth_wrong_attempt_locks_binding_even_for_right_details(self, mobile, world, session):
        tok = await login(mobile)
        wrong = {**details(world), "phone": "13800000000"}
        for _ in range(4):
            assert (
                await mobile.post("/m/v1/me/binding", json=wrong, headers=tok["headers"])
            ).status_code == 422
        r = await mobile.post("/m/v1/me/binding", json=wrong, headers=tok["headers"])
        assert r.status_code == 429 and r.json()["type"] == PROBLEM + "bind-locked"
        assert int(r.headers["retry-after"]) == 1800 and r.json()["retry_after"] == 1800
        assert "30分钟" in r.json()["message"] and "30 minute(s)" in r.json()["detail"]
        r = await mobile.post("/m/v1/me/binding", json=details(world), headers=tok["headers"])
        assert r.status_code == 429 and r.json()["type"] == PROBLEM + "bind-locked"
        assert 1700 < int(r.headers["retry-after"]) <= 1801 and r.json()["locked_until"]
        acc = await account(session)
        assert acc.resident_id is None and acc.bind_locked_until > datetime.now(UTC)
        me = (await mobile.get("/m/v1/me", headers=tok["headers"])).json()
        assert me["account"]["bind_locked_until"]

    async def test_after_the_lock_right_details_bind_and_reset_the_count(self, mobile, world, session):
        tok = await login(mobile)
        await session.execute(
            update(Account).values(
                bind_locked_until=datetime.now(UTC) - timedelta(seconds=1), bind_failures=0
            )
        )
        await session.commit()
        assert (
            await mobile.post("/m/v1/me/binding", json=details(world), headers=tok["headers"])
        ).status_code == 201
        acc = await account(session)
        assert acc.bind_locked_until is None and acc.bind_failures == 0

    async def test_a_success_resets_the_count(self, mobile, world, session):
        tok = await login(mobile)
        for _ in range(3):
            await mobile.post(
                "/m/v1/me/binding", json={**details(world), "id_last4": "0000"}, headers=tok["headers"]
            )
        assert (await account(session)).bind_failures == 3
        await bind(mobile, tok["headers"], world, 0)
        assert (await account(session)).bind_failures == 0

    async def test_the_lock_is_per_account(self, mobile, world):
        a, b = await login(mobile, "alice"), await login(mobile, "bob")
        for _ in range(5):
            await mobile.post(
                "/m/v1/me/binding", json={**details(world), "id_last4": "0000"}, headers=a["headers"]
            )
        assert (
            await mobile.post("/m/v1/me/binding", json=details(world), headers=b["headers"])
        ).status_code == 201

    async def test_wrong_attempts_from_one_network_are_limited_across_accounts(self, mobile, world, session):
        # 29 wrong attempts already came from this address (through other openids)
        for _ in range(BIND_FAILS_PER_IP.max_hits - 1):
            await limits.hit(session, BIND_FAILS_PER_IP, "127.0.0.1")
        await session.commit()
        tok = await login(mobile, "sweeper")
        wrong = {**details(world), "id_last4": "0000"}
        assert (await mobile.post("/m/v1/me/binding", json=wrong, headers=tok["headers"])).status_code == 422
        r = await mobile.post("/m/v1/me/binding", json=details(world), headers=tok["headers"])
        assert r.status_code == 429 and r.json()["type"] == PROBLEM + "too-many-requests"
        assert int(r.headers["retry-after"]) > 0 and "network" in r.json()["detail"]
        other = await login(mobile, "another")
        assert (
            await mobile.post("/m/v1/me/binding", json=details(world, 1), headers=other["headers"])
        ).status_code == 429

    async def test_right_attempts_do_not_use_up_the_network_limit(self, mobile, world, session):
        for i in range(3):
            await bind(mobile, (await login(mobile, f"neighbour{i}"))["headers"], world, i)
        assert await limits.used(session, BIND_FAILS_PER_IP, "127.0.0.1") == 0


class TestRegistryFailures:
    @pytest.mark.parametrize(
        ("exc", "status"),
        [(httpx.ConnectError("refused"), None), (httpx.ReadTimeout("slow"), None), (None, 503)],
        ids=["down", "timeout", "503"],
    )
    async def test_a_registry_that_cannot_answer_is_503_and_nothing_is_counted(
        self, mobile, mobile_app, world, session, exc, status
    ):
        tok = await login(mobile)
        registry_failing(mobile_app, exc, status)
        r = await mobile.post(
            "/m/v1/me/binding", json={**details(world), "id_last4": "0000"}, headers=tok["headers"]
        )
        assert r.status_code == 503
        p = r.json()
        assert p["type"] == PROBLEM + "upstream-unavailable" and p["upstream"] == "registry"
        assert "registry" in p["detail"]
        acc = await account(session)
        assert acc.bind_failures == 0 and acc.resident_id is None
        assert await limits.used(session, BIND_FAILS_PER_IP, "127.0.0.1") == 0
