"""Dispatch's domain errors; each becomes one RFC 9457 problem."""

from __future__ import annotations

from shared.problems import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable


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


# ---- 12345 hotline: each signature failure says which check failed ---------------------------------

_SIGNED = {"WWW-Authenticate": 'HMAC-SHA256 realm="gridgov-12345", headers="X-App-Key X-Timestamp X-Nonce"'}


class HotlineUnauthorized(Unauthorized):
    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail, headers=_SIGNED, **extra)


class SignatureMissing(HotlineUnauthorized):
    type, title = "signature-missing", "A signature header is missing or malformed"


class TimestampOutOfWindow(HotlineUnauthorized):
    type, title = "timestamp-out-of-window", "X-Timestamp is too far from the server's clock"


class NonceReused(HotlineUnauthorized):
    type, title = "nonce-reused", "This X-Nonce was already used"


class UnknownAppKey(HotlineUnauthorized):
    type, title = "unknown-app-key", "X-App-Key is not an active key"


class SignatureMismatch(HotlineUnauthorized):
    type, title = "signature-mismatch", "X-Signature does not match the request"


class OrderConflict(Conflict):
    type, title = "order-conflict", "This order_no was received with a different body"


class OrderNotFound(NotFound):
    type, title = "order-not-found", "No such work order"


class HotlineKeyNotFound(NotFound):
    type, title = "hotline-key-not-found", "No such hotline app key"


class HotlineKeyLimit(Conflict):
    type, title = "hotline-key-limit", "Two keys are already active"


class CallbackNotFound(NotFound):
    type, title = "callback-not-found", "No such callback"


class CallbackNotDead(Conflict):
    type, title = "callback-not-dead", "Only a dead-lettered callback can be re-driven"
