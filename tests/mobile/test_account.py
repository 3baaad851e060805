"""Login with WeChat, refresh-token rotation and logout, against the real database and the WeChat fake."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from services.mobile.models import Account, RefreshToken, Session
from shared.logging import JsonFormatter
from tests.conftest import WECHAT_APP_SECRET
from tests.mobile.account_helpers import login
from tools.wechat_fake import create_app as wechat_app

PROBLEM = "https://gridgov.example.org/problems/"


def failing_wechat(exc: Exception) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.AsyncClient(base_url="http://wechat", transport=httpx.MockTransport(handler))


async def _age_spent(session, refresh_token: str, seconds: float) -> None:
    """Move a spent refresh token's first use `seconds` into the past."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == hashlib.sha256(refresh_token.encode()).digest())
        .values(used_at=RefreshToken.used_at - timedelta(seconds=seconds))
    )
    await session.commit()


class TestLogin:
    async def test_first_login_creates_the_account_and_answers_a_token_pair(self, mobile, session):
        r = await mobile.post("/m/v1/auth/wechat", json={"code": "test:alice"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "refresh_expires_in",
            "bound",
        }
        assert body["token_type"] == "Bearer" and body["expires_in"] == 7200 and body["bound"] is False
        assert 30 * 86400 - 5 <= body["refresh_expires_in"] <= 30 * 86400
        assert r.headers["cache-control"] == "no-store"
        acc = (await session.execute(select(Account).where(Account.openid == "alice"))).scalar_one()
        sess = (await session.execute(select(Session).where(Session.account_id == acc.id))).scalar_one()
        stored = (
            await session.execute(select(RefreshToken).where(RefreshToken.session_id == sess.id))
        ).scalar_one()
        assert stored.token_hash == hashlib.sha256(body["refresh_token"].encode()).digest()
        assert stored.expires_at == sess.expires_at and sess.revoked_at is None

    async def test_the_access_token_works_at_once(self, mobile):
        tok = await login(mobile)
        r = await mobile.get("/m/v1/me", headers=tok["headers"])
        assert r.status_code == 200 and r.json()["bound"] is False

    async def test_a_second_login_finds_the_same_account_in_a_new_session(self, mobile, session):
        await login(mobile, "bob")
        first = (await session.execute(select(Account).where(Account.openid == "bob"))).scalar_one()
        seen = first.last_login_at
        await session.execute(
            update(Account).where(Account.id == first.id).values(last_login_at=seen - timedelta(days=3))
        )
        await session.commit()
        await login(mobile, "bob")
        session.expire_all()
        accounts = (await session.execute(select(Account).where(Account.openid == "bob"))).scalars().all()
        assert len(accounts) == 1 and accounts[0].last_login_at > seen - timedelta(days=3)
        n = await session.scalar(
            select(func.count()).select_from(Session).where(Session.account_id == first.id)
        )
        assert n == 2

    async def test_a_unionid_is_kept(self, mobile, session):
        await mobile.post("/m/v1/auth/wechat", json={"code": "test:carol/union-carol"})
        await login(mobile, "carol")  # a later answer without unionid keeps it
        acc = (await session.execute(select(Account).where(Account.openid == "carol"))).scalar_one()
        assert acc.unionid == "union-carol"

    @pytest.mark.parametrize("code", ["nonsense", "used:abc"])
    async def test_an_invalid_or_used_code_is_401_asking_for_a_new_wx_login(self, mobile, code):
        r = await mobile.post("/m/v1/auth/wechat", json={"code": code})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        p = r.json()
        assert p["type"] == PROBLEM + "wechat-login-failed" and "wx.login()" in p["detail"]
        assert p["errcode"] in (40029, 40163)

    @pytest.mark.parametrize(("code", "errcode"), [("busy:1", -1), ("quota:1", 45011)])
    async def test_wechat_busy_is_503_worth_a_retry(self, mobile, code, errcode):
        r = await mobile.post("/m/v1/auth/wechat", json={"code": code})
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        p = r.json()
        assert p["upstream"] == "wechat" and p["errcode"] == errcode and "busy" in p["detail"]

    async def test_a_risky_user_is_403(self, mobile):
        r = await mobile.post("/m/v1/auth/wechat", json={"code": "risky:1"})
        assert r.status_code == 403 and r.json()["type"] == PROBLEM + "wechat-risky-user"

    async def test_wrong_app_settings_are_502_not_the_users_fault(self, mobile, mobile_app):
        other = httpx.AsyncClient(
            base_url="http://wechat", transport=httpx.ASGITransport(app=wechat_app("wxother0000000000", "x"))
        )
        mobile_app.state.wechat_http = other
        r = await mobile.post("/m/v1/auth/wechat", json={"code": "test:alice"})
        assert r.status_code == 502 and r.json()["errcode"] == 40013 and r.json()["upstream"] == "wechat"
        await other.aclose()

    @pytest.mark.parametrize(
        "exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")], ids=["unreachable", "timeout"]
    )
    async def test_wechat_unreachable_or_slow_is_503_naming_wechat(self, mobile, mobile_app, session, exc):
        mobile_app.state.wechat_http = failing_wechat(exc)
        r = await mobile.post("/m/v1/auth/wechat", json={"code": "test:alice"})
        assert r.status_code == 503
        p = r.json()
        assert p["type"] == PROBLEM + "upstream-unavailable" and p["upstream"] == "wechat"
        assert "WeChat" in p["detail"] and r.headers["retry-after"]
        assert await session.scalar(select(func.count()).select_from(Account)) == 0

    async def test_a_non_json_answer_is_502(self, mobile, mobile_app):
        mobile_app.state.wechat_http = httpx.AsyncClient(
            base_url="http://wechat",
            transport=httpx.MockTransport(lambda req: httpx.Response(200, text="<html>gateway</html>")),
        )
        r = await mobile.post("/m/v1/auth/wechat", json={"code": "test:alice"})
        assert r.status_code == 502 and r.json()["upstream"] == "wechat"

    @pytest.mark.parametrize(
        "body", [{}, {"code": ""}, {"code": "has space"}, {"code": "x" * 129}, {"code": "a", "x": 1}]
    )
    async def test_a_malformed_body_is_422(self, mobile, body):
        r = await mobile.post("/m/v1/auth/wechat", json=body)
        assert r.status_code == 422 and r.json()["errors"]

    async def test_a_disabled_account_cannot_log_in(self, mobile, session):
        session.add(Account(openid="mallory", disabled=True))
        await session.commit()
        r = await mobile.post("/m/v1/auth/wechat", json={"code": "test:mallory"})
        assert r.status_code == 403 and r.json()["type"] == PROBLEM + "account-disabled"

    async def test_neither_the_app_secret_nor_the_session_key_reaches_a_log_line(
        self, mobile, wechat_fake, caplog
    ):
        caplog.set_level(logging.DEBUG)
        r = await mobile.post("/m/v1/auth/wechat", json={"code": "test:alice"})
        assert r.status_code == 200
        wx = httpx.AsyncClient(transport=httpx.ASGITransport(app=wechat_fake), base_url="http://wechat")
        session_key = (
            await wx.get(
                "/sns/jscode2session",
                params={
                    "appid": "wxtest0000000001",
                    "secret": WECHAT_APP_SECRET,
                    "js_code": "test:alice",
                    "grant_type": "authorization_code",
                },
            )
        ).json()["session_key"]
        await wx.aclose()
        fmt = JsonFormatter("mobile")
        lines = "\n".join(fmt.format(rec) for rec in caplog.records)
        assert WECHAT_APP_SECRET not in lines and session_key not in lines
        assert session_key not in r.text


class TestRefresh:
    async def test_a_refresh_token_buys_a_new_pair_in_the_same_session(self, mobile, session):
        tok = await login(mobile)
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        assert r.status_code == 200, r.text
        new = r.json()
        assert new["refresh_token"] != tok["refresh_token"] and new["access_token"] != tok["access_token"]
        assert r.headers["cache-control"] == "no-store"
        sessions = (await session.execute(select(Session))).scalars().all()
        assert len(sessions) == 1
        used = await session.get(RefreshToken, hashlib.sha256(tok["refresh_token"].encode()).digest())
        assert used.used_at is not None
        me = await mobile.get("/m/v1/me", headers={"Authorization": f"Bearer {new['access_token']}"})
        assert me.status_code == 200
        again = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
        assert again.status_code == 200

    async def test_a_spent_token_presented_again_ends_the_whole_session(
        self, mobile, session, mobile_settings
    ):
        tok = await login(mobile)
        new = (await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})).json()
        await _age_spent(session, tok["refresh_token"], mobile_settings.refresh_reuse_grace_s + 1)
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        assert r.status_code == 401 and r.json()["type"] == PROBLEM + "refresh-token-reused"
        assert "log in again" in r.json()["detail"]
        s = (await session.execute(select(Session))).scalar_one()
        assert s.revoked_at is not None and s.revoke_reason == "refresh-reuse"
        # the thief's (or the client's) newer tokens die with the session
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
        assert r.status_code == 401 and r.json()["type"] == PROBLEM + "invalid-refresh-token"
        for access in (tok["access_token"], new["access_token"]):
            me = await mobile.get("/m/v1/me", headers={"Authorization": f"Bearer {access}"})
            assert me.status_code == 401

    async def test_without_a_grace_interval_a_use_stamped_after_this_request_began_is_reuse_too(
        self, mobile, mobile_app, session
    ):
        """A concurrent winner stamps used_at after the loser took its clock reading; with no grace
        interval the loser's negative "time since" must still count as reuse."""
        from services.mobile.account import service as account_service
        from services.mobile.account.errors import RefreshReused

        tok = await login(mobile)
        await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        await _age_spent(session, tok["refresh_token"], -5)  # first use "5 s from now"
        with pytest.raises(RefreshReused):
            await account_service.refresh(session, mobile_app.state.tokens, tok["refresh_token"], 0)
        s = (await session.execute(select(Session))).scalar_one()
        assert s.revoke_reason == "refresh-reuse"

    async def test_a_second_use_within_the_grace_interval_is_the_same_client_and_gets_a_pair(
        self, mobile, session, mobile_settings
    ):
        """Two requests of one mini-program find the access token expired and both refresh with the same
        token a moment apart: the second gets its own pair in the same session, and nothing is revoked."""
        assert mobile_settings.refresh_reuse_grace_s >= 5
        tok = await login(mobile)
        first = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        await _age_spent(session, tok["refresh_token"], mobile_settings.refresh_reuse_grace_s - 3)
        second = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        assert (first.status_code, second.status_code) == (200, 200), second.text
        assert first.json()["refresh_token"] != second.json()["refresh_token"]
        s = (await session.execute(select(Session))).scalar_one()
        assert s.revoked_at is None
        for pair in (first.json(), second.json()):
            me = await mobile.get("/m/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
            assert me.status_code == 200
            r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            assert r.status_code == 200

    async def test_an_unknown_token_is_401(self, mobile):
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": "A" * 43})
        assert r.status_code == 401 and r.json()["type"] == PROBLEM + "invalid-refresh-token"
        assert "Unknown" in r.json()["detail"]

    async def test_an_expired_token_is_401(self, mobile, session):
        tok = await login(mobile)
        await session.execute(
            update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        assert r.status_code == 401 and "expired" in r.json()["detail"]

    async def test_an_expired_session_refuses_its_refresh_tokens(self, mobile, session):
        tok = await login(mobile)
        await session.execute(update(Session).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await session.commit()
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        assert r.status_code == 401

    async def test_a_disabled_account_cannot_refresh(self, mobile, session):
        tok = await login(mobile)
        await session.execute(update(Account).values(disabled=True))
        await session.commit()
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        assert r.status_code == 403 and r.json()["type"] == PROBLEM + "account-disabled"

    @pytest.mark.parametrize("token", ["short", "has space in it and is long enough", "é" * 30])
    async def test_a_malformed_token_is_422(self, mobile, token):
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 422


class TestLogout:
    async def test_logout_ends_the_session_and_its_tokens(self, mobile, session):
        tok = await login(mobile)
        r = await mobile.post("/m/v1/auth/logout", headers=tok["headers"])
        assert r.status_code == 204 and r.content == b""
        s = (await session.execute(select(Session))).scalar_one()
        assert s.revoked_at is not None and s.revoke_reason == "logout"
        me = await mobile.get("/m/v1/me", headers=tok["headers"])
        assert me.status_code == 401 and "session has ended" in me.json()["detail"]
        r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": tok["refresh_token"]})
        assert r.status_code == 401 and "ended" in r.json()["detail"]

    async def test_logout_leaves_other_sessions_alone(self, mobile):
        phone, tablet = await login(mobile), await login(mobile)
        assert (await mobile.post("/m/v1/auth/logout", headers=phone["headers"])).status_code == 204
        assert (await mobile.get("/m/v1/me", headers=tablet["headers"])).status_code == 200

    async def test_logout_needs_a_token(self, mobile):
        r = await mobile.post("/m/v1/auth/logout")
        assert r.status_code == 401 and r.json()["type"] == PROBLEM + "invalid-token"

    async def test_logout_after_a_cached_live_check_still_takes_effect_at_once(self, mobile, mobile_app):
        """With a session cache, the replica that logs out forgets what it cached."""
        from services.mobile.tokens import SessionCheck

        mobile_app.state.sessions = SessionCheck(mobile_app.state.sessionmaker, 60.0)
        tok = await login(mobile)
        assert (await mobile.get("/m/v1/me", headers=tok["headers"])).status_code == 200  # cached live
        assert (await mobile.post("/m/v1/auth/logout", headers=tok["headers"])).status_code == 204
        assert (await mobile.get("/m/v1/me", headers=tok["headers"])).status_code == 401
