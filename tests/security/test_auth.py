"""Every endpoint has an auth test, generated from each service's OpenAPI document (tests/security/cases.py):
no token, a forged token, a token for another API, a role with nothing to do in the service, and an
area role (or resident) of another street. A new endpoint is covered the day it is added; a new
endpoint without `security` must be named in PUBLIC with the reason it may be.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import STAFF_AUDIENCE
from tests.security.cases import WRITE_METHODS, Operation, call, fill_path, is_problem, operations

STAFF_SERVICES = ("registry", "dispatch", "wishes")
SERVICES = (*STAFF_SERVICES, "mobile")

# Operations without `security` in their document, and why each may be.
PUBLIC = {
    "get_healthz": "liveness probe",
    "get_readyz": "readiness probe, says only ready or not",
    "get_metrics": "Prometheus scrape, no personal data (route templates and counts)",
    "create_token": "the login itself",
    "get_jwks": "public keys",
    "get_import_template": "an empty spreadsheet with the ledger headers",
    "receive_hotline_order": "12345 orders are HMAC-signed with an app key (checked below)",
    "get_hotline_order": "12345 order status is HMAC-signed with an app key (checked below)",
    "login_wechat": "the resident login itself",
    "refresh_tokens": "takes a refresh token in the body",
    "get_photo": "mobile: unguessable photo ids for <image src> (a public, EXIF-stripped copy)",
    "get_wish_photo": "mobile: signed, expiring links for <image src> (checked below)",
}

# Writes by method that only read (a body keeps the input out of URLs and logs): judged as reads.
READ_BY_POST = {
    "match_standards": "ranks handling standards for a text; the catalogue is not personal data",
    "lookup_resident": "finds a resident by identity number",
    "check_resident_identity": "answers whether name, phone and id_last4 match",
}
# Reads an area role of another street may make, and why.
OPEN_READS = {
    "get_grid_card": "the public grid card (网格公示牌): grid team and service phones, posted for everyone",
}

# a role with nothing to do in the service, per staff service
OUTSIDER = {
    "registry": ("unit_liaison", "MU001"),
    "dispatch": ("unit_liaison", "MU001"),
    "wishes": ("department_handler", "CGJ"),
}
# an area role of the other street (the seeded resources are all in street 320411001)
OTHER_STREET = {
    "registry": ("grid_worker", "320411002001001"),
    "dispatch": ("street_dispatcher", "320411002"),
    "wishes": ("grid_worker", "320411002001001"),
}
# path parameters that name a resource of street 320411001 (the resources an area role is scoped on)
SCOPED_PARAMS = {
    "registry": ("resident_id", "household_id", "building_id", "area_id", "grid_id"),
    "dispatch": ("ticket_id", "number"),
    "wishes": ("wish_id",),
    "mobile": ("number", "wish_id"),
}


def secured(service: str) -> list[Operation]:
    return [op for op in operations(service) if op.secured]


def _b64(d: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")


def forged_tokens(claims: dict[str, Any], kid: str) -> dict[str, str]:
    """Tokens a stranger could make: the right claims and kid, signed with another key; and `alg: none`."""
    other = Ed25519PrivateKey.generate()
    return {
        "wrong key": jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": kid}),
        "alg none": _b64({"alg": "none", "typ": "JWT", "kid": kid}) + "." + _b64(claims) + ".",
        "garbage": "not-a-jwt",
    }


def staff_claims(issuer: Any, role: str = "district_admin", scope: str = "320411") -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "aud": STAFF_AUDIENCE,
        "sub": "forger",
        "role": role,
        "scope": scope,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }


def resident_claims(mobile_app: Any, alice: Any) -> dict[str, Any]:
    tokens = mobile_app.state.tokens
    good = jwt.decode(alice.headers["Authorization"][7:], options={"verify_signature": False})
    return {**good, "jti": uuid.uuid4().hex, "iss": tokens.issuer}


@pytest.mark.parametrize("service", SERVICES)
def test_every_unsecured_operation_is_a_known_public_one(service: str) -> None:
    unknown = [str(op) for op in operations(service) if not op.secured and op.op_id not in PUBLIC]
    assert not unknown, f"operations without `security` and no reason in PUBLIC: {unknown}"


async def test_secured_operations_refuse_missing_forged_and_foreign_tokens(
    seeded: Any, registry_app: Any, mobile_app: Any, token: Any
) -> None:
    """(a) no token, (b) forged tokens, (c) the other audience: every one a 401 problem."""
    issuer = registry_app.state.issuer
    staff_forged = forged_tokens(staff_claims(issuer), issuer.key.kid)
    resident_forged = forged_tokens(resident_claims(mobile_app, seeded.alice), mobile_app.state.tokens.kid)
    wrong_audience = {
        **{s: seeded.alice.headers for s in STAFF_SERVICES},  # a live resident token on staff APIs
        "mobile": token("district_admin", "320411"),  # a staff token on the mobile API
    }
    failures, checked = [], 0
    for service in SERVICES:
        client = seeded.clients[service]
        forged = resident_forged if service == "mobile" else staff_forged
        variants = {
            "no token": {},
            "empty bearer": {"Authorization": "Bearer "},
            "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
            **{name: {"Authorization": f"Bearer {tok}"} for name, tok in forged.items()},
            "wrong audience": wrong_audience[service],
        }
        for op in secured(service):
            for name, headers in variants.items():
                r = await call(client, op, seeded.ids, headers, seeded.inputs)
                checked += 1
                if not is_problem(r, 401):
                    failures.append(f"{op} [{name}]: {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)
    assert checked == len(variants) * sum(len(secured(s)) for s in SERVICES) >= 7 * 130, checked


PII_MARKERS_OF = ("name", "phone")


def _personal_data(world: Any) -> list[str]:
    """Strings that identify the world's residents: names, phones, identity numbers and their masks."""
    out = []
    for r, n in zip(world.residents, world.numbers, strict=True):
        out += [r.name, r.phone, n, r.id_masked]
    return out


async def test_a_role_with_nothing_to_do_here_changes_nothing_and_sees_no_residents(
    seeded: Any, token: Any
) -> None:
    """(d) A unit liaison on the registry and dispatch, a department handler on wishes: every write is
    401/403/404; every read is 403/404, or an answer with no resident's name, phone or identity number."""
    personal = _personal_data(seeded.world)
    failures, writes, reads = [], 0, 0
    for service in STAFF_SERVICES:
        role, scope = OUTSIDER[service]
        headers = token(role, scope, username=f"outsider-{role}")
        client = seeded.clients[service]
        for op in secured(service):
            r = await call(client, op, seeded.ids, headers, seeded.inputs)
            if op.method in WRITE_METHODS and op.op_id not in READ_BY_POST:
                writes += 1
                if r.status_code not in (401, 403, 404):
                    failures.append(f"{op} as {role}: {r.status_code} {r.text[:200]}")
                continue
            reads += 1
            if r.status_code in (403, 404):
                continue
            if r.status_code != 200:
                failures.append(f"{op} as {role}: {r.status_code} {r.text[:200]}")
                continue
            leaked = [p for p in personal if p in r.text]
            if leaked:
                failures.append(f"{op} as {role}: shows residents' data {leaked[:3]}")
    assert not failures, "\n".join(failures)
    assert writes > 60 and reads > 50, (writes, reads)


def _scoped_ops(service: str) -> list[Operation]:
    return [op for op in secured(service) if any("{" + p + "}" in op.path for p in SCOPED_PARAMS[service])]


async def test_an_area_role_of_another_street_cannot_read_or_change_this_streets_resources(
    seeded: Any, token: Any
) -> None:
    """(e) Every operation on a resident, household, building or area (registry), a ticket (dispatch) or a
    wish (wishes) of street 320411001, called by an area role of street 320411002: 403 or 404, and the
    main lists leave those rows out."""
    failures, checked = [], 0
    for service in STAFF_SERVICES:
        role, scope = OTHER_STREET[service]
        headers = token(role, scope, username=f"other-{role}")
        client = seeded.clients[service]
        for op in _scoped_ops(service):
            if op.op_id in OPEN_READS:
                continue
            r = await call(client, op, seeded.ids, headers, seeded.inputs)
            checked += 1
            if r.status_code not in (403, 404):
                failures.append(f"{op} as {role} {scope}: {r.status_code} {r.text[:200]}")
    world = seeded.world
    lists = [
        ("registry", "/api/v1/residents", str(world.residents[0].id)),
        ("registry", "/api/v1/households", world.households[0].code),
        ("registry", "/api/v1/buildings", world.buildings[0].code),
        ("dispatch", "/api/v1/tickets", seeded.ticket["number"]),
        ("wishes", "/api/v1/wishes", seeded.wish["title"]),
    ]
    for service, path, marker in lists:
        role, scope = OTHER_STREET[service]
        r = await seeded.clients[service].get(path, headers=token(role, scope, username="other"))
        if r.status_code not in (200, 403) or (r.status_code == 200 and marker in r.text):
            failures.append(f"{service} GET {path} as {role} {scope} shows {marker}: {r.status_code}")
    assert not failures, "\n".join(failures)
    assert checked >= 25, checked


async def test_another_resident_sees_no_ticket_or_wish_of_mine(seeded: Any) -> None:
    """(e, mobile) Bob (street 320411002) on every operation naming alice's ticket or wish: 404, as if it
    did not exist; his lists leave them out."""
    mobile, bob = seeded.clients["mobile"], seeded.bob
    failures, checked = [], 0
    for op in _scoped_ops("mobile"):
        r = await call(mobile, op, seeded.ids, bob.headers, seeded.inputs)
        checked += 1
        if not is_problem(r, 404):
            failures.append(f"{op} as bob: {r.status_code} {r.text[:200]}")
    for path, marker in (("/m/v1/tickets", seeded.ids["number"]), ("/m/v1/wishes", seeded.wish["title"])):
        r = await mobile.get(path, headers=bob.headers)
        if r.status_code != 200 or marker in r.text:
            failures.append(f"GET {path} as bob: {r.status_code} shows {marker}")
    assert not failures, "\n".join(failures)
    assert checked >= 6, checked
    # the same calls as alice work, so the 404s above are about ownership, not bad ids
    r = await mobile.get(fill_path("/m/v1/tickets/{number}", seeded.ids), headers=seeded.alice.headers)
    assert r.status_code == 200, r.text
    r = await mobile.get(fill_path("/m/v1/wishes/{wish_id}", seeded.ids), headers=seeded.alice.headers)
    assert r.status_code == 200, r.text
