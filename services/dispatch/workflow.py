"""The closed loop as an explicit state machine: which action moves a ticket from which state, and who
may take it.

    registered ─confirm─▶ dispatched ─accept─▶ accepted ─start─▶ handling ─handle─▶ handled
        │                   ▲   │                 │                │  ▲                │
     (triage)─dispatch──────┘   └─return─▶ returned ─rule_return─▶ dispatched     verify / verify_fail
                                                                                      │
                                   feedback ◀─feedback─ closed ◀─close─ verified ◀────┘
                                          dissatisfied ─▶ reopened ─dispatch / close─▶ …

Side branches: reassign, escalate (community → street → district), suspend/resume (waiting for the
resident; the clock stops), request/decide an extension (延期), cancel, link/unlink duplicates.

The table is data, so the API can say exactly which actions are allowed now (a refused transition is a
409 naming them) and the tests can walk every cell of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import SERVICE_ROLE

DISPATCHERS = ("district_admin", "street_dispatcher")
COMMUNITY = "community_admin"
GRID = "grid_worker"
HANDLER = "department_handler"
INTEGRATION = "integration"
# A community-level ticket is the community's to handle (小事不出网格, 大事不出社区): its admin may act
# as the handler. Checked per ticket in `may_act`.
HANDLER_ROLES = (HANDLER, COMMUNITY)
COMMUNITY_AS_HANDLER = frozenset(
    {"accept", "start", "suspend", "resume", "handle", "return", "escalate", "request_extension"}
)

SYSTEM = "system"  # the supervision job


@dataclass(frozen=True)
class Action:
    name: str
    label: str  # the Chinese name shown in the trail
    sources: tuple[str, ...]
    target: str | None  # None: decided by the action (feedback, rule_return, resume, ...)
    roles: tuple[str, ...]
    needs_note: bool = False
    needs_photos: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("confirm", "核查确认", ("registered",), "dispatched", (*DISPATCHERS, COMMUNITY, GRID)),
        Action(
            "dispatch", "派遣", ("registered", "triage", "reopened"), "dispatched", (*DISPATCHERS, COMMUNITY)
        ),
        Action("reassign", "改派", ("dispatched", "accepted", "handling"), "dispatched", DISPATCHERS, True),
        Action("accept", "签收", ("dispatched",), "accepted", HANDLER_ROLES),
        Action("start", "开始处置", ("accepted",), "handling", HANDLER_ROLES),
        Action("suspend", "挂起(等待群众)", ("handling",), "suspended", HANDLER_ROLES, True),
        Action("resume", "恢复处置", ("suspended",), "handling", (*HANDLER_ROLES, *DISPATCHERS)),
        Action("handle", "办结", ("handling",), "handled", HANDLER_ROLES, True),
        Action("verify", "核实通过", ("handled",), "verified", (GRID, COMMUNITY), True, True),
        Action("verify_fail", "核实不通过", ("handled",), "handling", (GRID, COMMUNITY), True),
        Action("close", "结案", ("verified", "handled", "reopened"), "closed", (*DISPATCHERS, COMMUNITY)),
        Action(
            "feedback",
            "回访",
            ("closed",),
            None,
            (*DISPATCHERS, COMMUNITY, INTEGRATION, SERVICE_ROLE),
        ),
        Action("return", "退单", ("dispatched", "accepted"), "returned", HANDLER_ROLES, True),
        Action("rule_return", "退单裁定", ("returned",), "dispatched", DISPATCHERS, True),
        Action(
            "escalate",
            "上报升级",
            ("dispatched", "accepted", "handling"),
            "dispatched",
            (*HANDLER_ROLES, *DISPATCHERS),
            True,
        ),
        Action("request_extension", "申请延期", ("accepted", "handling"), None, HANDLER_ROLES, True),
        Action("decide_extension", "延期审批", ("accepted", "handling", "suspended"), None, DISPATCHERS),
        Action("cancel", "作废", ("registered", "triage", "dispatched"), "cancelled", DISPATCHERS, True),
        Action("link", "合并重复", ("registered", "triage", "dispatched"), "linked", DISPATCHERS),
        Action("unlink", "取消合并", ("linked",), None, DISPATCHERS),
    )
}

# Who reads which actions as "theirs" in their work views.
ACTIVE_CLOCK = ("dispatched", "accepted", "handling")
LEVELS = ("community", "street", "district")


def allowed_actions(status: str, role: str) -> list[str]:
    """Actions this role may take from this state (ignoring per-ticket checks such as unit or scope)."""
    return [a.name for a in ACTIONS.values() if status in a.sources and role in a.roles]


def actions_from(status: str) -> list[str]:
    return [a.name for a in ACTIONS.values() if status in a.sources]


def next_level(level: str) -> str | None:
    i = LEVELS.index(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None
