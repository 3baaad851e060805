"""A wish's life as an explicit state machine: which action moves it from which state, and who may
take it ("居民点单、网格派单、成员单位接单、完成销单").

    submitted ─approve─▶ approved ─publish─▶ published ─claim─▶ claimed ─start─▶ in_progress
        │                                     ▲    ▲              │  │                │
     reject─▶ rejected                        │    └──withdraw────┘  │            complete
                                              └──lapse (N days)──────┘                │
                                                                                      ▼
           closed ◀─close─ confirmed ◀─confirm / auto_confirm (N days)─ completed ─dispute─▶ in_progress

    cancel (with a reason): submitted, approved, published, claimed, in_progress ─▶ cancelled

The table is data: the API says exactly which actions are allowed now (a refused transition is a 409
naming them) and the tests walk every cell of it. Per-wish checks (the claimant is the caller's unit,
the wish is in the caller's area, a directed wish is offered to the unit) are in `service.wishes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.wishes.scope import GRID_STAFF, LIAISON, SUPERVISORS
from shared.auth import SERVICE_ROLE

SYSTEM = "system"  # the lapse and auto-confirm job
RESIDENT = SERVICE_ROLE  # the mobile API acting for the wish's resident
CLAIMANTS = (LIAISON, *GRID_STAFF)  # a unit's liaison, or grid staff recording a volunteer's claim


@dataclass(frozen=True)
class Action:
    name: str
    label: str  # the Chinese name shown in the trail
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    needs_note: bool = False
    by_claimant: bool = False  # only the current claimant (its unit's liaison, or grid staff for a volunteer)


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("approve", "审核通过", ("submitted",), "approved", GRID_STAFF),
        Action("reject", "审核不通过", ("submitted",), "rejected", GRID_STAFF, needs_note=True),
        Action("publish", "派单", ("approved",), "published", GRID_STAFF),
        Action("claim", "接单", ("published",), "claimed", CLAIMANTS),
        Action("withdraw", "退回认领", ("claimed", "in_progress"), "published", CLAIMANTS, True, True),
        Action("lapse", "认领超时退回", ("claimed",), "published", (SYSTEM,)),
        Action("start", "开始实施", ("claimed",), "in_progress", CLAIMANTS, by_claimant=True),
        Action("complete", "完成", ("in_progress",), "completed", CLAIMANTS, by_claimant=True),
        Action("dispute", "居民未确认完成", ("completed",), "in_progress", (RESIDENT, *GRID_STAFF), True),
        Action("confirm", "居民确认", ("completed",), "confirmed", (RESIDENT, *GRID_STAFF)),
        Action("auto_confirm", "超时自动确认", ("completed",), "confirmed", (SYSTEM,)),
        Action("close", "销单", ("confirmed",), "closed", GRID_STAFF),
        Action(
            "cancel",
            "取消",
            ("submitted", "approved", "published", "claimed", "in_progress"),
            "cancelled",
            (RESIDENT, *GRID_STAFF, *SUPERVISORS),
            needs_note=True,
        ),
    )
}


def allowed_actions(status: str, role: str) -> list[str]:
    """Actions this role may take from this state (ignoring per-wish checks such as claimant or scope)."""
    return [a.name for a in ACTIONS.values() if status in a.sources and role in a.roles]


def actions_from(status: str) -> list[str]:
    return [a.name for a in ACTIONS.values() if status in a.sources]
