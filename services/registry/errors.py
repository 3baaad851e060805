"""Registry's domain errors: each is one problem-details response."""

from __future__ import annotations

from shared.problems import Conflict, Forbidden, NotFound, Problem, Unauthorized, Unprocessable


class AreaNotFound(NotFound):
    type, title = "area-not-found", "Area not found"


class ParentAreaInvalid(Unprocessable):
    type, title = "parent-area-invalid", "Parent area is missing or of the wrong level"


class AreaCodeTaken(Conflict):
    type, title = "area-code-taken", "Area code already in use"


class AreaCodeInvalid(Unprocessable):
    type, title = "area-code-invalid", "Area code does not fit the hierarchy"


class PolygonInvalid(Unprocessable):
    type, title = "polygon-invalid", "Boundary polygon is not valid"


class PolygonOverlap(Conflict):
    type, title = "polygon-overlap", "Boundary overlaps another area"


class AreaInUse(Conflict):
    type, title = "area-in-use", "Area still has children or people"


class OutOfScope(Forbidden):
    type, title = "out-of-scope", "Outside your scope"


class RoleNotAllowed(Forbidden):
    type, title = "role-not-allowed", "Your role may not do this"


class BuildingNotFound(NotFound):
    type, title = "building-not-found", "Building not found"


class HouseholdNotFound(NotFound):
    type, title = "household-not-found", "Household not found"


class HouseholdCodeTooLong(Unprocessable):
    type, title = "household-code-too-long", "Household code too long"


class HouseholdExists(Conflict):
    type, title = "household-exists", "Household already registered"


class ResidentNotFound(NotFound):
    type, title = "resident-not-found", "Resident not found"


class ResidentExists(Conflict):
    type, title = "resident-exists", "Resident already registered"


class NotLocated(NotFound):
    type, title = "not-located", "No area contains this place"


class LoginFailed(Unauthorized):
    type, title = "login-failed", "Username or password is wrong"


class AccountLocked(Problem):
    status, type, title = 423, "account-locked", "Account locked after repeated failed logins"


class AccountNotFound(NotFound):
    type, title = "account-not-found", "Staff account not found"


class UsernameTaken(Conflict):
    type, title = "username-taken", "Username already in use"


class ImportRejected(Unprocessable):
    type, title = "import-rejected", "Spreadsheet rejected; nothing was imported"


class UnsupportedFile(Problem):
    status, type, title = 415, "unsupported-file", "File type not supported"


class PartyOrgNotFound(NotFound):
    type, title = "party-org-not-found", "Party organisation not found"


class CoverageInvalid(Unprocessable):
    type, title = "coverage-invalid", "Coverage does not fit the rules"


class GridStaffNotFound(NotFound):
    type, title = "grid-staff-not-found", "Grid staff member not found"


class BuildingCodeTaken(Conflict):
    type, title = "building-code-taken", "Building code already in use"


class ScopeInvalid(Unprocessable):
    type, title = "scope-invalid", "Scope does not fit the role"
