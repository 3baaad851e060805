"""Staff accounts, logins and the Ed25519 keys that sign access tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import scope as sc
from services.registry.crypto import DUMMY_HASH, hash_password, needs_rehash, verify_password
from services.registry.errors import AccountLocked, AccountNotFound, LoginFailed, ScopeInvalid, UsernameTaken
from services.registry.models import CODE_LENGTH, Area, SigningKey, StaffAccount
from services.registry.schemas import StaffAccountCreate, StaffAccountUpdate
from shared.auth import AREA_ROLES, SERVICE_ROLE, STAFF_AUDIENCE, Principal
from shared.crypto import Sealer

_KEY_LOCK = 0x6772_6964_6B65_7973  # advisory lock id: "gridkeys"

ROLE_SCOPE_LEVEL = {
    "district_admin": "district",
    "street_dispatcher": "street",
    "community_admin": "community",
    "grid_worker": "grid",
}


@dataclass
class ActiveKey:
    kid: str
    private: Ed25519PrivateKey


def _new_key(sealer: Sealer) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    raw_pub = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = base64.urlsafe_b64encode(hashlib.sha256(raw_pub).digest()[:12]).decode().rstrip("=")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(raw_pub).decode().rstrip("="),
        "kid": kid,
        "use": "sig",
        "alg": "EdDSA",
    }
    return SigningKey(kid=kid, private_cipher=sealer.seal(pem, aad=kid.encode()), public_jwk=jwk)


def _load(key: SigningKey, sealer: Sealer) -> ActiveKey:
    pem = sealer.open(key.private_cipher, aad=key.kid.encode())
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return ActiveKey(kid=key.kid, private=private)


async def ensure_signing_key(session: AsyncSession, sealer: Sealer) -> ActiveKey:
    """The newest unretired key; made on first start. Replicas starting together make only one."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
    key = (
        await session.execute(
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if key is None:
        key = _new_key(sealer)
        session.add(key)
        await session.flush()
    return _load(key, sealer)


async def rotate_signing_key(session: AsyncSession, sealer: Sealer) -> ActiveKey:
    """New tokens use a new key; the old one stays in the JWKS until its last token expires."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEY_LOCK})
    await session.execute(
        SigningKey.__table__.update().where(SigningKey.retired_at.is_(None)).values(retired_at=func.now())
    )
    key = _new_key(sealer)
    session.add(key)
    await session.flush()
    return _load(key, sealer)


async def jwks(session: AsyncSession, *, max_token_ttl_s: int) -> dict[str, Any]:
    cutoff = datetime.now(UTC) - timedelta(seconds=max_token_ttl_s + 300)
    rows = (
        (
            await session.execute(
                select(SigningKey.public_jwk)
                .where((SigningKey.retired_at.is_(None)) | (SigningKey.retired_at > cutoff))
                .order_by(SigningKey.created_at.desc())
            )
        )
        .scalars()
        .all()
    )
    return {"keys": list(rows)}


class TokenIssuer:
    def __init__(self, *, issuer: str, staff_ttl_s: int, service_ttl_s: int) -> None:
        self.issuer = issuer
        self.staff_ttl_s = staff_ttl_s
        self.service_ttl_s = service_ttl_s
        self.key: ActiveKey | None = None

    def issue(self, account: StaffAccount) -> tuple[str, int]:
        assert self.key is not None, "signing key not loaded"
        ttl = self.service_ttl_s if account.role == SERVICE_ROLE else self.staff_ttl_s
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": STAFF_AUDIENCE,
            "sub": account.username,
            "role": account.role,
            "scope": " ".join(account.scope or []),
            "name": account.display_name,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self.key.private, algorithm="EdDSA", headers={"kid": self.key.kid})
        return token, ttl


async def authenticate(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    max_failures: int,
    lock_s: int,
    service: bool = False,
) -> StaffAccount:
    account = (
        await session.execute(select(StaffAccount).where(StaffAccount.username == username).with_for_update())
    ).scalar_one_or_none()
    if account is None or not account.is_active or (service != (account.role == SERVICE_ROLE)):
        verify_password(DUMMY_HASH, password)  # same cost as a real check: names cannot be probed by timing
        raise LoginFailed("Username or password is wrong.")
    now = datetime.now(UTC)
    if account.locked_until and account.locked_until > now:
        wait = int((account.locked_until - now).total_seconds()) + 1
        raise AccountLocked(
            f"Too many failed logins; try again in {wait} s or ask an administrator to unlock.",
            headers={"Retry-After": str(wait)},
        )
    if not verify_password(account.password_hash, password):
        account.failed_logins += 1
        if account.failed_logins >= max_failures:
            account.locked_until = now + timedelta(seconds=lock_s)
            account.failed_logins = 0
        await session.flush()
        # The counter must survive the error response, so this request's transaction commits it.
        raise LoginFailed("Username or password is wrong.", keep_changes=True)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    await session.flush()
    return account


async def _check_scope(session: AsyncSession, role: str, scope: list[str]) -> list[str]:
    if role in AREA_ROLES:
        if not scope:
            raise ScopeInvalid(f"A {role} needs at least one area code in scope.")
        level = ROLE_SCOPE_LEVEL[role]
        if role != "grid_worker" and len(scope) != 1:
            raise ScopeInvalid(f"A {role} has exactly one {level} in scope.")
        for code in scope:
            if len(code) != CODE_LENGTH[level]:
                raise ScopeInvalid(
                    f"A {role}'s scope is {level} codes ({CODE_LENGTH[level]} digits); got {code}."
                )
        found = set((await session.execute(select(Area.code).where(Area.code.in_(scope)))).scalars())
        missing = sorted(set(scope) - found)
        if missing:
            raise ScopeInvalid(f"Unknown area code(s) in scope: {', '.join(missing)}.")
    elif role in ("department_handler", "unit_liaison") and len(scope) != 1:
        raise ScopeInvalid(f"A {role} has exactly one code in scope (a department or member-unit code).")
    return list(dict.fromkeys(scope))


def _may_manage(principal: Principal, role: str, scope: list[str]) -> bool:
    if principal.role == "district_admin":
        return role not in (SERVICE_ROLE,) and (
            role not in AREA_ROLES or all(principal.covers_area(c) for c in scope)
        )
    if principal.role == "community_admin":
        return role == "grid_worker" and all(principal.covers_area(c) for c in scope)
    return principal.role == SERVICE_ROLE


async def create_account(
    session: AsyncSession, principal: Principal, data: StaffAccountCreate
) -> StaffAccount:
    scope = await _check_scope(session, data.role, data.scope)
    if not _may_manage(principal, data.role, scope):
        sc.require_role(principal, set(), f"create a {data.role} account with scope {' '.join(scope)}")
    account = StaffAccount(
        username=data.username,
        password_hash=hash_password(data.password),
        role=data.role,
        scope=scope,
        display_name=data.display_name,
        phone=data.phone,
    )
    session.add(account)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise UsernameTaken(f"Username {data.username} is taken; choose another.") from None
    return account


async def get_account(session: AsyncSession, principal: Principal, account_id: int) -> StaffAccount:
    account = await session.get(StaffAccount, account_id)
    if account is None or not (
        _may_manage(principal, account.role, account.scope) or account.username == principal.sub
    ):
        raise AccountNotFound(f"No staff account with id {account_id} that you manage.")
    return account


async def update_account(
    session: AsyncSession, principal: Principal, account_id: int, data: StaffAccountUpdate
) -> StaffAccount:
    account = await get_account(session, principal, account_id)
    own = account.username == principal.sub
    fields = data.model_fields_set
    managing = _may_manage(principal, account.role, account.scope)
    if not managing and fields - {"password", "display_name", "phone"}:
        sc.require_role(principal, set(), "change your own scope or status")
    if "scope" in fields and data.scope is not None:
        scope = await _check_scope(session, account.role, data.scope)
        if not _may_manage(principal, account.role, scope):
            sc.require_role(principal, set(), f"give scope {' '.join(scope)}")
        account.scope = scope
    if data.password:
        account.password_hash = hash_password(data.password)
    if "is_active" in fields and data.is_active is not None and not own:
        account.is_active = data.is_active
        if data.is_active:
            account.locked_until, account.failed_logins = None, 0
    for f in ("display_name", "phone"):
        if f in fields and getattr(data, f) is not None:
            setattr(account, f, getattr(data, f))
    account.updated_at = func.now()
    await session.flush()
    await session.refresh(account)
    return account


async def list_accounts(
    session: AsyncSession, principal: Principal, *, role: str | None, limit: int, offset: int
) -> tuple[list[StaffAccount], int]:
    sc.require_role(principal, {"district_admin", "community_admin"}, "list staff accounts")
    stmt = select(StaffAccount).where(StaffAccount.role != SERVICE_ROLE)
    if principal.role == "community_admin":
        stmt = stmt.where(
            StaffAccount.role == "grid_worker",
            func.array_to_string(StaffAccount.scope, " ").startswith(principal.scope[0]),
        )
    if role:
        stmt = stmt.where(StaffAccount.role == role)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(StaffAccount.id).limit(limit).offset(offset))).scalars().all()
    return list(rows), total


async def upsert_service_account(session: AsyncSession, name: str, secret: str) -> StaffAccount:
    """Machine account `svc-<name>` for service-to-service calls (client-credentials grant)."""
    username = f"svc-{name}"
    account = (
        await session.execute(select(StaffAccount).where(StaffAccount.username == username))
    ).scalar_one_or_none()
    if account is None:
        account = StaffAccount(
            username=username,
            role=SERVICE_ROLE,
            scope=[name],
            display_name=f"{name} service",
            password_hash=hash_password(secret),
        )
        session.add(account)
    elif not verify_password(account.password_hash, secret):
        account.password_hash = hash_password(secret)
    await session.flush()
    return account


def new_password() -> str:
    return secrets.token_urlsafe(15)
