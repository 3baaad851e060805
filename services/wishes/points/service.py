"""The points supermarket (积分超市): volunteers, points rules, earning on closed wishes, the append-only
ledger, the catalogue and redemptions.

A balance moves only by one conditional statement, `UPDATE volunteer SET points = points ± n WHERE …
RETURNING points`, followed by the ledger row that records the returned balance, in the caller's one
transaction. The UPDATE takes the row lock and its condition (`points >= cost`) decides under that lock,
so there is no read-then-write race; stock moves the same way. Locks are always taken in one order —
redemption, then catalogue item, then volunteers by id — so concurrent requests queue instead of
deadlocking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import scope as sc
from services.wishes.clients import RegistryClient
from services.wishes.clock import now_utc
from services.wishes.errors import (
    ActionInvalid,
    AreaNotFound,
    DuplicateVolunteer,
    IdempotencyKeyReused,
    InsufficientPoints,
    ItemNotFound,
    ItemUnavailable,
    OutOfScope,
    OutOfStock,
    PointsRuleNotFound,
    RedemptionAlreadyCancelled,
    RedemptionNotFound,
    UnitUnsuitable,
    VolunteerInactive,
    VolunteerNotFound,
)
from services.wishes.models import (
    CatalogueItem,
    MemberUnit,
    PointsEntry,
    PointsRule,
    Redemption,
    Volunteer,
    Wish,
)
from services.wishes.points.schemas import (
    AdjustmentCreate,
    CatalogueItemCreate,
    PointsRuleCreate,
    RedemptionCreate,
    VolunteerCreate,
)
from shared.auth import AREA_ROLES, SERVICE_ROLE, Principal

T = TypeVar("T")

# grid workers register volunteers of their community and serve at its supermarket counter
VOLUNTEER_WRITERS = AREA_ROLES
MANAGERS = sc.AREA_MANAGERS  # rules, adjustments, the catalogue
COUNTER = (*AREA_ROLES, SERVICE_ROLE)  # redeem and cancel: the counter, or the mobile app


# ---- who sees what -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """The caller, resolved once per request; a liaison's unit with it."""

    principal: Principal
    unit: MemberUnit | None = None


async def reader_for(session: AsyncSession, principal: Principal) -> Reader:
    sc.require_role(principal, sc.READERS, "The points supermarket")
    if principal.role == sc.LIAISON:
        return Reader(principal, await sc.liaison_unit(session, principal))
    return Reader(principal)


def relates(principal: Principal, community: str) -> bool:
    """A community is the caller's if it lies inside their areas, or (a grid worker) holds their grid."""
    if principal.role == SERVICE_ROLE:
        return True
    if principal.role not in AREA_ROLES:
        return False
    return any(community.startswith(s) or s.startswith(community) for s in principal.scope)


def ensure_community(principal: Principal, community: str, what: str) -> None:
    if principal.role in AREA_ROLES and not relates(principal, community):
        raise OutOfScope(
            f"{what} is in community {community}, outside your scope ({' '.join(principal.scope) or 'none'})."
        )


def _related(column: Any, principal: Principal) -> ColumnElement[bool]:
    """SQL form of `relates` for a column of community codes."""
    conds = [column.startswith(s) for s in principal.scope]
    inside = sorted({s[:12] for s in principal.scope if len(s) > 12})
    if inside:
        conds.append(column.in_(inside))
    return or_(*conds) if conds else false()


def _volunteers_of(reader: Reader) -> ColumnElement[bool]:
    p = reader.principal
    if p.role == SERVICE_ROLE:
        return true()
    if p.role in AREA_ROLES:
        return _related(Volunteer.area_code, p)
    if reader.unit is not None:
        return Volunteer.unit_id == reader.unit.id
    return false()


def sees_volunteer(reader: Reader, v: Volunteer) -> bool:
    if reader.unit is not None:
        return v.unit_id == reader.unit.id
    return relates(reader.principal, v.area_code)


async def _page(
    session: AsyncSession, stmt: Select[tuple[T]], *order: Any, limit: int, offset: int
) -> tuple[Sequence[T], int]:
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(*order).limit(limit).offset(offset))).scalars().all()
    return rows, total


async def _known_community(registry: RegistryClient, code: str) -> None:
    if await registry.area(code) is None:
        raise AreaNotFound(f"The registry has no community {code}.")


# ---- volunteers --------------------------------------------------------------------------------------


async def _volunteer(session: AsyncSession, volunteer_id: int, *, lock: bool = False) -> Volunteer:
    stmt = select(Volunteer).where(Volunteer.id == volunteer_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    v = (await session.execute(stmt)).scalar_one_or_none()
    if v is None:
        raise VolunteerNotFound(f"No volunteer {volunteer_id}.")
    return v


async def get_volunteer(session: AsyncSession, reader: Reader, volunteer_id: int) -> Volunteer:
    v = await _volunteer(session, volunteer_id)
    if not sees_volunteer(reader, v):
        if reader.unit is not None:
            raise OutOfScope(f"Volunteer {volunteer_id} is not of your unit {reader.unit.code}.")
        ensure_community(reader.principal, v.area_code, f"Volunteer {volunteer_id}")
    return v


async def list_volunteers(
    session: AsyncSession,
    reader: Reader,
    *,
    area_code: str | None,
    unit_id: int | None,
    q: str | None,
    in_service: bool | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Volunteer], int]:
    stmt = select(Volunteer).where(_volunteers_of(reader))
    if area_code:
        # a grid's code narrows to the community it lies in: volunteers belong to communities
        stmt = stmt.where(
            or_(Volunteer.area_code.startswith(area_code), Volunteer.area_code == area_code[:12])
        )
    if unit_id is not None:
        stmt = stmt.where(Volunteer.unit_id == unit_id)
    if q:
        stmt = stmt.where(Volunteer.name.startswith(q, autoescape=True))
    if in_service is not None:
        stmt = stmt.where(Volunteer.in_service.is_(in_service))
    if active is not None:
        stmt = stmt.where(Volunteer.active.is_(active))
    return await _page(session, stmt, Volunteer.id, limit=limit, offset=offset)


async def _check_unit(session: AsyncSession, unit_id: int, community: str) -> None:
    unit = await session.get(MemberUnit, unit_id)
    if unit is None:
        raise UnitUnsuitable(f"No member unit {unit_id}.")
    if not unit.active:
        raise UnitUnsuitable(f"Member unit {unit.code} is not active.")
    if not (community.startswith(unit.area_code) or unit.area_code.startswith(community)):
        raise UnitUnsuitable(
            f"Member unit {unit.code} sits on the committee of {unit.area_code}, not of community {community} "
            "or its street."
        )


async def _phone_taken(session: AsyncSession, community: str, phone: str, but: int | None = None) -> None:
    stmt = select(Volunteer.id).where(Volunteer.area_code == community, Volunteer.phone == phone)
    if but is not None:
        stmt = stmt.where(Volunteer.id != but)
    other = (await session.execute(stmt)).scalar_one_or_none()
    if other is not None:
        raise DuplicateVolunteer(
            f"Phone {phone[:3]}****{phone[-4:]} is already registered in community {community} "
            f"(volunteer {other}).",
            volunteer_id=other,
        )


async def _flush_unique(session: AsyncSession, v: Volunteer) -> None:
    """Flush in a savepoint: a concurrent registration of the same phone becomes a 409, not a 500."""
    try:
        async with session.begin_nested():
            session.add(v)
            await session.flush()
    except IntegrityError as exc:
        if "uq_volunteer_area_code_phone" in str(exc.orig):
            raise DuplicateVolunteer(
                f"This phone was just registered in community {v.area_code} by someone else."
            ) from None
        raise


async def create_volunteer(
    session: AsyncSession, registry: RegistryClient, principal: Principal, body: VolunteerCreate
) -> Volunteer:
    sc.require_role(principal, VOLUNTEER_WRITERS, "Registering volunteers")
    ensure_community(principal, body.area_code, "The volunteer's community")
    if body.unit_id is not None:
        await _check_unit(session, body.unit_id, body.area_code)
    await _phone_taken(session, body.area_code, body.phone)
    await _known_community(registry, body.area_code)
    v = Volunteer(**body.model_dump(), active=True, points=0, created_at=now_utc())
    await _flush_unique(session, v)
    return v


async def update_volunteer(
    session: AsyncSession, principal: Principal, volunteer_id: int, changes: dict[str, Any]
) -> Volunteer:
    sc.require_role(principal, VOLUNTEER_WRITERS, "Editing volunteers")
    v = await _volunteer(session, volunteer_id, lock=True)
    ensure_community(principal, v.area_code, f"Volunteer {volunteer_id}")
    unit_id = changes.get("unit_id")
    if unit_id is not None and unit_id != v.unit_id:
        await _check_unit(session, unit_id, v.area_code)
    if "phone" in changes and changes["phone"] != v.phone:
        await _phone_taken(session, v.area_code, changes["phone"], but=v.id)
    for k, val in changes.items():
        setattr(v, k, val)
    await _flush_unique(session, v)
    return v


# ---- points rules ------------------------------------------------------------------------------------


async def list_rules(
    session: AsyncSession, *, active: bool | None, category: str | None, limit: int, offset: int
) -> tuple[Sequence[PointsRule], int]:
    stmt = select(PointsRule)
    if active is not None:
        stmt = stmt.where(PointsRule.active.is_(active))
    if category is not None:
        stmt = stmt.where(or_(PointsRule.category.is_(None), PointsRule.category == category))
    return await _page(session, stmt, PointsRule.id, limit=limit, offset=offset)


async def create_rule(session: AsyncSession, principal: Principal, body: PointsRuleCreate) -> PointsRule:
    sc.require_role(principal, MANAGERS, "Setting points rules")
    rule = PointsRule(**body.model_dump(), created_by=principal.sub, created_at=now_utc())
    session.add(rule)
    await session.flush()
    return rule


async def update_rule(
    session: AsyncSession, principal: Principal, rule_id: int, changes: dict[str, Any]
) -> PointsRule:
    sc.require_role(principal, MANAGERS, "Setting points rules")
    rule = (
        await session.execute(select(PointsRule).where(PointsRule.id == rule_id).with_for_update())
    ).scalar_one_or_none()
    if rule is None:
        raise PointsRuleNotFound(f"No points rule {rule_id}.")
    points = changes.get("points", rule.points)
    per_hour = changes.get("points_per_hour", rule.points_per_hour)
    if points == 0 and per_hour == 0:
        raise ActionInvalid(
            f"Rule {rule_id} would pay nothing (points and points_per_hour both 0); deactivate it instead."
        )
    for k, val in changes.items():
        setattr(rule, k, val)
    await session.flush()
    return rule


# ---- earning -----------------------------------------------------------------------------------------


def points_for(rules: Sequence[PointsRule], hours: Decimal) -> int:
    """What one volunteer earns on one wish: each rule's points plus its whole hours' worth."""
    return sum(r.points + math.floor(r.points_per_hour * hours) for r in rules)


def _served_hours(served: Any) -> dict[int, Decimal]:
    """`wish.served` as {volunteer_id: hours}; malformed entries are skipped, repeats add up."""
    out: dict[int, Decimal] = {}
    for s in served if isinstance(served, list) else []:
        try:
            vid = int(s["volunteer_id"])
            hours = Decimal(str(s.get("hours") or 0))  # str(): 0.29 h must not become 0.2899…
        except (AttributeError, KeyError, TypeError, ValueError, InvalidOperation):
            continue
        if vid > 0 and hours.is_finite():
            out[vid] = out.get(vid, Decimal(0)) + max(hours, Decimal(0))
    return out


async def _move(session: AsyncSession, volunteer_id: int, delta: int) -> int | None:
    """Add `delta` to a balance under the row lock and return the new balance; None (and nothing
    changed) when it would go negative."""
    stmt = update(Volunteer).where(Volunteer.id == volunteer_id)
    if delta < 0:
        stmt = stmt.where(Volunteer.points >= -delta)
    stmt = (
        stmt.values(points=Volunteer.points + delta)
        .returning(Volunteer.points)
        .execution_options(synchronize_session="fetch")
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def award_for_wish(session: AsyncSession, wish: Wish, *, actor: str) -> list[PointsEntry]:
    """Pay the volunteers in `wish.served` by the active rules of the wish's category (销单), inside the
    caller's transaction. Volunteers who are inactive, unknown or due 0 points are skipped. A wish pays
    each volunteer once: a second call finds the earlier `earn` rows under the same row locks and writes
    nothing (a partial unique index backs this). Returns the entries written."""
    hours = _served_hours(wish.served)
    if not hours:
        return []
    rules = (
        (
            await session.execute(
                select(PointsRule)
                .where(
                    PointsRule.active.is_(True),
                    or_(PointsRule.category.is_(None), PointsRule.category == wish.category),
                )
                .order_by(PointsRule.id)
            )
        )
        .scalars()
        .all()
    )
    due = {vid: p for vid, h in hours.items() if (p := points_for(rules, h)) > 0}
    if not due:
        return []
    # lock in id order: two closings that share volunteers queue instead of deadlocking
    locked = (
        (
            await session.execute(
                select(Volunteer.id)
                .where(Volunteer.id.in_(due), Volunteer.active.is_(True))
                .order_by(Volunteer.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    paid = set(
        (
            await session.execute(
                select(PointsEntry.volunteer_id).where(
                    PointsEntry.wish_id == wish.id,
                    PointsEntry.kind == "earn",
                    PointsEntry.volunteer_id.in_(locked),
                )
            )
        ).scalars()
    )
    note = f"微心愿 #{wish.id}「{wish.title}」销单"[:200]
    entries = []
    for vid in locked:
        if vid in paid:
            continue
        balance = await _move(session, vid, due[vid])
        assert balance is not None
        entry = PointsEntry(
            volunteer_id=vid,
            kind="earn",
            delta=due[vid],
            balance_after=balance,
            wish_id=wish.id,
            note=note,
            actor=actor,
            at=now_utc(),
        )
        session.add(entry)
        entries.append(entry)
    await session.flush()
    return entries


# ---- ledger ------------------------------------------------------------------------------------------


async def ledger(
    session: AsyncSession,
    reader: Reader,
    volunteer_id: int,
    *,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[PointsEntry], int]:
    await get_volunteer(session, reader, volunteer_id)
    stmt = select(PointsEntry).where(PointsEntry.volunteer_id == volunteer_id)
    if kind is not None:
        stmt = stmt.where(PointsEntry.kind == kind)
    return await _page(session, stmt, PointsEntry.id.desc(), limit=limit, offset=offset)


async def adjust(
    session: AsyncSession, principal: Principal, volunteer_id: int, body: AdjustmentCreate
) -> PointsEntry:
    sc.require_role(principal, MANAGERS, "Adjusting points")
    v = await _volunteer(session, volunteer_id)
    ensure_community(principal, v.area_code, f"Volunteer {volunteer_id}")
    balance = await _move(session, volunteer_id, body.delta)
    if balance is None:
        now = (
            await session.execute(select(Volunteer.points).where(Volunteer.id == volunteer_id))
        ).scalar_one()
        raise InsufficientPoints(
            f"{v.name} has {now} points; taking {-body.delta} would leave {now + body.delta}.",
            balance=now,
            delta=body.delta,
        )
    entry = PointsEntry(
        volunteer_id=volunteer_id,
        kind="adjust",
        delta=body.delta,
        balance_after=balance,
        note=body.note,
        actor=principal.sub,
        at=now_utc(),
    )
    session.add(entry)
    await session.flush()
    return entry


# ---- catalogue ---------------------------------------------------------------------------------------


async def _item(session: AsyncSession, item_id: int, *, lock: bool = False) -> CatalogueItem:
    stmt = select(CatalogueItem).where(CatalogueItem.id == item_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    item = (await session.execute(stmt)).scalar_one_or_none()
    if item is None:
        raise ItemNotFound(f"No catalogue item {item_id}.")
    return item


def _items_of(reader: Reader) -> ColumnElement[bool]:
    p = reader.principal
    if p.role == SERVICE_ROLE:
        return true()
    if p.role in AREA_ROLES:
        return _related(CatalogueItem.area_code, p)
    if reader.unit is not None:  # the supermarkets of its committee's area
        return CatalogueItem.area_code.startswith(reader.unit.area_code)
    return false()


async def get_item(session: AsyncSession, reader: Reader, item_id: int) -> CatalogueItem:
    item = await _item(session, item_id)
    if reader.unit is not None and not item.area_code.startswith(reader.unit.area_code):
        raise OutOfScope(f"Item {item_id} is in community {item.area_code}, outside your unit's area.")
    ensure_community(reader.principal, item.area_code, f"Item {item_id}")
    return item


async def list_items(
    session: AsyncSession,
    reader: Reader,
    *,
    area_code: str | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[CatalogueItem], int]:
    stmt = select(CatalogueItem).where(_items_of(reader))
    if area_code:
        stmt = stmt.where(
            or_(CatalogueItem.area_code.startswith(area_code), CatalogueItem.area_code == area_code[:12])
        )
    if active is not None:
        stmt = stmt.where(CatalogueItem.active.is_(active))
    return await _page(session, stmt, CatalogueItem.area_code, CatalogueItem.id, limit=limit, offset=offset)


async def create_item(
    session: AsyncSession, registry: RegistryClient, principal: Principal, body: CatalogueItemCreate
) -> CatalogueItem:
    sc.require_role(principal, MANAGERS, "Stocking the points supermarket")
    ensure_community(principal, body.area_code, "The supermarket")
    await _known_community(registry, body.area_code)
    now = now_utc()
    item = CatalogueItem(**body.model_dump(), created_at=now, updated_at=now)
    session.add(item)
    await session.flush()
    return item


async def update_item(
    session: AsyncSession, principal: Principal, item_id: int, changes: dict[str, Any]
) -> CatalogueItem:
    sc.require_role(principal, MANAGERS, "Stocking the points supermarket")
    item = await _item(session, item_id, lock=True)
    ensure_community(principal, item.area_code, f"Item {item_id}")
    for k, val in changes.items():
        setattr(item, k, val)
    item.updated_at = now_utc()
    await session.flush()
    return item


# ---- redemptions -------------------------------------------------------------------------------------


async def _replayed(
    session: AsyncSession, body: RedemptionCreate, volunteer_id: int, key: str
) -> Redemption | None:
    """The redemption an earlier request with this key made, if any. A transaction-scoped advisory lock
    on (volunteer, key) makes a concurrent retry wait for the first attempt and then find its row."""
    await session.execute(select(func.pg_advisory_xact_lock(volunteer_id, func.hashtext(key))))
    stored = (
        await session.execute(
            select(Redemption).where(Redemption.volunteer_id == volunteer_id, Redemption.idem_key == key)
        )
    ).scalar_one_or_none()
    if stored is not None and (stored.item_id, stored.quantity) != (body.item_id, body.quantity):
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was first used for redemption {stored.id} ({stored.item_name} × "
            f"{stored.quantity}); use a new key for a new redemption.",
            redemption_id=stored.id,
        )
    return stored


async def redeem(
    session: AsyncSession, principal: Principal, body: RedemptionCreate, idem_key: str | None
) -> tuple[Redemption, bool]:
    """Exchange points for goods at the volunteer's own community's supermarket. Returns the redemption
    and whether it is a replay of an earlier request with the same key. Refusals (409) write nothing:
    the caller's transaction rolls back the stock taken before the balance was found short."""
    sc.require_role(principal, COUNTER, "Redeeming points")
    v = await _volunteer(session, body.volunteer_id)
    item = await _item(session, body.item_id)
    ensure_community(principal, item.area_code, f"The supermarket of item {item.id}")
    if item.area_code != v.area_code:
        raise ItemUnavailable(
            f"Item {item.id} is sold in community {item.area_code}; volunteer {v.id} redeems in {v.area_code}."
        )
    if idem_key is not None:
        stored = await _replayed(session, body, v.id, idem_key)
        if stored is not None:
            return stored, True
    if not v.active:
        raise VolunteerInactive(f"Volunteer {v.id} ({v.name}) is not active.")
    if not item.active:
        raise ItemUnavailable(f"Item {item.id} ({item.name}) is not on offer.")
    q = body.quantity
    taken = (
        await session.execute(
            update(CatalogueItem)
            .where(CatalogueItem.id == item.id, CatalogueItem.active.is_(True), CatalogueItem.stock >= q)
            .values(stock=CatalogueItem.stock - q)
            .returning(CatalogueItem.stock, CatalogueItem.price, CatalogueItem.name)
            .execution_options(synchronize_session="fetch")
        )
    ).first()
    if taken is None:
        stock, active = (
            await session.execute(
                select(CatalogueItem.stock, CatalogueItem.active).where(CatalogueItem.id == item.id)
            )
        ).one()
        if not active:
            raise ItemUnavailable(f"Item {item.id} ({item.name}) was just taken off offer.")
        raise OutOfStock(
            f"Only {stock} of {item.name} left; asked for {q}.", item_id=item.id, stock=stock, requested=q
        )
    cost = taken.price * q
    balance = (
        await session.execute(
            update(Volunteer)
            .where(Volunteer.id == v.id, Volunteer.active.is_(True), Volunteer.points >= cost)
            .values(points=Volunteer.points - cost)
            .returning(Volunteer.points)
            .execution_options(synchronize_session="fetch")
        )
    ).scalar_one_or_none()
    if balance is None:
        points, active = (
            await session.execute(select(Volunteer.points, Volunteer.active).where(Volunteer.id == v.id))
        ).one()
        if not active:
            raise VolunteerInactive(f"Volunteer {v.id} ({v.name}) was just deactivated.")
        raise InsufficientPoints(
            f"{v.name} has {points} points; {q} × {taken.name} costs {cost}.", balance=points, cost=cost
        )
    red = Redemption(
        volunteer_id=v.id,
        item_id=item.id,
        item_name=taken.name,
        quantity=q,
        points=cost,
        status="redeemed",
        redeemed_by=principal.sub,
        redeemed_at=now_utc(),
        idem_key=idem_key,
    )
    session.add(red)
    await session.flush()
    session.add(
        PointsEntry(
            volunteer_id=v.id,
            kind="redeem",
            delta=-cost,
            balance_after=balance,
            redemption_id=red.id,
            note=f"兑换 {taken.name} × {q}"[:200],
            actor=principal.sub,
            at=red.redeemed_at,
        )
    )
    await session.flush()
    return red, False


async def _redemption(session: AsyncSession, redemption_id: int, *, lock: bool = False) -> Redemption:
    stmt = select(Redemption).where(Redemption.id == redemption_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    red = (await session.execute(stmt)).scalar_one_or_none()
    if red is None:
        raise RedemptionNotFound(f"No redemption {redemption_id}.")
    return red


async def _community_of(session: AsyncSession, red: Redemption) -> str:
    return (
        await session.execute(select(CatalogueItem.area_code).where(CatalogueItem.id == red.item_id))
    ).scalar_one()


async def get_redemption(session: AsyncSession, reader: Reader, redemption_id: int) -> Redemption:
    red = await _redemption(session, redemption_id)
    if reader.unit is not None:
        v = await _volunteer(session, red.volunteer_id)
        if v.unit_id != reader.unit.id:
            raise OutOfScope(f"Redemption {redemption_id} is not by a volunteer of your unit.")
    else:
        ensure_community(reader.principal, await _community_of(session, red), f"Redemption {redemption_id}")
    return red


async def list_redemptions(
    session: AsyncSession,
    reader: Reader,
    *,
    volunteer_id: int | None,
    item_id: int | None,
    area_code: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Redemption], int]:
    stmt = select(Redemption)
    p = reader.principal
    if area_code or p.role in AREA_ROLES:
        stmt = stmt.join(CatalogueItem, CatalogueItem.id == Redemption.item_id)
    if p.role in AREA_ROLES:
        stmt = stmt.where(_related(CatalogueItem.area_code, p))
    elif reader.unit is not None:
        stmt = stmt.where(
            Redemption.volunteer_id.in_(select(Volunteer.id).where(Volunteer.unit_id == reader.unit.id))
        )
    elif p.role != SERVICE_ROLE:
        stmt = stmt.where(false())
    if area_code:
        stmt = stmt.where(
            or_(CatalogueItem.area_code.startswith(area_code), CatalogueItem.area_code == area_code[:12])
        )
    if volunteer_id is not None:
        stmt = stmt.where(Redemption.volunteer_id == volunteer_id)
    if item_id is not None:
        stmt = stmt.where(Redemption.item_id == item_id)
    if status is not None:
        stmt = stmt.where(Redemption.status == status)
    return await _page(session, stmt, Redemption.id.desc(), limit=limit, offset=offset)


async def cancel_redemption(
    session: AsyncSession, principal: Principal, redemption_id: int, note: str
) -> Redemption:
    """Undo a redemption: the points go back (a `refund` row) and so does the stock."""
    sc.require_role(principal, COUNTER, "Cancelling redemptions")
    red = await _redemption(session, redemption_id, lock=True)
    ensure_community(principal, await _community_of(session, red), f"Redemption {redemption_id}")
    if red.status == "cancelled":
        raise RedemptionAlreadyCancelled(
            f"Redemption {redemption_id} was cancelled at {red.cancelled_at:%Y-%m-%d %H:%M} UTC; "
            "its points were refunded then."
        )
    await session.execute(
        update(CatalogueItem)
        .where(CatalogueItem.id == red.item_id)
        .values(stock=CatalogueItem.stock + red.quantity)
        .execution_options(synchronize_session="fetch")
    )
    balance = await _move(session, red.volunteer_id, red.points)
    assert balance is not None
    at = now_utc()
    session.add(
        PointsEntry(
            volunteer_id=red.volunteer_id,
            kind="refund",
            delta=red.points,
            balance_after=balance,
            redemption_id=red.id,
            note=f"退还兑换 #{red.id}: {note}"[:200],
            actor=principal.sub,
            at=at,
        )
    )
    red.status, red.cancelled_at, red.cancel_reason = "cancelled", at, note
    await session.flush()
    return red
