"""No secret, token or identity number reaches a log line.

The four services run a flow that handles every kind of secret (staff login with a password, a service
login with its client secret, WeChat login with the app secret and a session_key, binding with id_last4,
a resident import and a lookup with full identity numbers, a reveal, signed 12345 orders), with the root
logger at DEBUG as `<PREFIX>_LOG_LEVEL=DEBUG` sets it (httpx, httpcore and the access log all speak;
SQLAlchemy keeps its own logger at WARN unless told otherwise). Every record is formatted the way a service writes it, JSON with its extras and plain text,
and searched for each secret.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import logging
import re
from datetime import date
from typing import Any

import httpx
import pytest

from shared.logging import JsonFormatter, PlainFormatter
from tests.conftest import CALLBACK_SECRET, DISPATCH_SECRET, MOBILE_SECRET, WECHAT_APP_SECRET, WISHES_SECRET
from tests.dispatch.hotline_helpers import APP_KEY, APP_SECRET, install_key, work_order
from tests.mobile.account_helpers import details, login
from tests.registry.builders import id_number
from tools.hotline_platform import PlatformClient

# GB 11643: 6-digit region, birth date, 3-digit order, check character
ID_NUMBER = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])"
)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
PASSWORD = "Correct-Horse-Battery-77"
WRONG_PASSWORD = "Wrong-Horse-Battery-88"
HEADER = ["楼栋编码", "单元", "房号", "姓名", "性别", "身份证号", "联系电话", "与户主关系", "标签"]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handler = Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _csv(world: Any, numbers: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    for i, num in enumerate(numbers):
        gender = "男" if int(num[16]) % 2 else "女"
        w.writerow(
            [
                world.buildings[0].code,
                "2",
                f"{600 + i}",
                f"导入{i}",
                gender,
                num,
                f"1370001{i:04d}",
                "户主",
                "",
            ]
        )
    return buf.getvalue().encode("utf-8-sig")


async def test_no_secret_token_or_identity_number_in_any_log_line(
    captured,
    seeded,
    token,
    registry_app,
    registry_settings,
    dispatch_app,
    dispatch_settings,
    mobile_app,
    mobile_settings,
    maker,
    platform,  # the fake 12345 platform's callback receiver
) -> None:  # type: ignore[no-untyped-def]
    registry, dispatch, mobile = (seeded.clients[s] for s in ("registry", "dispatch", "mobile"))
    world = seeded.world
    admin = token("district_admin", "320411")
    tokens: list[str] = []

    # staff: an account made with a password, a failed and a good login, a service login
    r = await registry.post(
        "/api/v1/staff-accounts",
        json={
            "username": "sec-admin",
            "password": PASSWORD,
            "role": "district_admin",
            "scope": ["320411"],
            "display_name": "安全审查",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = await registry.post("/api/v1/auth/token", data={"username": "sec-admin", "password": WRONG_PASSWORD})
    assert r.status_code == 401
    r = await registry.post("/api/v1/auth/token", data={"username": "sec-admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    tokens.append(r.json()["access_token"])
    me = {"Authorization": f"Bearer {tokens[-1]}"}
    assert (await registry.get("/api/v1/auth/me", headers=me)).status_code == 200
    for secret in (DISPATCH_SECRET, "not-the-secret-xyz"):
        r = await registry.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": "svc-dispatch", "client_secret": secret},
        )
        if r.status_code == 200:
            tokens.append(r.json()["access_token"])

    # identity numbers: create, look up, reveal, a bad one, and an import
    new_number = id_number(date(1979, 4, 9), 611)
    r = await registry.post(
        "/api/v1/residents",
        json={
            "household_id": world.households[0].id,
            "name": "审查甲",
            "id_number": new_number,
            "phone": "13700009999",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    bad_number = new_number[:-1] + ("0" if new_number[-1] != "0" else "1")
    r = await registry.post("/api/v1/residents/lookup", json={"id_number": bad_number}, headers=admin)
    assert r.status_code == 422
    r = await registry.post("/api/v1/residents/lookup", json={"id_number": world.numbers[2]}, headers=admin)
    assert r.status_code == 200, r.text
    r = await registry.get(
        f"/api/v1/residents/{world.residents[3].id}", params={"reveal": "true"}, headers=admin
    )
    assert r.status_code == 200 and world.numbers[3] in r.text
    imported = [id_number(date(1990, 2, 3 + i), 720 + i) for i in range(3)]
    r = await registry.post(
        "/api/v1/imports/residents",
        headers=admin,
        files={"file": ("台账.csv", _csv(world, imported), "text/csv")},
    )
    assert r.status_code in (200, 201), r.text
    broken = [imported[0][:-1] + ("1" if imported[0][-1] != "1" else "2")]
    r = await registry.post(
        "/api/v1/imports/residents",
        headers=admin,
        files={"file": ("台账.csv", _csv(world, broken), "text/csv")},
    )
    assert r.status_code == 422, r.text

    # residents: WeChat login (app secret, session_key), refresh, binding with id_last4 (wrong, then right)
    carol = await login(mobile, "carol")
    tokens += [carol["access_token"], carol["refresh_token"]]
    r = await mobile.post("/m/v1/auth/refresh", json={"refresh_token": carol["refresh_token"]})
    assert r.status_code == 200, r.text
    tokens += [r.json()["access_token"], r.json()["refresh_token"]]
    carol_headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    wrong = {**details(world, 5), "id_last4": "0000" if world.numbers[5][-4:] != "0000" else "1111"}
    r = await mobile.post("/m/v1/me/binding", json=wrong, headers=carol_headers)
    assert r.status_code == 422, r.text
    r = await mobile.post("/m/v1/me/binding", json=details(world, 5), headers=carol_headers)
    assert r.status_code == 201, r.text
    assert (await mobile.get("/m/v1/me", headers=carol_headers)).status_code == 200
    tokens += [seeded.alice.headers["Authorization"][7:], seeded.bob.headers["Authorization"][7:]]

    # 12345: signed orders in (one good, one forged), callbacks out signed with the callback secret
    await install_key(dispatch_app, maker)
    client = PlatformClient(
        "http://dispatch", APP_KEY, APP_SECRET, transport=httpx.ASGITransport(app=dispatch_app)
    )
    r = await client.post_order(work_order("GD202612070001", lat=31.8216))
    assert r.status_code == 201, r.text
    forged = PlatformClient(
        "http://dispatch", APP_KEY, "a-guessed-secret", transport=httpx.ASGITransport(app=dispatch_app)
    )
    assert (await forged.post_order(work_order("GD202612070002"))).status_code == 401
    assert (await client.get_order("GD202612070001")).status_code == 200
    number = r.json()["ticket_number"]
    ticket = (await dispatch.get(f"/api/v1/tickets/by-number/{number}", headers=admin)).json()
    r = await dispatch.post(
        f"/api/v1/tickets/{ticket['id']}/transitions",
        json={"action": "accept"},
        headers=token("department_handler", "CGJ"),
    )
    assert r.status_code == 200, r.text
    courier = dispatch_app.state.hotline_courier
    assert await courier.drain(maker) >= 1  # 签收 posted to the fake platform, signed with our secret
    assert platform.received, "no callback reached the fake platform"

    # everything the flow logged, as the services would write it
    jsonf, plainf = JsonFormatter("test"), PlainFormatter("%(levelname)s %(name)s %(message)s")
    lines = []
    for rec in captured.records:
        lines.append(jsonf.format(rec))
        lines.append(plainf.format(rec))
    assert any('"logger":"gridgov.access"' in line for line in lines), "the access log was not captured"
    # the services log nothing at DEBUG today; httpx logs each service-to-service call at INFO
    assert any(rec.name == "httpx" for rec in captured.records), "the outbound HTTP log was not captured"

    secrets_ = {
        "staff password": PASSWORD,
        "wrong staff password": WRONG_PASSWORD,
        "dispatch client secret": DISPATCH_SECRET,
        "wishes client secret": WISHES_SECRET,
        "mobile client secret": MOBILE_SECRET,
        "WeChat app secret": WECHAT_APP_SECRET,
        "12345 app secret": APP_SECRET,
        "12345 callback secret": CALLBACK_SECRET,
        "registry data key": registry_settings.data_key,
        "registry lookup key": registry_settings.lookup_key,
        "dispatch secrets key": dispatch_settings.secrets_key,
        "mobile token key": mobile_settings.token_key,
    }
    for openid in ("alice", "bob", "carol"):  # the fake's session_key for each login (tools/wechat_fake.py)
        sk = base64.b64encode(
            hashlib.sha256(f"{mobile_settings.wechat_app_id}:{openid}".encode()).digest()[:16]
        )
        secrets_[f"session_key of {openid}"] = sk.decode()
        # the one-time code from wx.login(), sent to code2session in the query string
        secrets_[f"WeChat login code of {openid}"] = f"test%3A{openid}"
    for i, tok in enumerate(tokens):
        secrets_[f"token {i}"] = tok
        secrets_[f"token {i} signature"] = tok.rsplit(".", 1)[-1] if tok.count(".") == 2 else tok
    leaks = []
    for line in lines:
        for what, value in secrets_.items():
            if value and str(value) in line:
                leaks.append(f"{what}: {line[:300]}")
        for m in ID_NUMBER.finditer(line):
            leaks.append(f"identity number {m.group()}: {line[:300]}")
        if JWT.search(line):
            leaks.append(f"bearer token: {line[:300]}")
        if re.search(r"(?i)\bid_last4\b[^,}]*\d{3}[0-9Xx]", line):
            leaks.append(f"id_last4: {line[:300]}")
    assert not leaks, f"{len(leaks)} leaks in {len(captured.records)} records:\n" + "\n".join(leaks[:40])
    assert len(captured.records) >= 50, len(captured.records)


def _json_line(**extra: Any) -> dict[str, Any]:
    import json

    rec = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": "event", "args": None, **extra})
    return json.loads(JsonFormatter("test").format(rec))


def test_extras_are_redacted_however_deeply_they_are_nested():
    """An extra is not always a string: a dict from an upstream's answer, a list of rows, a phone number
    held as an int, or an object that is logged by its str. Each is redacted the same way."""

    class Row:
        def __str__(self) -> str:
            return "Row(id_number=110101199003071234)"

    line = _json_line(
        upstream={
            "status": 401,
            "body": {"detail": "phone 13812345678 not found", "items": ["Bearer a.b.c"]},
        },
        rows=[("320411198805161238", "ok"), {"phone": 13912345678}],
        phone=13712345678,
        row=Row(),
        session={"token": {"refresh": "q8Jm0c3R1w6s2Fh5tT9yX4vB7nK1pL0aZ3eD6gU2iO8"}},
        count=42,
        ratio=0.5,
        flag=True,
    )
    text = str(line)
    for secret in ("13812345678", "320411198805161238", "13912345678", "13712345678", "110101199003071234"):
        assert secret not in text, secret
    assert "a.b.c" not in text and "q8Jm0c3R" not in text
    assert line["upstream"]["status"] == 401
    assert line["upstream"]["body"]["detail"] == "phone 138****5678 not found"
    assert line["rows"][1] == {"phone": "139****5678"}
    assert line["phone"] == "137****5678"
    assert line["session"] == {"token": "[redacted]"}
    assert (line["count"], line["ratio"], line["flag"]) == (42, 0.5, True)


def test_a_self_referencing_extra_does_not_break_the_log_line():
    loop: dict[str, Any] = {}
    loop["self"] = loop
    line = _json_line(loop=loop)
    assert "[nested too deep]" in str(line)
