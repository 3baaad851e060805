"""Buildings, households and residents, with masking of personal data and a trail of every reveal."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import scope as sc
from services.registry.crypto import BlindIndex, mask_id, mask_phone, parse_id_number
from services.registry.errors import (
    AreaNotFound,
    BuildingCodeTaken,
    BuildingNotFound,
    HouseholdCodeTooLong,
    HouseholdExists,
    HouseholdNotFound,
    ResidentExists,
    ResidentNotFound,
)
from services.registry.models import Area, Building, Household, PiiAccess, Resident, ResidentMove
from services.registry.schemas import (
    BuildingCreate,
    BuildingUpdate,
    HouseholdCreate,
    ResidentCreate,
    ResidentUpdate,
    age_on,
)
from services.registry.service.areas import bump_map_revision
from shared.auth import Principal
from shared.crypto import Sealer


class PiiCodec:
    """Seals and finds identity numbers; one per app, built from the registry's keys."""

    def __init__(self, sealer: Sealer, index: BlindIndex) -> None:
        self.sealer = sealer
        self.index = index

    def seal_id(self, number: str) -> tuple[bytes, str, str]:
        return self.index(number), self.sealer.seal(number), mask_id(number)

    def open_id(self, cipher: str) -> str:
        return self.sealer.open(cipher)


def household_address(building_address: str, unit_no: str, room_no: str) -> str:
    return f"{building_address}{unit_no + '单元' if unit_no else ''}{room_no}室"


# ---- buildings ----------------------------------------------------------------------------------


async def _micro_grid(session: AsyncSession, micro_grid_id: int) -> Area:
    area = await session.get(Area, micro_grid_id)
    if area is None or area.level != "micro_grid":
        raise AreaNotFound(f"No micro-grid with id {micro_grid_id}; buildings belong to micro-grids.")
    return area


async def get_building(session: AsyncSession, principal: Principal, building_id: int) -> Building:
    b = await session.get(Building, building_id)
    if b is None:
        raise BuildingNotFound(f"No building with id {building_id}.")
    sc.ensure_area(principal, b.area_code, f"Building {b.name}")
    return b


async def create_building(session: AsyncSession, principal: Principal, data: BuildingCreate) -> Building:
    sc.require_role(principal, sc.PLACE_WRITERS, "register buildings")
    mg = await _micro_grid(session, data.micro_grid_id)
    sc.ensure_area(principal, mg.code, f"Micro-grid {mg.name}")
    code = data.code
    if code is None:
        n = (
            await session.execute(
                select(func.count()).select_from(Building).where(Building.micro_grid_id == mg.id)
            )
        ).scalar_one()
        code = f"{mg.code}{n + 1:03d}"
    b = Building(
        code=code,
        micro_grid_id=mg.id,
        area_code=mg.code,
        name=data.name,
        address=data.address,
        unit_count=data.unit_count,
        floor_count=data.floor_count,
        lat=data.lat,
        lng=data.lng,
    )
    session.add(b)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise BuildingCodeTaken(f"Building code {code} is already in use; pass another code.") from None
    await bump_map_revision(session)  # the address index includes buildings
    return b


async def update_building(
    session: AsyncSession, principal: Principal, building_id: int, data: BuildingUpdate
) -> Building:
    sc.require_role(principal, sc.PLACE_WRITERS, "edit buildings")
    b = await get_building(session, principal, building_id)
    fields = data.model_fields_set
    if "micro_grid_id" in fields and data.micro_grid_id and data.micro_grid_id != b.micro_grid_id:
        mg = await _micro_grid(session, data.micro_grid_id)
        sc.ensure_area(principal, mg.code, f"Micro-grid {mg.name}")
        b.micro_grid_id, b.area_code = mg.id, mg.code
        # Everything in the building moves with it, in the same transaction.
        await session.execute(
            update(Household).where(Household.building_id == b.id).values(area_code=mg.code)
        )
        await session.execute(
            update(Resident)
            .where(Resident.household_id.in_(select(Household.id).where(Household.building_id == b.id)))
            .values(area_code=mg.code)
        )
    for f in ("name", "address", "unit_count", "floor_count", "lat", "lng"):
        if f in fields and getattr(data, f) is not None:
            setattr(b, f, getattr(data, f))
    b.updated_at = func.now()
    await session.flush()
    await session.refresh(b)
    await bump_map_revision(session)
    return b


async def list_buildings(
    session: AsyncSession,
    principal: Principal,
    *,
    micro_grid_id: int | None,
    area_code: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Building], int]:
    sc.require_role(principal, sc.PEOPLE_READERS, "list buildings")
    stmt = select(Building).where(sc.area_filter(principal, Building.area_code))
    if micro_grid_id:
        stmt = stmt.where(Building.micro_grid_id == micro_grid_id)
    if area_code:
        stmt = stmt.where(Building.area_code.startswith(area_code))
    if q:
        stmt = stmt.where(Building.address.contains(q, autoescape=True))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(Building.code).limit(limit).offset(offset))).scalars().all()
    return list(rows), total


async def delete_building(session: AsyncSession, principal: Principal, building_id: int) -> None:
    sc.require_role(principal, sc.PLACE_WRITERS, "delete buildings")
    b = await get_building(session, principal, building_id)
    n = (
        await session.execute(
            select(func.count()).select_from(Household).where(Household.building_id == b.id)
        )
    ).scalar_one()
    if n:
        raise HouseholdExists(f"Building {b.name} still has {n} households; move or delete them first.")
    await session.delete(b)
    await session.flush()
    await bump_map_revision(session)


# ---- households ---------------------------------------------------------------------------------


async def get_household(session: AsyncSession, principal: Principal, household_id: int) -> Household:
    h = await session.get(Household, household_id)
    if h is None:
        raise HouseholdNotFound(f"No household with id {household_id}.")
    sc.ensure_area(principal, h.area_code, f"Household {h.code}")
    return h


HOUSEHOLD_CODE_MAX = 32  # registry.household.code is a Code (varchar 32)


async def create_household(session: AsyncSession, principal: Principal, data: HouseholdCreate) -> Household:
    sc.require_role(principal, sc.PLACE_WRITERS, "register households")
    b = await get_building(session, principal, data.building_id)
    code = f"{b.code}-{data.unit_no}-{data.room_no}" if data.unit_no else f"{b.code}-{data.room_no}"
    if len(code) > HOUSEHOLD_CODE_MAX:  # the column's width; found by the API fuzzer (it was a 500)
        raise HouseholdCodeTooLong(
            f"The household code {code} (building-unit-room) is {len(code)} characters; at most "
            f"{HOUSEHOLD_CODE_MAX} fit, so shorten the unit or room number."
        )
    h = Household(
        code=code,
        building_id=b.id,
        area_code=b.area_code,
        unit_no=data.unit_no,
        room_no=data.room_no,
        occupancy=data.occupancy,
    )
    taken = (
        f"{b.name} unit {data.unit_no or '-'} room {data.room_no} is already registered as household {code}."
    )
    session.add(h)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise HouseholdExists(taken) from None
    return h


async def household_reads(session: AsyncSession, households: list[Household]) -> list[dict[str, Any]]:
    if not households:
        return []
    ids = [h.id for h in households]
    counts = dict(
        (
            await session.execute(
                select(Resident.household_id, func.count())
                .where(Resident.household_id.in_(ids))
                .group_by(Resident.household_id)
            )
        ).all()
    )
    addr = dict(
        (
            await session.execute(
                select(Building.id, Building.address).where(
                    Building.id.in_({h.building_id for h in households})
                )
            )
        ).all()
    )
    return [
        {
            "id": h.id,
            "code": h.code,
            "building_id": h.building_id,
            "area_code": h.area_code,
            "unit_no": h.unit_no,
            "room_no": h.room_no,
            "occupancy": h.occupancy,
            "address": household_address(addr.get(h.building_id, ""), h.unit_no, h.room_no),
            "resident_count": counts.get(h.id, 0),
        }
        for h in households
    ]


async def list_households(
    session: AsyncSession,
    principal: Principal,
    *,
    building_id: int | None,
    area_code: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Household], int]:
    sc.require_role(principal, sc.PEOPLE_READERS, "list households")
    stmt = select(Household).where(sc.area_filter(principal, Household.area_code))
    if building_id:
        stmt = stmt.where(Household.building_id == building_id)
    if area_code:
        stmt = stmt.where(Household.area_code.startswith(area_code))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(Household.id).limit(limit).offset(offset))).scalars().all()
    return list(rows), total


async def delete_household(session: AsyncSession, principal: Principal, household_id: int) -> None:
    sc.require_role(principal, sc.PLACE_WRITERS, "delete households")
    h = await get_household(session, principal, household_id)
    n = (
        await session.execute(select(func.count()).select_from(Resident).where(Resident.household_id == h.id))
    ).scalar_one()
    if n:
        raise HouseholdExists(f"Household {h.code} still has {n} residents; move them first.")
    moved = (
        await session.execute(
            select(func.count())
            .select_from(ResidentMove)
            .where((ResidentMove.from_household_id == h.id) | (ResidentMove.to_household_id == h.id))
        )
    ).scalar_one()
    if moved:
        raise HouseholdExists(
            f"Household {h.code} appears in {moved} residents' move history, which is kept."
        )
    await session.delete(h)
    await session.flush()


# ---- residents ----------------------------------------------------------------------------------


def resident_read(r: Resident, *, codec: PiiCodec | None = None, today: date | None = None) -> dict[str, Any]:
    """A resident as the API shows it. Pass `codec` only where the caller may see the full number."""
    return {
        "id": r.id,
        "household_id": r.household_id,
        "area_code": r.area_code,
        "name": r.name,
        "gender": r.gender,
        "age": age_on(r.birth_date, today or date.today()),
        "id_number": codec.open_id(r.id_cipher) if codec else r.id_masked,
        "phone": r.phone if codec else mask_phone(r.phone),
        "relation": r.relation,
        "tags": list(r.tags or []),
        "created_at": r.created_at,
    }


async def record_pii_access(
    session: AsyncSession, principal: Principal, action: str, resident_id: int | None, rows: int = 1
) -> None:
    await session.execute(
        insert(PiiAccess).values(
            actor=principal.sub, role=principal.role, action=action, resident_id=resident_id, rows=rows
        )
    )


async def get_resident(session: AsyncSession, principal: Principal, resident_id: int) -> Resident:
    sc.require_role(principal, sc.PEOPLE_READERS, "read residents")
    r = await session.get(Resident, resident_id)
    if r is None:
        raise ResidentNotFound(f"No resident with id {resident_id}.")
    sc.ensure_area(principal, r.area_code, "This resident")
    return r


async def codec_for_reveal(
    session: AsyncSession, principal: Principal, codec: PiiCodec, resident_id: int, reveal: bool
) -> PiiCodec | None:
    """The codec to show a full identity number with, when asked for and allowed; the reveal is recorded."""
    if not reveal:
        return None
    sc.require_role(principal, sc.PII_READERS, "see full identity numbers")
    await record_pii_access(session, principal, "reveal", resident_id)
    return codec


async def create_resident(
    session: AsyncSession, principal: Principal, codec: PiiCodec, data: ResidentCreate
) -> Resident:
    sc.require_role(principal, sc.PLACE_WRITERS, "register residents")
    h = await get_household(session, principal, data.household_id)
    number, born, gender = parse_id_number(data.id_number)
    id_hash, cipher, masked = codec.seal_id(number)
    existing = (
        await session.execute(select(Resident.id, Resident.household_id).where(Resident.id_hash == id_hash))
    ).first()
    if existing:
        raise ResidentExists(
            f"This identity number is already registered (resident {existing.id}, household "
            f"{existing.household_id}); move that resident instead of adding them again.",
            resident_id=existing.id,
        )
    r = Resident(
        household_id=h.id,
        area_code=h.area_code,
        name=data.name,
        gender=gender,
        birth_date=born,
        id_hash=id_hash,
        id_cipher=cipher,
        id_masked=masked,
        phone=data.phone,
        relation=data.relation,
        tags=data.tags,
    )
    session.add(r)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ResidentExists("This identity number was registered at the same moment; reload.") from None
    await session.refresh(r)
    return r


async def update_resident(
    session: AsyncSession, principal: Principal, resident_id: int, data: ResidentUpdate
) -> Resident:
    sc.require_role(principal, sc.PLACE_WRITERS, "edit residents")
    r = await get_resident(session, principal, resident_id)
    for f in ("name", "phone", "relation", "tags"):
        if f in data.model_fields_set:
            v = getattr(data, f)
            if v is None and f in ("name", "relation", "tags"):
                continue
            setattr(r, f, list(dict.fromkeys(v)) if f == "tags" else v)
    r.updated_at = func.now()
    await session.flush()
    await session.refresh(r)
    return r


async def move_resident(
    session: AsyncSession, principal: Principal, resident_id: int, to_household_id: int, reason: str | None
) -> ResidentMove:
    sc.require_role(principal, sc.PLACE_WRITERS, "move residents")
    r = await get_resident(session, principal, resident_id)
    target = await get_household(session, principal, to_household_id)
    if target.id == r.household_id:
        raise HouseholdExists(f"Resident {r.id} already lives in household {target.code}.")
    move = ResidentMove(
        resident_id=r.id,
        from_household_id=r.household_id,
        to_household_id=target.id,
        moved_by=principal.sub,
        reason=reason,
    )
    r.household_id, r.area_code, r.updated_at = target.id, target.area_code, func.now()
    session.add(move)
    await session.flush()
    await session.refresh(move)
    return move


async def delete_resident(session: AsyncSession, principal: Principal, resident_id: int) -> None:
    """Deregister (注销) a resident who has died or left the district. Moves within the district are moves."""
    sc.require_role(principal, ("district_admin", "community_admin", "grid_worker"), "deregister residents")
    r = await get_resident(session, principal, resident_id)
    await record_pii_access(session, principal, "deregister", r.id)
    await session.delete(r)
    await session.flush()


async def resident_moves(session: AsyncSession, resident_id: int) -> list[ResidentMove]:
    return list(
        (
            await session.execute(
                select(ResidentMove).where(ResidentMove.resident_id == resident_id).order_by(ResidentMove.id)
            )
        ).scalars()
    )


async def list_residents(
    session: AsyncSession,
    principal: Principal,
    *,
    household_id: int | None,
    area_code: str | None,
    tag: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Resident], int]:
    sc.require_role(principal, sc.PEOPLE_READERS, "list residents")
    stmt = select(Resident).where(sc.area_filter(principal, Resident.area_code))
    if household_id:
        stmt = stmt.where(Resident.household_id == household_id)
    if area_code:
        stmt = stmt.where(Resident.area_code.startswith(area_code))
    if tag:
        stmt = stmt.where(Resident.tags.contains([tag]))
    if q:
        stmt = stmt.where(Resident.name.startswith(q, autoescape=True))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(Resident.id).limit(limit).offset(offset))).scalars().all()
    return list(rows), total


async def lookup_by_id_number(
    session: AsyncSession, principal: Principal, codec: PiiCodec, number: str
) -> Any:
    """The resident row (a Core row: this is a hot path, and no ORM identity is needed)."""
    sc.require_role(principal, sc.PEOPLE_READERS, "look residents up")
    table = Resident.__table__
    r = (await session.execute(select(table).where(table.c.id_hash == codec.index(number)))).first()
    if r is None or (principal.area_scoped and not principal.covers_area(r.area_code)):
        raise ResidentNotFound("No resident with this identity number in your scope.")
    return r


async def check_identity(
    session: AsyncSession, principal: Principal, *, name: str, phone: str, id_last4: str
) -> Resident | None:
    """For the mobile service's binding step: all three must match one resident."""
    sc.require_role(principal, {"service"}, "check resident identities")
    rows = (
        await session.execute(select(Resident).where(Resident.phone == phone, Resident.name == name))
    ).scalars()
    last4 = id_last4.upper()
    matches = [r for r in rows if r.id_masked[-4:] == last4]
    return matches[0] if len(matches) == 1 else None
