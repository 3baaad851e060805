"""Every POST, PUT and PATCH of every service refuses a body one byte over its limit with a 413 problem,
before the handler runs: with a Content-Length (refused before a byte is read) and chunked without one
(refused as the bytes arrive). The limit is `<PREFIX>_MAX_BODY_BYTES`, except where an upload has its own
(LIMITS below, from each service's settings; the conftest makes them small so the test stays fast).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.security.cases import fill_path, is_problem, operations

CHUNK = 64 * 1024
BOUNDARY = "sec0boundary"
# Endpoints that read their own request stream, so they start before it overflows; what each does first.
STREAM_READERS = {
    "create_report": "reads the bound account and an idempotent replay, then the form: nothing is written",
}


def upload_limits(service: str, settings: Any) -> dict[str, int]:
    """The operations with their own limit (exact paths), as each service documents them."""
    if service == "registry":
        return {"/api/v1/imports/residents": settings.import_max_bytes}
    if service == "wishes":
        return {"/api/v1/photos": settings.photo_max_bytes + 64 * 1024}
    if service == "mobile":
        return {
            "/m/v1/reports": settings.photo_max_count * settings.photo_max_bytes + 256 * 1024,
            "/m/v1/wishes": 3 * settings.photo_max_bytes + 256 * 1024,
        }
    return {}


class Spy:
    """Counts an app's reads of the request body, and records which endpoint functions ran (FastAPI calls
    every endpoint through `fastapi.routing.run_endpoint_function`)."""

    def __init__(self, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        import fastapi.routing

        self.app = app
        self.reads = 0
        self.ran: list[str] = []
        original = fastapi.routing.run_endpoint_function

        async def spy(*, dependant: Any, **kw: Any) -> Any:
            self.ran.append(getattr(dependant.call, "__name__", "?"))
            return await original(dependant=dependant, **kw)

        monkeypatch.setattr(fastapi.routing, "run_endpoint_function", spy)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def counting() -> dict[str, Any]:
            self.reads += 1
            return await receive()

        await self.app(scope, counting, send)


def content_type(op: Any) -> str:
    """The operation's own media type, so that a form is parsed (and its stream read) as a form."""
    types = list(op.spec.get("requestBody", {}).get("content", {}))
    if "multipart/form-data" in types:
        return f"multipart/form-data; boundary={BOUNDARY}"
    return types[0] if types else "application/json"


def body_of(op: Any, n: int) -> bytes:
    """n bytes the operation's parser reads to the end: for multipart, one file part padded to size."""
    if not content_type(op).startswith("multipart/"):
        return b"x" * n
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head + b"x" * (n - len(head) - len(tail)) + tail


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


@pytest.fixture
def apps(registry_app, dispatch_app, wishes_app, mobile_app):  # type: ignore[no-untyped-def]
    return {"registry": registry_app, "dispatch": dispatch_app, "wishes": wishes_app, "mobile": mobile_app}


async def test_every_write_refuses_a_body_over_its_limit_before_the_handler_runs(
    apps: dict[str, Any], seeded: Any, token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a Content-Length: a 413 problem and not one byte read. Chunked: a 413 problem and no endpoint
    ran. An operation with no request body never reads the stream, so a chunked body costs it nothing
    and it may answer as it would without one (it is refused by Content-Length like every other)."""
    admin = token("district_admin", "320411")
    failures, checked = [], 0
    for service, app in apps.items():
        settings = app.state.settings
        own = upload_limits(service, settings)
        auth = seeded.alice.headers if service == "mobile" else admin
        spy = Spy(app, monkeypatch)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=spy), base_url="http://t") as client:
            for op in operations(service):
                if op.method not in ("post", "put", "patch"):
                    continue
                limit = own.get(op.path, settings.max_body_bytes)
                url, method = fill_path(op.path, seeded.ids), op.method.upper()
                headers = {**auth, "Content-Type": content_type(op)}
                spy.reads, spy.ran = 0, []
                r = await client.request(method, url, content=body_of(op, limit + 1), headers=headers)
                checked += 1
                if not is_problem(r, 413) or spy.reads or spy.ran:
                    failures.append(
                        f"{op} Content-Length {limit + 1}: {r.status_code}, {spy.reads} reads, ran {spy.ran}"
                    )
                if "requestBody" not in op.spec:
                    continue
                spy.reads, spy.ran = 0, []
                r = await client.request(
                    method, url, content=_chunks(body_of(op, limit + 1)), headers=headers
                )
                checked += 1
                if not is_problem(r, 413) or set(spy.ran) - set(STREAM_READERS):
                    failures.append(
                        f"{op} chunked {limit + 1}: {r.status_code} {r.text[:100]}, ran {spy.ran}"
                    )
    assert not failures, "\n".join(failures)
    assert checked > 130, checked


async def test_a_body_at_the_limit_is_not_refused_as_too_large(
    apps: dict[str, Any], token: Any, seeded: Any
) -> None:
    """The limits are exact: one byte less is let through (to fail later as what it is, not as a 413)."""
    for service, app in apps.items():
        settings = app.state.settings
        own = upload_limits(service, settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            plain = [op.path for op in operations(service) if op.method == "post" and op.path not in own]
            for path, limit in [*own.items(), (plain[-1], settings.max_body_bytes)]:
                headers = seeded.alice.headers if service == "mobile" else token("district_admin", "320411")
                r = await client.post(
                    fill_path(path, seeded.ids),
                    content=b"x" * limit,
                    headers={**headers, "Content-Type": "application/json"},
                )
                assert r.status_code != 413, f"{service} {path}: {r.text[:200]}"
