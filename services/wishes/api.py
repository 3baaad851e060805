"""HTTP handlers for wishes and photos: thin, each validates, calls `service.wishes` and returns a read model."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import select

from services.wishes import deps
from services.wishes import scope as sc
from services.wishes import workflow as wf
from services.wishes.clock import now_utc
from services.wishes.deps import CurrentStaff, ReadSessionDep, RegistryDep, SessionDep, SettingsDep
from services.wishes.errors import PhotoNotFound, PhotoTooLarge
from services.wishes.models import Photo
from services.wishes.photos import store_photo
from services.wishes.schemas import (
    ActionBody,
    AreaCode,
    Category,
    ClaimBody,
    CompleteBody,
    PhotoRead,
    PublishBody,
    ReasonBody,
    ResidentActionBody,
    ResidentReasonBody,
    WishCard,
    WishCreate,
    WishEventRead,
    WishRead,
    WishStatus,
    WishSummary,
)
from services.wishes.service import wishes as svc
from shared.pagination import Page, PageDep
from shared.problems import problems
from shared.types import PrimaryKey

router = APIRouter(prefix="/api/v1")

LABELS = {"submit": "点单", **{a.name: a.label for a in wf.ACTIONS.values()}}


# ---- photos ------------------------------------------------------------------------------------------


def _photo_read(p: Photo) -> PhotoRead:
    return PhotoRead(
        id=p.id,
        url=svc.photo_url(p.id),
        content_type=p.content_type,
        size=p.size,
        width=p.width,
        height=p.height,
        created_at=p.created_at,
    )


@router.post(
    "/photos",
    response_model=PhotoRead,
    status_code=201,
    tags=["photos"],
    responses=problems(401, 403, 413, 415, 422),
)
async def upload_photo(
    session: SessionDep,
    principal: CurrentStaff,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A JPEG, PNG or WebP photo, at most 5 MB.")],
) -> PhotoRead:
    """Upload one photo for a wish or its proof of completion. What the file is comes from its content,
    not its name; EXIF metadata (a phone's GPS position) is stripped. Returns the id to put in
    `photo_ids` or `proof_photo_ids`."""
    sc.require_role(principal, sc.READERS, "Uploading photos")
    data = await file.read(settings.photo_max_bytes + 1)
    if len(data) > settings.photo_max_bytes:
        raise PhotoTooLarge(f"The photo is over {settings.photo_max_bytes:,} bytes.")
    stored = await store_photo(
        data, settings.media_dir, max_bytes=settings.photo_max_bytes, max_pixels=settings.photo_max_pixels
    )
    photo = Photo(
        id=stored.id,
        sha256=stored.sha256,
        content_type=stored.content_type,
        size=stored.size,
        width=stored.width,
        height=stored.height,
        path=stored.path,
        uploaded_by=principal.sub,
        created_at=now_utc(),
    )
    session.add(photo)
    await session.flush()
    return _photo_read(photo)


@router.get(
    "/photos/{photo_id}",
    tags=["photos"],
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
        **problems(401, 403, 404),
    },
)
async def get_photo(
    session: ReadSessionDep, principal: CurrentStaff, settings: SettingsDep, photo_id: uuid.UUID
) -> FileResponse:
    """The photo's bytes (metadata already stripped)."""
    sc.require_role(principal, sc.READERS, "Reading photos")
    photo = (await session.execute(select(Photo).where(Photo.id == photo_id))).scalar_one_or_none()
    path = settings.media_dir / photo.path if photo else None
    if photo is None or path is None or not path.is_file():
        raise PhotoNotFound(f"No photo {photo_id}.")
    return FileResponse(
        path, media_type=photo.content_type, headers={"Cache-Control": "private, max-age=86400"}
    )


# ---- wishes ------------------------------------------------------------------------------------------


async def _read(session, viewer: svc.Viewer, wish) -> WishRead:  # type: ignore[no-untyped-def]
    return WishRead.model_validate(await svc.wish_view(session, viewer, wish))


@router.post(
    "/wishes",
    response_model=WishRead,
    status_code=201,
    tags=["wishes"],
    responses={
        200: {
            "model": WishRead,
            "description": "A replay: this caller already made this wish with the same Idempotency-Key.",
        },
        **problems(401, 403, 422, 503),
    },
)
async def create_wish(
    session: SessionDep,
    principal: CurrentStaff,
    registry: RegistryDep,
    response: Response,
    body: WishCreate,
    idempotency_key: Annotated[
        str | None,
        deps.idempotency_key(
            "A unique key per wish (a UUID), kept per caller: sending the request again with it "
            "returns the wish already made (200, `Idempotent-Replayed: true`) instead of making another, "
            "however late the retry. The same key with a different wish is a 422 `idempotency-key-reused`."
        ),
    ] = None,
) -> WishRead:
    """点单: a resident's wish, filed by the mobile service for the resident (role `service`) or by a grid
    worker or community admin on their behalf. The resident, their household's address and their grid
    come from the registry. The wish starts `submitted`, waiting for the grid's review."""
    wish, replayed = await svc.submit(session, principal, registry, body, idempotency_key)
    response.headers["Location"] = f"/api/v1/wishes/{wish.id}"
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return await _read(session, await svc.viewer_for(session, principal), wish)


@router.get("/wishes", response_model=Page[WishSummary], tags=["wishes"], responses=problems(401, 403))
async def list_wishes(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    status: WishStatus | None = None,
    category: Category | None = None,
    area_code: AreaCode | None = Query(default=None, description="Inside this area (prefix)."),
    resident_id: PrimaryKey | None = None,
    claimant_unit_id: PrimaryKey | None = None,
    claimant_volunteer_id: PrimaryKey | None = None,
) -> Page[WishSummary]:
    """The work list, newest first: area staff see their area's wishes, a unit liaison the wishes its
    unit holds or held to the end, the mobile service any (it filters by `resident_id`)."""
    viewer = await svc.viewer_for(session, principal)
    rows, total = await svc.list_wishes(
        session,
        viewer,
        status=status,
        category=category,
        area_code=area_code,
        resident_id=resident_id,
        claimant_unit_id=claimant_unit_id,
        claimant_volunteer_id=claimant_volunteer_id,
        limit=page.limit,
        offset=page.offset,
    )
    items = []
    for w in rows:
        item = WishSummary.model_validate(w)
        if not svc.sees_resident(viewer, w):
            item.resident_name = None if w.privacy else svc.mask_name(w.resident_name)
        items.append(item)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/wishes/wall", response_model=Page[WishCard], tags=["wishes"], responses=problems(401, 403))
async def list_wish_wall(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    area_code: AreaCode | None = Query(
        default=None, description="A community (12 digits) or any area prefix."
    ),
    category: Category | None = None,
) -> Page[WishCard]:
    """The wish wall (心愿墙): published wishes, newest first. A unit liaison sees what is offered to its
    unit (the open wishes of its committee's area and those directed to it); others see the open wall.
    Names are masked; a private wish shows neither name nor address until claimed."""
    viewer = await svc.viewer_for(session, principal)
    cards, total = await svc.wall(
        session, viewer, area_code=area_code, category=category, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[WishCard.model_validate(c) for c in cards], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/wishes/{wish_id}", response_model=WishRead, tags=["wishes"], responses=problems(401, 403, 404))
async def get_wish(session: ReadSessionDep, principal: CurrentStaff, wish_id: PrimaryKey) -> WishRead:
    """One wish, with `allowed_actions` for your role. The resident's name, address and phone are shown
    to area staff, the mobile service and the claimant only."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.get_wish(session, viewer, wish_id))


@router.get(
    "/wishes/{wish_id}/events",
    response_model=list[WishEventRead],
    tags=["wishes"],
    responses=problems(401, 403, 404),
)
async def list_wish_events(
    session: ReadSessionDep, principal: CurrentStaff, wish_id: PrimaryKey
) -> list[WishEventRead]:
    """The wish's trail (全程留痕), oldest first: every step, who took it and when; it is never edited."""
    viewer = await svc.viewer_for(session, principal)
    events = await svc.trail(session, viewer, wish_id)
    if viewer.unit is not None:  # a unit reads the steps, not the staff accounts behind them
        return [
            WishEventRead.model_validate({**_event(e), "actor": e.actor_role, "data": {}}) for e in events
        ]
    return [WishEventRead.model_validate(_event(e)) for e in events]


def _event(e) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": e.id,
        "action": e.action,
        "label": LABELS.get(e.action, e.action),
        "from_status": e.from_status,
        "to_status": e.to_status,
        "actor": e.actor,
        "actor_role": e.actor_role,
        "at": e.at,
        "note": e.note,
        "data": e.data,
    }


TRANSITION = problems(401, 403, 404, 409, 422)


@router.post("/wishes/{wish_id}/approve", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def approve_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ActionBody
) -> WishRead:
    """审核通过 (grid worker or community admin of the wish's area): submitted → approved."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.approve(session, viewer, wish_id, body.note))


@router.post("/wishes/{wish_id}/reject", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def reject_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ReasonBody
) -> WishRead:
    """审核不通过, with the reason the resident is told: submitted → rejected (final)."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.reject(session, viewer, wish_id, body.note))


@router.post("/wishes/{wish_id}/publish", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def publish_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: PublishBody
) -> WishRead:
    """网格派单: approved → published, to the open wish wall of the community, or directed to chosen
    member units (`unit_ids`; each must serve the wish's area). See `GET …/suggested-units`."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.publish(session, viewer, wish_id, body))


@router.post("/wishes/{wish_id}/claim", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def claim_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ClaimBody
) -> WishRead:
    """接单: published → claimed, by exactly one claimant. A unit liaison claims for its unit (optionally
    naming the unit's volunteer who will serve); grid staff record a volunteer's (在职党员) or a unit's
    claim. When several claim at once, one wins and the others get 409 `wish-already-claimed`. A claim
    not started within the lapse period goes back to the wall."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.claim(session, viewer, wish_id, body))


@router.post("/wishes/{wish_id}/withdraw", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def withdraw_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ReasonBody
) -> WishRead:
    """退回认领 by the claimant, with a reason: claimed or in progress → published again (recorded)."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.withdraw(session, viewer, wish_id, body.note))


@router.post("/wishes/{wish_id}/start", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def start_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ActionBody
) -> WishRead:
    """开始实施 by the claimant: claimed → in_progress."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.start(session, viewer, wish_id, body.note))


@router.post("/wishes/{wish_id}/complete", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def complete_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: CompleteBody
) -> WishRead:
    """完成 by the claimant, with proof photos and who served for how long: in_progress → completed. The
    resident confirms (or it is confirmed automatically after the configured days)."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.complete(session, viewer, wish_id, body))


@router.post("/wishes/{wish_id}/dispute", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def dispute_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ResidentReasonBody
) -> WishRead:
    """The resident says it is not done (through the mobile service, or grid staff for them): completed →
    in_progress, with the reason."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(
        session, viewer, await svc.dispute(session, viewer, wish_id, body.resident_id, body.note)
    )


@router.post("/wishes/{wish_id}/confirm", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def confirm_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ResidentActionBody
) -> WishRead:
    """居民确认: completed → confirmed, by the resident through the mobile service (`resident_id` required
    for role `service`) or by grid staff for them."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(
        session, viewer, await svc.confirm(session, viewer, wish_id, body.resident_id, body.note)
    )


@router.post("/wishes/{wish_id}/close", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def close_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ActionBody
) -> WishRead:
    """销单 by grid staff: confirmed → closed. The volunteers who served earn their points by the active
    points rules, in the same transaction (recorded on the trail)."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(session, viewer, await svc.close(session, viewer, wish_id, body.note))


@router.post("/wishes/{wish_id}/cancel", response_model=WishRead, tags=["wishes"], responses=TRANSITION)
async def cancel_wish(
    session: SessionDep, principal: CurrentStaff, wish_id: PrimaryKey, body: ResidentReasonBody
) -> WishRead:
    """取消 with a reason, by the resident (mobile service, `resident_id` required), grid staff or their
    supervisors: from submitted, approved, published, claimed or in progress → cancelled (final)."""
    viewer = await svc.viewer_for(session, principal)
    return await _read(
        session, viewer, await svc.cancel(session, viewer, wish_id, body.resident_id, body.note)
    )
