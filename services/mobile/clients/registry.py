"""Mobile's client for the registry service: identity checks for binding, and who a resident is and
who serves their home.

Answers are parsed into the few fields mobile reads (extra fields are ignored, so the registry can grow
its answers). Every call is made as `svc-mobile`; a registry that is down or slow becomes a 503 problem
naming the registry (shared.http).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.mobile.clients import MobileClient
from shared.http import raise_for_upstream


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class IdentityMatch(_Ref):
    resident_id: int
    household_id: int
    area_code: str


class ResidentRef(_Ref):
    """A registry resident: name and phone as the registry shows a service (the phone masked)."""

    id: int
    household_id: int
    area_code: str
    name: str
    phone: str | None = None
    relation: str | None = None


class AreaRef(_Ref):
    id: int
    code: str
    name: str


class HouseholdRef(_Ref):
    id: int
    code: str
    area_code: str
    address: str = ""


class CardStaff(_Ref):
    name: str
    role: str
    role_label: str
    phone: str | None = None  # the service phone in full, or the personal mobile masked


class CoveringPerson(_Ref):
    resident_id: int
    name: str
    household_id: int
    phone: str | None = None  # always masked by the registry


class Coverage(_Ref):
    household: HouseholdRef
    micro_grid: AreaRef | None = None
    grid: AreaRef | None = None
    community: AreaRef | None = None
    grid_staff: list[CardStaff] = []
    party_central: CoveringPerson | None = None
    representative: CoveringPerson | None = None


class GridCard(_Ref):
    grid: AreaRef
    community: AreaRef | None = None
    street: AreaRef | None = None
    grid_kind_label: str | None = None
    staff: list[CardStaff] = []


class RegistryClient(MobileClient):
    service = "registry"

    async def identity_check(self, *, name: str, phone: str, id_last4: str) -> IdentityMatch | None:
        """The one resident with this name, phone and identity-number ending, or None. A POST so the
        details never reach a URL or an access log; it only reads, so it may be retried."""
        r = await self.request(
            "POST",
            "/api/v1/residents/identity-check",
            json={"name": name, "phone": phone, "id_last4": id_last4},
            idempotent=True,
        )
        if r.status_code == 404:
            return None
        raise_for_upstream(r, self.service)
        return IdentityMatch.model_validate_json(r.content)

    async def resident(self, resident_id: int) -> ResidentRef | None:
        r = await self.request("GET", f"/api/v1/residents/{resident_id}")
        if r.status_code == 404:
            return None
        raise_for_upstream(r, self.service)
        return ResidentRef.model_validate_json(r.content)

    async def coverage(self, household_id: int) -> Coverage | None:
        """Who covers a household: its areas, grid team, party-member central household and resident
        representative."""
        r = await self.request("GET", f"/api/v1/households/{household_id}/coverage")
        if r.status_code == 404:
            return None
        raise_for_upstream(r, self.service)
        return Coverage.model_validate_json(r.content)

    async def grid_card(self, grid_id: int) -> GridCard | None:
        """The public grid card (网格公示牌): personal mobiles come masked, service phones in full."""
        r = await self.request("GET", f"/api/v1/grids/{grid_id}/card")
        if r.status_code == 404:
            return None
        raise_for_upstream(r, self.service)
        return GridCard.model_validate_json(r.content)
