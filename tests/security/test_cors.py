"""CORS is closed by default: a browser page from any site gets no Access-Control-Allow-Origin from any
service, on a preflight or a plain request. With `<PREFIX>_CORS_ORIGINS` set, that origin (and only it)
is allowed. The apps are built from the environment, as a deployment builds them (no database needed:
a preflight never reaches a route)."""

from __future__ import annotations

import importlib
import json

import httpx
import pytest

from tools.openapi import _placeholder_env

SERVICES = {
    "registry": ("REGISTRY", "RegistrySettings", "/api/v1/areas"),
    "dispatch": ("DISPATCH", "DispatchSettings", "/api/v1/tickets"),
    "wishes": ("WISHES", "WishesSettings", "/api/v1/wishes"),
    "mobile": ("MOBILE", "MobileSettings", "/m/v1/me"),
}
ALLOWED = "https://grid.example.gov.cn"
STRANGERS = (
    "https://evil.example",
    "null",
    "http://localhost:3000",
    "https://grid.example.gov.cn.evil.example",
)


def _app(service: str, monkeypatch: pytest.MonkeyPatch, origins: list[str] | None):  # type: ignore[no-untyped-def]
    prefix, cls, _ = SERVICES[service]
    _placeholder_env()
    if origins is None:
        monkeypatch.delenv(f"{prefix}_CORS_ORIGINS", raising=False)
    else:
        monkeypatch.setenv(f"{prefix}_CORS_ORIGINS", json.dumps(origins))
    settings = getattr(importlib.import_module(f"services.{service}.settings"), cls)()
    assert settings.cors_origins == (origins or [])
    return importlib.import_module(f"services.{service}.app").create_app(settings, configure_logs=False)


async def _preflight(app, path: str, origin: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        return await c.options(
            path,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )


async def _simple(app, origin: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        return await c.get("/healthz", headers={"Origin": origin})


def _cors_headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_no_origin_is_allowed_by_default(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(service, monkeypatch, None)
    path = SERVICES[service][2]
    for origin in (*STRANGERS, ALLOWED):
        r = await _preflight(app, path, origin)
        assert not _cors_headers(r), (origin, r.status_code, dict(r.headers))
        assert r.status_code in (401, 405), r.status_code  # no route answers OPTIONS
        r = await _simple(app, origin)
        assert r.status_code == 200 and not _cors_headers(r), dict(r.headers)


@pytest.mark.parametrize("service", list(SERVICES))
async def test_only_the_configured_origin_is_allowed(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(service, monkeypatch, [ALLOWED])
    path = SERVICES[service][2]
    r = await _preflight(app, path, ALLOWED)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-credentials" not in r.headers
    r = await _simple(app, ALLOWED)
    assert r.headers["access-control-allow-origin"] == ALLOWED
    for origin in STRANGERS:
        r = await _preflight(app, path, origin)
        assert "access-control-allow-origin" not in r.headers, (origin, dict(r.headers))
        assert r.status_code == 400, (origin, r.status_code)
        r = await _simple(app, origin)
        assert "access-control-allow-origin" not in r.headers, (origin, dict(r.headers))
