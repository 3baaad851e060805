"""HTTP handlers for member units (大党委成员单位), their resource lists (资源清单), the needs list (需求清单),
the project list (项目清单) and the units suggested for a wish: thin, each calls `units.service`, `units.lists`
or `units.suggest`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from services.wishes.deps import CurrentStaff, ReadSessionDep, RegistryDep, SessionDep, SettingsDep
from services.wishes.schemas import AreaCode, Category
from services.wishes.units import lists, suggest
from services.wishes.units import service as svc
from services.wishes.units.schemas import (
    PERIOD,
    NeedCreate,
    NeedRead,
    NeedStatus,
    NeedUpdate,
    PooledResourceRead,
    ProgressBody,
    ProjectClaimBody,
    ProjectCreate,
    ProjectDetail,
    ProjectRead,
    ProjectStatus,
    ResourceCreate,
    ResourceKind,
    ResourceRead,
    ReviewBody,
    SuggestedUnit,
    UnitCreate,
    UnitKind,
    UnitRead,
    UnitUpdate,
)
from shared.pagination import Page, PageDep
from shared.problems import problems
from shared.types import PrimaryKey

router = APIRouter(prefix="/api/v1", tags=["units"])

PeriodPath = Annotated[str, Path(pattern=PERIOD, description="A half year, e.g. 2026H2.")]
PeriodQuery = Annotated[
    str | None,
    Query(pattern=PERIOD, description="A half year, e.g. 2026H1; default the current one (China time)."),
]
AreaQuery = Annotated[
    AreaCode | None, Query(description="Items whose area is inside this area or contains it.")
]
Quarter = Annotated[int, Path(ge=1, le=4, description="The quarter of the project's year, 1–4.")]


async def _unit_read(session, unit) -> UnitRead:  # type: ignore[no-untyped-def]
    return UnitRead.model_validate((await svc.unit_views(session, [unit]))[0])


async def _project_detail(session, actor, project_id: int) -> ProjectDetail:  # type: ignore[no-untyped-def]
    return ProjectDetail.model_validate(await lists.project_detail(session, actor, project_id))


# ---- units ------------------------------------------------------------------------------------------


@router.get("/units", response_model=Page[UnitRead], responses=problems(401, 403))
async def list_units(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    area_code: AreaQuery = None,
    kind: UnitKind | None = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=50, description="Name contains, or the code.")
    ] = None,
    active: bool | None = None,
) -> Page[UnitRead]:
    """Member units of the big party committees, by area and code. Area staff see the units whose
    committee area relates to their scope (inside it or containing it); a liaison the units related to
    its own committee's area."""
    actor = await svc.actor_for(session, principal)
    units, total = await svc.list_units(
        session,
        actor,
        area_code=area_code,
        kind=kind,
        q=q,
        active=active,
        limit=page.limit,
        offset=page.offset,
    )
    items = [UnitRead.model_validate(v) for v in await svc.unit_views(session, units)]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/units", response_model=UnitRead, status_code=201, responses=problems(401, 403, 409, 422, 503))
async def create_unit(
    session: SessionDep, principal: CurrentStaff, registry: RegistryDep, body: UnitCreate
) -> UnitRead:
    """A unit joins the big party committee of a community or street (成员单位入驻). For community admins,
    street dispatchers and district admins whose scope covers that area; the registry must know the
    area (its name is kept). The code is unique and fixed: the unit's liaison accounts carry it."""
    actor = await svc.actor_for(session, principal)
    unit = await svc.create_unit(session, actor, registry, body)
    return await _unit_read(session, unit)


@router.get("/units/{unit_id}", response_model=UnitRead, responses=problems(401, 403, 404))
async def get_unit(session: ReadSessionDep, principal: CurrentStaff, unit_id: PrimaryKey) -> UnitRead:
    """A unit with its current half year's resource count, the wishes it holds now and the average
    review score of its projects."""
    actor = await svc.actor_for(session, principal)
    return await _unit_read(session, await svc.get_unit(session, actor, unit_id))


@router.patch("/units/{unit_id}", response_model=UnitRead, responses=problems(401, 403, 404, 422, 503))
async def update_unit(
    session: SessionDep, principal: CurrentStaff, registry: RegistryDep, unit_id: PrimaryKey, body: UnitUpdate
) -> UnitRead:
    """Change a unit. Area managers covering its area change anything but the code (moving it to another
    area they cover; `active: false` retires it); its own liaison only the address and contact."""
    actor = await svc.actor_for(session, principal)
    unit = await svc.update_unit(session, actor, registry, unit_id, body)
    return await _unit_read(session, unit)


# ---- resources --------------------------------------------------------------------------------------


@router.get(
    "/units/{unit_id}/resources", response_model=list[ResourceRead], responses=problems(401, 403, 404, 422)
)
async def list_unit_resources(
    session: ReadSessionDep, principal: CurrentStaff, unit_id: PrimaryKey, period: PeriodQuery = None
) -> list[ResourceRead]:
    """A unit's resource list (资源清单) for a half year: the current one unless `period` says otherwise."""
    actor = await svc.actor_for(session, principal)
    rows = await svc.unit_resources(session, actor, unit_id, period or svc.current_period())
    return [ResourceRead.model_validate(r) for r in rows]


@router.put(
    "/units/{unit_id}/resources/{period}",
    response_model=list[ResourceRead],
    responses=problems(401, 403, 404, 409, 422),
)
async def replace_unit_resources(
    session: SessionDep,
    principal: CurrentStaff,
    unit_id: PrimaryKey,
    period: PeriodPath,
    body: Annotated[list[ResourceCreate], Body(max_length=100, description="The whole list (may be empty).")],
) -> list[ResourceRead]:
    """Replace the unit's whole resource list for a half year in one go (refreshed every half year); what
    is not sent is removed. Only the current or the next half year: earlier lists are history (409).
    For the unit's own liaison and the area managers covering the unit's area."""
    actor = await svc.actor_for(session, principal)
    rows = await svc.replace_resources(session, actor, unit_id, period, body)
    return [ResourceRead.model_validate(r) for r in rows]


@router.delete(
    "/units/{unit_id}/resources/{resource_id}", status_code=204, responses=problems(401, 403, 404, 409)
)
async def delete_unit_resource(
    session: SessionDep, principal: CurrentStaff, unit_id: PrimaryKey, resource_id: PrimaryKey
) -> Response:
    """Remove one line of the current or next half year's resource list."""
    actor = await svc.actor_for(session, principal)
    await svc.delete_resource(session, actor, unit_id, resource_id)
    return Response(status_code=204)


@router.get("/resources", response_model=Page[PooledResourceRead], responses=problems(401, 403, 422))
async def list_resources(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    area_code: AreaQuery = None,
    category: Annotated[
        Category | None, Query(description="Resources that serve this wish category.")
    ] = None,
    kind: ResourceKind | None = None,
    period: PeriodQuery = None,
) -> Page[PooledResourceRead]:
    """The committee's pooled resource list (资源共享): every active unit's resources for the half year
    (the current one by default), with the unit that offers each."""
    actor = await svc.actor_for(session, principal)
    rows, total = await svc.pooled_resources(
        session,
        actor,
        area_code=area_code,
        category=category,
        kind=kind,
        period=period or svc.current_period(),
        limit=page.limit,
        offset=page.offset,
    )
    items = [
        PooledResourceRead.model_validate({**ResourceRead.model_validate(r).model_dump(), "unit": u})
        for r, u in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


# ---- needs ------------------------------------------------------------------------------------------


@router.get("/needs", response_model=Page[NeedRead], responses=problems(401, 403))
async def list_needs(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    area_code: AreaQuery = None,
    status: NeedStatus | None = None,
    category: Category | None = None,
) -> Page[NeedRead]:
    """The needs list (需求清单) of the communities you can see, newest first."""
    actor = await svc.actor_for(session, principal)
    needs, total = await lists.list_needs(
        session,
        actor,
        area_code=area_code,
        status=status,
        category=category,
        limit=page.limit,
        offset=page.offset,
    )
    items = [NeedRead.model_validate(v) for v in await lists.need_views(session, needs)]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/needs", response_model=NeedRead, status_code=201, responses=problems(401, 403, 422, 503))
async def create_need(
    session: SessionDep, principal: CurrentStaff, registry: RegistryDep, body: NeedCreate
) -> NeedRead:
    """Add what residents asked for to a community's needs list: grid workers of the community, community
    admins, street dispatchers and district admins whose scope covers it."""
    actor = await svc.actor_for(session, principal)
    need = await lists.create_need(session, actor, registry, body)
    return NeedRead.model_validate((await lists.need_views(session, [need]))[0])


@router.patch("/needs/{need_id}", response_model=NeedRead, responses=problems(401, 403, 404, 409, 422))
async def update_need(
    session: SessionDep, principal: CurrentStaff, need_id: PrimaryKey, body: NeedUpdate
) -> NeedRead:
    """Staff of the community edit a need, match it to a unit of the committee (status → matched), mark it
    met or dropped, or reopen it. A unit liaison takes up an open need for its own unit (认领需求) by
    sending only `unit_id`: the need becomes matched; a need already taken is a 409."""
    actor = await svc.actor_for(session, principal)
    need = await lists.update_need(session, actor, need_id, body)
    return NeedRead.model_validate((await lists.need_views(session, [need]))[0])


# ---- projects ---------------------------------------------------------------------------------------


@router.get("/projects", response_model=Page[ProjectRead], responses=problems(401, 403))
async def list_projects(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    area_code: AreaQuery = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    status: ProjectStatus | None = None,
    unit_id: PrimaryKey | None = None,
) -> Page[ProjectRead]:
    """The project list (项目清单), newest year first, with who holds each and its latest progress."""
    actor = await svc.actor_for(session, principal)
    rows, total = await lists.list_projects(
        session,
        actor,
        area_code=area_code,
        year=year,
        status=status,
        unit_id=unit_id,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[ProjectRead.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post(
    "/projects", response_model=ProjectDetail, status_code=201, responses=problems(401, 403, 422, 503)
)
async def create_project(
    session: SessionDep, principal: CurrentStaff, registry: RegistryDep, body: ProjectCreate
) -> ProjectDetail:
    """Put a livelihood project of a community or street on the year's list, open for units to claim.
    For community admins, street dispatchers and district admins whose scope covers the area."""
    actor = await svc.actor_for(session, principal)
    project = await lists.create_project(session, actor, registry, body)
    return await _project_detail(session, actor, project.id)


@router.get("/projects/{project_id}", response_model=ProjectDetail, responses=problems(401, 403, 404))
async def get_project(
    session: ReadSessionDep, principal: CurrentStaff, project_id: PrimaryKey
) -> ProjectDetail:
    """A project with its quarterly progress reports and its review."""
    actor = await svc.actor_for(session, principal)
    return await _project_detail(session, actor, project_id)


@router.post(
    "/projects/{project_id}/claim", response_model=ProjectDetail, responses=problems(401, 403, 404, 409, 422)
)
async def claim_project(
    session: SessionDep,
    principal: CurrentStaff,
    settings: SettingsDep,
    project_id: PrimaryKey,
    body: ProjectClaimBody | None = None,
) -> ProjectDetail:
    """A unit claims an open project (认领项目): its liaison for it, or an area manager naming the unit.
    The unit's committee area must relate to the project's, and a unit holds at most
    `max_projects_per_unit` (2) projects a year: one more is a 409 `project-limit-reached`."""
    actor = await svc.actor_for(session, principal)
    project = await lists.claim_project(
        session, actor, project_id, body or ProjectClaimBody(), limit=settings.max_projects_per_unit
    )
    return await _project_detail(session, actor, project.id)


@router.put(
    "/projects/{project_id}/progress/{quarter}",
    response_model=ProjectDetail,
    responses=problems(401, 403, 404, 409, 422),
)
async def report_project_progress(
    session: SessionDep, principal: CurrentStaff, project_id: PrimaryKey, quarter: Quarter, body: ProgressBody
) -> ProjectDetail:
    """Report (or correct) a quarter's progress: by the liaison of the unit holding the project or an area
    manager. Progress never goes down from one quarter to the next; at 100% the project is done."""
    actor = await svc.actor_for(session, principal)
    await lists.report_progress(session, actor, project_id, quarter, body)
    return await _project_detail(session, actor, project_id)


@router.post(
    "/projects/{project_id}/review", response_model=ProjectDetail, responses=problems(401, 403, 404, 409, 422)
)
async def review_project(
    session: SessionDep, principal: CurrentStaff, project_id: PrimaryKey, body: ReviewBody
) -> ProjectDetail:
    """项目评议: score (0–100) a project a unit holds. For community admins, street dispatchers and district
    admins covering its area; a later review replaces the earlier one."""
    actor = await svc.actor_for(session, principal)
    await lists.review_project(session, actor, project_id, body)
    return await _project_detail(session, actor, project_id)


# ---- suggestions ------------------------------------------------------------------------------------


@router.get(
    "/wishes/{wish_id}/suggested-units", response_model=list[SuggestedUnit], responses=problems(401, 403, 404)
)
async def suggest_units(
    session: ReadSessionDep,
    principal: CurrentStaff,
    wish_id: PrimaryKey,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> list[SuggestedUnit]:
    """Which member units to offer a wish to (定向派单), best first: active units whose committee area
    covers the wish, ranked by their current resources serving the wish's category, a resource kind that
    fits it, how few wishes they hold now and how many of its kind they fulfilled. Each comes with its
    reasons and matching resources. For grid staff and supervisors of the wish's area."""
    rows = await suggest.suggest_units(session, principal, wish_id, limit=limit)
    return [SuggestedUnit.model_validate(r) for r in rows]
