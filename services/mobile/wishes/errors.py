"""Problems of 微心愿 in the mini-program, beside the shared ones in services/mobile/errors.py."""

from __future__ import annotations

from shared.problems import Conflict, Forbidden, Problem, Unprocessable


class TooManyPhotos(Unprocessable):
    type, title = "too-many-photos", "Too many photos for one wish"


class PhotoTooLarge(Problem):
    status, type, title = 413, "photo-too-large", "Photo too large"


class IdempotencyKeyReused(Unprocessable):
    type, title = "idempotency-key-reused", "This Idempotency-Key was used with a different wish"


class WishActionNotAllowed(Conflict):
    """The wish's state does not allow the step; `allowed` lists what the resident may do now."""

    type, title = "transition-not-allowed", "Not possible in the wish's current state"


class PhotoLinkInvalid(Forbidden):
    type, title = "photo-link-invalid", "The photo link is expired or was altered"
