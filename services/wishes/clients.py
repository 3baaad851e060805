"""Wishes' client for the registry: who is this resident, where do they live, what is this area?

Called as the service itself (the registry's `service` role reads people); wishes applies the caller's
own scope to the answer, so a grid worker cannot file for a resident outside their grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from shared.http import ServiceClient, raise_for_upstream


@dataclass(frozen=True)
class AreaRef:
    code: str
    name: str


@dataclass(frozen=True)
class ResidentRef:
    """The fields of a registry resident and their household that a wish keeps."""

    id: int
    name: str
    household_id: int
    area_code: str
    address: str
    grid: AreaRef | None
    community: AreaRef | None


class RegistryClient(ServiceClient):
    service = "registry"

    async def resident(self, resident_id: int) -> ResidentRef | None:
        """The resident with their household's address and areas, or None if the registry has no such
        resident. Raises `UpstreamUnavailable` when the registry cannot answer."""
        r = await self.request("GET", f"/api/v1/residents/{resident_id}", as_service=True)
        if r.status_code == 404:
            return None
        raise_for_upstream(r, self.service)
        res = orjson.loads(r.content)
        c = await self.request("GET", f"/api/v1/households/{res['household_id']}/coverage", as_service=True)
        raise_for_upstream(c, self.service)
        cov = orjson.loads(c.content)

        def ref(v: dict[str, Any] | None) -> AreaRef | None:
            return AreaRef(v["code"], v["name"]) if v else None

        return ResidentRef(
            id=res["id"],
            name=res["name"],
            household_id=res["household_id"],
            area_code=res["area_code"],
            address=cov["household"].get("address") or "",
            grid=ref(cov.get("grid")),
            community=ref(cov.get("community")),
        )

    async def area(self, code: str) -> AreaRef | None:
        """An area by its code, or None when the registry has none."""
        r = await self.request(
            "GET", "/api/v1/areas", params={"code_prefix": code, "limit": 1}, as_service=True
        )
        raise_for_upstream(r, self.service)
        items = orjson.loads(r.content)["items"]
        if not items or items[0]["code"] != code:
            return None
        return AreaRef(items[0]["code"], items[0]["name"])
