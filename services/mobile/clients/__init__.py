"""Mobile's clients for the services it composes. Mobile always calls as itself (`svc-mobile`, the
registry's `service` role): a resident token means nothing to the staff services."""

from __future__ import annotations

from typing import Any

import httpx

from shared.http import ServiceClient


class MobileClient(ServiceClient):
    async def request(self, method: str, url: str, *, as_service: bool = True, **kw: Any) -> httpx.Response:
        return await super().request(method, url, as_service=True, **kw)
