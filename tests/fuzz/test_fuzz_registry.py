"""Fuzz the registry's API with a district admin's token over the small test district (see harness.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fuzz.harness import assert_clean, fuzz

pytestmark = pytest.mark.fuzz

# a new signing key would outlive the test (the issuer is process state), and the fuzzer learns nothing
# from it that test_api_auth does not check
EXCLUDE = ["POST /api/v1/auth/keys/rotate"]


async def test_registry_api_holds_its_contract(registry_app: Any, world: Any, token: Any) -> None:
    admin = token("district_admin", "320411")
    grid = world.grids[0]
    known = {
        "area_id": [grid.id, world.micro[0].id],
        "grid_id": [grid.id],
        "building_id": [world.buildings[0].id],
        "household_id": [world.households[0].id],
        "resident_id": [world.residents[0].id],
    }
    report = await fuzz(
        "registry", registry_app, "http://registry", lambda case: admin, exclude=EXCLUDE, known=known
    )
    assert_clean(report)
