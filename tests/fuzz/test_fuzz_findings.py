"""What the API fuzzer found, pinned as plain tests (each was a 500 or an undocumented answer)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.fuzz

PROBLEM_JSON = "application/problem+json"


async def test_a_household_code_over_its_column_is_a_422_not_a_500(
    registry: httpx.AsyncClient, world: Any, token: Any
) -> None:
    body = {"building_id": world.buildings[0].id, "unit_no": "A" * 8, "room_no": "1" * 16}
    r = await registry.post("/api/v1/households", json=body, headers=token("district_admin", "320411"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"].endswith("/household-code-too-long")


async def test_grid_staff_with_an_unknown_account_is_a_404_not_a_500(
    registry: httpx.AsyncClient, world: Any, token: Any
) -> None:
    admin = token("district_admin", "320411")
    body = {"name": "张三", "role": "police", "account_id": 2147483000}
    r = await registry.post(f"/api/v1/grids/{world.grids[0].id}/staff", json=body, headers=admin)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == PROBLEM_JSON


async def test_a_body_that_is_not_utf8_is_a_documented_400_problem(
    registry: httpx.AsyncClient, registry_app: Any, token: Any
) -> None:
    r = await registry.post(
        "/api/v1/households",
        content=b"\xef\xf3&",
        headers={**token("district_admin", "320411"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    documented = registry_app.openapi()["paths"]["/api/v1/households"]["post"]["responses"]
    assert PROBLEM_JSON in documented["400"]["content"]
    assert list(documented["422"]["content"]) == [PROBLEM_JSON]


async def test_every_error_of_every_service_is_documented_as_a_problem(
    registry_app: Any, dispatch_app: Any, wishes_app: Any, mobile_app: Any
) -> None:
    for app in (registry_app, dispatch_app, wishes_app, mobile_app):
        doc = app.openapi()
        assert "HTTPValidationError" not in doc["components"]["schemas"]
        for path, item in doc["paths"].items():
            for method, op in item.items():
                for code, resp in op["responses"].items():
                    if code[0] in "45":
                        assert list(resp["content"]) == [PROBLEM_JSON], f"{method} {path} {code}"
