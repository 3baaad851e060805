"""Verifying GridGov access tokens (EdDSA JWTs) against the registry's JWKS.

Every service holds one `TokenVerifier`. Keys are cached by `kid`; a token signed with an unknown
`kid` triggers one refresh (at most one every few seconds, so forged kids cannot make us hammer the
registry). The registry itself plugs in a key source that reads its own key table.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from shared.problems import Unauthorized

STAFF_AUDIENCE = "gridgov-staff"
RESIDENT_AUDIENCE = "gridgov-resident"
ALGORITHMS = ["EdDSA"]

STAFF_ROLES = (
    "district_admin",
    "street_dispatcher",
    "community_admin",
    "grid_worker",
    "department_handler",
    "unit_liaison",
    "integration",
)
# Machine accounts that services use to call each other.
SERVICE_ROLE = "service"
# Roles whose scope is a list of area codes (prefix-hierarchical: district ⊃ street ⊃ ... ⊃ micro-grid).
AREA_ROLES = ("district_admin", "street_dispatcher", "community_admin", "grid_worker")

JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff account, a service, or (mobile) a resident."""

    sub: str
    role: str
    scope: tuple[str, ...]
    audience: str
    expires_at: int
    token: str = field(repr=False, default="")

    @property
    def area_scoped(self) -> bool:
        return self.role in AREA_ROLES

    def covers_area(self, area_code: str) -> bool:
        """True if an area (or anything inside it, by its code) is within this principal's scope."""
        if self.role == SERVICE_ROLE:
            return True
        if self.role not in AREA_ROLES:
            return False
        return any(area_code.startswith(s) for s in self.scope)


class KeySet:
    def __init__(self, fetch: JwksFetcher, *, min_refresh_interval: float = 5.0) -> None:
        self._fetch = fetch
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._min_interval = min_refresh_interval
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        jwks = await self._fetch()
        keys = {}
        for jwk in jwks.get("keys", []):
            kid = jwk.get("kid")
            if kid and jwk.get("use", "sig") == "sig":
                keys[kid] = jwt.PyJWK(jwk).key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def get(self, kid: str) -> Any | None:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and time.monotonic() - self._fetched_at >= self._min_interval:
                await self._refresh()
                key = self._keys.get(kid)
        return key

    def forget(self) -> None:
        self._fetched_at = 0.0


class TokenVerifier:
    """Checks signature, issuer, audience and expiry.

    A verified token is remembered until it expires (bounded LRU), so a client that sends the same
    token on every call pays for one signature check, not one per request.
    """

    def __init__(self, keys: KeySet, *, issuer: str, leeway: int = 30, cache_size: int = 10_000) -> None:
        self.keys = keys
        self.issuer = issuer
        self.leeway = leeway
        self._cache: OrderedDict[tuple[str, str], Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str, *, audience: str) -> Principal:
        key = (token, audience)
        hit = self._cache.get(key)
        if hit is not None:
            if hit.expires_at + self.leeway > time.time():
                self._cache.move_to_end(key)
                return hit
            del self._cache[key]
        principal = await self._verify(token, audience=audience)
        self._cache[key] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    async def _verify(self, token: str, *, audience: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The bearer token is not a well-formed JWT.") from None
        kid = header.get("kid")
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str):
            raise Unauthorized("The token must be an EdDSA JWT with a key id (kid).")
        try:
            key = await self.keys.get(kid)
        except Exception:
            raise Unauthorized(
                "Token keys could not be fetched from the registry; try again shortly."
            ) from None
        if key is None:
            raise Unauthorized(f"The token was signed with an unknown key ({kid}); log in again.")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub", "role", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired; log in again.") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("This token is not for this API (wrong audience).") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from None
        scope = claims.get("scope") or ""
        return Principal(
            sub=str(claims["sub"]),
            role=str(claims["role"]),
            scope=tuple(s for s in str(scope).split() if s),
            audience=audience,
            expires_at=int(claims["exp"]),
            token=token,
        )


# Swagger UI's "Authorize" button uses this flow; the token URL comes from settings at app build.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def bearer_token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


async def staff_from_request(request: Request) -> Principal:
    """`CurrentStaff` for hot handlers that take the bare `Request` (no dependency resolution)."""
    return await current_staff(request, bearer_token(request))


async def current_staff(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise Unauthorized("Send a staff access token as 'Authorization: Bearer <token>'.")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(token, audience=STAFF_AUDIENCE)
    request.state.principal = principal
    return principal


CurrentStaff = Annotated[Principal, Depends(current_staff)]
