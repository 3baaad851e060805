"""Fuzz dispatch's API with a district admin's token over the small test district (see harness.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.dispatch.helpers import GRID, file_ticket
from tests.fuzz.harness import assert_clean, fuzz

pytestmark = pytest.mark.fuzz


async def test_dispatch_api_holds_its_contract(
    dispatch_app: Any, dispatch: httpx.AsyncClient, world: Any, token: Any
) -> None:
    admin = token("district_admin", "320411")
    worker = token("grid_worker", GRID)
    ticket = await file_ticket(dispatch, worker)
    known = {
        "ticket_id": [ticket["id"]],
        "number": [ticket["number"]],
        "code": [ticket["routing"]["standard_code"] or "010101"],
        "queue": ["dispatch-centre", "unit-inbox", "verification"],
    }
    report = await fuzz("dispatch", dispatch_app, "http://dispatch", lambda case: admin, known=known)
    assert_clean(report)
