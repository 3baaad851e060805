"""Which tokens the mobile API accepts (only its own resident tokens, of a live session) and that the staff
services refuse resident tokens."""

from __future__ import annotations

import base64
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.mobile.tokens import ResidentTokens
from shared.auth import RESIDENT_AUDIENCE
from tests.mobile.account_helpers import login

PROBLEM = "https://gridgov.example.org/problems/"


def key_of(seed_b64: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(
        base64.urlsafe_b64decode(seed_b64 + "=" * (-len(seed_b64) % 4))
    )


def forge(key: Ed25519PrivateKey, kid: str, **claims) -> str:
    now = int(time.time())
    body = {
        "iss": "gridgov-mobile",
        "aud": RESIDENT_AUDIENCE,
        "sub": "1",
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": kid})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused(mobile, headers: dict[str, str] | None, *words: str) -> None:
    r = await mobile.get("/m/v1/me", headers=headers or {})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    p = r.json()
    assert p["type"] == PROBLEM + "invalid-token"
    for w in words:
        assert w in p["detail"], p["detail"]


class TestMobileRefuses:
    async def test_no_token(self, mobile):
        await refused(mobile, None, "Authorization: Bearer")

    async def test_a_token_that_is_not_a_jwt(self, mobile):
        await refused(mobile, bearer("not-a-jwt"), "well-formed")

    async def test_a_token_signed_with_another_key(self, mobile, mobile_app):
        stranger = Ed25519PrivateKey.generate()
        await refused(mobile, bearer(forge(stranger, "m-unknown")), "not issued by this service")
        # the right kid does not help a wrong key
        await refused(mobile, bearer(forge(stranger, mobile_app.state.tokens.kid)), "not valid")

    async def test_an_expired_token(self, mobile, mobile_app, mobile_settings):
        tok = await login(mobile)
        old = ResidentTokens(mobile_settings.token_key, issuer="gridgov-mobile", ttl_s=-120)
        claims = jwt.decode(tok["access_token"], options={"verify_signature": False})
        expired, _ = old.issue(int(claims["sub"]), uuid.UUID(claims["sid"]))
        await refused(mobile, bearer(expired), "expired", "/m/v1/auth/refresh")

    async def test_a_token_for_another_audience(self, mobile, mobile_app, mobile_settings):
        key = key_of(mobile_settings.token_key)
        await refused(
            mobile, bearer(forge(key, mobile_app.state.tokens.kid, aud="gridgov-other")), "not valid"
        )

    async def test_a_token_from_another_issuer(self, mobile, mobile_app, mobile_settings):
        key = key_of(mobile_settings.token_key)
        await refused(
            mobile, bearer(forge(key, mobile_app.state.tokens.kid, iss="someone-else")), "not valid"
        )

    async def test_a_well_signed_token_of_a_session_that_never_existed(self, mobile, mobile_app):
        token, _ = mobile_app.state.tokens.issue(1, uuid.uuid4())
        await refused(mobile, bearer(token), "session has ended")

    async def test_a_token_of_one_account_with_the_session_of_another(self, mobile, mobile_app):
        a = await login(mobile, "alice")
        sid = jwt.decode(a["access_token"], options={"verify_signature": False})["sid"]
        token, _ = mobile_app.state.tokens.issue(999_999, uuid.UUID(sid))
        await refused(mobile, bearer(token), "session has ended")

    async def test_a_staff_token_is_refused_as_a_staff_token(self, mobile, token):
        r = await mobile.get("/m/v1/me", headers=token("district_admin", "320411"))
        assert r.status_code == 401 and "staff token" in r.json()["detail"]
        assert "POST /m/v1/auth/wechat" in r.json()["detail"]

    async def test_a_service_token_is_refused_too(self, mobile, token):
        r = await mobile.post("/m/v1/me/binding", json={}, headers=token("service", "dispatch"))
        assert r.status_code == 401 and "staff token" in r.json()["detail"]

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/m/v1/me"),
            ("POST", "/m/v1/me/binding"),
            ("DELETE", "/m/v1/me/binding"),
            ("POST", "/m/v1/auth/logout"),
        ],
    )
    async def test_every_resident_endpoint_needs_a_token(self, mobile, method, path):
        r = await mobile.request(
            method, path, json={"name": "张三", "phone": "13912345678", "id_last4": "1234"}
        )
        assert r.status_code == 401


class TestStaffServicesRefuseResidentTokens:
    @pytest.mark.parametrize(
        ("client", "path"),
        [
            ("registry", "/api/v1/auth/me"),
            ("registry", "/api/v1/households/1/coverage"),
            ("dispatch", "/api/v1/tickets"),
            ("wishes", "/api/v1/wishes"),
        ],
    )
    async def test_a_resident_token_is_401_at_registry_dispatch_and_wishes(
        self, mobile, registry, dispatch, wishes, client, path
    ):
        tok = await login(mobile)
        http = {"registry": registry, "dispatch": dispatch, "wishes": wishes}[client]
        r = await http.get(path, headers=tok["headers"])
        assert r.status_code == 401, (client, r.text)
        assert r.headers["content-type"] == "application/problem+json"
