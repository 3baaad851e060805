"""RFC 9457 problem details for every error a service returns.

Domain errors subclass `Problem`; one set of handlers turns `Problem`, request validation errors,
Starlette's `HTTPException` and anything unexpected into `application/problem+json`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

PROBLEM_BASE = "https://gridgov.example.org/problems/"
PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("gridgov.problems")


class Problem(Exception):
    """An error that becomes one problem-details response."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, keep_changes: bool = False, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        # Rare: the request fails but what it recorded must stay (a failed-login counter).
        self.keep_changes = keep_changes
        self.extra = extra

    def body(self, instance: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            out["instance"] = instance
        out.update(self.extra)
        return out


class NotFound(Problem):
    status, type, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, type, title = 409, "conflict", "Conflict"


class Unprocessable(Problem):
    status, type, title = 422, "unprocessable", "Request cannot be processed"


class Unauthorized(Problem):
    status, type, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str, **extra: Any) -> None:
        extra.setdefault("headers", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        super().__init__(detail, **extra)


class Forbidden(Problem):
    status, type, title = 403, "forbidden", "Not allowed"


class PayloadTooLarge(Problem):
    status, type, title = 413, "payload-too-large", "Request body too large"


class UpstreamUnavailable(Problem):
    status, type, title = 503, "upstream-unavailable", "A service this request needs is unavailable"


class UpstreamError(Problem):
    status, type, title = 502, "upstream-error", "A service this request needs answered with an error"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the bad value is, e.g. ['body', 'lat'].")
    msg: str = Field(description="What is wrong with it and what is expected.")
    type: str | None = None


class ProblemDetail(BaseModel):
    """An RFC 9457 problem. Validation problems list each bad field under `errors`."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["Grid 42 does not exist."])
    instance: str | None = Field(default=None, examples=["/api/v1/grids/42"])
    errors: list[FieldError] | None = None


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting these status codes as problem details."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {
            "model": ProblemDetail,
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
        }
    return out


def _loc(loc: tuple[Any, ...]) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


def _validation_msg(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    # Pydantic prefixes custom errors with "Value error, "; the rest is our own sentence.
    return msg.removeprefix("Value error, ")


async def _handle_problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(exc.status, exc.body(request.url.path), exc.headers)


async def _handle_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": _loc(tuple(e.get("loc", ()))), "msg": _validation_msg(e), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else None
    where = ".".join(str(p) for p in first["loc"]) if first else "request"
    detail = (
        f"{len(errors)} invalid field(s); first: {where}: {first['msg']}" if first else "Invalid request."
    )
    body = {
        "type": PROBLEM_BASE + "validation-error",
        "title": "Request validation failed",
        "status": 422,
        "detail": detail,
        "instance": request.url.path,
        "errors": errors,
    }
    return problem_response(422, body)


async def _handle_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if status == 404 and detail == "Not Found":
        detail = f"No endpoint at {request.url.path}; see /docs for the API."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    body = {
        "type": PROBLEM_BASE + phrase.lower().replace(" ", "-"),
        "title": phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    return problem_response(status, body, getattr(exc, "headers", None))


def _database_unreachable(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (a restart, a failover): nothing was
    committed, and the client may retry."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, InterfaceError | OperationalError) or (
            isinstance(e, DBAPIError) and e.connection_invalidated
        ):
            return True
        if isinstance(
            e,
            ConnectionError
            | FileNotFoundError  # the unix socket is gone while the server restarts
            | asyncpg.exceptions.ConnectionDoesNotExistError
            | asyncpg.exceptions.CannotConnectNowError
            | asyncpg.exceptions.InterfaceError,
        ):
            return True
        e = e.__cause__ or e.__context__
    return False


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if _database_unreachable(exc):
        log.warning("database unreachable", extra={"path": request.url.path, "error": type(exc).__name__})
        body = {
            "type": PROBLEM_BASE + "database-unavailable",
            "title": "The database is unavailable",
            "status": 503,
            "detail": "The database could not be reached; nothing was saved. Retry in a few seconds.",
            "instance": request.url.path,
        }
        return problem_response(503, body, {"Retry-After": "3"})
    log.exception("unhandled error", extra={"path": request.url.path})
    body = {
        "type": PROBLEM_BASE + "internal-error",
        "title": "Internal server error",
        "status": 500,
        "detail": "The server failed to handle this request; it has been logged with its request id.",
        "instance": request.url.path,
    }
    return problem_response(500, body)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _handle_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _handle_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _handle_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _handle_unexpected)
