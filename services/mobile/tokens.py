"""Resident access tokens: EdDSA JWTs this service signs for its own API (audience `gridgov-resident`,
issuer `gridgov-mobile`). Staff services verify against the registry's JWKS and the staff audience, so
they refuse these; this service refuses staff tokens the same way.

A token names the account (`sub`) and the session (`sid`). A session is checked against the database at
most once per `session_cache_s` per replica, so logout takes effect everywhere within that delay.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.mobile.errors import TokenInvalid
from services.mobile.models import Session
from shared.auth import RESIDENT_AUDIENCE, STAFF_AUDIENCE


@dataclass(frozen=True)
class Resident:
    """The caller of the mobile API."""

    account_id: int
    session_id: uuid.UUID
    expires_at: int


class ResidentTokens:
    def __init__(self, seed_b64: str, *, issuer: str, ttl_s: int, leeway: int = 30) -> None:
        seed = base64.urlsafe_b64decode(seed_b64 + "=" * (-len(seed_b64) % 4))
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key()
        raw = self._public.public_bytes_raw()
        self.kid = "m-" + hashlib.sha256(raw).hexdigest()[:12]
        self.issuer = issuer
        self.ttl_s = ttl_s
        self.leeway = leeway
        self._cache: OrderedDict[str, Resident] = OrderedDict()

    def issue(self, account_id: int, session_id: uuid.UUID) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": RESIDENT_AUDIENCE,
            "sub": str(account_id),
            "sid": str(session_id),
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})
        return token, self.ttl_s

    def verify(self, token: str) -> Resident:
        hit = self._cache.get(token)
        if hit is not None:
            if hit.expires_at + self.leeway > time.time():
                self._cache.move_to_end(token)
                return hit
            del self._cache[token]
        resident = self._verify(token)
        self._cache[token] = resident
        if len(self._cache) > 10_000:
            self._cache.popitem(last=False)
        return resident

    def _verify(self, token: str) -> Resident:
        try:  # the common case first: one decode and one signature check
            claims = self._decode(token)
        except jwt.PyJWTError:
            self._explain(token)
            raise
        try:
            return Resident(int(claims["sub"]), uuid.UUID(claims["sid"]), int(claims["exp"]))
        except (ValueError, TypeError):
            raise TokenInvalid("The access token's subject or session is malformed.") from None

    def _decode(self, token: str) -> dict[str, Any]:
        return jwt.decode(
            token,
            self._public,
            algorithms=["EdDSA"],
            audience=RESIDENT_AUDIENCE,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": ["exp", "iat", "sub", "sid"]},
        )

    def _explain(self, token: str) -> None:
        """Why a token was refused, as a problem the client can act on (always raises)."""
        try:
            header = jwt.get_unverified_header(token)
            unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenInvalid("The bearer token is not a well-formed JWT.") from None
        aud = unverified.get("aud")
        if aud == STAFF_AUDIENCE or (isinstance(aud, list) and STAFF_AUDIENCE in aud):
            raise TokenInvalid(
                "This is a staff token. The mobile API takes resident tokens: log in with "
                "POST /m/v1/auth/wechat."
            )
        if header.get("kid") != self.kid or header.get("alg") != "EdDSA":
            raise TokenInvalid("The token was not issued by this service (unknown key).")
        try:
            self._decode(token)
        except jwt.ExpiredSignatureError:
            raise TokenInvalid(
                "The access token has expired: get a new one with POST /m/v1/auth/refresh."
            ) from None
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"The access token is not valid: {exc}.") from None
        raise TokenInvalid("The access token is not valid.")


class SessionCheck:
    """Is this session still live (not logged out, not expired)? Answers from memory for up to
    `ttl_s`; a miss reads one row."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], ttl_s: float) -> None:
        self._maker = maker
        self._ttl = ttl_s
        self._seen: OrderedDict[uuid.UUID, tuple[float, bool]] = OrderedDict()

    def forget(self, sid: uuid.UUID) -> None:
        self._seen.pop(sid, None)

    async def live(self, sid: uuid.UUID, account_id: int) -> bool:
        now = time.monotonic()
        hit = self._seen.get(sid)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        async with self._maker() as s:
            row = (
                await s.execute(
                    select(Session.account_id, Session.revoked_at, Session.expires_at).where(
                        Session.id == sid
                    )
                )
            ).first()
        ok = (
            row is not None
            and row.account_id == account_id
            and row.revoked_at is None
            and row.expires_at > datetime.now(UTC)
        )
        self._seen[sid] = (now, ok)
        if len(self._seen) > 50_000:
            self._seen.popitem(last=False)
        return ok
