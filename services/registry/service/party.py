"""Party organisation and household coverage: who looks after household X."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import scope as sc
from services.registry.crypto import mask_phone
from services.registry.errors import AreaNotFound, CoverageInvalid, PartyOrgNotFound
from services.registry.models import (
    GRID_STAFF_ROLES,
    Area,
    GridStaff,
    Household,
    HouseholdLink,
    PartyOrg,
    Resident,
)
from services.registry.schemas import CoverageCreate, PartyOrgCreate
from services.registry.service.people import get_household, get_resident, household_reads
from shared.auth import Principal
from shared.problems import Conflict

PARENT_KIND = {"branch": "committee", "group": "branch"}
COVERAGE_RANGE = {"party_central": (20, 30), "representative": (10, 15)}
ORG_WRITERS = ("district_admin", "street_dispatcher", "community_admin")
ROLE_ORDER = list(GRID_STAFF_ROLES)


async def create_party_org(session: AsyncSession, principal: Principal, data: PartyOrgCreate) -> PartyOrg:
    sc.require_role(principal, ORG_WRITERS, "manage party organisations")
    community = await session.get(Area, data.community_id)
    if community is None or community.level != "community":
        raise AreaNotFound(f"No community with id {data.community_id}.")
    sc.ensure_area(principal, community.code, f"Community {community.name}")
    want_parent = PARENT_KIND.get(data.kind)
    if want_parent is None and data.parent_id is not None:
        raise CoverageInvalid("A community party committee has no parent organisation.")
    if want_parent is not None:
        parent = await session.get(PartyOrg, data.parent_id) if data.parent_id else None
        if parent is None or parent.kind != want_parent or parent.community_id != community.id:
            raise CoverageInvalid(f"A {data.kind} needs parent_id of a {want_parent} in the same community.")
    org = PartyOrg(
        kind=data.kind,
        name=data.name,
        parent_id=data.parent_id,
        community_id=community.id,
        area_code=community.code,
        secretary_name=data.secretary_name,
    )
    session.add(org)
    await session.flush()
    return org


async def list_party_orgs(
    session: AsyncSession, principal: Principal, community_id: int | None
) -> list[PartyOrg]:
    sc.require_role(principal, sc.ORG_READERS, "read party organisations")
    stmt = select(PartyOrg).where(sc.area_visible_filter(principal, PartyOrg.area_code))
    if community_id:
        stmt = stmt.where(PartyOrg.community_id == community_id)
    return list((await session.execute(stmt.order_by(PartyOrg.id))).scalars())


async def set_coverage(session: AsyncSession, principal: Principal, data: CoverageCreate) -> dict[str, Any]:
    """Replace the set of households one person covers. Ranges outside the norm warn; over the max refuses."""
    sc.require_role(principal, (*ORG_WRITERS, "grid_worker"), "assign household coverage")
    lo, hi = COVERAGE_RANGE[data.kind]
    ids = list(dict.fromkeys(data.household_ids))
    if len(ids) > hi:
        raise CoverageInvalid(f"A {data.kind} covers at most {hi} households; got {len(ids)}.")
    person = await get_resident(session, principal, data.resident_id)
    if data.kind == "party_central" and "党员" not in (person.tags or []):
        raise CoverageInvalid(
            f"Resident {person.id} is not tagged 党员; a central household is a party member's."
        )
    community_code = person.area_code[:12]
    households = (await session.execute(select(Household).where(Household.id.in_(ids)))).scalars().all()
    found = {h.id for h in households}
    if missing := [i for i in ids if i not in found]:
        raise CoverageInvalid(f"Unknown household id(s): {missing}.")
    for h in households:
        sc.ensure_area(principal, h.area_code, f"Household {h.code}")
        if not h.area_code.startswith(community_code):
            raise CoverageInvalid(f"Household {h.code} is in another community than resident {person.id}.")
    if data.party_org_id is not None:
        org = await session.get(PartyOrg, data.party_org_id)
        if org is None or org.kind != "group" or org.area_code != community_code:
            raise PartyOrgNotFound(
                f"party_org_id {data.party_org_id} is not a building group in this community."
            )
    taken = (
        await session.execute(
            select(HouseholdLink.household_id, HouseholdLink.resident_id).where(
                HouseholdLink.kind == data.kind,
                HouseholdLink.household_id.in_(ids),
                HouseholdLink.resident_id != person.id,
            )
        )
    ).all()
    if taken:
        raise Conflict(
            f"Household(s) {[t.household_id for t in taken]} are already covered by another {data.kind}; "
            "remove them from that person's set first.",
        )
    await session.execute(
        delete(HouseholdLink).where(HouseholdLink.kind == data.kind, HouseholdLink.resident_id == person.id)
    )
    session.add_all(
        [
            HouseholdLink(
                kind=data.kind, household_id=i, resident_id=person.id, party_org_id=data.party_org_id
            )
            for i in ids
        ]
    )
    await session.flush()
    warnings = (
        []
        if len(ids) >= lo
        else [f"{data.kind} usually covers {lo}–{hi} households; this one covers {len(ids)}"]
    )
    return {
        "kind": data.kind,
        "resident": await covering_person(session, person),
        "household_ids": ids,
        "warnings": warnings,
    }


async def covering_person(session: AsyncSession, r: Resident) -> dict[str, Any]:
    h = await session.get(Household, r.household_id)
    return {
        "resident_id": r.id,
        "name": r.name,
        "household_id": r.household_id,
        "household_code": h.code if h else "",
        "phone": mask_phone(r.phone),
    }


def card_staff(rows: list[GridStaff]) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda s: (ROLE_ORDER.index(s.role) if s.role in ROLE_ORDER else 99, s.id))
    return [
        {
            "name": s.name,
            "role": s.role,
            "role_label": GRID_STAFF_ROLES.get(s.role, s.role),
            "phone": s.service_phone or mask_phone(s.personal_phone),
        }
        for s in rows
    ]


async def household_coverage(
    session: AsyncSession, principal: Principal, household_id: int, chain: dict[str, Any]
) -> dict[str, Any]:
    h = await get_household(session, principal, household_id)
    links = (
        (await session.execute(select(HouseholdLink).where(HouseholdLink.household_id == h.id)))
        .scalars()
        .all()
    )
    out: dict[str, Any] = {"party_central": None, "representative": None, "party_group": None}
    for link in links:
        person = await session.get(Resident, link.resident_id)
        if person is not None:
            out[link.kind] = await covering_person(session, person)
        if link.kind == "party_central" and link.party_org_id:
            out["party_group"] = await session.get(PartyOrg, link.party_org_id)
    grid = chain.get("grid")
    staff = []
    if grid:
        staff = card_staff(
            list((await session.execute(select(GridStaff).where(GridStaff.grid_id == grid["id"]))).scalars())
        )
    return {
        "household": (await household_reads(session, [h]))[0],
        "micro_grid": chain.get("micro_grid"),
        "grid": grid,
        "community": chain.get("community"),
        "grid_staff": staff,
        **out,
    }
