"""The WeChat code2session fake speaks WeChat's format: 200 with JSON served as text/plain, errcodes for
every failure the mobile service handles."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tools.wechat_fake import create_app

APP_ID, SECRET = "wx1234567890abcdef", "fake-app-secret-0001"


@pytest.fixture
async def wx():
    transport = httpx.ASGITransport(app=create_app(APP_ID, SECRET))
    async with httpx.AsyncClient(transport=transport, base_url="http://wechat") as c:
        yield c


async def call(wx: httpx.AsyncClient, code: str, **kw: str) -> tuple[httpx.Response, dict]:
    params = {"appid": APP_ID, "secret": SECRET, "js_code": code, "grant_type": "authorization_code", **kw}
    r = await wx.get("/sns/jscode2session", params=params)
    return r, orjson.loads(r.content)


async def test_a_test_code_answers_openid_and_session_key_as_text_plain_json(wx):
    r, body = await call(wx, "test:oGZUI0egBJY1zhBYw2KhdUfwVJJE")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert body["openid"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert len(body["session_key"]) == 24 and "errcode" not in body and "unionid" not in body


async def test_a_unionid_comes_with_the_openid_when_asked_for(wx):
    _, body = await call(wx, "test:alice/union-alice")
    assert body["openid"] == "alice" and body["unionid"] == "union-alice"


async def test_the_same_openid_gets_the_same_session_key(wx):
    (_, a), (_, b) = await call(wx, "test:bob"), await call(wx, "test:bob")
    assert a["session_key"] == b["session_key"]


@pytest.mark.parametrize(
    ("code", "errcode"),
    [
        ("busy:x", -1),
        ("quota:x", 45011),
        ("used:x", 40163),
        ("risky:x", 40226),
        ("nonsense", 40029),
        ("test:bad openid!", 40029),
        ("", 41008),
    ],
)
async def test_failures_are_errcodes_in_a_200_text_plain_answer(wx, code, errcode):
    r, body = await call(wx, code)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert body["errcode"] == errcode and "rid:" in body["errmsg"]
    assert "openid" not in body and "session_key" not in body


@pytest.mark.parametrize(
    ("override", "errcode"),
    [
        ({"appid": "wxwrong"}, 40013),
        ({"secret": "wrong"}, 40125),
        ({"grant_type": "client_credential"}, 40002),
    ],
)
async def test_wrong_app_credentials_or_grant_type_are_refused(wx, override, errcode):
    _, body = await call(wx, "test:alice", **override)
    assert body["errcode"] == errcode
