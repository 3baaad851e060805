"""The endpoints that do not take a staff or resident bearer token: the 12345 hotline (HMAC-signed with
an app key), mobile's signed photo links, and the routes kept out of the documents (dispatch's pushes
to mobile). Each refuses a caller who cannot prove who they are."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.routing import APIRoute

from tests.security.cases import _docs, is_problem

# routes not in a service's document, and how each is guarded
UNDOCUMENTED = {
    "/m/internal/v1/ticket-updates": "dispatch's service token only (checked below)",
}


def test_every_route_outside_the_documents_is_known(
    registry_app, dispatch_app, wishes_app, mobile_app
) -> None:  # type: ignore[no-untyped-def]
    unknown = []
    for service, app in (
        ("registry", registry_app),
        ("dispatch", dispatch_app),
        ("wishes", wishes_app),
        ("mobile", mobile_app),
    ):
        documented = set(_docs()[service]["paths"])
        for route in app.routes:
            if not isinstance(route, APIRoute) or route.path in documented:
                continue
            if route.path.endswith(("/docs", "/redoc")) or route.path in UNDOCUMENTED:
                continue
            unknown.append(f"{service} {sorted(route.methods)} {route.path}")
    assert not unknown, f"routes outside the OpenAPI documents with no known guard: {unknown}"


async def test_hotline_endpoints_refuse_unsigned_and_wrongly_signed_calls(seeded: Any) -> None:
    dispatch = seeded.clients["dispatch"]
    bad_signature = {
        "X-App-Key": "unknown-key",
        "X-Timestamp": "1700000000",
        "X-Nonce": uuid.uuid4().hex,
        "X-Signature": "0" * 64,
    }
    for headers in ({}, bad_signature, seeded.alice.headers):
        r = await dispatch.post("/api/v1/hotline/orders", json={"order_no": "X1"}, headers=headers)
        assert is_problem(r, 401), r.text
        r = await dispatch.get("/api/v1/hotline/orders/X1", headers=headers)
        assert is_problem(r, 401), r.text


async def test_dispatch_pushes_to_mobile_need_dispatchs_service_token(seeded: Any, token: Any) -> None:
    mobile = seeded.clients["mobile"]
    body = {"updates": []}
    url = "/m/internal/v1/ticket-updates"
    for headers in ({}, seeded.alice.headers, {"Authorization": "Bearer forged.token.here"}):
        r = await mobile.post(url, json=body, headers=headers)
        assert is_problem(r, 401), r.text
    for headers in (token("district_admin", "320411"), token("service", username="svc-wishes")):
        r = await mobile.post(url, json=body, headers=headers)
        assert is_problem(r, 403), r.text
    r = await mobile.post(url, json=body, headers=token("service", username="svc-dispatch"))
    assert r.status_code == 200, r.text


async def test_wish_photo_links_refuse_altered_or_unsigned_links(seeded: Any) -> None:
    mobile = seeded.clients["mobile"]
    url = f"/m/v1/wishes/photos/{uuid.uuid4()}"
    r = await mobile.get(url)
    assert r.status_code == 422, r.text  # exp and sig are required
    r = await mobile.get(url, params={"exp": 4_000_000_000, "sig": "A" * 24})
    assert is_problem(r, 403), r.text
    r = await mobile.get(url, params={"exp": 1_000_000, "sig": "A" * 24})
    assert is_problem(r, 403), r.text
