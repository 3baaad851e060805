"""Schemathesis against an in-process app: cases generated from the app's own OpenAPI document, sent over
httpx's ASGITransport on the test's event loop (so the app stays bound to the rolled-back transaction),
and every response checked: no 5xx, status documented, body matching its documented schema, and every
error an `application/problem+json` problem.

Generation is separate from sending because the apps are async and bound to the test's connection, while
Hypothesis drives a sync function: a derandomized `@given` collects a fixed number of cases per operation
(`FUZZ_EXAMPLES` positive and as many negative ones), which are then sent in order. Derandomized means
the same cases every run, so a failure here is reproducible and not a flake.
"""

from __future__ import annotations

import collections
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import HypothesisException
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# examples per operation and mode; `make test` keeps the default, `make fuzz` raises it
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
PROBLEM_JSON = "application/problem+json"


def problem_json_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is an RFC 9457 problem (`application/problem+json`)."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip().lower() != PROBLEM_JSON:
        raise AssertionError(
            f"{response.status_code} answered with content-type {content_type!r}, not {PROBLEM_JSON}"
        )
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json_errors,
]


@dataclass
class Report:
    service: str
    operations: int = 0
    cases: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    per_operation: dict[str, collections.Counter[int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        lines = [
            f"fuzz {self.service}: {self.operations} operations, {self.cases} cases "
            f"({EXAMPLES} per operation and mode); statuses {statuses}; {len(self.failures)} failing"
        ]
        lines += [f"  not generated: {s}" for s in self.skipped]
        return "\n".join(lines)

    def details(self) -> str:
        """Per operation: the statuses it answered and the seconds spent (generation and requests)."""
        return "\n".join(
            f"  {label:<60} {self.seconds[label]:6.2f}s  "
            + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            for label, counts in self.per_operation.items()
        )


def load(app: Any) -> Any:
    """The schema the app serves now (the same as openapi/<service>.json, which CI keeps current)."""
    return schemathesis.openapi.from_dict(app.openapi())


def _draw(strategy: Any, n: int) -> list[Any]:
    """Up to `n` cases from a schemathesis strategy, the same ones every run (derandomized, no database)."""
    cases: list[Any] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def gather(case: Any) -> None:
        cases.append(case)

    gather()
    return cases


def _collect(operation: Any, mode: schemathesis.GenerationMode, n: int) -> list[Any]:
    return _draw(operation.as_strategy(generation_mode=mode), n)


def _collect_known(operation: Any, n: int, known: dict[str, list[Any]]) -> list[Any]:
    """Random ids mostly find nothing (404); these cases put the ids of rows that exist in the path."""
    names = re.findall(r"{(\w+)}", operation.path)
    if not names or not all(known.get(name) for name in names):
        return []
    out: list[Any] = []
    for i in range(max(len(known[name]) for name in names)):
        fixed = {name: known[name][i % len(known[name])] for name in names}
        out += _draw(operation.as_strategy(path_parameters=fixed), n)
    return out


def generate(
    operation: Any, n: int = EXAMPLES, known: dict[str, list[Any]] | None = None
) -> tuple[list[Any], list[str]]:
    """`n` positive and `n` negative cases for one operation, and `n` positive ones for each set of
    `known` path values; what could not be generated is named."""
    out: list[Any] = []
    missing: list[str] = []
    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
        try:
            out += _collect(operation, mode, n)
        except (HypothesisException, schemathesis.errors.SchemathesisError) as exc:
            missing.append(f"{operation.label} ({mode.value}): {type(exc).__name__}")
    try:
        out += _collect_known(operation, n, known or {})
    except (HypothesisException, schemathesis.errors.SchemathesisError) as exc:
        missing.append(f"{operation.label} (known ids): {type(exc).__name__}")
    return out, missing


def to_request(case: Any, base_url: str, headers: dict[str, str]) -> requests.PreparedRequest:
    """requests does the serialisation (JSON, forms, multipart) exactly as schemathesis expects it."""
    kw = case.as_transport_kwargs(base_url=base_url, headers=headers)
    return requests.Request(
        method=kw["method"],
        url=kw["url"],
        headers=kw.get("headers"),
        params=kw.get("params"),
        json=kw.get("json"),
        data=kw.get("data"),
        files=kw.get("files"),
    ).prepare()


async def send(client: httpx.AsyncClient, req: requests.PreparedRequest) -> httpx.Response:
    body = req.body.encode() if isinstance(req.body, str) else req.body
    return await client.request(req.method or "GET", req.url or "/", headers=dict(req.headers), content=body)


async def fuzz(
    service: str,
    app: Any,
    base_url: str,
    headers_for: Callable[[Any], Any],
    *,
    exclude: Iterable[str] = (),
    last: Iterable[str] = (),
    known: dict[str, list[Any]] | None = None,
) -> Report:
    """Fuzz every operation of `app` but `exclude` (labels like "POST /api/v1/auth/keys/rotate"),
    `last` ones at the end (they end the session or the binding the others use). `headers_for(case)`
    gives the auth headers (a coroutine function is awaited); `known` maps path parameter names to
    values that exist, so the fuzzer also reaches past the 404."""
    schema = load(app)
    report = Report(service)
    excluded, at_end = set(exclude), list(last)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.label not in excluded]
    operations.sort(key=lambda op: at_end.index(op.label) + 1 if op.label in at_end else 0)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        for op in operations:
            report.operations += 1
            started = time.perf_counter()
            counts = report.per_operation.setdefault(op.label, collections.Counter())
            cases, missing = generate(op, known=known)
            report.skipped += missing
            for case in cases:
                headers = headers_for(case)
                if hasattr(headers, "__await__"):
                    headers = await headers
                req = to_request(case, base_url, headers)
                response = await send(client, req)
                report.cases += 1
                report.statuses[response.status_code] += 1
                counts[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as group:
                    report.failures.append(_describe(op.label, req, response, group))
                except AssertionError as exc:
                    report.failures.append(_describe(op.label, req, response, exc))
            report.seconds[op.label] = time.perf_counter() - started
    return report


def _describe(label: str, req: requests.PreparedRequest, response: httpx.Response, exc: BaseException) -> str:
    body = req.body[:300] if isinstance(req.body, (str, bytes)) else req.body
    titles = (
        "; ".join(sorted({getattr(f, "title", str(f)) for f in exc.exceptions}))
        if isinstance(exc, FailureGroup)
        else str(exc)
    )
    return (
        f"{label}: {response.status_code} {titles}\n"
        f"    request {req.method} {req.url} body={body!r}\n"
        f"    response {response.headers.get('content-type')} {response.text[:400]}"
    )


def assert_clean(report: Report) -> None:
    print("\n" + report.summary() + "\n" + report.details())
    assert report.cases, "nothing was sent"
    if report.failures:
        raise AssertionError(report.summary() + "\n" + "\n".join(report.failures[:60]))
