"""A local fake of WeChat's mini-program login API (登录凭证校验, `auth.code2Session`).

It speaks the real protocol: `GET /sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code`
answers 200 with a JSON body served as `text/plain` (as WeChat does), either
`{"openid", "session_key"[, "unionid"]}` or `{"errcode", "errmsg"}`. Codes:

- `test:<openid>` logs in as that openid (letters, digits, `_` and `-`, up to 64);
  `test:<openid>/<unionid>` adds a unionid, as WeChat does for apps bound to an Open Platform account;
- `busy:<anything>` answers errcode -1 (system busy), `quota:<anything>` 45011 (minute quota reached),
  `used:<anything>` 40163 (code already used), `risky:<anything>` 40226 (high-risk user);
- an empty code is 41008 (missing code); anything else is 40029 (invalid code); a wrong appid is
  40013, a wrong secret 40125, a wrong grant_type 40002.

Unlike WeChat, a `test:` code may be used more than once, so tests and demos can log in again with it.

`make run` serves it on 127.0.0.1:8009 and points the mobile service at it; tests use `transport()`.
Run alone: `python -m uvicorn tools.wechat_fake:create_app --factory --port 8009`, with
`WECHAT_FAKE_APP_ID` and `WECHAT_FAKE_APP_SECRET` matching the mobile service's settings.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets

import httpx
import orjson
from fastapi import FastAPI, Query, Response

OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _rid() -> str:
    return secrets.token_hex(4) + "-" + secrets.token_hex(4)


def create_app(app_id: str | None = None, app_secret: str | None = None) -> FastAPI:
    app_id = app_id or os.environ.get("WECHAT_FAKE_APP_ID", "wx0000000000000000")
    app_secret = app_secret or os.environ.get("WECHAT_FAKE_APP_SECRET", "")
    app = FastAPI(title="Fake WeChat code2session", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.calls = 0

    def answer(body: dict) -> Response:
        # WeChat serves this JSON as text/plain; clients must not rely on the content type
        return Response(orjson.dumps(body), media_type="text/plain")

    def error(code: int, msg: str) -> Response:
        return answer({"errcode": code, "errmsg": f"{msg} rid: {_rid()}"})

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/sns/jscode2session")
    async def jscode2session(
        appid: str = Query(""),
        secret: str = Query(""),
        js_code: str = Query(""),
        grant_type: str = Query(""),
    ) -> Response:
        app.state.calls += 1
        if appid != app_id:
            return error(40013, "invalid appid")
        if app_secret and secret != app_secret:
            return error(40125, "invalid appsecret")
        if grant_type != "authorization_code":
            return error(40002, "invalid grant_type")
        if not js_code:
            return error(41008, "missing code")
        kind, _, rest = js_code.partition(":")
        if kind == "busy":
            return error(-1, "system error")
        if kind == "quota":
            return error(45011, "api minute-quota reach limit  mustslower  retry next minute")
        if kind == "used":
            return error(40163, "code been used")
        if kind == "risky":
            return error(40226, "high risk user")
        openid, _, unionid = rest.partition("/")
        if kind != "test" or not OPENID.match(openid) or (unionid and not OPENID.match(unionid)):
            return error(40029, "invalid code")
        session_key = base64.b64encode(hashlib.sha256(f"{app_id}:{openid}".encode()).digest()[:16]).decode()
        body = {"openid": openid, "session_key": session_key}
        if unionid:
            body["unionid"] = unionid
        return answer(body)

    return app


def transport(app_id: str | None = None, app_secret: str | None = None) -> httpx.ASGITransport:
    """The fake as an in-process transport (tests)."""
    return httpx.ASGITransport(app=create_app(app_id, app_secret))
