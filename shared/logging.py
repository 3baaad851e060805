"""Structured JSON logs with a request id on every line, and redaction of personal data.

`RequestContextMiddleware` (pure ASGI, so it adds no task switch per request) takes `X-Request-ID`
from the caller or makes one, puts it in a context variable that the log formatter and the outbound
HTTP client read, echoes it on the response and writes one access-log line per request.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import sys
import time
import uuid
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# The caller's bearer token, so calls to other services can act on the caller's behalf.
caller_token_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller_token", default=None)

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# Chinese resident identity numbers (GB 11643) and mainland mobile numbers never reach a log line.
_ID_NUMBER = re.compile(
    r"(?<![0-9])([1-9][0-9]{5})(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])[0-9]{5}([0-9Xx])(?![0-9])"
)
_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# Names that mark a secret, wherever they stand in a longer name (client_secret, access_token): in
# `name=value` or `"name": value` text, and as the key of a log extra.
_SECRET_NAMES = ("password", "secret", "token", "js_code", "session_key")
_SECRETY = re.compile(rf'(?i)("?(?:{"|".join(_SECRET_NAMES)})"?\s*[:=]\s*)("[^"]*"|[^\s,&}}]+)')


def redact(text: str) -> str:
    text = _ID_NUMBER.sub(r"\1********\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    return _SECRETY.sub(r"\1[redacted]", text)


# An extra whose key names a secret is dropped whatever its value ("token": {...} included).
_SECRET_KEY = re.compile(rf"(?i)({'|'.join((*_SECRET_NAMES, 'authorization', 'id_number'))})")
# An int shorter than a mobile number (11 digits) cannot hold one or an identity number: no regex for it.
_SHORTEST_SECRET_INT = 10**10


@functools.lru_cache(maxsize=512)
def _secret_key(key: str) -> bool:
    """Extras reuse a few keys on every line (the access log's five), so each is matched once."""
    return _SECRET_KEY.search(key) is not None


def redact_value(value: Any, key: str | None = None, _depth: int = 0) -> Any:
    """`redact` applied through whatever a log call passes as an extra: strings, numbers (a phone
    number given as an int), and dicts, lists and tuples nested in them. Anything else is logged as
    its redacted `str`. A key that names a secret hides its whole value."""
    if key is not None and _secret_key(key):
        return "[redacted]"
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int):
        if -_SHORTEST_SECRET_INT < value < _SHORTEST_SECRET_INT:
            return value
        text = str(value)
        out = redact(text)
        return value if out == text else out
    if _depth >= 8:
        return "[nested too deep]"
    if isinstance(value, dict):
        return {str(k): redact_value(v, str(k), _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, None, _depth + 1) for v in value]
    return redact(str(value))


_STD_ATTRS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for k, v in record.__dict__.items():
            if k not in _STD_ATTRS and not k.startswith("_"):
                out[k] = redact_value(v, k)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(out, default=str).decode()


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(service) if json else PlainFormatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would duplicate ours without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


access_log = logging.getLogger("gridgov.access")


class RequestContextMiddleware:
    def __init__(self, app: Any, *, metrics: Any = None, log_access: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_access = log_access

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        token = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                cand = v.decode("latin-1")
                if _REQUEST_ID_OK.match(cand):
                    rid = cand
            elif k == b"authorization":
                auth = v.decode("latin-1")
                if auth[:7].lower() == "bearer ":
                    token = auth[7:].strip()
        rid = rid or uuid.uuid4().hex
        rid_token = request_id_var.set(rid)
        tok_token = caller_token_var.set(token)
        start = time.perf_counter()
        status_holder = [500]
        rid_bytes = rid.encode()

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid_bytes)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            if self.metrics is not None:
                self.metrics.observe(scope["method"], template, status_holder[0], elapsed)
            if self.log_access and template not in ("/healthz", "/metrics"):
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    template,
                    status_holder[0],
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": template,
                        "status": status_holder[0],
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(rid_token)
            caller_token_var.reset(tok_token)
