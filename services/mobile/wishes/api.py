"""微心愿 in the mini-program: make a wish, follow and answer my wishes, the wish wall of my community.

Thin handlers over `service`; every call to the wishes service goes through `WishesClient`, so a wishes
outage is a 503 naming `wishes` here and nowhere else (reports keep working).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Path, Query, Response, UploadFile

from services.mobile.account.service import bound_account
from services.mobile.deps import CurrentResident, ReadSessionDep, SessionDep, SettingsDep, WishesDep
from services.mobile.paging import CursorPage, CursorQuery
from services.mobile.wishes import service as svc
from services.mobile.wishes.schemas import (
    DETAIL_EXAMPLE,
    MAX_PHOTOS,
    MY_PAGE_EXAMPLE,
    WALL_PAGE_EXAMPLE,
    Category,
    ConfirmBody,
    DisputeBody,
    MyWishRead,
    MyWishSummary,
    WallCard,
    WishForm,
    WithdrawBody,
)
from shared.problems import problems

router = APIRouter(prefix="/m/v1/wishes", tags=["wishes"])

WishId = Annotated[int, Path(gt=0, lt=2147483647, description="The wish's id.", examples=[1024])]
PageLimit = Annotated[int, Query(ge=1, le=50, description="Items per page (1–50).")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{8,80}$",
        description="Any unique string (a UUID) per wish the resident makes: sending the same request again "
        "with it returns the wish already made (200) instead of making another.",
        examples=["3f2b8c1e-7d4a-4b9e-a1c2-5d6e7f8a9b0c"],
    ),
]


def _ok(example: dict) -> dict:
    return {"content": {"application/json": {"example": example}}}


MULTIPART_EXAMPLE = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "example": {
                    "category": "助老",
                    "title": "需要一台轮椅",
                    "description": "老伴中风后行动不便，想要一台折叠轮椅，方便去社区卫生服务站复查。",
                    "estimated_value": "600.00",
                    "wanted_by": "2026-12-31",
                    "privacy": "false",
                    "contact_phone": "13912345678",
                    "photos": ["(binary JPEG)", "(binary JPEG)"],
                },
                "encoding": {"photos": {"contentType": "image/jpeg, image/png, image/webp"}},
            }
        }
    }
}


@router.post(
    "",
    response_model=MyWishRead,
    status_code=201,
    summary="Make a wish (点单)",
    responses={
        201: _ok(
            DETAIL_EXAMPLE
            | {
                "status": "submitted",
                "status_label": "待审核",
                "claimant": None,
                "completion_note": None,
                "proof_photos": [],
                "actions": ["withdraw"],
                "trail": DETAIL_EXAMPLE["trail"][:1],
                "claimed_at": None,
                "completed_at": None,
            }
        ),
        200: {
            "description": "The same wish was sent again (same Idempotency-Key, or the same content "
            "within minutes): the wish already made.",
            **_ok(DETAIL_EXAMPLE),
        },
        **problems(401, 403, 413, 415, 422, 429, 502, 503),
    },
    openapi_extra=MULTIPART_EXAMPLE,
)
async def make_wish(
    response: Response,
    session: SessionDep,
    resident: CurrentResident,
    wishes: WishesDep,
    settings: SettingsDep,
    form: Annotated[WishForm, Form()],
    photos: Annotated[
        list[UploadFile],
        File(
            description=f"Up to {MAX_PHOTOS} photos (JPEG, PNG or WebP, 5 MB each), in parts named `photos`."
        ),
    ] = [],  # noqa: B006  (FastAPI copies defaults per request)
    idempotency_key: IdempotencyKey = None,
) -> MyWishRead:
    """A bound resident makes a wish: category, title, description, estimated value (0 for a service),
    wanted-by date, privacy and up to 3 photos, as `multipart/form-data`. It goes to the grid for review
    (`status` submitted, 待审核). At most 10 wishes a day; a double tap does not make two wishes."""
    account = await bound_account(session, resident.account_id)
    wish, created = await svc.submit(session, wishes, settings, account, form, photos, idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return wish


@router.get(
    "",
    response_model=CursorPage[MyWishSummary],
    summary="My wishes",
    responses={200: _ok(MY_PAGE_EXAMPLE), **problems(401, 403, 422, 502, 503)},
)
async def list_my_wishes(
    session: ReadSessionDep,
    resident: CurrentResident,
    wishes: WishesDep,
    cursor: CursorQuery = None,
    limit: PageLimit = 20,
) -> CursorPage[MyWishSummary]:
    """The wishes I made, newest first, with their state in plain Chinese (`status_label`)."""
    account = await bound_account(session, resident.account_id)
    return await svc.list_mine(wishes, account, cursor, limit)


@router.get(
    "/wall",
    response_model=CursorPage[WallCard],
    summary="The wish wall of my community (心愿墙)",
    responses={200: _ok(WALL_PAGE_EXAMPLE), **problems(401, 403, 422, 502, 503)},
)
async def list_wish_wall(
    session: ReadSessionDep,
    resident: CurrentResident,
    wishes: WishesDep,
    settings: SettingsDep,
    category: Annotated[Category | None, Query(description="Only this category.", examples=["助学"])] = None,
    cursor: CursorQuery = None,
    limit: PageLimit = 20,
) -> CursorPage[WallCard]:
    """Wishes of my community waiting for someone to take them on, newest first. Names are masked (李**)
    and left out for private wishes; addresses are never shown."""
    account = await bound_account(session, resident.account_id)
    return await svc.wall(wishes, settings, account, category=category, cursor=cursor, limit=limit)


@router.get(
    "/photos/{photo_id}",
    response_class=Response,
    summary="A wish photo (signed link)",
    responses={
        200: {
            "description": "The photo (metadata stripped).",
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
        },
        **problems(403, 404, 422, 502, 503),
    },
)
async def get_wish_photo(
    wishes: WishesDep,
    settings: SettingsDep,
    photo_id: uuid.UUID,
    exp: Annotated[int, Query(gt=0, lt=2**40, description="Expiry (Unix seconds), from the link.")],
    sig: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{24}$", description="Signature, from the link.")],
) -> Response:
    """The bytes of a photo linked from a wish or the wall. The links are signed and valid for a day, so
    they work in an `<image src>` without a token; read the wish again for fresh ones."""
    data, content_type = await svc.photo(wishes, settings, photo_id, exp, sig)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{wish_id}",
    response_model=MyWishRead,
    summary="One of my wishes, with its trail",
    responses={200: _ok(DETAIL_EXAMPLE), **problems(401, 403, 404, 502, 503)},
)
async def get_my_wish(
    session: ReadSessionDep,
    resident: CurrentResident,
    wishes: WishesDep,
    settings: SettingsDep,
    wish_id: WishId,
) -> MyWishRead:
    """My wish: its state, who took it on (the unit's name), what was done with proof photos, every step
    so far, and what I may do now (`actions`). Someone else's wish is a 404."""
    account = await bound_account(session, resident.account_id)
    return await svc.get_wish(wishes, settings, account, wish_id)


STEP = problems(401, 403, 404, 409, 422, 502, 503)


@router.post(
    "/{wish_id}/confirm",
    response_model=MyWishRead,
    summary="Confirm my wish was fulfilled (确认完成)",
    responses={
        200: _ok(DETAIL_EXAMPLE | {"status": "confirmed", "status_label": "已确认完成", "actions": []}),
        **STEP,
    },
)
async def confirm_my_wish(
    session: ReadSessionDep,
    resident: CurrentResident,
    wishes: WishesDep,
    settings: SettingsDep,
    wish_id: WishId,
    body: ConfirmBody | None = None,
) -> MyWishRead:
    """A completed wish (已完成，待您确认) → confirmed, with optional thanks. Unanswered, it is confirmed
    for me after some days. Any other state is a 409 listing what I may do."""
    account = await bound_account(session, resident.account_id)
    return await svc.act(wishes, settings, account, wish_id, "confirm", body.note if body else None)


@router.post(
    "/{wish_id}/dispute",
    response_model=MyWishRead,
    summary="Say my wish is not done yet (未完成)",
    responses={
        200: _ok(
            DETAIL_EXAMPLE | {"status": "in_progress", "status_label": "正在实现", "actions": ["withdraw"]}
        ),
        **STEP,
    },
)
async def dispute_my_wish(
    session: ReadSessionDep,
    resident: CurrentResident,
    wishes: WishesDep,
    settings: SettingsDep,
    wish_id: WishId,
    body: DisputeBody,
) -> MyWishRead:
    """A completed wish that is not really done → back in progress, with my reason for the unit."""
    account = await bound_account(session, resident.account_id)
    return await svc.act(wishes, settings, account, wish_id, "dispute", body.reason)


@router.post(
    "/{wish_id}/withdraw",
    response_model=MyWishRead,
    summary="Withdraw my wish (撤回)",
    responses={
        200: _ok(
            DETAIL_EXAMPLE
            | {
                "status": "cancelled",
                "status_label": "已取消",
                "actions": [],
                "cancel_reason": "家里已经买到轮椅了",
            }
        ),
        **STEP,
    },
)
async def withdraw_my_wish(
    session: ReadSessionDep,
    resident: CurrentResident,
    wishes: WishesDep,
    settings: SettingsDep,
    wish_id: WishId,
    body: WithdrawBody,
) -> MyWishRead:
    """I no longer need it: any wish not yet completed (waiting for review, on the wall, taken on or in
    progress) → cancelled, with my reason (the unit that took it is told through the trail)."""
    account = await bound_account(session, resident.account_id)
    return await svc.act(wishes, settings, account, wish_id, "withdraw", body.reason)
