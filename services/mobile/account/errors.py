"""Problems of login and sessions, beside the shared ones in services/mobile/errors.py."""

from __future__ import annotations

import uuid

from shared.problems import Forbidden, Unauthorized


class WechatRiskyUser(Forbidden):
    type, title = "wechat-risky-user", "WeChat blocked this login as high-risk"


class AccountDisabled(Forbidden):
    type, title = "account-disabled", "This account is disabled"


class RefreshInvalid(Unauthorized):
    type, title = "invalid-refresh-token", "The refresh token is not valid"


class RefreshReused(Unauthorized):
    """A spent refresh token came back: it was copied or replayed, so its session ends."""

    type, title = "refresh-token-reused", "The refresh token was already used"

    def __init__(self, detail: str, *, session_id: uuid.UUID) -> None:
        super().__init__(detail, keep_changes=True)
        self.session_id = session_id
