"""Dispatch HTTP API: handling standards and routing, ticket intake, the closed loop, work views, reports."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.deps import CurrentStaff, DispatchDep, ReadSessionDep, SessionDep, require
from services.dispatch.errors import ActionInvalid, InvalidWeek
from services.dispatch.models import CHANNELS, STATUSES, Supervision, Ticket
from services.dispatch.schemas import (
    CandidateRead,
    DepartmentRead,
    Level,
    MatchCreate,
    MatchRead,
    StandardCreate,
    StandardRead,
    StandardUpdate,
    SupervisionRead,
    TicketCreate,
    TicketDetail,
    TicketRead,
    TicketSummary,
    TransitionCreate,
)
from services.dispatch.service import intake as intake_service
from services.dispatch.service import report, transitions, views
from services.dispatch.service import standards as standards_service
from services.dispatch.service.context import Dispatch
from services.dispatch.workflow import DISPATCHERS, GRID, HANDLER
from shared.auth import AREA_ROLES, SERVICE_ROLE, Principal, staff_from_request
from shared.pagination import Page, PageDep
from shared.problems import problems
from shared.types import BigKey, Text

router = APIRouter(prefix="/api/v1")

ADMIN = ("district_admin",)
INTAKE_ROLES = (*AREA_ROLES, "integration", SERVICE_ROLE)


# ---- units and standards ----------------------------------------------------------------------------


@router.get("/departments", tags=["standards"], response_model=list[DepartmentRead], responses=problems(401))
async def list_departments(principal: CurrentStaff, env: DispatchDep) -> list[DepartmentRead]:
    """The 23 handling units (codes are contracts) with their scope and number of active standards."""
    counts: dict[str, int] = {}
    for ref in env.catalog.current.values():
        if ref.active:
            counts[ref.unit] = counts.get(ref.unit, 0) + 1
    return [
        DepartmentRead(
            code=d.code, name=d.name, short_name=d.short_name, scope=d.scope, standards=counts.get(d.code, 0)
        )
        for d in sorted(env.catalog.departments.values(), key=lambda d: d.code)
    ]


@router.post("/standards/match", tags=["standards"], response_model=MatchRead, responses=problems(401, 422))
async def match_standards(body: MatchCreate, principal: CurrentStaff, env: DispatchDep) -> MatchRead:
    """Rank the handling standards for a complaint text. `confident: false` means a person should triage it."""
    m = env.catalog.router.match(body.text, body.top_k)
    return MatchRead(
        candidates=[CandidateRead(**c.__dict__) for c in m.candidates],
        confident=m.confident,
    )


@router.get("/standards", tags=["standards"], response_model=Page[StandardRead], responses=problems(401, 422))
async def list_standards(
    principal: CurrentStaff,
    session: ReadSessionDep,
    page: PageDep,
    q: Annotated[
        Text | None, Query(max_length=50, description="Code, title, category or keyword contains.")
    ] = None,
    unit: Annotated[str | None, Query(pattern=r"^[A-Z]{2,4}$")] = None,
    level: Level | None = None,
    status: Literal["active", "retired"] | None = "active",
) -> Page[StandardRead]:
    """The current version of each standard (search with `q`; `status=retired` lists retired ones)."""
    rows, total = await standards_service.list_standards(
        session, q=q, unit=unit, level=level, status=status, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[StandardRead.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/standards",
    tags=["standards"],
    status_code=201,
    response_model=StandardRead,
    responses=problems(401, 403, 409, 422),
)
async def create_standard(body: StandardCreate, principal: CurrentStaff, session: SessionDep) -> StandardRead:
    """Add a standard (district admins). Routing picks it up within seconds on every replica."""
    require(principal, ADMIN, "Editing handling standards")
    row = await standards_service.create_standard(session, body.model_dump(), actor=principal.sub)
    return StandardRead.model_validate(row)


@router.get(
    "/standards/{code}", tags=["standards"], response_model=StandardRead, responses=problems(401, 404)
)
async def get_standard(
    code: Annotated[str, Path(pattern=r"^[0-9]{6}$")], principal: CurrentStaff, session: ReadSessionDep
) -> StandardRead:
    return StandardRead.model_validate(await standards_service.get_current(session, code))


@router.get(
    "/standards/{code}/versions",
    tags=["standards"],
    response_model=list[StandardRead],
    responses=problems(401, 404),
)
async def list_standard_versions(
    code: Annotated[str, Path(pattern=r"^[0-9]{6}$")], principal: CurrentStaff, session: ReadSessionDep
) -> list[StandardRead]:
    """Every version, oldest first; a ticket's `routing.standard_id` names the one it was routed with."""
    return [StandardRead.model_validate(r) for r in await standards_service.versions(session, code)]


@router.patch(
    "/standards/{code}",
    tags=["standards"],
    response_model=StandardRead,
    responses=problems(401, 403, 404, 409, 422),
)
async def update_standard(
    code: Annotated[str, Path(pattern=r"^[0-9]{6}$")],
    body: StandardUpdate,
    principal: CurrentStaff,
    session: SessionDep,
) -> StandardRead:
    """Edit a standard: this creates a new version. Tickets already routed keep the version they used."""
    require(principal, ADMIN, "Editing handling standards")
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):
        raise ActionInvalid("Fields of a standard cannot be set to null; leave them out to keep them.")
    row = await standards_service.update_standard(session, code, changes, actor=principal.sub)
    return StandardRead.model_validate(row)


@router.post(
    "/standards/{code}/retire",
    tags=["standards"],
    response_model=StandardRead,
    responses=problems(401, 403, 404),
)
async def retire_standard(
    code: Annotated[str, Path(pattern=r"^[0-9]{6}$")], principal: CurrentStaff, session: SessionDep
) -> StandardRead:
    """Retire a standard: routing stops proposing it; its code is never reused; old tickets keep it."""
    require(principal, ADMIN, "Retiring handling standards")
    return StandardRead.model_validate(
        await standards_service.retire_standard(session, code, actor=principal.sub)
    )


# ---- tickets -----------------------------------------------------------------------------------------


@router.post(
    "/tickets",
    tags=["tickets"],
    status_code=201,
    response_model=TicketRead,
    responses={
        200: {
            "model": TicketRead,
            "description": "A replay of an earlier request with the same Idempotency-Key.",
        },
        **problems(401, 403, 422),
    },
)
async def create_ticket(
    body: TicketCreate,
    principal: CurrentStaff,
    session: ReadSessionDep,
    env: DispatchDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=8,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="A unique key per report (a UUID); a retry with the same key and body returns the same ticket.",
        ),
    ] = None,
) -> Response:
    """File a report from any channel. It is routed by the handling standards, placed through the
    registry, given its deadlines and stored in one step, with a number like `SF20261121000123`.
    Texts the router is not confident about go to the triage queue. If the registry is down the ticket
    is still stored, with `place.status = pending`."""
    return await _file_ticket(session, env, principal, body, idempotency_key)


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{8,200}$")


async def file_ticket_fast(request: Request) -> Response:
    """`create_ticket` served without FastAPI's dependency solving (intake is the hot path; the handler
    takes only the request, as the registry's /locate does). The FastAPI route above documents it and
    shares every step after validation."""
    principal = await staff_from_request(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "idempotency-key"),
                    "msg": "8–200 printable ASCII characters without spaces, e.g. a UUID",
                    "type": "string_pattern_mismatch",
                }
            ]
        )
    try:
        body = TicketCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    async with request.app.state.read_sessionmaker() as session:
        response = await _file_ticket(session, request.app.state.dispatch, principal, body, key)
        await session.commit()
    return response


async def _file_ticket(
    session: AsyncSession,
    env: Dispatch,
    principal: Principal,
    body: TicketCreate,
    idempotency_key: str | None,
) -> Response:
    require(principal, INTAKE_ROLES, "Filing tickets")
    idem = (
        intake_service.Idempotency(principal.sub, idempotency_key, intake_service.body_hash(body))
        if idempotency_key
        else None
    )
    ticket, replayed = await intake_service.intake(session, env, principal, body, idem)
    master = await views.master_number_of(session, ticket) if ticket.master_id else None
    out = views.ticket_read(ticket, principal, env, master_number=master)  # the TicketRead shape
    headers = {"Location": f"/api/v1/tickets/{ticket.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        orjson.dumps(out, option=orjson.OPT_UTC_Z),  # the same spelling as pydantic's
        status_code=200 if replayed else 201,
        headers=headers,
        media_type="application/json",
    )


@router.get("/tickets", tags=["tickets"], response_model=Page[TicketSummary], responses=problems(401, 422))
async def list_tickets(
    principal: CurrentStaff,
    session: ReadSessionDep,
    page: PageDep,
    status: Annotated[list[Literal[STATUSES]] | None, Query()] = None,  # type: ignore[valid-type]
    channel: Annotated[list[Literal[CHANNELS]] | None, Query()] = None,  # type: ignore[valid-type]
    unit: Annotated[str | None, Query(pattern=r"^[A-Z]{2,4}$")] = None,
    level: Level | None = None,
    area: Annotated[
        str | None, Query(pattern=r"^[0-9]{6,18}$", description="An area code: street, community, grid…")
    ] = None,
    created_from: date | None = None,
    created_to: date | None = Query(default=None, description="Inclusive."),
    overdue: bool | None = None,
    q: Annotated[
        Text | None, Query(max_length=50, description="A ticket number, or words in text or address.")
    ] = None,
) -> Page[TicketSummary]:
    """Search tickets within your scope (your areas; a unit's handlers: their unit's tickets), newest first."""
    conds = views.filters(
        status=status, channel=channel, unit=unit, level=level, area=area,
        created_from=created_from, created_to=created_to, overdue=overdue, q=q,
    )  # fmt: skip
    items, total = await views.search(session, principal, conds, limit=page.limit, offset=page.offset)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/tickets/by-number/{number}", tags=["tickets"], response_model=TicketDetail, responses=problems(401, 404)
)
async def get_ticket_by_number(
    number: Annotated[str, Path(pattern=r"^SF[0-9]{14}$")],
    principal: CurrentStaff,
    session: ReadSessionDep,
    env: DispatchDep,
) -> dict[str, Any]:
    ticket = await views.get_visible(session, principal, number=number)
    return await views.detail(session, env, principal, ticket)


@router.get(
    "/tickets/{ticket_id}", tags=["tickets"], response_model=TicketDetail, responses=problems(401, 404)
)
async def get_ticket(
    ticket_id: BigKey, principal: CurrentStaff, session: ReadSessionDep, env: DispatchDep
) -> dict[str, Any]:
    """A ticket with its full timeline (全程留痕), returns, extensions, supervision and linked duplicates."""
    ticket = await views.get_visible(session, principal, ticket_id=ticket_id)
    return await views.detail(session, env, principal, ticket)


@router.post(
    "/tickets/{ticket_id}/transitions",
    tags=["tickets"],
    response_model=TicketRead,
    responses=problems(401, 403, 404, 409, 422),
)
async def create_transition(
    ticket_id: BigKey, body: TransitionCreate, principal: CurrentStaff, session: SessionDep, env: DispatchDep
) -> dict[str, Any]:
    """Take one step of the loop. A step the ticket's state does not allow is a 409 whose `allowed` lists
    what you may do now; a step your role may not take is a 403. Every step is appended to the trail."""
    ticket = await transitions.transition(session, env, principal, ticket_id, body)
    return views.ticket_read(
        ticket, principal, env, master_number=await views.master_number_of(session, ticket)
    )


# ---- work views --------------------------------------------------------------------------------------

QueueName = Literal["dispatch-centre", "unit-inbox", "verification"]
QUEUE_ROLES = {
    "dispatch-centre": (*DISPATCHERS, "community_admin"),
    "unit-inbox": (HANDLER, "community_admin", *DISPATCHERS),
    "verification": (GRID, "community_admin", *DISPATCHERS),
}


@router.get(
    "/queues/{queue}", tags=["work views"], response_model=Page[TicketSummary], responses=problems(401, 403)
)
async def list_queue(
    queue: QueueName,
    principal: CurrentStaff,
    session: ReadSessionDep,
    page: PageDep,
    unit: Annotated[
        str | None, Query(pattern=r"^[A-Z]{2,4}$", description="unit-inbox: which unit (dispatchers).")
    ] = None,
) -> Page[TicketSummary]:
    """A desk's work, oldest first: `dispatch-centre` (triage, returns awaiting a ruling, dissatisfied
    reviews, on-site checks before dispatch, verified tickets to close, extension requests),
    `unit-inbox` (a unit's open tickets), `verification` (handled tickets awaiting the grid worker's check)."""
    require(principal, QUEUE_ROLES[queue], f"The {queue} queue")
    conds = views.queue_conditions(queue)
    if queue == "unit-inbox" and unit:
        conds.append(Ticket.unit == unit)
    items, total = await views.search(
        session, principal, conds, limit=page.limit, offset=page.offset, oldest_first=True
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/supervisions", tags=["work views"], response_model=Page[SupervisionRead], responses=problems(401)
)
async def list_supervisions(
    principal: CurrentStaff,
    session: ReadSessionDep,
    page: PageDep,
    kind: Literal["warning", "yellow", "red"] | None = None,
    unit: Annotated[str | None, Query(pattern=r"^[A-Z]{2,4}$")] = None,
) -> Page[SupervisionRead]:
    """Supervision records (督办) on tickets in your scope, newest first."""
    stmt = (
        select(Supervision)
        .join(Ticket, Ticket.id == Supervision.ticket_id)
        .where(views.scope_clause(principal))
    )
    if kind:
        stmt = stmt.where(Supervision.kind == kind)
    if unit:
        stmt = stmt.where(Supervision.unit == unit)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        (await session.execute(stmt.order_by(Supervision.id.desc()).limit(page.limit).offset(page.offset)))
        .scalars()
        .all()
    )
    return Page(
        items=[SupervisionRead.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


# ---- reports -----------------------------------------------------------------------------------------

REPORT_ROLES = ("district_admin", "street_dispatcher")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/reports/weekly",
    tags=["reports"],
    response_model=report.WeeklyReportRead,
    responses={
        200: {
            "content": {XLSX: {}, "image/svg+xml": {}},
            "description": "The report as JSON, as an .xlsx workbook (`format=xlsx`) or as a chart (`format=svg`).",
        },
        **problems(401, 403, 422),
    },
)
async def get_weekly_report(
    principal: CurrentStaff,
    session: ReadSessionDep,
    env: DispatchDep,
    week: Annotated[
        str, Query(pattern=r"^[0-9]{4}-W[0-9]{2}$", examples=["2026-W47"], description="ISO week.")
    ],
    format: Literal["json", "xlsx", "svg"] = "json",
) -> Any:
    """一周一点评: per unit and per street — received, closed, on-time rate, overdue, returned, median
    working hours to close, satisfaction rate — with the ranking and the red and black lists (thresholds
    are settings). District admins see the district; a street dispatcher sees their street."""
    require(principal, REPORT_ROLES, "The weekly review")
    prefixes = None if principal.role == "district_admin" else tuple(principal.scope)
    try:
        data = await report.weekly_report(
            session,
            week=week,
            thresholds=report.Thresholds.from_settings(env.settings),
            street_prefixes=prefixes,
        )
    except ValueError as exc:
        raise InvalidWeek(f"{exc}; give an ISO week such as 2026-W47.") from None
    if format == "xlsx":
        return Response(
            report.report_xlsx(data),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="weekly-review-{week}.xlsx"'},
        )
    if format == "svg":
        return Response(report.report_svg(data), media_type="image/svg+xml")
    return data
