"""Registry HTTP API: thin handlers that validate, call the service layer and shape the answer."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, BackgroundTasks, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import AfterValidator, BaseModel, Field, ValidationError
from sqlalchemy import select
from starlette.background import BackgroundTask

from services.registry import scope as sc
from services.registry.crypto import mask_phone
from services.registry.deps import (
    CodecDep,
    CurrentStaff,
    IndexDep,
    IssuerDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from services.registry.errors import (
    AccountNotFound,
    GridStaffNotFound,
    LoginFailed,
    NotLocated,
    ResidentNotFound,
)
from services.registry.models import GRID_STAFF_ROLES, Area, GridStaff, MapRevision, StaffAccount
from services.registry.schemas import (
    GRID_KIND_LABELS,
    MANAGEMENT_LABELS,
    AddressMatch,
    AreaCreate,
    AreaLevel,
    AreaRead,
    AreaStats,
    AreaUpdate,
    BuildingCreate,
    BuildingRead,
    BuildingUpdate,
    CoverageCreate,
    CoverageSet,
    GridCard,
    GridKind,
    GridStaffCreate,
    GridStaffRead,
    GridStaffUpdate,
    HouseholdCoverage,
    HouseholdCreate,
    HouseholdRead,
    IdentityCheck,
    IdentityMatch,
    IdLookup,
    ImportProblem,
    ImportResult,
    LocateResult,
    ManagementType,
    Me,
    PartyOrgCreate,
    PartyOrgRead,
    PrimaryKey,
    ResidentCreate,
    ResidentDetail,
    ResidentMoveCreate,
    ResidentMoveRead,
    ResidentRead,
    ResidentTag,
    ResidentUpdate,
    StaffAccountCreate,
    StaffAccountRead,
    StaffAccountUpdate,
    TokenRead,
    no_nul,
)
from services.registry.service import accounts, areas, party, people, stats
from services.registry.service import imports as imp
from services.registry.service.geo import LocationIndex
from services.registry.service.party import card_staff
from shared.auth import Principal, staff_from_request
from shared.pagination import Page, PageDep
from shared.problems import PROBLEM_JSON, Unprocessable, problems

AreaCode = Annotated[
    str | None, Query(pattern=r"^[0-9]{6,18}$", description="Only rows inside this area code.")
]
RevealQuery = Annotated[
    bool,
    Query(
        description=(
            "Return the full identity number and phone. Only district_admin, community_admin and grid_worker may; "
            "every reveal is recorded."
        )
    ),
]

auth_router = APIRouter(tags=["auth"])
router = APIRouter(prefix="/api/v1")


def refresh_index_after_commit(request: Request, background: BackgroundTasks) -> None:
    """Rebuild this replica's location index once the edit has committed (background tasks run after
    the response); other replicas notice the moved map revision within REGISTRY_GEO_REFRESH_S."""
    background.add_task(request.app.state.geo.refresh_if_stale, request.app.state.sessionmaker)


# ---- locate (first: the hottest route, and route matching is a linear scan) ----


class LocateQuery(BaseModel):
    lat: float | None = Field(default=None, ge=3.0, le=54.0, description="WGS84 latitude (inside China).")
    lng: float | None = Field(default=None, ge=73.0, le=136.0, description="WGS84 longitude (inside China).")
    address: Annotated[str, AfterValidator(no_nul)] | None = Field(
        default=None, min_length=2, max_length=200, description="A Chinese address, e.g. 龙锦花园3幢2单元301"
    )


_LOCATE_PARAMS = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": prop.pop("description", ""),
        "schema": prop,
    }
    for name, prop in LocateQuery.model_json_schema()["properties"].items()
]


@router.get(
    "/locate",
    tags=["locate"],
    responses={
        200: {
            "model": LocateResult | AddressMatch,
            "description": "The areas containing the point or address.",
        },
        **problems(401, 404, 422),
    },
    openapi_extra={"parameters": _LOCATE_PARAMS, "security": [{"OAuth2PasswordBearer": []}]},
)
async def locate_place(request: Request) -> Response:
    """Resolve a point to its micro-grid, grid, community, street and district; or an address string to the
    best-matching building or community, with a score. 404 if nothing contains or matches it."""
    # Dispatch calls this once per ticket. The handler takes the bare request and validates its query
    # with one model: FastAPI's per-parameter dependency resolution was most of this route's cost.
    await staff_from_request(request)
    try:
        q = LocateQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None
    index: LocationIndex = request.app.state.geo
    if q.lat is not None and q.lng is not None:
        body = index.locate_json(q.lat, q.lng)
        if body is None:
            raise NotLocated(f"No grid contains the point lat={q.lat}, lng={q.lng}.")
        return Response(body, media_type="application/json")
    if q.address:
        match = index.match_address(q.address)
        if match is None:
            raise NotLocated(f"No registered building or community matches {q.address!r} well enough.")
        return Response(orjson.dumps(match), media_type="application/json")
    raise Unprocessable("Give either lat and lng, or address.")


class MapArea(BaseModel):
    code: str
    name: str
    level: str
    boundary: dict[str, Any] | None = Field(
        description="GeoJSON Polygon/MultiPolygon (grids and micro-grids)."
    )


class MapRead(BaseModel):
    rev: int = Field(description="The map revision; it moves with every boundary, area or building edit.")
    areas: list[MapArea]


@router.get(
    "/map",
    tags=["locate"],
    response_model=MapRead,
    responses={
        304: {"description": "Unchanged since the revision named in If-None-Match."},
        **problems(401, 403),
    },
)
async def get_map(
    session: ReadSessionDep,
    principal: CurrentStaff,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    """Every area's code and name, with the grid and micro-grid boundaries: for services that place many
    points themselves (dispatch intake) and keep the copy current by revision. The ETag is the revision;
    send it back in `If-None-Match` and an unchanged map is a bodiless 304."""
    sc.require_role(principal, {"service", "district_admin"}, "read the whole map")
    rev = (
        await session.execute(select(MapRevision.rev).where(MapRevision.id == 1))
    ).scalar_one_or_none() or 0
    etag = f'"map-{rev}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    rows = await session.execute(select(Area.code, Area.name, Area.level, Area.boundary).order_by(Area.code))
    body = {
        "rev": rev,
        "areas": [
            {"code": c, "name": n, "level": lv, "boundary": b if lv in ("grid", "micro_grid") else None}
            for c, n, lv, b in rows
        ],
    }
    return Response(orjson.dumps(body), media_type="application/json", headers={"ETag": etag})


# ---- auth ---------------------------------------------------------------------------------------


@auth_router.post(
    "/api/v1/auth/token",
    response_model=TokenRead,
    responses=problems(401, 422, 423),
    summary="Log in (OAuth2 password flow) or get a service token (client credentials)",
)
async def create_token(
    session: SessionDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    grant_type: Annotated[Literal["password", "client_credentials"], Form()] = "password",
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=128)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=128)] = None,
) -> TokenRead:
    """Staff send `username` and `password` (this is what Swagger UI's **Authorize** does).
    Services send `grant_type=client_credentials` with `client_id`/`client_secret`.
    Five wrong passwords lock the account for 15 minutes (423)."""
    service = grant_type == "client_credentials"
    user = client_id if service else username
    secret = client_secret if service else password
    if not user or not secret:
        raise LoginFailed("Send username and password (or client_id and client_secret for a service).")
    account = await accounts.authenticate(
        session,
        user,
        secret,
        max_failures=settings.login_max_failures,
        lock_s=settings.login_lock_s,
        service=service,
    )
    token, ttl = issuer.issue(account)
    return TokenRead(access_token=token, expires_in=ttl)


@auth_router.get("/.well-known/jwks.json", summary="Public keys that verify GridGov access tokens")
async def get_jwks(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    return await accounts.jwks(session, max_token_ttl_s=settings.access_token_ttl_s)


@auth_router.get("/api/v1/auth/me", response_model=Me, responses=problems(401))
async def get_me(principal: CurrentStaff) -> Me:
    return Me(
        sub=principal.sub, role=principal.role, scope=list(principal.scope), expires_at=principal.expires_at
    )


@auth_router.post(
    "/api/v1/auth/keys/rotate",
    responses=problems(401, 403),
    summary="Start signing with a new key; old tokens stay valid until they expire",
)
async def rotate_signing_key(
    request: Request, session: SessionDep, principal: CurrentStaff, issuer: IssuerDep
) -> dict[str, str]:
    sc.require_role(principal, {"district_admin"}, "rotate signing keys")
    key = await accounts.rotate_signing_key(session, request.app.state.sealer)
    issuer.key = key
    request.app.state.verifier.keys.forget()  # this replica verifies the new kid at once
    return {"kid": key.kid}


@router.get(
    "/staff-accounts", response_model=Page[StaffAccountRead], tags=["auth"], responses=problems(401, 403)
)
async def list_staff_accounts(
    session: SessionDep,
    principal: CurrentStaff,
    page: PageDep,
    role: str | None = Query(default=None, max_length=32),
) -> Page[StaffAccountRead]:
    rows, total = await accounts.list_accounts(
        session, principal, role=role, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[StaffAccountRead.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/staff-accounts",
    response_model=StaffAccountRead,
    status_code=201,
    tags=["auth"],
    responses=problems(401, 403, 409, 422),
)
async def create_staff_account(
    session: SessionDep, principal: CurrentStaff, body: StaffAccountCreate
) -> StaffAccountRead:
    """District admins create any staff account in their district; community admins create grid workers."""
    return StaffAccountRead.model_validate(await accounts.create_account(session, principal, body))


@router.get(
    "/staff-accounts/{account_id}",
    response_model=StaffAccountRead,
    tags=["auth"],
    responses=problems(401, 404),
)
async def get_staff_account(
    session: SessionDep, principal: CurrentStaff, account_id: PrimaryKey
) -> StaffAccountRead:
    return StaffAccountRead.model_validate(await accounts.get_account(session, principal, account_id))


@router.patch(
    "/staff-accounts/{account_id}",
    response_model=StaffAccountRead,
    tags=["auth"],
    responses=problems(401, 403, 404, 422),
)
async def update_staff_account(
    session: SessionDep, principal: CurrentStaff, account_id: PrimaryKey, body: StaffAccountUpdate
) -> StaffAccountRead:
    """Change a password, scope or status. Reactivating an account also unlocks it."""
    return StaffAccountRead.model_validate(
        await accounts.update_account(session, principal, account_id, body)
    )


# ---- areas --------------------------------------------------------------------------------------


async def _area_reads(session: SessionDep, rows: list[Area]) -> list[AreaRead]:
    warnings = await areas.warnings_for(session, rows)
    return [AreaRead.model_validate(a).model_copy(update={"warnings": warnings.get(a.id, [])}) for a in rows]


@router.get("/areas", response_model=Page[AreaRead], tags=["areas"], responses=problems(401))
async def list_areas(
    session: SessionDep,
    principal: CurrentStaff,
    page: PageDep,
    level: AreaLevel | None = None,
    parent_id: PrimaryKey | None = None,
    q: str | None = Query(default=None, max_length=50, description="Name contains."),
    code_prefix: AreaCode = None,
) -> Page[AreaRead]:
    """Every level of the tree. Area roles see their scope, its subtree and its ancestors."""
    rows, total = await areas.list_areas(
        session,
        principal,
        level=level,
        parent_id=parent_id,
        q=q,
        code_prefix=code_prefix,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=await _area_reads(session, rows), total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/areas", response_model=AreaRead, status_code=201, tags=["areas"], responses=problems(401, 403, 409, 422)
)
async def create_area(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    body: AreaCreate,
) -> AreaRead:
    area = await areas.create_area(session, principal, body)
    refresh_index_after_commit(request, background)
    return (await _area_reads(session, [area]))[0]


@router.get("/areas/{area_id}", response_model=AreaRead, tags=["areas"], responses=problems(401, 403, 404))
async def get_area(session: SessionDep, principal: CurrentStaff, area_id: PrimaryKey) -> AreaRead:
    area = await areas.get_visible_area(session, principal, area_id)
    return (await _area_reads(session, [area]))[0]


@router.patch(
    "/areas/{area_id}", response_model=AreaRead, tags=["areas"], responses=problems(401, 403, 404, 409, 422)
)
async def update_area(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    area_id: PrimaryKey,
    body: AreaUpdate,
) -> AreaRead:
    area = await areas.update_area(session, principal, area_id, body)
    refresh_index_after_commit(request, background)
    return (await _area_reads(session, [area]))[0]


@router.delete("/areas/{area_id}", status_code=204, tags=["areas"], responses=problems(401, 403, 404, 409))
async def delete_area(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    area_id: PrimaryKey,
) -> Response:
    await areas.delete_area(session, principal, area_id)
    refresh_index_after_commit(request, background)
    return Response(status_code=204)


@router.get(
    "/areas/{area_id}/stats", response_model=AreaStats, tags=["statistics"], responses=problems(401, 403, 404)
)
async def get_area_stats(session: SessionDep, principal: CurrentStaff, area_id: PrimaryKey) -> AreaStats:
    """Households, residents, residents by tag, grid staff and sizing warnings, for the area and each child."""
    sc.require_role(principal, (*sc.AREA_WRITERS, "grid_worker", "service"), "read statistics")
    area = await areas.get_area(session, area_id)
    sc.ensure_area(principal, area.code, f"{area.level.capitalize()} {area.name}")
    return AreaStats.model_validate(await stats.area_stats(session, area))


# ---- grids --------------------------------------------------------------------------------------


@router.get("/grids", response_model=Page[AreaRead], tags=["grids"], responses=problems(401))
async def list_grids(
    session: SessionDep,
    principal: CurrentStaff,
    page: PageDep,
    community_id: PrimaryKey | None = None,
    grid_kind: GridKind | None = None,
    management_type: ManagementType | None = None,
) -> Page[AreaRead]:
    """Grids with their boundary polygons (GeoJSON), kind, management type and sizing warnings."""
    rows, total = await areas.list_areas(
        session,
        principal,
        level="grid",
        parent_id=community_id,
        q=None,
        code_prefix=None,
        limit=page.limit,
        offset=page.offset,
        grid_kind=grid_kind,
        management_type=management_type,
    )
    return Page(items=await _area_reads(session, rows), total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/grids", response_model=AreaRead, status_code=201, tags=["grids"], responses=problems(401, 403, 409, 422)
)
async def create_grid(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    body: AreaCreate,
) -> AreaRead:
    """Same as `POST /areas` with `level` = grid. Overlapping another grid is a 409 naming it."""
    body = body.model_copy(update={"level": "grid"})
    area = await areas.create_area(session, principal, body)
    refresh_index_after_commit(request, background)
    return (await _area_reads(session, [area]))[0]


@router.get("/grids/{grid_id}", response_model=AreaRead, tags=["grids"], responses=problems(401, 403, 404))
async def get_grid(session: SessionDep, principal: CurrentStaff, grid_id: PrimaryKey) -> AreaRead:
    area = await areas.get_visible_area(session, principal, grid_id, level="grid")
    return (await _area_reads(session, [area]))[0]


@router.patch(
    "/grids/{grid_id}", response_model=AreaRead, tags=["grids"], responses=problems(401, 403, 404, 409, 422)
)
async def update_grid(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    grid_id: PrimaryKey,
    body: AreaUpdate,
) -> AreaRead:
    area = await areas.update_area(session, principal, grid_id, body, level="grid")
    refresh_index_after_commit(request, background)
    return (await _area_reads(session, [area]))[0]


@router.get("/grids/{grid_id}/card", response_model=GridCard, tags=["grids"], responses=problems(401, 404))
async def get_grid_card(
    session: SessionDep, principal: CurrentStaff, index: IndexDep, grid_id: PrimaryKey
) -> GridCard:
    """The public grid card (网格公示牌): who serves this grid and how to reach them. Personal mobiles are
    masked; service phones are shown in full."""
    area = await areas.get_area(session, grid_id, level="grid")
    chain = index.chain(area.id) if area.id in index.nodes else {}
    staff = list((await session.execute(select(GridStaff).where(GridStaff.grid_id == area.id))).scalars())
    counts = (await areas.sizing_counts(session, [area.code]))[area.code]
    return GridCard(
        grid={"id": area.id, "code": area.code, "name": area.name, "level": "grid"},
        community=chain.get("community"),
        street=chain.get("street"),
        grid_kind=area.grid_kind,
        grid_kind_label=GRID_KIND_LABELS.get(area.grid_kind or ""),
        management_type=area.management_type,
        management_type_label=MANAGEMENT_LABELS.get(area.management_type or ""),
        area_m2=area.area_m2,
        households=counts[0],
        residents=counts[1],
        staff=card_staff(staff),
    )


def _staff_read(s: GridStaff, principal: Principal, grid_code: str) -> GridStaffRead:
    full = principal.role in sc.AREA_WRITERS and principal.covers_area(grid_code)
    return GridStaffRead(
        id=s.id,
        grid_id=s.grid_id,
        name=s.name,
        role=s.role,  # type: ignore[arg-type]
        role_label=GRID_STAFF_ROLES[s.role],
        service_phone=s.service_phone,
        personal_phone=s.personal_phone if full else mask_phone(s.personal_phone),
        account_id=s.account_id,
    )


@router.get(
    "/grids/{grid_id}/staff", response_model=list[GridStaffRead], tags=["grids"], responses=problems(401, 404)
)
async def list_grid_staff(
    session: SessionDep, principal: CurrentStaff, grid_id: PrimaryKey
) -> list[GridStaffRead]:
    area = await areas.get_visible_area(session, principal, grid_id, level="grid")
    rows = (
        await session.execute(select(GridStaff).where(GridStaff.grid_id == area.id).order_by(GridStaff.id))
    ).scalars()
    return [_staff_read(s, principal, area.code) for s in rows]


@router.post(
    "/grids/{grid_id}/staff",
    response_model=GridStaffRead,
    status_code=201,
    tags=["grids"],
    responses=problems(401, 403, 404, 422),
)
async def create_grid_staff(
    session: SessionDep, principal: CurrentStaff, grid_id: PrimaryKey, body: GridStaffCreate
) -> GridStaffRead:
    """Add a member of the grid's team: 一格五员 (网格长, 专职/兼职网格员, 指导员, 信息员) or one of the
    specialist members of 一长六员."""
    sc.require_role(principal, sc.AREA_WRITERS, "manage grid staff")
    area = await areas.get_area(session, grid_id, level="grid")
    sc.ensure_area(principal, area.code, f"Grid {area.name}")
    await _ensure_account(session, body.account_id)
    s = GridStaff(grid_id=area.id, **body.model_dump())
    session.add(s)
    await session.flush()
    return _staff_read(s, principal, area.code)


async def _ensure_account(session: SessionDep, account_id: int | None) -> None:
    """A grid staff member's login must exist (else the foreign key fails: a 500 the fuzzer found)."""
    if account_id is not None and await session.get(StaffAccount, account_id) is None:
        raise AccountNotFound(f"No staff account with id {account_id}.")


async def _grid_staff(session: SessionDep, principal: Principal, staff_id: int) -> tuple[GridStaff, Area]:
    sc.require_role(principal, sc.AREA_WRITERS, "manage grid staff")
    s = await session.get(GridStaff, staff_id)
    if s is None:
        raise GridStaffNotFound(f"No grid staff member with id {staff_id}.")
    area = await areas.get_area(session, s.grid_id)
    sc.ensure_area(principal, area.code, f"Grid {area.name}")
    return s, area


@router.patch(
    "/grid-staff/{staff_id}",
    response_model=GridStaffRead,
    tags=["grids"],
    responses=problems(401, 403, 404, 422),
)
async def update_grid_staff(
    session: SessionDep, principal: CurrentStaff, staff_id: PrimaryKey, body: GridStaffUpdate
) -> GridStaffRead:
    s, area = await _grid_staff(session, principal, staff_id)
    await _ensure_account(session, body.account_id)
    for k, v in body.model_dump(exclude_unset=True).items():
        if v is not None or k in ("service_phone", "personal_phone", "account_id"):
            setattr(s, k, v)
    await session.flush()
    return _staff_read(s, principal, area.code)


@router.delete("/grid-staff/{staff_id}", status_code=204, tags=["grids"], responses=problems(401, 403, 404))
async def delete_grid_staff(session: SessionDep, principal: CurrentStaff, staff_id: PrimaryKey) -> Response:
    s, _ = await _grid_staff(session, principal, staff_id)
    await session.delete(s)
    await session.flush()
    return Response(status_code=204)


# ---- buildings and households -------------------------------------------------------------------


@router.get("/buildings", response_model=Page[BuildingRead], tags=["places"], responses=problems(401, 403))
async def list_buildings(
    session: SessionDep,
    principal: CurrentStaff,
    page: PageDep,
    micro_grid_id: PrimaryKey | None = None,
    area_code: AreaCode = None,
    q: str | None = Query(default=None, max_length=50, description="Address contains."),
) -> Page[BuildingRead]:
    rows, total = await people.list_buildings(
        session,
        principal,
        micro_grid_id=micro_grid_id,
        area_code=area_code,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[BuildingRead.model_validate(b) for b in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/buildings",
    response_model=BuildingRead,
    status_code=201,
    tags=["places"],
    responses=problems(401, 403, 404, 409, 422),
)
async def create_building(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    body: BuildingCreate,
) -> BuildingRead:
    b = await people.create_building(session, principal, body)
    refresh_index_after_commit(request, background)
    return BuildingRead.model_validate(b)


@router.get(
    "/buildings/{building_id}",
    response_model=BuildingRead,
    tags=["places"],
    responses=problems(401, 403, 404),
)
async def get_building(session: SessionDep, principal: CurrentStaff, building_id: PrimaryKey) -> BuildingRead:
    sc.require_role(principal, sc.PEOPLE_READERS, "read buildings")
    return BuildingRead.model_validate(await people.get_building(session, principal, building_id))


@router.patch(
    "/buildings/{building_id}",
    response_model=BuildingRead,
    tags=["places"],
    responses=problems(401, 403, 404, 422),
)
async def update_building(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    building_id: PrimaryKey,
    body: BuildingUpdate,
) -> BuildingRead:
    """Moving a building to another micro-grid moves its households and residents with it."""
    b = await people.update_building(session, principal, building_id, body)
    refresh_index_after_commit(request, background)
    return BuildingRead.model_validate(b)


@router.delete(
    "/buildings/{building_id}", status_code=204, tags=["places"], responses=problems(401, 403, 404, 409)
)
async def delete_building(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: CurrentStaff,
    building_id: PrimaryKey,
) -> Response:
    """Delete a building that has no households left."""
    await people.delete_building(session, principal, building_id)
    refresh_index_after_commit(request, background)
    return Response(status_code=204)


@router.get("/households", response_model=Page[HouseholdRead], tags=["places"], responses=problems(401, 403))
async def list_households(
    session: SessionDep,
    principal: CurrentStaff,
    page: PageDep,
    building_id: PrimaryKey | None = None,
    area_code: AreaCode = None,
) -> Page[HouseholdRead]:
    rows, total = await people.list_households(
        session, principal, building_id=building_id, area_code=area_code, limit=page.limit, offset=page.offset
    )
    items = [HouseholdRead.model_validate(h) for h in await people.household_reads(session, rows)]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/households",
    response_model=HouseholdRead,
    status_code=201,
    tags=["places"],
    responses=problems(401, 403, 404, 409, 422),
)
async def create_household(
    session: SessionDep, principal: CurrentStaff, body: HouseholdCreate
) -> HouseholdRead:
    h = await people.create_household(session, principal, body)
    return HouseholdRead.model_validate((await people.household_reads(session, [h]))[0])


@router.get(
    "/households/{household_id}",
    response_model=HouseholdRead,
    tags=["places"],
    responses=problems(401, 403, 404),
)
async def get_household(
    session: SessionDep, principal: CurrentStaff, household_id: PrimaryKey
) -> HouseholdRead:
    sc.require_role(principal, sc.PEOPLE_READERS, "read households")
    h = await people.get_household(session, principal, household_id)
    return HouseholdRead.model_validate((await people.household_reads(session, [h]))[0])


@router.delete(
    "/households/{household_id}", status_code=204, tags=["places"], responses=problems(401, 403, 404, 409)
)
async def delete_household(
    session: SessionDep, principal: CurrentStaff, household_id: PrimaryKey
) -> Response:
    """Delete a household that has no residents left."""
    await people.delete_household(session, principal, household_id)
    return Response(status_code=204)


@router.get(
    "/households/{household_id}/coverage",
    response_model=HouseholdCoverage,
    tags=["party"],
    responses=problems(401, 403, 404),
)
async def get_household_coverage(
    session: SessionDep, principal: CurrentStaff, index: IndexDep, household_id: PrimaryKey
) -> HouseholdCoverage:
    """Who covers household X: its micro-grid and grid, the grid team, its party-member central household
    (党员中心户) and building group, and its resident representative — in one call."""
    sc.require_role(principal, sc.PEOPLE_READERS, "read household coverage")
    h = await people.get_household(session, principal, household_id)
    mg = (await session.execute(select(Area.id).where(Area.code == h.area_code))).scalar_one()
    return HouseholdCoverage.model_validate(
        await party.household_coverage(session, principal, household_id, index.chain(mg))
    )


# ---- residents ----------------------------------------------------------------------------------


@router.get("/residents", response_model=Page[ResidentRead], tags=["residents"], responses=problems(401, 403))
async def list_residents(
    session: SessionDep,
    principal: CurrentStaff,
    page: PageDep,
    household_id: PrimaryKey | None = None,
    area_code: AreaCode = None,
    tag: ResidentTag | None = Query(
        default=None, description="e.g. 独居老人 for the home-service (上门办) list."
    ),
    q: str | None = Query(default=None, max_length=50, description="Name starts with."),
) -> Page[ResidentRead]:
    """Residents in your scope; identity numbers and phones always masked here."""
    rows, total = await people.list_residents(
        session,
        principal,
        household_id=household_id,
        area_code=area_code,
        tag=tag,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[ResidentRead.model_validate(people.resident_read(r)) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/residents",
    response_model=ResidentRead,
    status_code=201,
    tags=["residents"],
    responses=problems(401, 403, 404, 409, 422),
)
async def create_resident(
    session: SessionDep, principal: CurrentStaff, codec: CodecDep, body: ResidentCreate
) -> ResidentRead:
    """Register a resident in a household. The identity number is checked (GB 11643 check digit) and
    stored sealed; gender and birth date come from it."""
    r = await people.create_resident(session, principal, codec, body)
    return ResidentRead.model_validate(people.resident_read(r))


async def _detail(
    session: SessionDep, principal: Principal, codec: CodecDep, r: Any, reveal: bool
) -> ResidentDetail:
    shown = await people.codec_for_reveal(session, principal, codec, r.id, reveal)
    moves = await people.resident_moves(session, r.id)
    return ResidentDetail.model_validate(
        {
            **people.resident_read(r, codec=shown),
            "moves": [ResidentMoveRead.model_validate(m) for m in moves],
        }
    )


@router.get(
    "/residents/{resident_id}",
    response_model=ResidentDetail,
    tags=["residents"],
    responses=problems(401, 403, 404),
)
async def get_resident(
    session: SessionDep,
    principal: CurrentStaff,
    codec: CodecDep,
    resident_id: PrimaryKey,
    reveal: RevealQuery = False,
) -> ResidentDetail:
    r = await people.get_resident(session, principal, resident_id)
    return await _detail(session, principal, codec, r, reveal)


@router.patch(
    "/residents/{resident_id}",
    response_model=ResidentRead,
    tags=["residents"],
    responses=problems(401, 403, 404, 422),
)
async def update_resident(
    session: SessionDep, principal: CurrentStaff, resident_id: PrimaryKey, body: ResidentUpdate
) -> ResidentRead:
    r = await people.update_resident(session, principal, resident_id, body)
    return ResidentRead.model_validate(people.resident_read(r))


@router.delete(
    "/residents/{resident_id}", status_code=204, tags=["residents"], responses=problems(401, 403, 404)
)
async def delete_resident(session: SessionDep, principal: CurrentStaff, resident_id: PrimaryKey) -> Response:
    """Deregister (注销) a resident who died or left the district; a move inside it is `POST …/move`.
    The deregistration is recorded with who did it."""
    await people.delete_resident(session, principal, resident_id)
    return Response(status_code=204)


@router.post(
    "/residents/{resident_id}/move",
    response_model=ResidentMoveRead,
    status_code=201,
    tags=["residents"],
    responses=problems(401, 403, 404, 409, 422),
)
async def move_resident(
    session: SessionDep, principal: CurrentStaff, resident_id: PrimaryKey, body: ResidentMoveCreate
) -> ResidentMoveRead:
    """Move a resident to another household; their history is kept and listed on the resident."""
    move = await people.move_resident(session, principal, resident_id, body.to_household_id, body.reason)
    return ResidentMoveRead.model_validate(move)


@router.post(
    "/residents/lookup",
    response_model=ResidentRead,
    tags=["residents"],
    responses=problems(401, 403, 404, 422),
)
async def lookup_resident(
    session: ReadSessionDep,
    principal: CurrentStaff,
    codec: CodecDep,
    body: IdLookup,
    reveal: RevealQuery = False,
) -> ResidentRead:
    """Find a resident by identity number. A POST, so the number never appears in a URL or access log.
    One indexed query; `GET /residents/{id}` adds the move history."""
    r = await people.lookup_by_id_number(session, principal, codec, body.id_number)
    shown = await people.codec_for_reveal(session, principal, codec, r.id, reveal)
    return ResidentRead.model_validate(people.resident_read(r, codec=shown))


@router.post(
    "/residents/identity-check",
    response_model=IdentityMatch,
    tags=["residents"],
    responses=problems(401, 403, 404, 422),
)
async def check_resident_identity(
    session: SessionDep, principal: CurrentStaff, body: IdentityCheck
) -> IdentityMatch:
    """For the mobile service only: does exactly one resident have this name, phone and identity-number
    ending? Used when a mini-program user binds to their household."""
    r = await people.check_identity(
        session, principal, name=body.name, phone=body.phone, id_last4=body.id_last4
    )
    if r is None:
        raise ResidentNotFound("No single resident matches these details.")
    return IdentityMatch(resident_id=r.id, household_id=r.household_id, area_code=r.area_code)


# ---- party organisation -------------------------------------------------------------------------


@router.get("/party-orgs", response_model=list[PartyOrgRead], tags=["party"], responses=problems(401, 403))
async def list_party_orgs(
    session: SessionDep, principal: CurrentStaff, community_id: PrimaryKey | None = None
) -> list[PartyOrgRead]:
    return [
        PartyOrgRead.model_validate(o) for o in await party.list_party_orgs(session, principal, community_id)
    ]


@router.post(
    "/party-orgs",
    response_model=PartyOrgRead,
    status_code=201,
    tags=["party"],
    responses=problems(401, 403, 404, 422),
)
async def create_party_org(
    session: SessionDep, principal: CurrentStaff, body: PartyOrgCreate
) -> PartyOrgRead:
    """Community party committee → residential branch → building group."""
    return PartyOrgRead.model_validate(await party.create_party_org(session, principal, body))


@router.put(
    "/household-coverage",
    response_model=CoverageSet,
    tags=["party"],
    responses=problems(401, 403, 404, 409, 422),
)
async def set_household_coverage(
    session: SessionDep, principal: CurrentStaff, body: CoverageCreate
) -> CoverageSet:
    """Set the households one party-member central household (20–30) or resident representative (10–15)
    covers, replacing that person's previous set."""
    return CoverageSet.model_validate(await party.set_coverage(session, principal, body))


# ---- import and export --------------------------------------------------------------------------


@router.post(
    "/imports/residents",
    response_model=ImportResult,
    status_code=201,
    tags=["import"],
    responses={
        **problems(401, 403, 413, 415),
        422: {
            "model": ImportProblem,
            "description": "The file is rejected (every bad row listed) or the request is malformed",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ImportProblem"}}},
        },
    },
)
async def import_residents(
    session: SessionDep,
    principal: CurrentStaff,
    codec: CodecDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description=".xlsx or .csv (UTF-8 or GBK)")],
) -> ImportResult:
    """Import the resident ledger (民情台账). Row 1 holds the headers 楼栋编码, 单元, 房号, 姓名, 性别,
    身份证号, 联系电话, 与户主关系, 标签 (required: 楼栋编码, 房号, 姓名, 身份证号). Households are created
    from building + unit + room. The whole file commits, or nothing does and every bad row is listed
    (row, column, reason) in the 422 problem's `errors`."""
    result = await imp.import_residents(
        session,
        principal,
        codec,
        file.file,
        file.filename,
        max_errors=settings.import_max_reported_errors,
        statement_timeout_ms=settings.import_statement_timeout_ms,
    )
    return ImportResult.model_validate(result)


@router.get(
    "/imports/residents/template",
    tags=["import"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_import_template() -> Response:
    """An empty ledger with the expected headers (UTF-8 CSV with BOM, which Excel opens correctly)."""
    buf = io.StringIO()
    csv.writer(buf).writerow(imp.COLUMNS)
    return Response(
        ("\ufeff" + buf.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="residents-template.csv"'},
    )


@router.get(
    "/exports/residents",
    tags=["import"],
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        },
        **problems(401, 403, 404),
    },
)
async def export_residents(
    request: Request,
    session: SessionDep,
    principal: CurrentStaff,
    codec: CodecDep,
    area_code: Annotated[str, Query(pattern=r"^[0-9]{6,18}$", description="Area to export.")],
    format: Literal["csv", "xlsx"] = "csv",
    reveal: RevealQuery = False,
) -> Response:
    """Export residents of an area in the import format. Identity numbers are masked unless `reveal`
    (which is recorded, and only for roles that need full numbers)."""
    sc.require_role(principal, sc.PLACE_WRITERS, "export residents")
    sc.ensure_area(principal, area_code, "The export area")
    if reveal:
        sc.require_role(principal, sc.PII_READERS, "export full identity numbers")
    maker = request.app.state.sessionmaker
    bounds = imp.export_bounds(area_code)
    use_codec = codec if reveal else None
    if reveal:
        await people.record_pii_access(session, principal, "export", None, rows=0)
    name = f"residents-{area_code}.{format}"
    if format == "csv":

        async def chunks() -> Any:
            yield ("\ufeff" + ",".join(imp.COLUMNS) + "\r\n").encode()
            async with maker() as s:
                result = await s.stream(imp._EXPORT_SQL, bounds)
                buf = io.StringIO()
                w = csv.writer(buf)
                async for part in result.partitions(2000):
                    for r in part:
                        w.writerow(imp.export_row(r, use_codec))
                    yield buf.getvalue().encode()
                    buf.seek(0)
                    buf.truncate()

        return StreamingResponse(
            chunks(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民")
    ws.append(list(imp.COLUMNS))
    async with maker() as s:
        result = await s.stream(imp._EXPORT_SQL, bounds)
        async for part in result.partitions(2000):
            for r in part:
                ws.append(imp.export_row(r, use_codec))
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    wb.save(path)
    return FileResponse(
        path,
        filename=name,
        background=BackgroundTask(os.unlink, path),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
