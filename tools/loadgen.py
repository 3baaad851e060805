"""A closed-loop HTTP/1.1 keep-alive load generator (asyncio streams on uvloop), for benchmarks.

Each of `--concurrency` clients holds one keep-alive connection and sends its next request as soon as
the previous response has been read completely. Requests cycle through a list of targets (paths or
URLs) and/or bodies, so every request can hit a different point or identity number. The first
`--warmup` seconds are sent but not measured; the run stops by itself after warm-up + `--duration`.
It only ever connects to 127.0.0.1. The result is one JSON object on stdout (or `--out`):

    python -m tools.loadgen --url http://127.0.0.1:8001/healthz --concurrency 32 --duration 10
    python -m tools.loadgen --url http://127.0.0.1:8001 --targets-file points.txt \\
        --header "Authorization: Bearer ..." --concurrency 32 --duration 10
    python -m tools.loadgen --url http://127.0.0.1:8001/api/v1/residents/lookup --method POST \\
        --bodies-file ids.jsonl --header "Authorization: Bearer ..." --concurrency 8
    python -m tools.loadgen --url http://127.0.0.1:8002/api/v1/hotline/orders --method POST \\
        --requests-file signed.jsonl --concurrency 32

`--requests-file` gives every request its own headers as well as its body (signed requests: a new
nonce and signature each), one JSON object per line: {"headers": {"X-Nonce": ...}, "body": "...",
"path": "/optional/path"}. Requests cycle like the others, so a file of signed requests must hold more
than the run sends; `requests_issued` and `cycled` in the result say whether it did. A binary body
(a multipart upload with a photo) is given as `"body_file": "/path"` instead of `body`: the file's bytes
are sent as they are (set the Content-Type, with its boundary, in `headers`); lines naming the same file
share one copy in memory.

`statuses` counts the measured responses only; `statuses_all` counts every response read, warm-up and
the answers that arrived after the measured window included: what a write load left in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ALLOWED_HOST = "127.0.0.1"
MAX_HEADER_BYTES = 64 * 1024


class LoadgenError(Exception):
    pass


class ProtocolError(Exception):
    pass


@dataclass(frozen=True)
class RequestSpec:
    """One line of a --requests-file: its own headers, body and (optionally) path."""

    headers: list[tuple[str, str]]
    body: bytes | None
    path: str | None = None


# A request as sent: its bytes, or (head, body) for large bodies, so requests that upload the same
# megabyte share it instead of each holding a copy.
Request = bytes | tuple[bytes, bytes]
SHARED_BODY_BYTES = 64 * 1024


@dataclass
class Stats:
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    statuses_all: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_requests: int = 0
    connects: int = 0
    bytes_in: int = 0


def _check_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise LoadgenError(f"only plain http:// URLs are supported, got {url!r}")
    if parts.hostname != ALLOWED_HOST:
        raise LoadgenError(f"this load generator only targets {ALLOWED_HOST}, not {parts.hostname!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


def _target_path(base_path: str, target: str, port: int) -> str:
    """A line of a targets file: a full URL (same host and port), an absolute path, or a query string."""
    if target.startswith("http://") or target.startswith("https://"):
        _host, tport, path = _check_url(target)
        if tport != port:
            raise LoadgenError(f"target {target!r} is on port {tport}, not {port}")
        return path
    if target.startswith("/"):
        return target
    if target.startswith("?"):
        return base_path.split("?", 1)[0] + target
    raise LoadgenError(f"cannot read target {target!r}: give a URL, an absolute path or a ?query")


def build_requests(
    *,
    host: str,
    port: int,
    base_path: str,
    method: str,
    headers: list[tuple[str, str]],
    targets: list[str] | None,
    bodies: list[bytes] | None,
    content_type: str,
) -> list[bytes]:
    """Every distinct request, serialised once up front, so the hot loop only writes bytes."""
    paths = [_target_path(base_path, t, port) for t in targets] if targets else [base_path]
    body_list: list[bytes | None] = list(bodies) if bodies else [None]
    n = max(len(paths), len(body_list))
    host_header = f"{host}:{port}"
    fixed = "".join(f"{k}: {v}\r\n" for k, v in headers)
    has_ct = any(k.lower() == "content-type" for k, _ in headers)
    out = []
    for i in range(n):
        path = paths[i % len(paths)]
        body = body_list[i % len(body_list)]
        head = f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: gridgov-loadgen\r\n{fixed}"
        if body is not None:
            if not has_ct:
                head += f"Content-Type: {content_type}\r\n"
            head += f"Content-Length: {len(body)}\r\n\r\n"
            out.append(head.encode("latin-1") + body)
        else:
            if method in ("POST", "PUT", "PATCH"):
                head += "Content-Length: 0\r\n"
            out.append((head + "\r\n").encode("latin-1"))
    return out


def build_spec_requests(
    *,
    host: str,
    port: int,
    base_path: str,
    method: str,
    headers: list[tuple[str, str]],
    specs: list[RequestSpec],
    content_type: str,
) -> list[Request]:
    """Like `build_requests`, for requests that each carry their own headers (after the common ones).
    A body of `SHARED_BODY_BYTES` or more is kept apart from its head, (head, body), not copied."""
    host_header = f"{host}:{port}"
    fixed = "".join(f"{k}: {v}\r\n" for k, v in headers)
    out = []
    for spec in specs:
        path = _target_path(base_path, spec.path, port) if spec.path else base_path
        own = "".join(f"{k}: {v}\r\n" for k, v in spec.headers)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: gridgov-loadgen\r\n{fixed}{own}"
        )
        has_ct = any(k.lower() == "content-type" for k, _ in (*headers, *spec.headers))
        if spec.body is not None:
            if not has_ct:
                head += f"Content-Type: {content_type}\r\n"
            head += f"Content-Length: {len(spec.body)}\r\n\r\n"
            if len(spec.body) >= SHARED_BODY_BYTES:
                out.append((head.encode("latin-1"), spec.body))
            else:
                out.append(head.encode("latin-1") + spec.body)
        else:
            if method in ("POST", "PUT", "PATCH"):
                head += "Content-Length: 0\r\n"
            out.append((head + "\r\n").encode("latin-1"))
    return out


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, int]:
    """Read one complete response; return (status, keep_alive, body bytes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status_line = lines[0]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {status_line[:80]!r}")
    status = int(parts[1])
    http10 = parts[0] == b"HTTP/1.0"
    length: int | None = None
    chunked = False
    keep_alive = not http10
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            v = value.strip().lower()
            if v == b"close":
                keep_alive = False
            elif v == b"keep-alive":
                keep_alive = True
    size = 0
    if status in (204, 304) or 100 <= status < 200:
        return status, keep_alive, 0
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            chunk_len = int(size_line.split(b";", 1)[0].strip(), 16)
            if chunk_len == 0:
                # trailers (if any) end with an empty line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                break
            await reader.readexactly(chunk_len + 2)
            size += chunk_len
    elif length is not None:
        if length:
            await reader.readexactly(length)
        size = length
    else:  # no length: the body runs to the end of the connection
        data = await reader.read()
        size = len(data)
        keep_alive = False
    return status, keep_alive, size


async def client(
    host: str,
    port: int,
    requests: list[Request],
    counter: itertools.count,
    measure_from: float,
    stop_at: float,
    request_timeout_s: float,
    stats: Stats,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    n_req = len(requests)
    clock = time.perf_counter_ns
    measure_from_ns = int(measure_from * 1e9)
    stop_ns = int(stop_at * 1e9)
    lat = stats.latencies_ns
    statuses = stats.statuses
    try:
        while True:
            now = clock()
            if now >= stop_ns:
                return
            if writer is None:
                try:
                    async with asyncio.timeout(request_timeout_s):
                        reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES)
                    stats.connects += 1
                except (OSError, TimeoutError) as exc:
                    stats.errors[f"connect: {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.05)
                    continue
            assert reader is not None
            req = requests[next(counter) % n_req]
            t0 = clock()
            try:
                if type(req) is tuple:
                    writer.writelines(req)
                else:
                    writer.write(req)
                async with asyncio.timeout(request_timeout_s):
                    status, keep_alive, size = await read_response(reader)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                if t0 >= measure_from_ns:
                    stats.errors[type(exc).__name__] += 1
                writer.close()
                writer = reader = None
                continue
            except (ProtocolError, ValueError) as exc:
                stats.errors[f"protocol: {exc}"[:120]] += 1
                writer.close()
                writer = reader = None
                continue
            t1 = clock()
            stats.statuses_all[status] += 1
            if t0 >= measure_from_ns and t1 <= stop_ns:
                lat.append(t1 - t0)
                statuses[status] += 1
                stats.bytes_in += size
            elif t0 < measure_from_ns:
                stats.warmup_requests += 1
            if not keep_alive:
                writer.close()
                writer = reader = None
    finally:
        if writer is not None:
            writer.close()


def percentile(sorted_vals: list[int], q: float) -> float:
    """Nearest-rank percentile of a sorted list (q in 0..100)."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, math.ceil(q / 100.0 * len(sorted_vals)) - 1))
    return float(sorted_vals[k])


async def run(
    *,
    url: str,
    concurrency: int,
    duration: float,
    warmup: float,
    method: str,
    headers: list[tuple[str, str]],
    targets: list[str] | None,
    bodies: list[bytes] | None,
    content_type: str,
    request_timeout_s: float,
    specs: list[RequestSpec] | None = None,
) -> dict[str, Any]:
    host, port, base_path = _check_url(url)
    requests: list[Request]
    if specs:
        requests = build_spec_requests(
            host=host,
            port=port,
            base_path=base_path,
            method=method,
            headers=headers,
            specs=specs,
            content_type=content_type,
        )
    else:
        requests = build_requests(
            host=host,
            port=port,
            base_path=base_path,
            method=method,
            headers=headers,
            targets=targets,
            bodies=bodies,
            content_type=content_type,
        )
    stats = Stats()
    counter = itertools.count()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    tasks = [
        asyncio.create_task(
            client(host, port, requests, counter, measure_from, stop_at, request_timeout_s, stats)
        )
        for _ in range(concurrency)
    ]
    # Clients check the clock before each request; one stuck on a slow response is cut off here.
    _done, pending = await asyncio.wait(tasks, timeout=warmup + duration + request_timeout_s + 1.0)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            stats.errors[f"client crashed: {t.exception()!r}"[:160]] += 1
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    issued = next(counter)  # requests taken from the list, warm-up and cut-off ones included
    lat = sorted(stats.latencies_ns)
    n = len(lat)
    ok = sum(c for s, c in stats.statuses.items() if 200 <= s < 300)
    non_2xx = {str(s): c for s, c in sorted(stats.statuses.items()) if not 200 <= s < 300}
    ms = 1e-6
    cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "url": url,
        "method": method,
        "concurrency": concurrency,
        "duration_s": duration,
        "warmup_s": warmup,
        "distinct_requests": len(requests),
        "requests_issued": issued,
        "cycled": issued > len(requests),
        "requests": n,
        "ok_2xx": ok,
        "non_2xx": non_2xx,
        "statuses": {str(s): c for s, c in sorted(stats.statuses.items())},
        "statuses_all": {str(s): c for s, c in sorted(stats.statuses_all.items())},
        "errors": sum(stats.errors.values()),
        "error_kinds": dict(stats.errors),
        "rps": round(n / duration, 1) if duration else 0.0,
        "ok_rps": round(ok / duration, 1) if duration else 0.0,
        "p50_ms": round(percentile(lat, 50) * ms, 3),
        "p95_ms": round(percentile(lat, 95) * ms, 3),
        "p99_ms": round(percentile(lat, 99) * ms, 3),
        "max_ms": round(lat[-1] * ms, 3) if lat else float("nan"),
        "mean_ms": round(sum(lat) / n * ms, 3) if n else float("nan"),
        "warmup_requests": stats.warmup_requests,
        "connections_opened": stats.connects,
        "bytes_in": stats.bytes_in,
        "loadgen_cpu_s": round(cpu_s, 2),
        "loadgen_cpu_pct": round(100.0 * cpu_s / (warmup + duration), 1),
    }


def _read_lines(path: str) -> list[str]:
    lines = [ln.rstrip("\r\n") for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise LoadgenError(f"{path} has no lines")
    return lines


def _parse_header(h: str) -> tuple[str, str]:
    name, sep, value = h.partition(":")
    if not sep or not name.strip():
        raise LoadgenError(f"a header is 'Name: value', got {h!r}")
    if "\r" in h or "\n" in h:
        raise LoadgenError("headers may not contain line breaks")
    return name.strip(), value.strip()


def _read_specs(path: str) -> list[RequestSpec]:
    specs = []
    files: dict[str, bytes] = {}  # body_file → its bytes, read once
    for i, line in enumerate(_read_lines(path), start=1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadgenError(f"{path}:{i} is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise LoadgenError(f"{path}:{i}: each line is an object {{headers, body, path}}")
        raw_headers = obj.get("headers") or {}
        body = obj.get("body")
        body_file = obj.get("body_file")
        path_ = obj.get("path")
        if not isinstance(raw_headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw_headers.items()
        ):
            raise LoadgenError(f"{path}:{i}: headers must be an object of strings")
        if body is not None and not isinstance(body, str):
            raise LoadgenError(f"{path}:{i}: body must be a string (the exact bytes to send, as UTF-8)")
        if path_ is not None and not isinstance(path_, str):
            raise LoadgenError(f"{path}:{i}: path must be a string")
        if body_file is not None:
            if body is not None or not isinstance(body_file, str):
                raise LoadgenError(f"{path}:{i}: give body or body_file (a file name), not both")
            if body_file not in files:
                try:
                    files[body_file] = Path(body_file).read_bytes()
                except OSError as exc:
                    raise LoadgenError(f"{path}:{i}: cannot read body_file: {exc}") from None
        headers = [_parse_header(f"{k}: {v}") for k, v in raw_headers.items()]
        raw = (
            files[body_file] if body_file is not None else body.encode("utf-8") if body is not None else None
        )
        specs.append(RequestSpec(headers, raw, path_))
    return specs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="http://127.0.0.1:PORT/path (base for --targets-file)")
    p.add_argument("--concurrency", "-c", type=int, default=32)
    p.add_argument("--duration", "-d", type=float, default=10.0, help="measured seconds (after warm-up)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds sent but not measured")
    p.add_argument("--method", "-m", default="GET", type=str.upper)
    p.add_argument("--header", "-H", action="append", default=[], help="'Name: value'; repeatable")
    p.add_argument("--headers-file", help="'Name: value' per line (keeps tokens out of the process list)")
    p.add_argument("--targets-file", help="one URL, /path or ?query per line; requests cycle through them")
    p.add_argument("--body-file", help="one request body (the whole file)")
    p.add_argument("--bodies-file", help="one request body per line; requests cycle through them")
    p.add_argument(
        "--requests-file",
        help='JSON lines {"headers": {...}, "body": "..." | "body_file": "F", "path": "/..."}: per-request '
        "headers and body",
    )
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    p.add_argument("--out", help="write the JSON result here as well as to stdout")
    a = p.parse_args(argv)
    try:
        if a.concurrency < 1:
            raise LoadgenError("--concurrency must be at least 1")
        if a.duration <= 0 or a.warmup < 0:
            raise LoadgenError("--duration must be positive and --warmup not negative")
        if a.body_file and a.bodies_file:
            raise LoadgenError("give --body-file or --bodies-file, not both")
        if a.requests_file and (a.body_file or a.bodies_file or a.targets_file):
            raise LoadgenError(
                "--requests-file gives paths and bodies itself; not with --targets/--body(ies)-file"
            )
        header_lines = list(a.header)
        if a.headers_file:
            header_lines += _read_lines(a.headers_file)
        headers = [_parse_header(h) for h in header_lines]
        targets = _read_lines(a.targets_file) if a.targets_file else None
        bodies: list[bytes] | None = None
        if a.body_file:
            bodies = [Path(a.body_file).read_bytes()]
        elif a.bodies_file:
            bodies = [ln.encode("utf-8") for ln in _read_lines(a.bodies_file)]
        specs = _read_specs(a.requests_file) if a.requests_file else None
        _check_url(a.url)
    except LoadgenError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2

    import uvloop

    result = uvloop.run(
        run(
            url=a.url,
            concurrency=a.concurrency,
            duration=a.duration,
            warmup=a.warmup,
            method=a.method,
            headers=headers,
            targets=targets,
            bodies=bodies,
            content_type=a.content_type,
            request_timeout_s=a.timeout,
            specs=specs,
        )
    )
    text = json.dumps(result, ensure_ascii=False)
    if a.out:
        Path(a.out).write_text(text + "\n", encoding="utf-8")
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
