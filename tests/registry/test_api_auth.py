from __future__ import annotations

import time

import httpx
import jwt
import pytest

from shared.auth import STAFF_AUDIENCE, KeySet, TokenVerifier
from shared.problems import Unauthorized

ADMIN = ("district_admin", "320411")
PASSWORD = "correct horse battery"


async def _make_account(registry, token, username="wang.li", role="grid_worker", scope=("320411001001001",)):
    r = await registry.post(
        "/api/v1/staff-accounts",
        headers=token(*ADMIN),
        json={
            "username": username,
            "password": PASSWORD,
            "role": role,
            "scope": list(scope),
            "display_name": "王丽",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _get_grids_with(registry, private_key, kid, **claims):
    """GET /grids with a token signed by hand: a district admin's claims, valid for ten minutes,
    with `claims` changed."""
    body = {
        "iss": "gridgov-registry",
        "aud": STAFF_AUDIENCE,
        "sub": "x",
        "role": "district_admin",
        "scope": "320411",
        "exp": int(time.time()) + 600,
        **claims,
    }
    tok = jwt.encode(body, private_key, algorithm="EdDSA", headers={"kid": kid})
    return await registry.get("/api/v1/grids", headers={"Authorization": f"Bearer {tok}"})


async def _login(registry, username, password=PASSWORD):
    return await registry.post("/api/v1/auth/token", data={"username": username, "password": password})


class TestLogin:
    async def test_password_login_returns_a_bearer_token(self, registry, world, token):
        await _make_account(registry, token)
        r = await _login(registry, "wang.li")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 8 * 3600
        me = await registry.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.json() == {
            "sub": "wang.li",
            "role": "grid_worker",
            "scope": ["320411001001001"],
            "expires_at": me.json()["expires_at"],
        }

    async def test_token_verifies_against_the_published_jwks(self, registry, world, token):
        """The JWKS round trip every other service relies on: fetch keys, verify the signature."""
        await _make_account(registry, token)
        tok = (await _login(registry, "wang.li")).json()["access_token"]
        jwks = (await registry.get("/.well-known/jwks.json")).json()
        header = jwt.get_unverified_header(tok)
        assert header["alg"] == "EdDSA"
        jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
        assert "d" not in jwk  # public half only
        claims = jwt.decode(tok, jwt.PyJWK(jwk).key, algorithms=["EdDSA"], audience=STAFF_AUDIENCE)
        assert claims["role"] == "grid_worker"
        assert claims["scope"] == "320411001001001"
        assert claims["exp"] > time.time()

        async def fetch():
            return (await registry.get("/.well-known/jwks.json")).json()

        verifier = TokenVerifier(KeySet(fetch), issuer="gridgov-registry")
        principal = await verifier.verify(tok, audience=STAFF_AUDIENCE)
        assert principal.covers_area("320411001001001003")
        assert not principal.covers_area("320411001001002")

    async def test_wrong_password_is_401_and_does_not_say_which_part_was_wrong(self, registry, world, token):
        await _make_account(registry, token)
        r1 = await _login(registry, "wang.li", "wrong password!")
        r2 = await _login(registry, "nobody", "wrong password!")
        assert r1.status_code == r2.status_code == 401
        assert r1.json()["detail"] == r2.json()["detail"]

    async def test_five_failures_lock_the_account(self, registry, world, token):
        await _make_account(registry, token)
        for _ in range(5):
            assert (await _login(registry, "wang.li", "wrong password!")).status_code == 401
        r = await _login(registry, "wang.li")  # even the right password now waits
        assert r.status_code == 423
        assert int(r.headers["retry-after"]) > 0
        assert r.headers["content-type"] == "application/problem+json"

    async def test_admin_reactivation_unlocks(self, registry, world, token):
        acct = await _make_account(registry, token)
        for _ in range(5):
            await _login(registry, "wang.li", "wrong password!")
        r = await registry.patch(
            f"/api/v1/staff-accounts/{acct['id']}", headers=token(*ADMIN), json={"is_active": True}
        )
        assert r.status_code == 200
        assert (await _login(registry, "wang.li")).status_code == 200

    async def test_deactivated_account_cannot_log_in(self, registry, world, token):
        acct = await _make_account(registry, token)
        await registry.patch(
            f"/api/v1/staff-accounts/{acct['id']}", headers=token(*ADMIN), json={"is_active": False}
        )
        assert (await _login(registry, "wang.li")).status_code == 401

    async def test_missing_form_fields_are_401(self, registry, world):
        r = await registry.post("/api/v1/auth/token", data={"username": "x"})
        assert r.status_code == 401


class TestServiceTokens:
    async def test_client_credentials_give_a_service_token(self, registry, world, session):
        from services.registry.service.accounts import upsert_service_account

        await upsert_service_account(session, "dispatch", "s3cret-for-tests-only")
        await session.commit()
        r = await registry.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "svc-dispatch",
                "client_secret": "s3cret-for-tests-only",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["expires_in"] == 900
        # a service account cannot use the password flow, nor a person the client flow
        r = await registry.post(
            "/api/v1/auth/token", data={"username": "svc-dispatch", "password": "s3cret-for-tests-only"}
        )
        assert r.status_code == 401


class TestTokenChecks:
    async def test_no_token_is_401_problem(self, registry, world):
        r = await registry.get("/api/v1/grids")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert "Bearer" in r.json()["detail"]

    async def test_expired_token_is_401(self, registry, registry_app, world):
        key = registry_app.state.issuer.key
        now = int(time.time())
        r = await _get_grids_with(registry, key.private, key.kid, iat=now - 7200, exp=now - 3600)
        assert r.status_code == 401
        assert "expired" in r.json()["detail"]

    async def test_token_for_another_audience_is_401(self, registry, registry_app, world):
        key = registry_app.state.issuer.key
        r = await _get_grids_with(
            registry, key.private, key.kid, aud="gridgov-resident", sub="o1", role="resident", scope=""
        )
        assert r.status_code == 401
        assert "audience" in r.json()["detail"]

    async def test_token_signed_by_another_key_is_401(self, registry, world):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        r = await _get_grids_with(registry, Ed25519PrivateKey.generate(), "forged")
        assert r.status_code == 401
        assert "unknown key" in r.json()["detail"]

    @pytest.mark.parametrize("bad", ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
    async def test_garbage_tokens_are_401(self, registry, world, bad):
        r = await registry.get("/api/v1/grids", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401

    async def test_key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
        self, registry, registry_app, world, token
    ):
        old = token(*ADMIN)
        old_kid = registry_app.state.issuer.key.kid
        r = await registry.post("/api/v1/auth/keys/rotate", headers=old)
        assert r.status_code == 200
        new_kid = r.json()["kid"]
        assert new_kid != old_kid
        kids = [k["kid"] for k in (await registry.get("/.well-known/jwks.json")).json()["keys"]]
        assert set(kids) >= {old_kid, new_kid}
        assert (await registry.get("/api/v1/grids", headers=old)).status_code == 200
        fresh = token(*ADMIN, username="after-rotation")
        assert jwt.get_unverified_header(fresh["Authorization"][7:])["kid"] == new_kid
        assert (await registry.get("/api/v1/grids", headers=fresh)).status_code == 200

    async def test_only_district_admins_rotate_keys(self, registry, world, token):
        r = await registry.post("/api/v1/auth/keys/rotate", headers=token("community_admin", "320411001001"))
        assert r.status_code == 403


class TestKeySetRefresh:
    async def test_unknown_kid_triggers_one_refresh(self):
        calls = []

        async def fetch():
            calls.append(1)
            return {"keys": []}

        ks = KeySet(fetch, min_refresh_interval=60)
        assert await ks.get("a") is None
        assert await ks.get("b") is None  # within the interval: no second fetch
        assert len(calls) == 1

    async def test_unreachable_jwks_is_401_not_500(self):
        async def fetch():
            raise httpx.ConnectError("down")

        verifier = TokenVerifier(KeySet(fetch), issuer="gridgov-registry")
        tok = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": "k1"})
        with pytest.raises(Unauthorized):
            await verifier.verify(tok, audience=STAFF_AUDIENCE)


class TestStaffAccounts:
    async def test_community_admin_creates_grid_workers_only_in_scope(self, registry, world, token):
        cadmin = token("community_admin", "320411001001")
        ok = await registry.post(
            "/api/v1/staff-accounts",
            headers=cadmin,
            json={
                "username": "gw.new",
                "password": PASSWORD,
                "role": "grid_worker",
                "scope": ["320411001001002"],
                "display_name": "新网格员",
            },
        )
        assert ok.status_code == 201, ok.text
        other = await registry.post(
            "/api/v1/staff-accounts",
            headers=cadmin,
            json={
                "username": "gw.other",
                "password": PASSWORD,
                "role": "grid_worker",
                "scope": ["320411002001001"],
                "display_name": "别处",
            },
        )
        assert other.status_code == 403
        admin = await registry.post(
            "/api/v1/staff-accounts",
            headers=cadmin,
            json={
                "username": "boss",
                "password": PASSWORD,
                "role": "district_admin",
                "scope": ["320411"],
                "display_name": "越权",
            },
        )
        assert admin.status_code == 403

    async def test_scope_must_match_the_role_level(self, registry, world, token):
        r = await registry.post(
            "/api/v1/staff-accounts",
            headers=token(*ADMIN),
            json={
                "username": "bad.scope",
                "password": PASSWORD,
                "role": "community_admin",
                "scope": ["320411001"],
                "display_name": "错",
            },
        )
        assert r.status_code == 422
        assert "12 digits" in r.json()["detail"]

    async def test_short_password_is_refused(self, registry, world, token):
        r = await registry.post(
            "/api/v1/staff-accounts",
            headers=token(*ADMIN),
            json={
                "username": "short.pw",
                "password": "123",
                "role": "integration",
                "scope": ["12345"],
                "display_name": "短",
            },
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "password"]

    async def test_duplicate_username_is_409(self, registry, world, token):
        await _make_account(registry, token)
        r = await registry.post(
            "/api/v1/staff-accounts",
            headers=token(*ADMIN),
            json={
                "username": "wang.li",
                "password": PASSWORD,
                "role": "integration",
                "scope": ["12345"],
                "display_name": "重名",
            },
        )
        assert r.status_code == 409
