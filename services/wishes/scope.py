"""Who may do what where in the wishes service.

Area roles (district → grid) act inside their area codes; a `unit_liaison` acts for the one member unit
whose code is its scope; the `service` role is the mobile API acting for a resident, and must name that
resident (it sees only their wishes).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes.errors import ActionForbidden, OutOfScope, UnitNotFound
from services.wishes.models import MemberUnit
from shared.auth import AREA_ROLES, SERVICE_ROLE, Principal

GRID_STAFF = ("grid_worker", "community_admin")  # review, publish, confirm for a resident, close
SUPERVISORS = ("street_dispatcher", "district_admin")
LIAISON = "unit_liaison"
# who may manage member units, their lists, volunteers and the points supermarket of an area
AREA_MANAGERS = ("community_admin", *SUPERVISORS)
READERS = (*AREA_ROLES, LIAISON, SERVICE_ROLE)


def require_role(principal: Principal, roles: tuple[str, ...], what: str) -> None:
    if principal.role not in roles:
        raise ActionForbidden(f"{what} is for {', '.join(roles)}; you are {principal.role}.")


def ensure_area(principal: Principal, area_code: str, what: str) -> None:
    """Area roles must cover the area; the service role covers all; other roles check elsewhere."""
    if principal.role in AREA_ROLES and not principal.covers_area(area_code):
        raise OutOfScope(
            f"{what} is in area {area_code}, outside your scope ({' '.join(principal.scope) or 'none'})."
        )


async def liaison_unit(session: AsyncSession, principal: Principal) -> MemberUnit:
    """The member unit a liaison account acts for (its scope is the unit's code)."""
    if principal.role != LIAISON or len(principal.scope) != 1:
        raise ActionForbidden("Only a unit liaison account (scope: its unit's code) acts for a unit.")
    unit = (
        await session.execute(select(MemberUnit).where(MemberUnit.code == principal.scope[0]))
    ).scalar_one_or_none()
    if unit is None or not unit.active:
        raise UnitNotFound(f"Your account's unit {principal.scope[0]} is not an active member unit.")
    return unit


def unit_covers(unit: MemberUnit, area_code: str) -> bool:
    """A unit takes wishes from inside the area of the committee it joined (community or street)."""
    return area_code.startswith(unit.area_code)
