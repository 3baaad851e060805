"""Login, token refresh and logout; binding to a household; "my home". Thin handlers: the rules live in
`service` (sessions and tokens) and `binding` (binding and my home)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request, Response

from services.mobile.account import binding, service, wechat
from services.mobile.account.errors import RefreshReused
from services.mobile.account.schemas import (
    ME_BOUND,
    ME_UNBOUND,
    BindingCreate,
    BindingRead,
    MeRead,
    RefreshBody,
    TokenPair,
    WechatLogin,
)
from services.mobile.deps import CurrentResident, RegistryDep, SessionDep, SettingsDep
from shared.problems import PROBLEM_BASE, PROBLEM_JSON, problems

router = APIRouter(prefix="/m/v1")


def _problem(status: int, type_: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": PROBLEM_BASE + type_, "title": title, "status": status, "detail": detail, **extra}


P_TOKEN = _problem(
    401,
    "invalid-token",
    "The access token is not valid here",
    "The access token has expired: get a new one with POST /m/v1/auth/refresh.",
)
P_STAFF = _problem(
    401,
    "invalid-token",
    "The access token is not valid here",
    "This is a staff token. The mobile API takes resident tokens: log in with POST /m/v1/auth/wechat.",
)
P_REGISTRY_DOWN = _problem(
    503,
    "upstream-unavailable",
    "A service this request needs is unavailable",
    "The registry service did not answer (ConnectError).",
    upstream="registry",
)
P_VALIDATION = _problem(
    422,
    "validation-error",
    "Request validation failed",
    "1 invalid field(s); first: body.phone: phone: the 11-digit mainland mobile number registered with "
    "your household, e.g. 13912345678",
    errors=[
        {
            "loc": ["body", "phone"],
            "msg": "phone: the 11-digit mainland mobile number …",
            "type": "value_error",
        }
    ],
)


def documented(examples: dict[int, dict[str, dict[str, Any]]]) -> dict[int | str, dict[str, Any]]:
    """`problems(...)` for these codes, each with named examples of its body."""
    out = problems(*examples)
    for code, named in examples.items():
        entry = copy.deepcopy(out[code])
        entry["content"][PROBLEM_JSON]["examples"] = {
            name: {"summary": body["title"], "value": body} for name, body in named.items()
        }
        out[code] = entry
    return out


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"  # token answers must not be cached (RFC 6749 §5.1)
    response.headers["Pragma"] = "no-cache"


def client_ip(request: Request) -> str:
    """The caller's address. Behind a reverse proxy, run uvicorn with `--proxy-headers` and
    `--forwarded-allow-ips` so this is the client's, not the proxy's."""
    return request.client.host if request.client else "unknown"


# ---- auth ----------------------------------------------------------------------------------------------


@router.post(
    "/auth/wechat",
    response_model=TokenPair,
    tags=["auth"],
    summary="Log in with a wx.login() code",
    responses=documented(
        {
            401: {
                "code-rejected": _problem(
                    401,
                    "wechat-login-failed",
                    "WeChat did not accept this login code",
                    "WeChat rejected this login code (invalid, expired or already used): call wx.login() "
                    "again and send the new code at once.",
                    errcode=40163,
                )
            },
            403: {
                "risky-user": _problem(
                    403,
                    "wechat-risky-user",
                    "WeChat blocked this login as high-risk",
                    "WeChat's risk control blocked this login (high-risk user); it cannot be completed here.",
                    errcode=40226,
                ),
            },
            422: {
                "bad-code": P_VALIDATION | {"detail": "1 invalid field(s); first: body.code: Field required"}
            },
            502: {
                "misconfigured": _problem(
                    502,
                    "upstream-error",
                    "A service this request needs answered with an error",
                    "WeChat refused the login with errcode 40125; the service's WeChat settings may be wrong.",
                    upstream="wechat",
                    errcode=40125,
                )
            },
            503: {
                "wechat-busy": _problem(
                    503,
                    "upstream-unavailable",
                    "A service this request needs is unavailable",
                    "WeChat is busy and could not check the login; try again in a few seconds.",
                    upstream="wechat",
                    errcode=-1,
                )
            },
        }
    ),
)
async def login_wechat(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep, body: WechatLogin
) -> TokenPair:
    """Exchange the code from `wx.login()` for a resident access token and a refresh token. The first
    login creates the account; `bound` says whether it is bound to a household yet (if not, bind with
    `POST /m/v1/me/binding`). A rejected code (401) needs a new `wx.login()`; WeChat busy (503) is
    worth a retry after `Retry-After` seconds."""
    _no_store(response)
    who = await wechat.code2session(request.app.state.wechat_http, settings, body.code)
    return await service.login(session, request.app.state.tokens, settings, who)


@router.post(
    "/auth/refresh",
    response_model=TokenPair,
    tags=["auth"],
    summary="Swap a refresh token for a new token pair",
    responses=documented(
        {
            401: {
                "reused": _problem(
                    401,
                    "refresh-token-reused",
                    "The refresh token was already used",
                    "This refresh token was already used once. A used token presented again may be a stolen "
                    "copy, so this session has been ended: log in again.",
                ),
                "expired": _problem(
                    401,
                    "invalid-refresh-token",
                    "The refresh token is not valid",
                    "This refresh token has expired: log in again (wx.login, then POST /m/v1/auth/wechat).",
                ),
            },
            403: {
                "disabled": _problem(
                    403,
                    "account-disabled",
                    "This account is disabled",
                    "This account has been disabled; contact your community (社区居委会).",
                )
            },
            422: {"malformed": P_VALIDATION | {"detail": "1 invalid field(s); first: body.refresh_token: …"}},
        }
    ),
)
async def refresh_tokens(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep, body: RefreshBody
) -> TokenPair:
    """Spend the refresh token for a new access token and a new refresh token (rotation). Each refresh
    token works **once**: presenting a spent one again ends the whole session (it may have been copied).
    Only within `MOBILE_REFRESH_REUSE_GRACE_S` (10 s) of its first use is a second use taken as the same
    client refreshing from two requests at once, and answered with another pair; the mini-program should
    still refresh one request at a time and keep the newest token. When the
    session ends (401), log in again with `wx.login()`; residents are not asked anything."""
    _no_store(response)
    try:
        return await service.refresh(
            session, request.app.state.tokens, body.refresh_token, settings.refresh_reuse_grace_s
        )
    except RefreshReused as exc:
        # commit the revocation before forgetting the cached session state, then answer 401
        await session.commit()
        request.app.state.sessions.forget(exc.session_id)
        raise


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    tags=["auth"],
    summary="Log out (end this session)",
    responses=documented({401: {"invalid-token": P_TOKEN}}),
)
async def logout_session(request: Request, session: SessionDep, resident: CurrentResident) -> Response:
    """End the session of this access token: the token and every refresh token of the session stop
    working at once on this replica, and within `session_cache_s` everywhere."""
    await service.revoke(session, resident.session_id, service.LOGOUT)
    await session.commit()  # before forgetting, so no request can re-read the session as live
    request.app.state.sessions.forget(resident.session_id)
    return Response(status_code=204)


# ---- me ------------------------------------------------------------------------------------------------


@router.get(
    "/me",
    response_model=MeRead,
    response_model_exclude_none=True,
    tags=["me"],
    summary="Me and my home",
    responses={
        200: {
            "content": {
                "application/json": {
                    "examples": {"bound": {"value": ME_BOUND}, "unbound": {"value": ME_UNBOUND}}
                }
            }
        },
        **documented(
            {401: {"expired": P_TOKEN, "staff-token": P_STAFF}, 503: {"registry-down": P_REGISTRY_DOWN}}
        ),
    },
)
async def get_me(
    session: SessionDep, resident: CurrentResident, registry: RegistryDep, settings: SettingsDep
) -> MeRead:
    """Before binding: `bound: false`, what to do, and the wrong attempts left. After: my household and
    its address, my micro-grid, grid, community and street, the grid team with their roles and phones
    (service phones in full and `callable`; personal mobiles only masked), my party-member central
    household (党员中心户) and resident representative (names; their numbers are private, masked), and my
    own name, masked. Always current: if the registry moved the resident, this follows; if it removed
    them, the binding is released and `bound` is false."""
    return await binding.home(session, registry, settings, resident.account_id)


@router.post(
    "/me/binding",
    response_model=BindingRead,
    status_code=201,
    tags=["me"],
    summary="Bind to my household",
    responses=documented(
        {
            401: {"expired": P_TOKEN, "staff-token": P_STAFF},
            409: {
                "resident-taken": _problem(
                    409,
                    "already-bound",
                    "This account or this resident is already bound",
                    "This resident is already bound to another WeChat account. If that is not you, ask your "
                    "community (社区居委会) to release it.",
                    message="该住户已被其他微信账号绑定，如非本人操作请联系社区居委会。",
                )
            },
            422: {
                "mismatch": _problem(
                    422,
                    "bind-mismatch",
                    "These details match no resident",
                    "These details match no resident: check your name, the mobile number registered with "
                    "your household and the last 4 characters of your identity number. 3 attempt(s) left.",
                    remaining_attempts=3,
                    message="姓名、手机号或身份证号后4位与社区登记信息不符，还可尝试3次。",
                ),
                "bad-phone": P_VALIDATION,
            },
            429: {
                "locked": _problem(
                    429,
                    "bind-locked",
                    "Binding is locked after too many wrong attempts",
                    "Too many wrong attempts: binding is locked for 29 more minute(s).",
                    retry_after=1740,
                    locked_until="2026-12-06T10:00:00+00:00",
                    message="错误次数过多，请30分钟后再试。",
                ),
                "network-limit": _problem(
                    429,
                    "too-many-requests",
                    "Too many requests",
                    "Too many wrong binding attempts from this network; try again in 1260 s.",
                    retry_after=1260,
                    message="当前网络尝试次数过多，请稍后再试。",
                ),
            },
            503: {"registry-down": P_REGISTRY_DOWN},
        }
    ),
)
async def create_binding(
    request: Request,
    session: SessionDep,
    resident: CurrentResident,
    registry: RegistryDep,
    settings: SettingsDep,
    body: BindingCreate,
) -> BindingRead:
    """Bind this WeChat account to the resident with this name, phone and identity-number ending, as the
    community registered them. One WeChat account binds one resident, and one resident one WeChat
    account (409 `already-bound`). Wrong details answer 422 `bind-mismatch` with `remaining_attempts`;
    after 5 wrong attempts (by default) binding locks for 30 minutes (429 `bind-locked` with
    `Retry-After`), even for right details. Wrong attempts from one network address are limited too
    (30 an hour; 429 `too-many-requests`). Each of these problems carries `message`, a Chinese sentence
    to show the resident. After binding, `GET /m/v1/me` shows the household and its address."""
    match, bound_at = await binding.bind(
        session, registry, settings, account_id=resident.account_id, body=body, ip=client_ip(request)
    )
    return BindingRead(household_id=match.household_id, bound_at=bound_at)


@router.delete(
    "/me/binding",
    status_code=204,
    response_class=Response,
    tags=["me"],
    summary="Unbind from my household",
    responses=documented({401: {"invalid-token": P_TOKEN}}),
)
async def delete_binding(session: SessionDep, resident: CurrentResident) -> Response:
    """Release the binding (moving out, a wrong household). Idempotent: unbinding an unbound account is
    a no-op. The account, its session and its history of reports and wishes stay."""
    await binding.unbind(session, resident.account_id)
    return Response(status_code=204)
