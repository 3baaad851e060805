"""Mobile's domain errors; each becomes one RFC 9457 problem."""

from __future__ import annotations

from typing import Any

from shared.problems import Conflict, Forbidden, NotFound, Problem, Unauthorized, Unprocessable


class NotBound(Forbidden):
    type, title = "not-bound", "Bind your household first"


class AlreadyBound(Conflict):
    type, title = "already-bound", "This account or this resident is already bound"


class BindMismatch(Unprocessable):
    type, title = "bind-mismatch", "These details match no resident"


class TooManyRequests(Problem):
    """429 with Retry-After (seconds)."""

    status, type, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(
            detail,
            headers={"Retry-After": str(max(1, retry_after))},
            retry_after=max(1, retry_after),
            **extra,
        )


class BindLocked(TooManyRequests):
    type, title = "bind-locked", "Binding is locked after too many wrong attempts"


class WechatRejected(Unauthorized):
    type, title = "wechat-login-failed", "WeChat did not accept this login code"


class TokenInvalid(Unauthorized):
    type, title = "invalid-token", "The access token is not valid here"


class TicketNotFound(NotFound):
    type, title = "ticket-not-found", "No such ticket of yours"


class WishNotFound(NotFound):
    type, title = "wish-not-found", "No such wish of yours"


class PhotoNotFound(NotFound):
    type, title = "photo-not-found", "No such photo"


class OutsideDistrict(Unprocessable):
    type, title = "outside-district", "The location is outside the district"


class NotRatable(Conflict):
    type, title = "not-ratable", "This ticket cannot be rated now"
