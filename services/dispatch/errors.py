"""Dispatch's domain errors; each becomes one RFC 9457 problem."""

from __future__ import annotations

from shared.problems import Conflict, Forbidden, NotFound, Unprocessable


class TicketNotFound(NotFound):
    type, title = "ticket-not-found", "No such ticket"


class StandardNotFound(NotFound):
    type, title = "standard-not-found", "No such handling standard"


class UnknownUnit(Unprocessable):
    type, title = "unknown-unit", "Unknown handling unit"


class TransitionNotAllowed(Conflict):
    """The action is not possible from the ticket's current state; `allowed` lists what is."""

    type, title = "transition-not-allowed", "This action is not allowed in the ticket's current state"


class ActionForbidden(Forbidden):
    type, title = "action-forbidden", "Your role may not take this action on this ticket"


class ActionInvalid(Unprocessable):
    type, title = "action-invalid", "The action is missing something it needs"


class ExtensionTooLate(Unprocessable):
    type, title = "extension-after-deadline", "An extension must be requested before the deadline"


class ReturnAlreadyRuled(Conflict):
    type, title = "return-already-ruled", "The dispatch centre's ruling on a return is final"


class IdempotencyMismatch(Unprocessable):
    type, title = "idempotency-key-reused", "This Idempotency-Key was used with a different request"


class StandardConflict(Conflict):
    type, title = "standard-conflict", "The handling standard conflicts with an existing one"


class InvalidWeek(Unprocessable):
    type, title = "invalid-week", "No such ISO week"
