"""The typed client base every service uses to call another: retries, timeouts, forwarded headers."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from shared.http import ServiceClient, ServiceToken, make_http_client, raise_for_upstream
from shared.logging import caller_token_var, request_id_var
from shared.problems import UpstreamError, UpstreamUnavailable


def upstream() -> tuple[FastAPI, dict[str, int]]:
    app = FastAPI()
    calls = {"get": 0, "post": 0}

    @app.get("/flaky/{fail}")
    async def flaky_get(fail: int) -> Response:
        calls["get"] += 1
        return Response(status_code=503 if calls["get"] <= fail else 200)

    @app.post("/flaky")
    async def flaky_post() -> Response:
        calls["post"] += 1
        return Response(status_code=503)

    @app.get("/echo")
    async def echo(request: Request) -> dict[str, str | None]:
        return {"rid": request.headers.get("x-request-id"), "auth": request.headers.get("authorization")}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(1)
        return {}

    return app, calls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serve(app: FastAPI):
    """The app on a real loopback socket, for what only real HTTP shows (timeouts)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def client(app: FastAPI, **kw) -> ServiceClient:
    return ServiceClient(make_http_client("http://up", transport=httpx.ASGITransport(app=app), **kw))


class TestRetries:
    async def test_idempotent_get_is_retried_on_503(self):
        app, calls = upstream()
        r = await client(app).request("GET", "/flaky/2")
        assert r.status_code == 200
        assert calls["get"] == 3

    async def test_get_gives_up_after_three_retries(self):
        app, calls = upstream()
        r = await client(app).request("GET", "/flaky/99")
        assert r.status_code == 503
        assert calls["get"] == 4
        with pytest.raises(UpstreamUnavailable):
            raise_for_upstream(r, "registry")

    async def test_post_without_idempotency_key_is_never_retried(self):
        app, calls = upstream()
        r = await client(app).request("POST", "/flaky")
        assert r.status_code == 503
        assert calls["post"] == 1

    async def test_timeout_over_real_http_becomes_a_503_problem(self):
        app, _ = upstream()
        async with serve(app) as base_url:
            c = ServiceClient(make_http_client(base_url, timeout=httpx.Timeout(0.05)))
            with pytest.raises(UpstreamUnavailable) as exc:
                await c.request("GET", "/slow", idempotent=False)
        assert exc.value.status == 503
        assert "ReadTimeout" in exc.value.detail

    async def test_unreachable_service_becomes_a_503_problem(self):
        c = ServiceClient(make_http_client(f"http://127.0.0.1:{free_port()}"))
        with pytest.raises(UpstreamUnavailable):
            await c.request("GET", "/anything")

    def test_other_errors_map_to_502(self):
        with pytest.raises(UpstreamError):
            raise_for_upstream(httpx.Response(400), "registry")


class TestForwarding:
    async def test_request_id_and_callers_token_are_forwarded(self):
        app, _ = upstream()
        rid = request_id_var.set("req-42")
        tok = caller_token_var.set("caller.jwt")
        try:
            body = (await client(app).request("GET", "/echo")).json()
        finally:
            request_id_var.reset(rid)
            caller_token_var.reset(tok)
        assert body == {"rid": "req-42", "auth": "Bearer caller.jwt"}

    async def test_service_token_from_client_credentials(self, registry, registry_app, world, session):
        from services.registry.service.accounts import upsert_service_account

        await upsert_service_account(session, "dispatch", "client-secret-for-tests")
        await session.commit()
        token = ServiceToken(registry, client_id="svc-dispatch", client_secret="client-secret-for-tests")
        c = ServiceClient(registry, service_token=token)
        r = await c.request("GET", "/api/v1/auth/me", as_service=True)
        assert r.status_code == 200, r.text
        assert r.json()["role"] == "service"
        first = await token.get()
        assert await token.get() == first  # cached until near expiry

    async def test_wrong_service_secret_is_a_502(self, registry, world):
        token = ServiceToken(registry, client_id="svc-dispatch", client_secret="wrong")
        with pytest.raises(UpstreamError):
            await token.get()
