"""随手拍 (report a problem with photos), my tickets, their progress and rating; the photos themselves.

Thin handlers: each checks its input, calls `reports.service` / `reports.tickets` and returns a read model.
Dispatch's status pushes arrive at the internal endpoint in `reports/internal.py`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.routing import Route

from services.mobile import limits
from services.mobile.deps import (
    CurrentResident,
    DispatchDep,
    ReadSessionDep,
    RegistryDep,
    SessionDep,
    SettingsDep,
    current_resident,
)
from services.mobile.errors import PhotoNotFound
from services.mobile.models import Photo
from services.mobile.paging import CursorQuery, LimitQuery
from services.mobile.reports import internal, service, tickets
from services.mobile.reports import photos as photo_store
from services.mobile.reports.docs import (
    DETAIL_RESPONSES,
    LIST_RESPONSES,
    PHOTO_PROBLEMS,
    PHOTO_RESPONSE,
    RATING_RESPONSES,
    REPORT_FORM_DOC,
    REPORT_RESPONSES,
    STATUS_QUERY_DOC,
)
from services.mobile.reports.geo import outline_of
from services.mobile.reports.schemas import (
    RatingCreate,
    RatingRead,
    ReportForm,
    ReportRead,
    StatusCode,
    TicketDetailRead,
    TicketNumber,
    TicketPage,
    example,
)
from services.mobile.reports.status import LABELS
from services.mobile.reports.storage import storage_of
from shared.auth import bearer_token

router = APIRouter()
router.include_router(internal.router)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{8,80}$",
        description="A unique string (a UUID) per report. Sending the same report again with it (after a "
        "timeout, say) returns the report already made (200, `Idempotent-Replayed: true`) instead of "
        "filing a second ticket. Strongly recommended.",
        examples=["9b2d7c1e-4f3a-4e8b-a1c2-5d6e7f8a9b0c"],
    ),
]
FORM_FIELDS = frozenset(ReportForm.model_fields)
OPTIONAL_BLANK = frozenset({"lat", "lng", "address", "anonymous", "contact_allowed"})


async def _read_form(request: Request, max_photos: int) -> tuple[ReportForm, list[UploadFile]]:
    """Parse the multipart body ourselves, after the cheap checks (a bound account), with bounded parts."""
    fields: dict[str, Any] = {}
    files: list[UploadFile] = []
    errors: list[dict[str, Any]] = []
    form = await request.form(max_files=max(50, max_photos + 1), max_fields=40, max_part_size=64 * 1024)
    for name, value in form.multi_items():
        if name == "photos":
            if isinstance(value, UploadFile):
                if value.filename == "" and value.size == 0:
                    continue  # an empty file input
                files.append(value)
            elif value != "":
                errors.append({"loc": ("body", "photos"), "msg": "photos must be files (parts with a filename)",
                               "type": "value_error"})  # fmt: skip
        elif name in FORM_FIELDS:
            if isinstance(value, UploadFile):
                errors.append(
                    {"loc": ("body", name), "msg": "a text field, not a file", "type": "value_error"}
                )
            elif not (value == "" and name in OPTIONAL_BLANK):
                fields.setdefault(name, value)
        else:
            errors.append(
                {
                    "loc": ("body", name),
                    "msg": f"unknown field; the form takes {', '.join(sorted(FORM_FIELDS))} and photos",
                    "type": "extra_forbidden",
                }
            )
    try:
        parsed = ReportForm.model_validate(fields)
    except ValidationError as exc:
        errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    if errors:
        await form.close()
        raise RequestValidationError(errors)
    return parsed, files


@router.post(
    "/m/v1/reports",
    tags=["reports"],
    status_code=201,
    response_model=ReportRead,
    summary="Report a problem with photos (随手拍)",
    responses=REPORT_RESPONSES,
    openapi_extra=REPORT_FORM_DOC,
)
async def create_report(
    request: Request,
    response: Response,
    resident: CurrentResident,
    session: SessionDep,
    settings: SettingsDep,
    dispatch: DispatchDep,
    registry: RegistryDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """File a problem you see (a loose manhole cover, rubbish, a blocked fire lane) as a ticket for the
    district's dispatch centre, as `multipart/form-data`: `text` (5–500 characters), optionally `lat` and
    `lng` (WGS84, both or neither) and `address`, the flags `anonymous` and `contact_allowed`, and up to
    9 `photos` (JPEG, PNG or WebP by content, 5 MB each). Your account must be bound to your household.

    Photos are kept as sent for the record and published without their EXIF data (so without the
    phone's GPS position). The answer gives the ticket number and where it stands in plain Chinese; follow
    it at `GET /m/v1/tickets/{number}`. Limits: 20 reports a day per resident, and per network address
    (429 with Retry-After). A refused report counts against no limit and leaves nothing stored."""
    account = await service.bound_account(session, resident.account_id)
    if idempotency_key is not None:
        done = await service.replay(session, account.id, idempotency_key)
        if done is not None:
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
            return service.report_read(settings, done, None)
    form, uploads = await _read_form(request, settings.photo_max_count)
    try:  # the uploads are spooled files: closed once read into memory (or the report is refused)
        service.check_photo_count(len(uploads), settings)
        if form.lat is not None and form.lng is not None:
            await outline_of(request.app).check(registry, form.lat, form.lng)
        ip = service.client_ip(
            request.client.host if request.client else None,
            request.headers.get("x-forwarded-for"),
            settings.trusted_proxies,
        )
        await limits.hit(session, service.resident_limit(settings), str(account.id))
        await limits.hit(session, service.ip_limit(settings), ip)
        originals = [
            await photo_store.read_limited(f, settings.photo_max_bytes, index=i)
            for i, f in enumerate(uploads)
        ]
    finally:
        await request.close()
    cleaned = await photo_store.prepare(originals, settings, account_id=account.id, idem_key=idempotency_key)
    report, ticket, replayed = await service.file_report(
        session,
        settings=settings,
        storage=storage_of(request.app),
        dispatch=dispatch,
        account_id=account.id,
        form=form,
        photos=cleaned,
        idem_key=idempotency_key,
    )
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/m/v1/tickets/{report.ticket_number}"
    return service.report_read(settings, report, ticket)


@router.get(
    "/m/v1/tickets",
    tags=["reports"],
    response_model=TicketPage,
    summary="My tickets",
    responses={200: {"content": example(TicketPage)}, **LIST_RESPONSES},
)
async def list_my_tickets(
    resident: CurrentResident,
    session: ReadSessionDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
    status: Annotated[StatusCode | None, Query(description=STATUS_QUERY_DOC)] = None,
) -> Response:
    """The tickets you reported, newest first, with where each stands in plain Chinese. Served from this
    service's own copy (kept current by dispatch's pushes), so it answers even while dispatch is down.
    Filter with `status` (one of the resident codes below); page with `cursor`."""
    body = await service.ticket_page(
        session, settings, account_id=resident.account_id, cursor=cursor, limit=limit, status=status
    )
    return Response(body, media_type="application/json")


def _query_error(name: str, msg: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": msg, "type": kind}])


async def list_my_tickets_fast(request: Request) -> Response:
    """`list_my_tickets` without FastAPI's dependency solving: the hottest read of the mini-program (the
    route above documents it; the same checks, the same answer). Measured: dependency solving and the
    response-model machinery were over half of the request's CPU."""
    q = request.query_params
    cursor = q.get("cursor")
    if cursor is not None and len(cursor) > 200:
        raise _query_error("cursor", "String should have at most 200 characters", "string_too_long")
    raw_limit = q.get("limit")
    limit = 20
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise _query_error("limit", "Input should be a valid integer", "int_parsing") from None
        if not 1 <= limit <= 50:
            raise _query_error("limit", "Input should be between 1 and 50", "less_than_equal")
    status = q.get("status")
    if status is not None and status not in LABELS:
        raise _query_error("status", f"Input should be one of {', '.join(LABELS)}", "literal_error")
    token = bearer_token(request)
    creds = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None
    resident = await current_resident(request, creds)
    async with request.app.state.read_sessionmaker() as session:
        body = await service.ticket_page(
            session,
            request.app.state.settings,
            account_id=resident.account_id,
            cursor=cursor,
            limit=limit,
            status=status,
        )
    return Response(body, media_type="application/json")


# ahead of the documented route, which stays for /m/docs (FastAPI matches routes in order)
router.routes.insert(0, Route("/m/v1/tickets", list_my_tickets_fast, methods=["GET"], name="list_my_tickets"))


@router.get(
    "/m/v1/tickets/{number}",
    tags=["reports"],
    response_model=TicketDetailRead,
    summary="One of my tickets, step by step",
    responses={200: {"content": example(TicketDetailRead)}, **DETAIL_RESPONSES},
)
async def get_my_ticket(
    number: Annotated[str, Path(pattern=r"^SF[0-9]{14}$", examples=["SF20261206000123"])],
    resident: CurrentResident,
    session: SessionDep,
    dispatch: DispatchDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """A ticket you reported, live from dispatch: each step so far in plain Chinese (受理, 派遣, 签收, 办结,
    核实, 结案, 评价…), the unit handling it, and the unit's result with its photos. A number that is not
    yours reads as unknown (404). If dispatch is down this answers 503; your list still works."""
    return await tickets.detail(session, dispatch, settings, resident.account_id, number)


@router.post(
    "/m/v1/tickets/{number}/rating",
    tags=["reports"],
    response_model=RatingRead,
    summary="Rate how my ticket was handled (评价)",
    responses={200: {"content": example(RatingRead)}, **RATING_RESPONSES},
)
async def rate_my_ticket(
    number: TicketNumber,
    body: RatingCreate,
    resident: CurrentResident,
    session: SessionDep,
    dispatch: DispatchDep,
) -> dict[str, Any]:
    """Once your ticket is closed (待评价), say how satisfied you are: 满意, 基本满意 or 不满意 (the dispatch
    centre then reviews the handling), with an optional comment. A ticket is rated once; before it is
    closed, or for a report merged into another ticket, this is a 409 `not-ratable` saying why."""
    return await tickets.rate(session, dispatch, resident.account_id, number, body)


@router.get(
    "/m/v1/photos/{photo_id}",
    tags=["reports"],
    response_class=Response,
    summary="A report photo",
    responses={**PHOTO_RESPONSE, **PHOTO_PROBLEMS},
)
async def get_photo(photo_id: uuid.UUID, request: Request, session: ReadSessionDep) -> Response:
    """The public copy of a photo (EXIF and location removed); the original is never served. Links are
    unguessable and need no token, so `<image src>` works; they never change, so they are cached for a
    year."""
    row = (await session.execute(select(Photo.key, Photo.content_type).where(Photo.id == photo_id))).first()
    if row is None:
        raise PhotoNotFound(f"No photo {photo_id}.")
    etag = f'"{photo_id.hex}"'
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    store = storage_of(request.app)
    path = store.path(row.key)
    if path is not None:
        if not path.is_file():
            raise PhotoNotFound(f"Photo {photo_id}'s file is gone.")
        return FileResponse(path, media_type=row.content_type, headers=headers)
    return Response(await store.get(row.key), media_type=row.content_type, headers=headers)
