"""Who may do what where: role checks and area-scope filters, applied on every read and write."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, true

from services.registry.errors import OutOfScope, RoleNotAllowed
from shared.auth import AREA_ROLES, Principal

# Roles that manage areas, and the levels each may create or edit (inside its own scope).
AREA_WRITERS = {
    "district_admin": {"street", "community", "grid", "micro_grid"},
    "street_dispatcher": {"community", "grid", "micro_grid"},
    "community_admin": {"grid", "micro_grid"},
}
PLACE_WRITERS = ("district_admin", "street_dispatcher", "community_admin", "grid_worker")
PEOPLE_READERS = (*AREA_ROLES, "department_handler", "service")
# Roles whose work needs the full identity number or phone (home visits, certificates).
PII_READERS = ("district_admin", "community_admin", "grid_worker")
ORG_READERS = (*AREA_ROLES, "department_handler", "unit_liaison", "integration", "service")


def require_role(
    principal: Principal, roles: tuple[str, ...] | frozenset[str] | set[str], action: str
) -> None:
    if principal.role not in roles:
        raise RoleNotAllowed(
            f"Role '{principal.role}' may not {action}; roles that may: {', '.join(sorted(roles))}.",
        )


def area_filter(principal: Principal, column: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL condition: the row's area code lies inside the principal's scope."""
    if principal.role not in AREA_ROLES:
        return true()
    if not principal.scope:
        return false()
    return or_(*[column.startswith(code) for code in principal.scope])


def area_visible_filter(principal: Principal, column: ColumnElement[str]) -> ColumnElement[bool]:
    """Areas a principal may see: its scope's subtree and the ancestors of its scope."""
    if principal.role not in AREA_ROLES:
        return true()
    ancestors = {code[:n] for code in principal.scope for n in (6, 9, 12, 15) if n < len(code)}
    conds = [column.startswith(code) for code in principal.scope]
    if ancestors:
        conds.append(column.in_(sorted(ancestors)))
    return or_(*conds) if conds else false()


def can_see_area(principal: Principal, code: str) -> bool:
    if principal.role not in AREA_ROLES:
        return True
    return any(code.startswith(s) or s.startswith(code) for s in principal.scope)


def ensure_area(principal: Principal, code: str, what: str) -> None:
    """Writes and reads of people-level data: the area must be inside the caller's scope."""
    if principal.role in AREA_ROLES and not principal.covers_area(code):
        raise OutOfScope(
            f"{what} is in area {code}, outside your scope ({' '.join(principal.scope) or 'none'}).",
        )
