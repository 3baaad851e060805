"""HTTP handlers of the points supermarket (积分超市): volunteers, points rules, the ledger, the catalogue
and redemptions. Thin: each validates, calls `points.service` and returns a read model."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from services.wishes import deps
from services.wishes.deps import CurrentStaff, ReadSessionDep, RegistryDep, SessionDep
from services.wishes.points import service as svc
from services.wishes.points.schemas import (
    AdjustmentCreate,
    CatalogueItemCreate,
    CatalogueItemRead,
    CatalogueItemUpdate,
    EntryKind,
    PointsEntryRead,
    PointsRuleCreate,
    PointsRuleRead,
    PointsRuleUpdate,
    RedemptionCancel,
    RedemptionCreate,
    RedemptionRead,
    VolunteerCreate,
    VolunteerRead,
    VolunteerUpdate,
)
from services.wishes.schemas import AreaCode, Category, mask_phone
from services.wishes.scope import LIAISON, READERS, require_role
from shared.pagination import Page, PageDep
from shared.problems import problems
from shared.types import PrimaryKey

router = APIRouter(prefix="/api/v1", tags=["points"])

AreaFilter = Annotated[
    AreaCode | None,
    Query(description="Inside this area (prefix); a grid's code means the community it lies in."),
]


def _volunteer_read(reader: svc.Reader, v: object) -> VolunteerRead:
    out = VolunteerRead.model_validate(v)
    if reader.principal.role == LIAISON:
        out.phone = mask_phone(out.phone) or ""
    return out


# ---- volunteers --------------------------------------------------------------------------------------


@router.get("/volunteers", response_model=Page[VolunteerRead], responses=problems(401, 403, 422))
async def list_volunteers(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    area_code: AreaFilter = None,
    unit_id: PrimaryKey | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=50, description="Name starts with.")] = None,
    in_service: bool | None = None,
    active: bool | None = None,
) -> Page[VolunteerRead]:
    """Volunteers in id order: area staff see those of their communities, a unit liaison those of its
    unit (phones masked), the mobile service all."""
    reader = await svc.reader_for(session, principal)
    rows, total = await svc.list_volunteers(
        session,
        reader,
        area_code=area_code,
        unit_id=unit_id,
        q=q,
        in_service=in_service,
        active=active,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[_volunteer_read(reader, v) for v in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post(
    "/volunteers",
    response_model=VolunteerRead,
    status_code=201,
    responses=problems(401, 403, 409, 422, 503),
)
async def create_volunteer(
    session: SessionDep, principal: CurrentStaff, registry: RegistryDep, body: VolunteerCreate
) -> VolunteerRead:
    """Register a volunteer with their community (在职党员双报到): by the community's staff, its street or
    district, or a grid worker of the community. A phone is registered once per community (409)."""
    v = await svc.create_volunteer(session, registry, principal, body)
    return VolunteerRead.model_validate(v)


@router.get("/volunteers/{volunteer_id}", response_model=VolunteerRead, responses=problems(401, 403, 404))
async def get_volunteer(
    session: ReadSessionDep, principal: CurrentStaff, volunteer_id: PrimaryKey
) -> VolunteerRead:
    """One volunteer with their balance."""
    reader = await svc.reader_for(session, principal)
    return _volunteer_read(reader, await svc.get_volunteer(session, reader, volunteer_id))


@router.patch(
    "/volunteers/{volunteer_id}", response_model=VolunteerRead, responses=problems(401, 403, 404, 409, 422)
)
async def update_volunteer(
    session: SessionDep, principal: CurrentStaff, volunteer_id: PrimaryKey, body: VolunteerUpdate
) -> VolunteerRead:
    """Edit a volunteer; `active: false` stops them earning and redeeming. Points cannot be set here:
    use an adjustment, which the ledger records."""
    changes = body.model_dump(exclude_unset=True)
    return VolunteerRead.model_validate(await svc.update_volunteer(session, principal, volunteer_id, changes))


# ---- ledger ------------------------------------------------------------------------------------------


@router.get(
    "/volunteers/{volunteer_id}/ledger",
    response_model=Page[PointsEntryRead],
    responses=problems(401, 403, 404, 422),
)
async def list_points_entries(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    volunteer_id: PrimaryKey,
    kind: EntryKind | None = None,
) -> Page[PointsEntryRead]:
    """A volunteer's points ledger, newest first. Rows are never changed: a correction is a new row, and
    each row's `balance_after` is the balance it left."""
    reader = await svc.reader_for(session, principal)
    rows, total = await svc.ledger(
        session, reader, volunteer_id, kind=kind, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[PointsEntryRead.model_validate(e) for e in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/volunteers/{volunteer_id}/adjustments",
    response_model=PointsEntryRead,
    status_code=201,
    responses=problems(401, 403, 404, 409, 422),
)
async def create_adjustment(
    session: SessionDep, principal: CurrentStaff, volunteer_id: PrimaryKey, body: AdjustmentCreate
) -> PointsEntryRead:
    """Add or take points by hand, with the reason, by the community's admin, its street or district.
    Taking more than the balance is refused (409 `insufficient-points`)."""
    return PointsEntryRead.model_validate(await svc.adjust(session, principal, volunteer_id, body))


# ---- points rules ------------------------------------------------------------------------------------


@router.get("/points-rules", response_model=Page[PointsRuleRead], responses=problems(401, 403, 422))
async def list_points_rules(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    active: bool | None = None,
    category: Annotated[
        Category | None,
        Query(description="The rules that apply to this category (its own and any-category)."),
    ] = None,
) -> Page[PointsRuleRead]:
    """The district's points rules. A closed wish pays each volunteer who served the sum of every active
    rule of its category or of any category: `points` + ⌊`points_per_hour` × hours⌋."""
    require_role(principal, READERS, "The points supermarket")
    rows, total = await svc.list_rules(
        session, active=active, category=category, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[PointsRuleRead.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/points-rules", response_model=PointsRuleRead, status_code=201, responses=problems(401, 403, 422)
)
async def create_points_rule(
    session: SessionDep, principal: CurrentStaff, body: PointsRuleCreate
) -> PointsRuleRead:
    """Add a district-wide rule (community admins, street dispatchers, district admins). It applies to
    wishes closed from now on."""
    return PointsRuleRead.model_validate(await svc.create_rule(session, principal, body))


@router.patch(
    "/points-rules/{rule_id}", response_model=PointsRuleRead, responses=problems(401, 403, 404, 422)
)
async def update_points_rule(
    session: SessionDep, principal: CurrentStaff, rule_id: PrimaryKey, body: PointsRuleUpdate
) -> PointsRuleRead:
    """Change a rule, or retire it with `active: false`. Points already earned stay."""
    changes = body.model_dump(exclude_unset=True)
    return PointsRuleRead.model_validate(await svc.update_rule(session, principal, rule_id, changes))


# ---- catalogue ---------------------------------------------------------------------------------------


@router.get("/catalogue", response_model=Page[CatalogueItemRead], responses=problems(401, 403, 422))
async def list_catalogue_items(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    area_code: AreaFilter = None,
    active: bool | None = None,
) -> Page[CatalogueItemRead]:
    """What the supermarkets offer, by community: area staff see their communities', a unit liaison
    those of its committee's area, the mobile service all."""
    reader = await svc.reader_for(session, principal)
    rows, total = await svc.list_items(
        session, reader, area_code=area_code, active=active, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[CatalogueItemRead.model_validate(i) for i in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/catalogue",
    response_model=CatalogueItemRead,
    status_code=201,
    responses=problems(401, 403, 422, 503),
)
async def create_catalogue_item(
    session: SessionDep, principal: CurrentStaff, registry: RegistryDep, body: CatalogueItemCreate
) -> CatalogueItemRead:
    """Put an item on a community's shelf, at a price in points (its admin, street or district)."""
    return CatalogueItemRead.model_validate(await svc.create_item(session, registry, principal, body))


@router.get("/catalogue/{item_id}", response_model=CatalogueItemRead, responses=problems(401, 403, 404))
async def get_catalogue_item(
    session: ReadSessionDep, principal: CurrentStaff, item_id: PrimaryKey
) -> CatalogueItemRead:
    """One item with its stock."""
    reader = await svc.reader_for(session, principal)
    return CatalogueItemRead.model_validate(await svc.get_item(session, reader, item_id))


@router.patch(
    "/catalogue/{item_id}", response_model=CatalogueItemRead, responses=problems(401, 403, 404, 422)
)
async def update_catalogue_item(
    session: SessionDep, principal: CurrentStaff, item_id: PrimaryKey, body: CatalogueItemUpdate
) -> CatalogueItemRead:
    """Change an item; `stock` sets the count on the shelf, `active: false` takes it off offer. Past
    redemptions keep the name and price they were made at."""
    changes = body.model_dump(exclude_unset=True)
    return CatalogueItemRead.model_validate(await svc.update_item(session, principal, item_id, changes))


# ---- redemptions -------------------------------------------------------------------------------------


@router.post(
    "/redemptions",
    response_model=RedemptionRead,
    status_code=201,
    responses={
        200: {
            "model": RedemptionRead,
            "description": "A replay of an earlier request with the same Idempotency-Key.",
        },
        **problems(401, 403, 404, 409, 422),
    },
)
async def create_redemption(
    session: SessionDep,
    principal: CurrentStaff,
    response: Response,
    body: RedemptionCreate,
    idempotency_key: Annotated[
        str | None,
        deps.idempotency_key(
            "A unique key per redemption (a UUID); a retry with the same key returns the same "
            "redemption (200, `Idempotent-Replayed: true`) instead of redeeming twice."
        ),
    ] = None,
) -> RedemptionRead:
    """Exchange a volunteer's points for an item of their own community's supermarket: at the counter
    (grid staff of the community, its street or district) or through the mobile app (role `service`).
    Stock and balance are taken in one transaction; short of points (409 `insufficient-points`) or of
    stock (409 `out-of-stock`), nothing is taken."""
    red, replayed = await svc.redeem(session, principal, body, idempotency_key)
    response.headers["Location"] = f"/api/v1/redemptions/{red.id}"
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return RedemptionRead.model_validate(red)


@router.get("/redemptions", response_model=Page[RedemptionRead], responses=problems(401, 403, 422))
async def list_redemptions(
    session: ReadSessionDep,
    principal: CurrentStaff,
    page: PageDep,
    volunteer_id: PrimaryKey | None = None,
    item_id: PrimaryKey | None = None,
    area_code: Annotated[
        AreaCode | None, Query(description="The item's community is inside this area (prefix).")
    ] = None,
    status: Literal["redeemed", "cancelled"] | None = None,
) -> Page[RedemptionRead]:
    """Redemptions, newest first: area staff see their communities', a unit liaison its volunteers'."""
    reader = await svc.reader_for(session, principal)
    rows, total = await svc.list_redemptions(
        session,
        reader,
        volunteer_id=volunteer_id,
        item_id=item_id,
        area_code=area_code,
        status=status,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[RedemptionRead.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/redemptions/{redemption_id}", response_model=RedemptionRead, responses=problems(401, 403, 404))
async def get_redemption(
    session: ReadSessionDep, principal: CurrentStaff, redemption_id: PrimaryKey
) -> RedemptionRead:
    """One redemption."""
    reader = await svc.reader_for(session, principal)
    return RedemptionRead.model_validate(await svc.get_redemption(session, reader, redemption_id))


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=RedemptionRead,
    responses=problems(401, 403, 404, 409, 422),
)
async def cancel_redemption(
    session: SessionDep, principal: CurrentStaff, redemption_id: PrimaryKey, body: RedemptionCancel
) -> RedemptionRead:
    """Cancel a redemption (goods not handed over, or returned): the points are refunded (a `refund`
    ledger row) and the stock goes back. A redemption is cancelled once (409 after)."""
    red = await svc.cancel_redemption(session, principal, redemption_id, body.note)
    return RedemptionRead.model_validate(red)
