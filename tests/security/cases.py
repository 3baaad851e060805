"""Requests for every operation of every service, generated from the OpenAPI documents.

The security tests walk these so that a new endpoint is covered the day it is added: a path is filled
with ids that exist (or a harmless default), a body is the smallest one its schema accepts (the
schema's own example where it has one), multipart fields get a tiny file or string.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from typing import Any

import httpx

from tools.openapi import documents

WRITE_METHODS = ("post", "put", "patch", "delete")
_PARAM = re.compile(r"{([^}]+)}")


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    op_id: str
    secured: bool
    spec: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.service} {self.method.upper()} {self.path} ({self.op_id})"


@functools.cache
def _docs() -> dict[str, dict[str, Any]]:
    return documents()


def operations(service: str) -> list[Operation]:
    doc = _docs()[service]
    out = []
    for path, item in doc["paths"].items():
        for method, spec in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            out.append(
                Operation(service, method, path, spec["operationId"], bool(spec.get("security")), spec)
            )
    return out


def _resolve(schema: dict[str, Any], comps: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = comps[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _from_regex(pattern: str) -> str:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    found: list[str] = []

    @settings(max_examples=1, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(pattern, fullmatch=True).filter(lambda s: "\x00" not in s))
    def draw(s: str) -> None:
        found.append(s)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draw()
    return found[0]


def minimal(schema: dict[str, Any], comps: dict[str, Any], depth: int = 0) -> Any:
    """The smallest instance the schema accepts: its example, else required fields only."""
    schema = _resolve(schema, comps)
    if schema.get("examples"):
        ex = schema["examples"]
        return ex[0] if isinstance(ex, list) else next(iter(ex.values())).get("value")
    if "example" in schema:
        return schema["example"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [_resolve(s, comps) for s in schema[key]]
            options = [s for s in options if s.get("type") != "null"] or options
            return minimal(options[0], comps, depth + 1)
    if "allOf" in schema:
        return minimal(schema["allOf"][0], comps, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal(props[k], comps, depth + 1) for k in schema.get("required", []) if k in props}
    if kind == "array":
        n = schema.get("minItems", 0)
        return [minimal(schema.get("items", {}), comps, depth + 1) for _ in range(n)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), int(schema.get("exclusiveMinimum", 0)) + 1)
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "binary" or "contentMediaType" in schema:
            return b"x"
        if fmt == "date":
            return "2026-11-20"
        if fmt == "date-time":
            return "2026-11-20T10:00:00+08:00"
        if fmt == "uuid":
            return "00000000-0000-4000-8000-000000000001"
        if "pattern" in schema:
            return _from_regex(schema["pattern"])
        return "测" * max(1, schema.get("minLength", 1))
    return None


def fill_path(path: str, ids: dict[str, Any]) -> str:
    return _PARAM.sub(lambda m: str(ids.get(m.group(1), 1)), path)


def request_kwargs(op: Operation, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """httpx keyword arguments for the operation's body and required query parameters; `overrides`
    ({"json": {...}, "params": {...}}) replaces generated fields where the schema cannot say what is valid."""
    overrides = overrides or {}
    comps = _docs()[op.service].get("components", {}).get("schemas", {})
    kw: dict[str, Any] = {}
    params = {}
    for p in op.spec.get("parameters", []):
        if p.get("in") == "query" and p.get("required"):
            params[p["name"]] = minimal(p.get("schema", {}), comps)
    params.update(overrides.get("params", {}))
    if params:
        kw["params"] = params
    content = op.spec.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = minimal(content["application/json"].get("schema", {}), comps)
        extra = overrides.get("json", {})
        kw["json"] = {**body, **extra} if isinstance(body, dict) else body
    elif "multipart/form-data" in content:
        body = minimal(content["multipart/form-data"]["schema"], comps)
        data, files = {}, []
        for k, v in (body or {}).items():
            for item in v if isinstance(v, list) else [v]:
                if isinstance(item, bytes):
                    files.append((k, ("a.jpg", item, "image/jpeg")))
                else:
                    data[k] = str(item)
        kw["data"], kw["files"] = data, files or None
    elif "application/x-www-form-urlencoded" in content:
        kw["data"] = minimal(content["application/x-www-form-urlencoded"]["schema"], comps)
    return kw


async def call(
    client: httpx.AsyncClient,
    op: Operation,
    ids: dict[str, Any],
    headers: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> httpx.Response:
    """Call `op` with path parameters from `ids` and `overrides[op_id]` applied to its input."""
    kw = request_kwargs(op, (overrides or {}).get(op.op_id))
    if kw.get("files") is None:
        kw.pop("files", None)
    return await client.request(op.method.upper(), fill_path(op.path, ids), headers=headers or {}, **kw)


def is_problem(r: httpx.Response, status: int | tuple[int, ...]) -> bool:
    statuses = (status,) if isinstance(status, int) else status
    return r.status_code in statuses and r.headers.get("content-type", "").startswith(
        "application/problem+json"
    )
