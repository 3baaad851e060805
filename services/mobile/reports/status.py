"""What a resident calls the state of their ticket.

Dispatch has fourteen statuses, several of them internal (a return to the dispatch centre, triage, an
on-site check). A resident sees nine, each with a plain-Chinese label; `code` is stable for clients to
switch on, `label` is what the mini-program shows.

| resident code | label    | dispatch statuses |
|---------------|----------|-------------------|
| received      | 已受理   | registered, triage |
| dispatched    | 已派遣   | dispatched, returned (a unit handing it back is internal: it is being re-dispatched) |
| in_progress   | 处理中   | accepted, handling, suspended |
| resolved      | 已办结   | handled, verified; closed for a merged duplicate (its master's reporter rates it) |
| to_rate       | 待评价   | closed, not rated yet |
| rated         | 已评价   | feedback; closed after a rating (a 不满意 ticket closed again after review) |
| reviewing     | 复核中   | reopened (rated 不满意: the dispatch centre reviews the handling) |
| merged        | 已合并   | linked (the same problem as an earlier report; it follows that ticket) |
| cancelled     | 不予受理 | cancelled |
"""

from __future__ import annotations

LABELS = {
    "received": "已受理",
    "dispatched": "已派遣",
    "in_progress": "处理中",
    "resolved": "已办结",
    "to_rate": "待评价",
    "rated": "已评价",
    "reviewing": "复核中",
    "merged": "已合并",
    "cancelled": "不予受理",
}
CODES = tuple(LABELS)

_SIMPLE = {
    "registered": "received",
    "triage": "received",
    "dispatched": "dispatched",
    "returned": "dispatched",
    "accepted": "in_progress",
    "handling": "in_progress",
    "suspended": "in_progress",
    "handled": "resolved",
    "verified": "resolved",
    "feedback": "rated",
    "reopened": "reviewing",
    "linked": "merged",
    "cancelled": "cancelled",
}

# The same rules as SQL over mobile.report, for `GET /m/v1/tickets?status=…` (one indexed query).
SQL_FILTER = {
    "received": "status IN ('registered', 'triage')",
    "dispatched": "status IN ('dispatched', 'returned')",
    "in_progress": "status IN ('accepted', 'handling', 'suspended')",
    "resolved": "(status IN ('handled', 'verified') OR (status = 'closed' AND satisfaction IS NULL "
    "AND merged_into IS NOT NULL))",
    "to_rate": "(status = 'closed' AND satisfaction IS NULL AND merged_into IS NULL)",
    "rated": "(status = 'feedback' OR (status = 'closed' AND satisfaction IS NOT NULL))",
    "reviewing": "status = 'reopened'",
    "merged": "status = 'linked'",
    "cancelled": "status = 'cancelled'",
}
assert set(SQL_FILTER) == set(LABELS)

SATISFACTION_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


def resident_status(status: str, satisfaction: str | None = None, merged_into: str | None = None) -> str:
    if status == "closed":
        if satisfaction is not None:
            return "rated"
        return "resolved" if merged_into else "to_rate"
    return _SIMPLE.get(status, "in_progress")


def label(code: str) -> str:
    return LABELS[code]


def ratable(status: str, satisfaction: str | None, merged_into: str | None) -> bool:
    return status == "closed" and satisfaction is None and merged_into is None


def why_not_ratable(status: str, satisfaction: str | None, merged_into: str | None) -> str:
    """The sentence a 409 `not-ratable` carries."""
    if satisfaction is not None or status == "feedback":
        return "You have already rated this ticket; a ticket is rated once."
    if merged_into or status == "linked":
        return (
            f"This report was merged with ticket {merged_into or 'an earlier report'} on the same problem; "
            "that ticket's reporter rates the handling."
        )
    if status == "cancelled":
        return "This report was not taken up as a case (不予受理), so there is no handling to rate."
    if status == "reopened":
        return "Your rating is being reviewed (复核中); there is nothing to rate until it is closed again."
    code = resident_status(status, satisfaction, merged_into)
    return f"The ticket is {LABELS[code]} ({code}); you can rate it once it is closed (待评价)."
