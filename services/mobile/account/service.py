"""Resident accounts and sessions: log in with a WeChat identity, rotate refresh tokens, log out.

One login is one `Session`; its access tokens carry its id and its refresh tokens belong to it. A refresh
token works once: spending it is one guarded UPDATE (`WHERE used_at IS NULL`), so of two concurrent uses
exactly one wins. A spent token presented again means a copy is in someone else's hands, so the whole
session is revoked. The session has a fixed lifetime (`refresh_token_ttl_s`); after it the mini-program
logs in again, which `wx.login()` does without asking the resident anything.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile.account.errors import AccountDisabled, RefreshInvalid, RefreshReused
from services.mobile.account.schemas import TokenPair
from services.mobile.account.wechat import WechatIdentity
from services.mobile.errors import NotBound
from services.mobile.models import Account, RefreshToken, Session
from services.mobile.settings import MobileSettings
from services.mobile.tokens import ResidentTokens

REUSE = "refresh-reuse"
LOGOUT = "logout"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _issue(
    session: AsyncSession,
    tokens: ResidentTokens,
    *,
    account_id: int,
    session_id: uuid.UUID,
    session_expires_at: datetime,
    bound: bool,
    now: datetime,
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(token_hash=token_hash(refresh), session_id=session_id, expires_at=session_expires_at)
    )
    await session.flush()
    access, ttl = tokens.issue(account_id, session_id)
    return TokenPair(
        access_token=access,
        expires_in=ttl,
        refresh_token=refresh,
        refresh_expires_in=max(0, int((session_expires_at - now).total_seconds())),
        bound=bound,
    )


async def login(
    session: AsyncSession, tokens: ResidentTokens, settings: MobileSettings, who: WechatIdentity
) -> TokenPair:
    """Find or create the account of this openid (one upsert, so two first logins at once both succeed
    on one row), then open a session."""
    stmt = insert(Account).values(openid=who.openid, unionid=who.unionid)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Account.openid],
        set_={"last_login_at": func.now(), "unionid": func.coalesce(stmt.excluded.unionid, Account.unionid)},
    ).returning(Account.id, Account.resident_id, Account.disabled)
    row = (await session.execute(stmt)).one()
    if row.disabled:
        raise AccountDisabled("This account has been disabled; contact your community (社区居委会).")
    now = datetime.now(UTC)
    sid = uuid.uuid4()
    expires_at = now + timedelta(seconds=settings.refresh_token_ttl_s)
    session.add(Session(id=sid, account_id=row.id, expires_at=expires_at))
    await session.flush()
    return await _issue(
        session,
        tokens,
        account_id=row.id,
        session_id=sid,
        session_expires_at=expires_at,
        bound=row.resident_id is not None,
        now=now,
    )


async def refresh(
    session: AsyncSession, tokens: ResidentTokens, refresh_token: str, reuse_grace_s: float = 0
) -> TokenPair:
    """Spend a refresh token for a new pair in the same session. A token spent less than `reuse_grace_s`
    ago gets another pair in the session (the same client refreshing from two requests at once: the
    "reuse interval" of common identity providers); spent longer ago, it is treated as a stolen copy."""
    h = token_hash(refresh_token)
    now = datetime.now(UTC)
    spent = (
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == h,
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > now,
                RefreshToken.session_id == Session.id,
                Session.revoked_at.is_(None),
                Session.expires_at > now,
                Session.account_id == Account.id,
                Account.disabled.is_(False),
            )
            .values(used_at=now)
            .returning(RefreshToken.session_id, Session.account_id, Session.expires_at, Account.resident_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if spent is None:
        spent = await _spent_moments_ago(session, h, now, reuse_grace_s)
    return await _issue(
        session,
        tokens,
        account_id=spent.account_id,
        session_id=spent.session_id,
        session_expires_at=spent.expires_at,
        bound=spent.resident_id is not None,
        now=now,
    )


async def _spent_moments_ago(
    session: AsyncSession, h: bytes, now: datetime, reuse_grace_s: float
) -> Row[Any]:
    """Why a refresh token could not be spent: the refusal to raise, or, for a token spent within the
    grace interval, its session (with the same fields the spending UPDATE returns) to issue again in.
    Read after a concurrent winner committed, this sees its used_at."""
    row = (
        await session.execute(
            select(
                RefreshToken.used_at,
                RefreshToken.expires_at.label("token_expires_at"),
                Session.id.label("session_id"),
                Session.revoked_at,
                Session.expires_at,
                Session.account_id,
                Account.disabled,
                Account.resident_id,
            )
            .join(Session, Session.id == RefreshToken.session_id)
            .join(Account, Account.id == Session.account_id)
            .where(RefreshToken.token_hash == h)
        )
    ).first()
    if row is None:
        raise RefreshInvalid("Unknown refresh token: log in again (wx.login, then POST /m/v1/auth/wechat).")
    if row.disabled:
        raise AccountDisabled("This account has been disabled; contact your community (社区居委会).")
    if row.revoked_at is not None:
        raise RefreshInvalid("This session has ended (logged out or revoked): log in again.")
    live = row.token_expires_at > now and row.expires_at > now
    # `now` was taken before a concurrent winner stamped used_at, so the difference can be negative:
    # with no grace interval that is reuse too, never "within" it
    grace = timedelta(seconds=reuse_grace_s)
    if row.used_at is not None and live and reuse_grace_s > 0 and now - row.used_at <= grace:
        return row
    if row.used_at is not None:
        await revoke(session, row.session_id, REUSE)
        raise RefreshReused(
            "This refresh token was already used once. A used token presented again may be a stolen copy, "
            "so this session has been ended: log in again. (Refresh once at a time; keep the newest token.)",
            session_id=row.session_id,
        )
    raise RefreshInvalid(
        "This refresh token has expired: log in again (wx.login, then POST /m/v1/auth/wechat)."
    )


async def revoke(session: AsyncSession, session_id: uuid.UUID, reason: str) -> bool:
    """End a session; its access tokens are refused and its refresh tokens stop working."""
    done = await session.execute(
        update(Session)
        .where(Session.id == session_id, Session.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoke_reason=reason)
    )
    return bool(done.rowcount)


async def bound_account(session: AsyncSession, account_id: int) -> Account:
    """The caller's account, refusing with 403 `not-bound` until it is bound to a household (for the
    endpoints that act for a resident: reports, wishes)."""
    acc = await session.get(Account, account_id)
    if acc is None or acc.resident_id is None:
        raise NotBound("Bind your household first: POST /m/v1/me/binding with your name, phone and id_last4.")
    return acc
