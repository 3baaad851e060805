"""The 12345 integration's HTTP surface: signed work orders in (the platform), keys and the callback
delivery log (district admins). The integration guide for platform vendors is docs/hotline.md."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Route

from services.dispatch.deps import CurrentStaff, ReadSessionDep, SessionDep, require
from services.dispatch.errors import (
    CallbackNotDead,
    CallbackNotFound,
    NonceReused,
    SignatureMismatch,
    SignatureMissing,
    TimestampOutOfWindow,
    UnknownAppKey,
)
from services.dispatch.hotline import callbacks, keys, orders
from services.dispatch.hotline.schemas import (
    ORDER_NO,
    CallbackDetail,
    CallbackEvent,
    CallbackRead,
    CallbackState,
    HotlineKeyCreate,
    HotlineKeyCreated,
    HotlineKeyRead,
    HotlineOrderCreate,
    HotlineOrderDetail,
    HotlineOrderRead,
    RedriveCreate,
    RedriveRead,
)
from services.dispatch.hotline.signature import APP_KEY, NONCE, SIGNATURE, matches, string_to_sign
from services.dispatch.models import HotlineCallback, HotlineDelivery
from services.dispatch.service.intake import Compiled
from shared.pagination import Page, PageDep
from shared.problems import Problem, problems
from shared.types import BigKey

log = logging.getLogger("gridgov.dispatch.hotline")
router = APIRouter(prefix="/api/v1/hotline", tags=["12345 hotline"])

ADMIN = ("district_admin",)
LOG_READERS = ("district_admin", "street_dispatcher", "integration")

SIGNED_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": True,
        "schema": {"type": "string", **schema},
        "description": text,
    }
    for name, schema, text in (
        ("X-App-Key", {"examples": ["hl-3f9a1c2b7d4e"]}, "The app key the district issued to the platform."),
        ("X-Timestamp", {"pattern": "^[0-9]{1,12}$"}, "Unix seconds; refused outside ±300 s of our clock."),
        ("X-Nonce", {"minLength": 16, "maxLength": 64}, "Random, never reused with the same key."),
        (
            "X-Signature",
            {"pattern": "^[0-9a-f]{64}$"},
            "hex(HMAC-SHA256(app_secret, METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SHA256(body)))); "
            "see docs/hotline.md.",
        ),
    )
]
_HEADERS = ("x-app-key", "x-timestamp", "x-nonce", "x-signature")


async def authenticate(request: Request, body: bytes, session: AsyncSession) -> str:
    """Check a platform request's signature headers, cheapest first; returns the app key. The nonce is
    recorded only for an authentic request, so a forger cannot burn the platform's nonces, and it is
    durable before anything else happens, in the request's own (autocommit) `session`."""
    h = request.headers
    missing = [n for n in _HEADERS if not h.get(n)]
    if missing:
        names = ", ".join(m.title() for m in missing)
        raise SignatureMissing(
            f"Missing {names}: every request is signed with X-App-Key, X-Timestamp, X-Nonce and X-Signature "
            "(see docs/hotline.md).",
            missing=[m.title() for m in missing],
        )
    app_key, ts, nonce, signature = (h[n] for n in _HEADERS)
    if not (ts.isdigit() and len(ts) <= 12):
        raise SignatureMissing(f"X-Timestamp must be unix seconds, e.g. {int(time.time())}; got {ts[:20]!r}.")
    if not NONCE.fullmatch(nonce):
        raise SignatureMissing("X-Nonce must be 16–64 printable ASCII characters, new for every request.")
    if not SIGNATURE.fullmatch(signature):
        raise SignatureMissing("X-Signature must be 64 lowercase hex characters (HMAC-SHA256).")
    env = request.app.state.dispatch
    window = env.settings.hotline_skew_s
    now = int(time.time())
    if abs(int(ts) - now) > window:
        raise TimestampOutOfWindow(
            f"X-Timestamp {ts} is {int(ts) - now:+d} s from the server's clock ({now}); at most ±{window} s "
            "is accepted. Keep the clock synchronised (NTP) and sign each request when it is sent.",
            server_time=now,
        )
    secret = (
        await request.app.state.hotline_keys.secret(request.app.state.sessionmaker, app_key)
        if APP_KEY.fullmatch(app_key)
        else None
    )
    if secret is None:
        raise UnknownAppKey(
            f"X-App-Key {app_key[:64]!r} is not an active key of this district; use the key the district "
            "issued (a revoked key stops working within DISPATCH_HOTLINE_KEY_CACHE_S, 10 s by default)."
        )
    path = request.scope.get("raw_path") or request.url.path.encode()
    canonical = string_to_sign(request.method, path.decode("latin-1"), ts, nonce, body)
    if not matches(secret, signature, canonical):
        raise SignatureMismatch(
            "X-Signature does not match. `string_to_sign` below is what the server signed with the secret "
            "of X-App-Key; compare it with yours. Usual causes: a different PATH (a proxy prefix, a query "
            "string), the body re-serialised after signing, or the wrong secret.",
            string_to_sign=canonical,
        )
    fresh = await orders.remember_nonce(session, app_key, nonce)
    # On an autocommit connection (the read sessions') the INSERT is committed already; a session inside
    # a transaction (tests bind one) commits it now, so a refusal after this point keeps the nonce used.
    if (await Compiled.driver(session)).is_in_transaction():
        await session.commit()
    if not fresh:
        raise NonceReused(
            f"X-Nonce {nonce!r} was already used with this key; use a new random nonce for every request, "
            "retries included."
        )
    return app_key


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_UTC_Z),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _order_no_of(body: bytes) -> str | None:
    try:
        value = orjson.loads(body).get("order_no")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(value)[:64] if value is not None else None


@router.post(
    "/orders",
    status_code=201,
    response_model=HotlineOrderRead,
    responses={
        200: {
            "model": HotlineOrderRead,
            "description": "This order_no was received before: the same ticket.",
        },
        **problems(401, 409, 413, 422),
    },
    openapi_extra={
        "parameters": SIGNED_HEADERS,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HotlineOrderCreate"}}},
        },
    },
)
async def receive_hotline_order(request: Request) -> Response:
    """Receive a 12345 work order (工单). It becomes a ticket on channel `hotline`, routed like any other,
    with the platform's 办理时限 capping a looser handling limit. Sending the same `order_no` again (a
    retry, a duplicate push, 20 at once) returns the same ticket with 200; the same `order_no` with
    different content is a 409. Signed: see the X- headers and docs/hotline.md."""
    body = await request.body()
    app_key: str | None = None
    try:
        async with request.app.state.read_sessionmaker() as session:
            app_key = await authenticate(request, body, session)
            try:
                order = HotlineOrderCreate.model_validate_json(body)
            except ValidationError as exc:
                raise RequestValidationError(
                    [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
                ) from None
            out, replayed = await orders.receive(session, request.app.state.dispatch, app_key, order)
            await session.commit()
    except (Problem, RequestValidationError) as exc:
        log.warning(
            "12345 work order refused",
            extra={
                "app_key": app_key,
                "order_no": _order_no_of(body),
                "problem": getattr(exc, "type", "validation-error"),
                "detail": getattr(exc, "detail", None) or str(exc.errors()[:3]),  # type: ignore[union-attr]
            },
        )
        raise
    headers = {"Location": f"/api/v1/hotline/orders/{order.order_no}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(out, 200 if replayed else 201, headers)


# The platform's hot path, served (like intake's POST /tickets) by a plain Starlette route ahead of the
# FastAPI one above, which stays for the docs: the same handler, without FastAPI's per-request
# dependency solving and response wrapping (it takes only the request and returns a Response anyway).
router.routes.insert(
    0,
    Route(
        f"{router.prefix}/orders",
        receive_hotline_order,
        methods=["POST"],
        name="receive_hotline_order",
        include_in_schema=False,
    ),
)


@router.get(
    "/orders/{order_no}",
    response_model=HotlineOrderDetail,
    responses=problems(401, 404),
    openapi_extra={"parameters": SIGNED_HEADERS},
)
async def get_hotline_order(request: Request, order_no: Annotated[str, Path(pattern=ORDER_NO)]) -> Response:
    """The order's ticket now: status, unit, deadlines, the timeline, the result and the callbacks sent.
    Signed like the POST (over an empty body)."""
    async with request.app.state.read_sessionmaker() as session:
        await authenticate(request, b"", session)
        out = await orders.order_detail(session, request.app.state.dispatch, order_no)
    return _json(out)


# ---- admin: keys -----------------------------------------------------------------------------------


@router.get("/keys", response_model=list[HotlineKeyRead], responses=problems(401, 403))
async def list_hotline_keys(principal: CurrentStaff, session: ReadSessionDep) -> list[HotlineKeyRead]:
    """The platform's app keys (never their secrets)."""
    require(principal, ADMIN, "Managing 12345 keys")
    return [HotlineKeyRead.model_validate(k) for k in await keys.list_keys(session)]


@router.post(
    "/keys", status_code=201, response_model=HotlineKeyCreated, responses=problems(401, 403, 409, 422)
)
async def create_hotline_key(
    body: HotlineKeyCreate, principal: CurrentStaff, session: SessionDep, request: Request
) -> HotlineKeyCreated:
    """Issue a new key for the platform (a rotation). Its secret is in this answer only. At most two keys
    are active: the platform switches to the new one, then the old one is revoked."""
    require(principal, ADMIN, "Managing 12345 keys")
    row, secret = await keys.create_key(
        session, request.app.state.sealer, actor=principal.sub, note=body.note
    )
    request.app.state.hotline_keys.forget()
    return HotlineKeyCreated(**HotlineKeyRead.model_validate(row).model_dump(), app_secret=secret)


@router.post("/keys/{app_key}/revoke", response_model=HotlineKeyRead, responses=problems(401, 403, 404))
async def revoke_hotline_key(
    app_key: Annotated[str, Path(max_length=64)],
    principal: CurrentStaff,
    session: SessionDep,
    request: Request,
) -> HotlineKeyRead:
    """Revoke a key: requests signed with it are refused (on every replica within the key cache time)."""
    require(principal, ADMIN, "Managing 12345 keys")
    row = await keys.revoke_key(session, app_key, actor=principal.sub)
    request.app.state.hotline_keys.forget()
    return HotlineKeyRead.model_validate(row)


# ---- admin: the delivery log ---------------------------------------------------------------------------


@router.get("/callbacks", response_model=Page[CallbackRead], responses=problems(401, 403, 422))
async def list_hotline_callbacks(
    principal: CurrentStaff,
    session: ReadSessionDep,
    page: PageDep,
    state: CallbackState | None = None,
    event: CallbackEvent | None = None,
    order_no: Annotated[str | None, Query(pattern=ORDER_NO)] = None,
) -> Page[CallbackRead]:
    """Status callbacks owed to the platform, newest first: `pending` (queued or retrying), `delivered`,
    `dead` (gave up; re-drive it)."""
    require(principal, LOG_READERS, "The 12345 delivery log")
    stmt = select(HotlineCallback)
    if state:
        stmt = stmt.where(HotlineCallback.state == state)
    if event:
        stmt = stmt.where(HotlineCallback.event == event)
    if order_no:
        stmt = stmt.where(HotlineCallback.order_no == order_no)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        await session.execute(stmt.order_by(HotlineCallback.id.desc()).limit(page.limit).offset(page.offset))
    ).scalars()
    return Page(items=[_callback(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


def _callback(row: HotlineCallback) -> CallbackRead:
    out = CallbackRead.model_validate(row)
    if row.state != "pending":
        out.next_attempt_at = None
    return out


async def _get_callback(session: Any, callback_id: int) -> HotlineCallback:
    row = await session.get(HotlineCallback, callback_id)
    if row is None:
        raise CallbackNotFound(f"There is no callback {callback_id}.")
    return row


@router.get("/callbacks/{callback_id}", response_model=CallbackDetail, responses=problems(401, 403, 404))
async def get_hotline_callback(
    callback_id: BigKey, principal: CurrentStaff, session: ReadSessionDep
) -> CallbackDetail:
    """One callback with every delivery attempt: when, how long, what the platform answered."""
    require(principal, LOG_READERS, "The 12345 delivery log")
    row = await _get_callback(session, callback_id)
    attempts = (
        await session.execute(
            select(HotlineDelivery)
            .where(HotlineDelivery.callback_id == callback_id)
            .order_by(HotlineDelivery.id)
        )
    ).scalars()
    return CallbackDetail(**_callback(row).model_dump(), deliveries=list(attempts))  # type: ignore[arg-type]


@router.post(
    "/callbacks/{callback_id}/redrive", response_model=CallbackRead, responses=problems(401, 403, 404, 409)
)
async def redrive_hotline_callback(
    callback_id: BigKey, principal: CurrentStaff, session: SessionDep
) -> CallbackRead:
    """Send a dead callback again (its attempts start over). Its order's later callbacks follow it."""
    require(principal, ADMIN, "Re-driving 12345 callbacks")
    row = await _get_callback(session, callback_id)
    if row.state != "dead":
        raise CallbackNotDead(f"Callback {callback_id} is {row.state}; only a dead one can be re-driven.")
    await callbacks.redrive(session, actor=principal.sub, ids=[callback_id])
    await session.refresh(row)
    return _callback(row)


@router.post("/callbacks/redrive", response_model=RedriveRead, responses=problems(401, 403, 422))
async def redrive_hotline_callbacks(
    body: RedriveCreate, principal: CurrentStaff, session: SessionDep
) -> RedriveRead:
    """Re-drive every dead callback (of one order, with `order_no`), e.g. after the platform's outage."""
    require(principal, ADMIN, "Re-driving 12345 callbacks")
    return RedriveRead(redriven=await callbacks.redrive(session, actor=principal.sub, order_no=body.order_no))
