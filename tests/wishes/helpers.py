"""Driving wishes through the API in tests: submit, and bring a wish to any state by the real transitions."""

from __future__ import annotations

from typing import Any

import httpx

from tests.wishes.builders import upload_photo

# the order in which a wish normally moves, and the call that moves it there from the previous state
PATH = ("submitted", "approved", "published", "claimed", "in_progress", "completed", "confirmed", "closed")


class Actors:
    """Headers for the people in a wish's life (built from the conftest `token` factory)."""

    def __init__(self, token: Any, unit_code: str = "MU001", grid: str = "320411001001001") -> None:
        self.grid = token("grid_worker", grid, username="grid-w")
        self.admin = token("community_admin", grid[:12], username="comm-admin")
        self.liaison = token("unit_liaison", unit_code, username=f"liaison-{unit_code}")
        self.mobile = token("service", username="svc-mobile")
        self.street = token("street_dispatcher", grid[:9], username="street")


async def submit(
    client: httpx.AsyncClient, headers: dict[str, str], resident_id: int, **kw: Any
) -> dict[str, Any]:
    body = {
        "resident_id": resident_id,
        "category": "助老",
        "title": "需要一台轮椅",
        "description": "老伴中风后行动不便，想要一台折叠轮椅。",
        "estimated_value": "600.00",
        **kw,
    }
    r = await client.post("/api/v1/wishes", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def act(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    wish_id: int,
    action: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(f"/api/v1/wishes/{wish_id}/{action}", headers=headers, json=body or {})


async def ok(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    wish_id: int,
    action: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    r = await act(client, headers, wish_id, action, body)
    assert r.status_code == 200, r.text
    return r.json()


async def wish_in(
    client: httpx.AsyncClient, a: Actors, resident_id: int, status: str, **kw: Any
) -> dict[str, Any]:
    """A wish brought to `status` through the API (the unit MU001 claims it)."""
    w = await submit(client, a.grid, resident_id, **kw)
    wid = w["id"]
    if status == "submitted":
        return w
    if status in ("rejected", "cancelled"):
        action = "reject" if status == "rejected" else "cancel"
        return await ok(client, a.grid, wid, action, {"note": "不符合微心愿范围"})
    steps: list[tuple[dict[str, str], str, dict[str, Any]]] = [
        (a.grid, "approve", {}),
        (a.grid, "publish", {}),
        (a.liaison, "claim", {}),
        (a.liaison, "start", {}),
        (a.liaison, "complete", {}),
        (a.mobile, "confirm", {"resident_id": resident_id}),
        (a.grid, "close", {}),
    ]
    for target, (headers, action, body) in zip(PATH[1:], steps, strict=True):
        if action == "complete":
            body = {"note": "已送达并教会使用", "proof_photo_ids": [await upload_photo(client, a.liaison)]}
        w = await ok(client, headers, wid, action, body)
        assert w["status"] == target
        if target == status:
            return w
    raise AssertionError(f"unknown status {status}")
