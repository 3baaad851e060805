"""Wishes' domain errors; each becomes one RFC 9457 problem."""

from __future__ import annotations

from shared.problems import Conflict, Forbidden, NotFound, Problem, Unprocessable


class WishNotFound(NotFound):
    type, title = "wish-not-found", "No such wish"


class UnitNotFound(NotFound):
    type, title = "unit-not-found", "No such member unit"


class VolunteerNotFound(NotFound):
    type, title = "volunteer-not-found", "No such volunteer"


class PhotoNotFound(NotFound):
    type, title = "photo-not-found", "No such photo"


class ItemNotFound(NotFound):
    type, title = "item-not-found", "No such catalogue item"


class ProjectNotFound(NotFound):
    type, title = "project-not-found", "No such project"


class NeedNotFound(NotFound):
    type, title = "need-not-found", "No such need"


class ResourceNotFound(NotFound):
    type, title = "resource-not-found", "No such resource"


class RedemptionNotFound(NotFound):
    type, title = "redemption-not-found", "No such redemption"


class ResidentNotFound(Unprocessable):
    type, title = "resident-not-found", "The registry knows no such resident"


class TransitionNotAllowed(Conflict):
    """The action is not possible from the wish's current state; `allowed` lists what is."""

    type, title = "transition-not-allowed", "This action is not allowed in the wish's current state"


class AlreadyClaimed(Conflict):
    type, title = "wish-already-claimed", "Someone else has claimed this wish"


class ActionForbidden(Forbidden):
    type, title = "action-forbidden", "You may not take this action on this wish"


class OutOfScope(Forbidden):
    type, title = "out-of-scope", "Outside your scope"


class ActionInvalid(Unprocessable):
    type, title = "action-invalid", "The action is missing something it needs"


class InsufficientPoints(Conflict):
    type, title = "insufficient-points", "Not enough points"


class OutOfStock(Conflict):
    type, title = "out-of-stock", "Not enough stock"


class ProjectLimitReached(Conflict):
    type, title = "project-limit-reached", "The unit has claimed its projects for the year"


class UnsupportedPhoto(Problem):
    status, type, title = 415, "unsupported-photo", "Not a JPEG, PNG or WebP image"


class PhotoTooLarge(Problem):
    status, type, title = 413, "photo-too-large", "Photo too large"


# ---- member units and their lists (units/) ------------------------------------------------------------


class AreaUnknown(Unprocessable):
    type, title = "area-unknown", "The registry knows no such area"


class UnitCodeTaken(Conflict):
    type, title = "unit-code-taken", "A member unit with this code exists"


class PeriodClosed(Conflict):
    type, title = "period-closed", "That half year's resource list is history"


class NeedNotOpen(Conflict):
    type, title = "need-not-open", "The need is no longer open"


class ProjectNotOpen(Conflict):
    type, title = "project-not-open", "The project is not open for claiming"


class ProjectNotClaimed(Conflict):
    type, title = "project-not-claimed", "No unit holds this project"


# ---- points supermarket -------------------------------------------------------------------------------


class AreaNotFound(Unprocessable):
    type, title = "area-not-found", "The registry knows no such area"


class UnitUnsuitable(Unprocessable):
    type, title = "unit-unsuitable", "That member unit cannot take this volunteer"


class DuplicateVolunteer(Conflict):
    type, title = "volunteer-exists", "This phone is already registered with the community"


class VolunteerInactive(Unprocessable):
    type, title = "volunteer-inactive", "The volunteer is not active"


class ItemUnavailable(Unprocessable):
    type, title = "item-unavailable", "This item cannot be redeemed here"


class RedemptionAlreadyCancelled(Conflict):
    type, title = "redemption-already-cancelled", "The redemption is already cancelled"


class IdempotencyKeyReused(Unprocessable):
    type, title = "idempotency-key-reused", "This Idempotency-Key was used with a different request"


class InvalidPeriod(Unprocessable):
    type, title = "invalid-period", "The period is not valid"


class PointsRuleNotFound(NotFound):
    type, title = "points-rule-not-found", "No such points rule"
