"""The four services in process, and a small world with something of each kind in street 320411001:
a resident (alice, bound to world resident 0) who filed a report (a dispatch ticket) and made a wish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.mobile.residents import LoggedIn, resident
from tests.mobile.test_reports_create import post_report
from tests.wishes.builders import make_unit, make_volunteer


@dataclass
class Seeded:
    world: Any
    clients: dict[str, httpx.AsyncClient]
    alice: LoggedIn  # bound to world resident 0 (grid 320411001001001)
    bob: LoggedIn  # bound to world resident 16 (street 320411002)
    ticket: dict[str, Any]  # alice's report, as dispatch has it
    wish: dict[str, Any]  # alice's wish, as wishes has it
    ids: dict[str, Any] = field(default_factory=dict)  # path parameter -> an id that exists
    # operationId -> input fields the schema alone cannot make valid (see cases.request_kwargs)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture
async def seeded(registry_app, dispatch_app, wishes_app, mobile_app, session, world, token) -> Seeded:  # type: ignore[no-untyped-def]
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
        for name, app in (
            ("registry", registry_app),
            ("dispatch", dispatch_app),
            ("wishes", wishes_app),
            ("mobile", mobile_app),
        )
    }
    mobile = clients["mobile"]
    unit = await make_unit(session, "MU001")
    volunteer = await make_volunteer(session, "志愿者甲", points=50)
    await session.commit()
    alice = await resident(mobile, session, world, 0, openid="alice")
    bob = await resident(mobile, session, world, 16, openid="bob")
    r = await post_report(mobile, alice.headers)
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    tid = await session.scalar(
        text("SELECT ticket_id FROM mobile.report WHERE ticket_number = :n"), {"n": number}
    )
    r = await mobile.post(
        "/m/v1/wishes",
        data={
            "category": "助老",
            "title": "需要一台轮椅",
            "description": "老伴中风后行动不便，想要一台折叠轮椅。",
        },
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    wish_id = r.json()["id"]
    admin = token("district_admin", "320411")
    ticket = (await clients["dispatch"].get(f"/api/v1/tickets/{tid}", headers=admin)).json()
    wish = (await clients["wishes"].get(f"/api/v1/wishes/{wish_id}", headers=admin)).json()
    g = world.grids[0]
    ids = {
        "area_id": g.id,
        "grid_id": g.id,
        "building_id": world.buildings[0].id,
        "household_id": world.households[0].id,
        "resident_id": world.residents[0].id,
        "ticket_id": tid,
        "number": number,
        "wish_id": wish_id,
        "unit_id": unit.id,
        "volunteer_id": volunteer.id,
        "code": "010101",
        "queue": "dispatch-centre",
        "period": "2026H2",
        "quarter": 4,
        "photo_id": "00000000-0000-4000-8000-000000000001",
    }
    r0 = world.residents[0]
    inputs = {
        "locate_place": {"params": {"lat": 31.8116, "lng": 119.951}},
        "create_staff_account": {
            "json": {
                "username": "sec-new-account",
                "password": "a-long-enough-Passw0rd!",
                "scope": ["320411"],
            }
        },
        "create_area": {
            "json": {"level": "grid", "code": "320411001001011", "parent_id": world.communities[0].id}
        },
        "create_resident": {"json": {"household_id": world.households[0].id, "id_number": world.numbers[1]}},
        "lookup_resident": {"json": {"id_number": world.numbers[0]}},
        "check_resident_identity": {
            "json": {"name": r0.name, "phone": r0.phone, "id_last4": world.numbers[0][-4:]}
        },
        "create_points_rule": {"json": {"points": 5}},
    }
    try:
        yield Seeded(world, clients, alice, bob, ticket, wish, ids, inputs)
    finally:
        for c in clients.values():
            await c.aclose()


# Small upload limits, so that "just above the limit" stays fast (the registry's import takes 256 MB).
@pytest.fixture(scope="session")
def registry_settings(registry_settings):  # type: ignore[no-untyped-def]
    return registry_settings.model_copy(update={"import_max_bytes": 300_000})


@pytest.fixture(scope="session")
def wishes_settings(wishes_settings):  # type: ignore[no-untyped-def]
    return wishes_settings.model_copy(update={"photo_max_bytes": 100_000})


@pytest.fixture(scope="session")
def mobile_settings(mobile_settings):  # type: ignore[no-untyped-def]
    return mobile_settings.model_copy(update={"photo_max_bytes": 100_000})
