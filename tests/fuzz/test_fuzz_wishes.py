"""Fuzz the wishes API with a district admin's token over the small test district (see harness.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fuzz.harness import assert_clean, fuzz
from tests.wishes.builders import make_unit, make_volunteer, upload_photo
from tests.wishes.helpers import Actors, submit

pytestmark = pytest.mark.fuzz


async def test_wishes_api_holds_its_contract(
    wishes_app: Any, wishes: httpx.AsyncClient, session: AsyncSession, world: Any, token: Any
) -> None:
    admin = token("district_admin", "320411")
    unit = await make_unit(session)
    volunteer = await make_volunteer(session, points=50)
    await session.commit()
    actors = Actors(token)
    wish = await submit(wishes, actors.mobile, world.residents[0].id)
    photo = await upload_photo(wishes, actors.grid)
    known = {
        "wish_id": [wish["id"]],
        "unit_id": [unit.id],
        "volunteer_id": [volunteer.id],
        "photo_id": [photo],
        "period": ["2026H2"],
    }

    def headers_for(case: Any) -> dict[str, str]:
        # the steps of a wish are the grid's (and units'), not a district admin's
        if case.operation.path.startswith("/api/v1/wishes/{wish_id}/"):
            return actors.grid
        return admin

    report = await fuzz("wishes", wishes_app, "http://wishes", headers_for, known=known)
    assert_clean(report)
