"""The common shape of every GridGov service app: problem handlers, request context and metrics,
body-size limits, health and readiness probes, offline API docs and stable operationIds.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from shared.logging import RequestContextMiddleware
from shared.metrics import HttpMetrics
from shared.problems import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    ProblemDetail,
    install_problem_handlers,
    problem_response,
)

DOCS_ASSETS = os.path.join(os.path.dirname(fastapi_offline.__file__), "static")


SETTLE_HEAP = True  # the test suite turns this off: it builds hundreds of short-lived apps


def settle_heap() -> None:
    """Move everything alive now (indexes, caches, the OpenAPI schema) out of the collector's reach.

    A service holds a large, long-lived object graph (the location index alone is tens of thousands
    of objects). Left to the cyclic collector, every full collection walks all of it: 50–80 ms pauses
    that were the p99 of /locate under load. `gc.freeze()` after start-up (and after each index
    rebuild) leaves the collector only the young objects that requests create.
    """
    if not SETTLE_HEAP:
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def with_settled_heap(lifespan: Callable[[FastAPI], Any]) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def wrapped(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            if SETTLE_HEAP:  # a served process: build it now, frozen too, so the first /docs visit is fast
                app.openapi()
            settle_heap()
            yield

    return wrapped


def operation_id(route: APIRoute) -> str:
    """Handlers are named verb_noun (`create_grid`); the name is the stable operationId."""
    return route.name


class BodyLimitMiddleware:
    """Refuse bodies over a limit with 413, before the app reads them into memory.

    `overrides` maps path prefixes to their own limits (an import endpoint takes spreadsheets).
    Both the declared Content-Length and the bytes actually streamed are checked. A prefix ending in
    "/" covers the paths below it; any other key is one exact path (so the JSON steps under an upload's
    path, such as /m/v1/wishes/{id}/confirm, keep the default limit).
    """

    def __init__(self, app: Any, *, default: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def _limit(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return limit
        return self.default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await _too_large(scope, send, limit)
                    return
                break
        seen = 0
        too_large = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _BodyTooLarge(limit)
            return message

        started = False

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal started
            if too_large:
                # FastAPI turns any error while reading the body into its own 400 (and a form parser may
                # answer 422): whatever the app answers once the body overflowed, the client gets the 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _too_large(scope, send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge:
            if not started:
                await _too_large(scope, send, limit)


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit


async def _too_large(scope: dict[str, Any], send: Any, limit: int) -> None:
    body = {
        "type": PROBLEM_BASE + "payload-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"The request body is larger than {limit} bytes, the most this endpoint accepts.",
        "instance": scope["path"],
    }
    resp = problem_response(413, body)
    await resp({"type": "http", **scope}, _empty_receive, send)


async def _empty_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _add_problem_schema(app: FastAPI, extra: list[type[Any]] | None = None) -> None:
    """ProblemDetail, and models that routes reading their own body refer to by $ref."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ProblemDetail, *(extra or [])):
            name = model.__name__
            if name not in comps:
                comps[name] = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for sub_name, sub in comps[name].pop("$defs", {}).items():
                    comps.setdefault(sub_name, sub)
        _document_errors_as_problems(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetail"}
# FastAPI's default 422 model; the problem handlers answer every 422 with ProblemDetail instead
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _document_errors_as_problems(schema: dict[str, Any]) -> None:
    """Document every error as what the handlers send: `application/problem+json` with ProblemDetail.

    FastAPI documents its own 422 (`HTTPValidationError`) and every `responses=` model as
    `application/json`; and an operation with a body also answers 400 when the body cannot be parsed
    at all (e.g. JSON that is not UTF-8), which it does not document. Found by the API fuzzer."""
    for item in schema.get("paths", {}).values():
        for op in item.values():
            responses = op.get("responses", {})
            if "requestBody" in op and "400" not in responses:
                responses["400"] = {"description": "Bad Request: the body could not be parsed"}
            for code, resp in responses.items():
                if code[:1] not in ("4", "5"):
                    continue
                content = resp.get("content", {})
                plain = content.pop("application/json", {})
                problem = content.setdefault(PROBLEM_JSON, {})
                documented = problem.get("schema") or plain.get("schema")
                if not documented or "/HTTPValidationError" in repr(documented):
                    documented = _PROBLEM_REF
                problem["schema"] = documented  # a route may document a problem with more fields
                for key in ("example", "examples"):
                    if key in plain and key not in problem:
                        problem[key] = plain[key]
                resp["content"] = content
            op["responses"] = dict(sorted(responses.items()))
    comps = schema.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION:  # now unused, unless something else refers to them
        others = [v for k, v in comps.items() if k != name]
        if name in comps and f"/{name}'" not in repr((schema.get("paths"), others)):
            del comps[name]


def create_service_app(
    *,
    title: str,
    version: str,
    description: str,
    service: str,
    lifespan: Callable[[FastAPI], Any],
    routers: list[APIRouter],
    settings: Any,
    body_limit_overrides: dict[str, int] | None = None,
    docs_prefix: str = "",
    openapi_tags: list[dict[str, Any]] | None = None,
    extra_schemas: list[type[Any]] | None = None,
) -> FastAPI:
    docs_url = f"{docs_prefix}/docs"
    openapi_url = f"{docs_prefix}/openapi.json"
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=with_settled_heap(lifespan),
        docs_url=None,
        redoc_url=None,
        openapi_url=openapi_url,
        generate_unique_id_function=operation_id,
        openapi_tags=openapi_tags,
        swagger_ui_oauth2_redirect_url=None,
    )
    install_problem_handlers(app)
    metrics = HttpMetrics(service)
    app.state.metrics = metrics

    ops = APIRouter(tags=["operations"])

    @ops.get("/healthz", include_in_schema=True, summary="Liveness: the process answers")
    async def get_healthz() -> dict[str, str]:
        return {"status": "ok"}

    @ops.get("/readyz", summary="Readiness: the database answers", responses={503: {"model": ProblemDetail}})
    async def get_readyz(request: Request) -> Response:
        try:
            async with request.app.state.sessionmaker() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # readiness must answer, whatever failed
            body = {
                "type": PROBLEM_BASE + "not-ready",
                "title": "Not ready",
                "status": 503,
                "detail": f"Dependency check failed: {type(exc).__name__}",
                "instance": "/readyz",
            }
            return problem_response(503, body)
        return JSONResponse({"status": "ready"})

    @ops.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def get_metrics() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    # Probes first: they are hit constantly, and route matching is a linear scan.
    app.include_router(ops)
    for r in routers:
        app.include_router(r)

    # Offline docs: government intranets have no CDN, so the assets ship with the service.
    static_path = f"{docs_prefix}/_docs-assets"
    app.mount(static_path, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{static_path}/swagger-ui-bundle.js",
            swagger_css_url=f"{static_path}/swagger-ui.css",
            swagger_favicon_url=f"{static_path}/favicon.png",
            init_oauth={"clientId": "swagger-ui"},
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @app.get(f"{docs_prefix}/redoc", include_in_schema=False)
    async def redoc_ui() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} — ReDoc",
            redoc_js_url=f"{static_path}/redoc.standalone.js",
            redoc_favicon_url=f"{static_path}/favicon.png",
            with_google_fonts=False,
        )

    _add_problem_schema(app, extra_schemas)

    limit_overrides = body_limit_overrides or {}
    app.add_middleware(BodyLimitMiddleware, default=settings.max_body_bytes, overrides=limit_overrides)
    if settings.cors_origins:  # closed unless a deployment names its front-end origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
