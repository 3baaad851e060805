"""WeChat mini-program login: exchange a `wx.login()` code for the user's openid (auth.code2Session).

`GET {wechat_base_url}/sns/jscode2session?appid&secret&js_code&grant_type=authorization_code` answers
200 with JSON served as `text/plain`: `{"openid", "session_key"[, "unionid"]}` or `{"errcode", "errmsg"}`.
The session_key is dropped at once (this service decrypts nothing) and neither it nor the AppSecret is
ever logged: our own log lines name only the errcode, and the log formatter redacts `secret=` in the
URL that httpx logs.

A code is single-use, so a call is never retried after it may have reached WeChat (the transport
retries only failed connections).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
import orjson

from services.mobile.account.errors import WechatRiskyUser
from services.mobile.errors import WechatRejected
from services.mobile.settings import MobileSettings
from shared.problems import UpstreamError, UpstreamUnavailable

log = logging.getLogger("gridgov.mobile.wechat")

CODE_INVALID = {40029, 40163}  # invalid code; code already used
BUSY = {-1, 45011}  # system busy; API minute-quota reached
RISKY = 40226  # high-risk user (WeChat's own risk control)
RETRY_AFTER_S = 2


@dataclass(frozen=True)
class WechatIdentity:
    openid: str
    unionid: str | None


async def code2session(http: httpx.AsyncClient, settings: MobileSettings, code: str) -> WechatIdentity:
    params = {
        "appid": settings.wechat_app_id,
        "secret": settings.wechat_app_secret,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    try:
        r = await http.get("/sns/jscode2session", params=params)
    except httpx.TimeoutException:
        raise UpstreamUnavailable(
            "WeChat did not answer the login in time; try again.",
            upstream="wechat",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(
            f"WeChat could not be reached ({type(exc).__name__}); try again.",
            upstream="wechat",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    if r.status_code >= 500:
        raise UpstreamUnavailable(
            f"WeChat answered {r.status_code}; try again.",
            upstream="wechat",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    try:
        # served as text/plain: parse the body whatever its content type says
        body = orjson.loads(r.content)
    except orjson.JSONDecodeError:
        body = None
    if r.status_code != 200 or not isinstance(body, dict):
        log.error("wechat code2session: unexpected answer", extra={"status": r.status_code})
        raise UpstreamError(f"WeChat answered the login with HTTP {r.status_code}.", upstream="wechat")
    errcode = body.get("errcode") or 0
    if errcode == 0 and isinstance(body.get("openid"), str) and body["openid"]:
        unionid = body.get("unionid")
        return WechatIdentity(body["openid"][:64], unionid[:64] if isinstance(unionid, str) else None)
    if errcode in CODE_INVALID:
        raise WechatRejected(
            "WeChat rejected this login code (invalid, expired or already used): call wx.login() again "
            "and send the new code at once.",
            errcode=errcode,
        )
    if errcode in BUSY:
        raise UpstreamUnavailable(
            "WeChat is busy and could not check the login; try again in a few seconds.",
            upstream="wechat",
            errcode=errcode,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if errcode == RISKY:
        raise WechatRiskyUser(
            "WeChat's risk control blocked this login (high-risk user); it cannot be completed here.",
            errcode=errcode,
        )
    # 40013 invalid appid, 40125 invalid secret, ...: the operator's configuration, not the user's
    log.error("wechat code2session refused the login", extra={"errcode": errcode})
    raise UpstreamError(
        f"WeChat refused the login with errcode {errcode}; the service's WeChat settings may be wrong.",
        upstream="wechat",
        errcode=errcode,
    )
