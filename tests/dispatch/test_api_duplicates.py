"""Duplicates: a second report of the same matter, near and recent, in similar words, follows the first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from services.dispatch.models import Ticket
from tests.dispatch.builders import FAR, GARBAGE, GARBAGE_AGAIN, IN_GRID, MANHOLE, NEAR, STREET, act, file


@pytest.fixture
def admin(token: Any) -> dict[str, str]:
    return token("district_admin", "320411")


@pytest.fixture
def dispatcher(token: Any) -> dict[str, str]:
    return token("street_dispatcher", STREET)


class TestLinking:
    async def test_same_matter_near_and_recent_is_linked_to_the_first(self, dispatch, world, admin):
        first = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        second = await file(dispatch, admin, GARBAGE_AGAIN, "mini_program", **NEAR)
        assert first["status"] == "dispatched"
        assert second["status"] == "linked"
        assert second["master_number"] == first["number"]
        assert second["routing"]["standard_code"] == first["routing"]["standard_code"]
        assert second["clock"]["dispatched_at"] is None  # it follows its master's clock
        master = (await dispatch.get(f"/api/v1/tickets/{first['id']}", headers=admin)).json()
        assert master["duplicates"] == [second["number"]]
        child = (await dispatch.get(f"/api/v1/tickets/{second['id']}", headers=admin)).json()
        assert child["master_number"] == first["number"]
        [register] = [e for e in child["events"] if e["action"] == "register"]
        assert register["data"]["master_id"] == first["id"]

    async def test_linked_report_shows_its_master_in_lists(self, dispatch, world, admin):
        first = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        second = await file(dispatch, admin, GARBAGE_AGAIN, "mini_program", **NEAR)
        items = (await dispatch.get("/api/v1/tickets", headers=admin)).json()["items"]
        assert {i["number"]: i["master_number"] for i in items} == {
            first["number"]: None,
            second["number"]: first["number"],
        }

    async def test_far_away_report_is_not_linked(self, dispatch, world, admin):
        await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        far = await file(dispatch, admin, GARBAGE_AGAIN, "mini_program", **FAR)
        assert far["status"] == "dispatched"
        assert far["master_number"] is None

    async def test_different_matter_at_the_same_place_is_not_linked(self, dispatch, world, admin):
        await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        other = await file(dispatch, admin, MANHOLE, "mini_program", **NEAR)
        assert other["status"] == "dispatched"
        assert other["master_number"] is None

    async def test_report_after_the_window_is_not_linked(self, dispatch, world, admin, session):
        first = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        await session.execute(
            update(Ticket)
            .where(Ticket.id == first["id"])
            .values(created_at=datetime.now(UTC) - timedelta(hours=73))
        )
        await session.commit()
        again = await file(dispatch, admin, GARBAGE_AGAIN, "mini_program", **NEAR)
        assert again["master_number"] is None

    async def test_closed_master_is_not_reused(self, dispatch, world, admin, session):
        first = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        await session.execute(update(Ticket).where(Ticket.id == first["id"]).values(status="closed"))
        await session.commit()
        again = await file(dispatch, admin, GARBAGE_AGAIN, "mini_program", **NEAR)
        assert again["status"] == "dispatched"

    async def test_report_without_a_point_is_never_linked(self, dispatch, world, admin):
        await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        again = await file(dispatch, admin, GARBAGE_AGAIN, "hotline")
        assert again["status"] == "dispatched"


class TestUnlink:
    async def test_dispatcher_unlinks_it_back_into_the_flow(self, dispatch, world, admin, dispatcher):
        first = await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        second = await file(dispatch, admin, GARBAGE_AGAIN, "mini_program", **NEAR)
        seen = (await dispatch.get(f"/api/v1/tickets/{second['id']}", headers=dispatcher)).json()
        assert "unlink" in seen["allowed_actions"]
        out = await act(dispatch, dispatcher, second["id"], "unlink")
        assert out["status"] == "dispatched"
        assert out["master_number"] is None
        assert out["routing"]["unit"] == "CGJ"
        assert out["clock"]["dispatched_at"] is not None
        assert out["clock"]["response_due_at"] is not None
        master = (await dispatch.get(f"/api/v1/tickets/{first['id']}", headers=admin)).json()
        assert master["duplicates"] == []
        detail = (await dispatch.get(f"/api/v1/tickets/{second['id']}", headers=dispatcher)).json()
        [ev] = [e for e in detail["events"] if e["action"] == "unlink"]
        assert (ev["from_status"], ev["to_status"]) == ("linked", "dispatched")

    async def test_a_unit_handler_may_not_unlink(self, dispatch, world, admin, token):
        await file(dispatch, admin, GARBAGE, "patrol", **IN_GRID)
        second = await file(dispatch, admin, GARBAGE_AGAIN, "mini_program", **NEAR)
        r = await dispatch.post(
            f"/api/v1/tickets/{second['id']}/transitions",
            json={"action": "unlink"},
            headers=token("department_handler", "CGJ"),
        )
        assert r.status_code == 403
