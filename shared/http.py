"""Typed clients for calls between services.

One `httpx.AsyncClient` per target, made in the caller's lifespan. Connection errors are retried by
the transport (`retries=2`); idempotent GETs are also retried on 502/503/504 with short backoff; a
POST without an idempotency key is never retried. A read timeout is not retried at all (the upstream is
slow, not gone; asking again only adds load and waiting). Every call forwards `X-Request-ID`, and either the
caller's token (acting on their behalf) or the service's own token.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from shared.logging import caller_token_var, request_id_var
from shared.problems import UpstreamError, UpstreamUnavailable

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=1.0)
GET_RETRY_BACKOFF = (0.1, 0.25, 0.5)
RETRYABLE_STATUS = frozenset({502, 503, 504})


def make_http_client(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_connections: int = 100,
) -> httpx.AsyncClient:
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            retries=2,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)


class ServiceToken:
    """The service's own token, from the registry's client-credentials grant, cached until near expiry."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        token_path: str = "/api/v1/auth/token",
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._path = token_path
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        if self._token and time.monotonic() < self._expires:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires:
                return self._token
            try:
                r = await self._http.post(
                    self._path,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self._client_id,
                        "client_secret": self._client_secret,
                    },
                )
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(
                    f"The registry could not be reached for a service token ({exc}).", upstream="registry"
                ) from None
            if r.status_code != 200:
                raise UpstreamError(
                    f"The registry refused this service's credentials ({r.status_code}).", upstream="registry"
                )
            body = r.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + max(30, int(body.get("expires_in", 300)) - 60)
            return self._token

    def invalidate(self) -> None:
        self._token = None


def raise_for_upstream(r: httpx.Response, service: str) -> None:
    """Turn an upstream failure into our own problem: 5xx -> 503/502, other 4xx -> 502."""
    if r.is_success:
        return
    if r.status_code in RETRYABLE_STATUS:
        raise UpstreamUnavailable(
            f"The {service} service is unavailable ({r.status_code}).", upstream=service
        )
    raise UpstreamError(f"The {service} service answered {r.status_code}.", upstream=service)


class ServiceClient:
    """Base for typed clients (`RegistryClient`, ...). Subclasses add one method per call they make."""

    service = "upstream"

    def __init__(self, http: httpx.AsyncClient, *, service_token: ServiceToken | None = None) -> None:
        self._http = http
        self._service_token = service_token

    async def _headers(self, *, as_service: bool) -> dict[str, str]:
        headers: dict[str, str] = {}
        rid = request_id_var.get()
        if rid:
            headers["X-Request-ID"] = rid
        token = None if as_service else caller_token_var.get()
        if token is None and self._service_token is not None:
            token = await self._service_token.get()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def request(
        self, method: str, url: str, *, as_service: bool = False, idempotent: bool | None = None, **kw: Any
    ) -> httpx.Response:
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")
        headers = {**(await self._headers(as_service=as_service)), **kw.pop("headers", {})}
        attempts = len(GET_RETRY_BACKOFF) + 1 if idempotent else 1
        last_exc: Exception | None = None
        reauthed = False
        attempt = 0
        while attempt < attempts:
            try:
                r = await self._http.request(method, url, headers=headers, **kw)
            except httpx.TimeoutException as exc:
                last_exc = exc
                # a slow upstream is not helped by asking again: only a connect timeout is retried, so a
                # hanging service costs one timeout, not four plus the backoff
                if not idempotent or not isinstance(exc, httpx.ConnectTimeout):
                    break
            except httpx.TransportError as exc:
                last_exc = exc
                if not idempotent:
                    break
            else:
                if (
                    r.status_code == 401
                    and self._service_token is not None
                    and "Authorization" in headers
                    and not reauthed
                    and (as_service or caller_token_var.get() is None)
                ):
                    # refused before it was processed, so sending it again is safe even for a POST;
                    # once, with a fresh token, and not counted as a retry
                    reauthed = True
                    self._service_token.invalidate()
                    headers.update(await self._headers(as_service=as_service))
                    continue
                if r.status_code not in RETRYABLE_STATUS or attempt == attempts - 1:
                    return r
            if attempt < attempts - 1:
                await asyncio.sleep(GET_RETRY_BACKOFF[attempt])
            attempt += 1
        raise UpstreamUnavailable(
            f"The {self.service} service did not answer ({type(last_exc).__name__}).",
            upstream=self.service,
        )
