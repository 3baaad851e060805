"""The shared kit as every service shows it: problems, probes, metrics, request ids, logs, docs, CORS."""

from __future__ import annotations

import json
import logging

import httpx

from shared.logging import JsonFormatter, redact


class TestProblemDetails:
    async def test_malformed_json_is_a_422_problem_listing_the_field(self, registry, world, token):
        r = await registry.post(
            "/api/v1/areas",
            headers={**token("district_admin", "320411"), "content-type": "application/json"},
            content=b"{not json",
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"].endswith("/validation-error")
        assert body["errors"][0]["loc"][0] == "body"
        assert body["instance"] == "/api/v1/areas"

    async def test_unknown_route_is_a_404_problem(self, registry):
        r = await registry.get("/api/v1/nothing-here")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert "/docs" in r.json()["detail"]

    async def test_wrong_method_is_a_405_problem(self, registry):
        r = await registry.put("/healthz")
        assert r.status_code == 405
        assert r.json()["status"] == 405

    async def test_oversized_json_body_is_413_before_parsing(self, registry, world, token):
        r = await registry.post(
            "/api/v1/areas",
            headers={**token("district_admin", "320411"), "content-type": "application/json"},
            content=b"[" + b"1," * 600_000 + b"1]",
        )
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"

    async def test_unexpected_errors_are_a_500_problem_without_internals(self, registry_app):
        @registry_app.get("/boom-test")
        async def boom() -> None:
            raise RuntimeError("secret internals")

        transport = httpx.ASGITransport(app=registry_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as c:
            r = await c.get("/boom-test")
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        assert "secret internals" not in r.text


class TestProbes:
    async def test_healthz_readyz_metrics(self, registry, world, token):
        assert (await registry.get("/healthz")).json() == {"status": "ok"}
        assert (await registry.get("/readyz")).json() == {"status": "ready"}
        await registry.get("/api/v1/grids", headers=token("district_admin", "320411"))
        m = await registry.get("/metrics")
        assert m.status_code == 200
        assert (
            'http_requests_total{method="GET",route="/api/v1/grids",service="registry",status="200"}'
            in m.text
        )
        assert "http_request_duration_seconds_bucket" in m.text

    async def test_readyz_is_503_when_the_database_is_gone(self, registry_app):
        class Broken:
            def __call__(self):
                raise OSError("connection refused")

        good = registry_app.state.sessionmaker
        registry_app.state.sessionmaker = Broken()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=registry_app), base_url="http://r"
            ) as c:
                r = await c.get("/readyz")
        finally:
            registry_app.state.sessionmaker = good
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"


class TestRequestContext:
    async def test_request_id_is_echoed_or_made(self, registry):
        r = await registry.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        r = await registry.get("/healthz", headers={"X-Request-ID": "bad id with spaces\n"})
        assert len(r.headers["x-request-id"]) == 32

    async def test_access_log_is_json_with_request_id_and_no_personal_data(
        self, registry, world, token, caplog
    ):
        caplog.set_level(logging.INFO, logger="gridgov")
        number = world.numbers[0]
        await registry.post(
            "/api/v1/residents/lookup",
            json={"id_number": number},
            headers={**token("district_admin", "320411"), "X-Request-ID": "trace-1"},
        )
        records = [r for r in caplog.records if r.name == "gridgov.access"]
        assert records
        line = JsonFormatter("registry").format(records[-1])
        parsed = json.loads(line)
        assert parsed["route"] == "/api/v1/residents/lookup" and parsed["status"] == 200
        assert number not in caplog.text

    def test_redaction_masks_identity_numbers_phones_and_secrets(self):
        text = "id 320411199003071234 phone 13812345678 Bearer abc.def.ghi password=hunter2"
        out = redact(text)
        assert "320411199003071234" not in out and "13812345678" not in out
        assert "abc.def.ghi" not in out and "hunter2" not in out


class TestOfflineDocs:
    async def test_swagger_and_redoc_load_assets_from_the_service(self, registry):
        page = (await registry.get("/docs")).text
        assert "cdn" not in page.lower()
        assert "/_docs-assets/swagger-ui-bundle.js" in page
        assert "persistAuthorization" in page
        js = await registry.get("/_docs-assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 500_000
        redoc = (await registry.get("/redoc")).text
        assert "/_docs-assets/redoc.standalone.js" in redoc and "fonts.googleapis" not in redoc
        assert (await registry.get("/_docs-assets/redoc.standalone.js")).status_code == 200

    async def test_swagger_authorize_uses_the_password_flow(self, registry):
        doc = (await registry.get("/openapi.json")).json()
        flows = doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
        assert flows["password"]["tokenUrl"] == "/api/v1/auth/token"


class TestCors:
    async def test_cors_is_closed_by_default(self, registry):
        r = await registry.options(
            "/api/v1/grids",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in r.headers
