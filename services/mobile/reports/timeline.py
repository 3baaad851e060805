"""A ticket's trail as the resident who filed it may read it.

Dispatch's trail (全程留痕) is for staff: who acted (account names), internal notes (why a unit handed
a ticket back, extension requests, supervision cards), other reporters of the same problem. This module
keeps only the steps a resident follows, each in plain Chinese with the handling unit's name, and shows
free text and photos only where they are written for the resident: the unit's result (办结), the grid
worker's on-site check (核实) and the closing note (结案). Staff names, phones, internal notes and other
residents' data never pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.mobile.clients.dispatch import EventRef, TicketDetailRef
from services.mobile.reports.status import SATISFACTION_LABELS

LEVEL_LABELS = {"community": "社区", "street": "街道", "district": "区级"}
# Steps whose note and photos are meant for the resident.
PUBLIC_TEXT = frozenset({"handle", "verify", "close"})


def _unit(names: dict[str, str], code: str | None) -> str | None:
    if not code:
        return None
    return names.get(code) or code


def _photos(e: EventRef) -> list[str]:
    return [
        a["url"]
        for a in e.attachments
        if isinstance(a, dict) and a.get("kind", "photo") == "photo" and isinstance(a.get("url"), str)
    ]


def _step(e: EventRef, unit: str | None, number: str) -> tuple[str, str | None] | None:
    """(title, description) for one event, or None when the resident does not see it."""
    a, d = e.action, e.data
    if a == "register":
        return "已受理", f"您反映的问题已登记，编号 {number}。"
    if a in ("confirm", "dispatch"):
        return "已派遣", f"已派遣至{unit}处理。" if unit else "已派遣处理。"
    if a == "reassign" or (a == "rule_return" and d.get("ruling") == "upheld"):
        return "已改派", f"改由{unit}处理。" if unit else "已改派其他单位处理。"
    if a == "accept":
        return "已签收", f"{unit or '处理单位'}已签收，将尽快处理。"
    if a == "start":
        return "处理中", f"{unit or '处理单位'}正在处理。"
    if a == "suspend":
        return "暂缓处理", "处理单位需要与您联系确认情况，处理期限暂停计算。"
    if a == "resume":
        return "恢复处理", f"{unit or '处理单位'}已恢复处理。"
    if a == "handle":
        return "已办结", f"{unit or '处理单位'}已处理完毕。"
    if a == "verify":
        return "已核实", "网格员已到现场核实处理结果。"
    if a == "verify_fail":
        return "重新处理", "现场核实未通过，已退回处理单位重新处理。"
    if a == "close":
        return "已结案", "问题已办结，欢迎您对处理结果进行评价。"
    if a == "feedback":
        sat = SATISFACTION_LABELS.get(d.get("satisfaction") or "")
        if d.get("satisfaction") == "dissatisfied":
            return "已评价", "您的评价为：不满意。指挥中心将复核处理情况。"
        return "已评价", f"您的评价为：{sat}。感谢您的反馈！" if sat else "已完成回访。"
    if a in ("escalate", "auto_escalate"):
        level = LEVEL_LABELS.get(d.get("level") or "")
        return "已提级处理", f"已提交{level}协调处理。" if level else "已提级协调处理。"
    if a == "decide_extension" and d.get("decision") == "approved":
        return "延长处理期限", "因处理需要，处理期限已经延长。"
    if a == "link":
        return "已合并处理", "与其他居民反映的同一问题合并处理，处理进展将同步给您。"
    if a == "unlink":
        return "单独处理", "已改为单独处理。"
    if a == "cancel":
        return "不予受理", "经核查，该问题不属于受理范围或已另行处理。"
    return None  # return, rule_return (rejected), request_extension, supervise, locate, …


def build(
    own: TicketDetailRef,
    unit_names: dict[str, str],
    master: TicketDetailRef | None = None,
) -> list[dict[str, Any]]:
    """The resident's timeline, oldest first. For a merged report, the master ticket's handling steps
    after this report was filed are included (never the master's own registration or its text)."""
    events: list[tuple[EventRef, str]] = [(e, own.number) for e in own.events]
    if master is not None:
        events += [
            (e, master.number)
            for e in master.events
            if e.at >= own.created_at and e.action not in ("register", "link", "unlink")
        ]
    events.sort(key=lambda pair: (pair[0].at, pair[0].id))
    current = {own.number: own.routing.unit}
    if master is not None:
        current[master.number] = master.routing.unit
    return list(_walk(events, unit_names, own.number, current))


def _initial_units(events: list[tuple[EventRef, str]], current: dict[str, str | None]) -> dict[str, str]:
    """The unit each ticket was routed to at intake (the register event does not name it): the unit a
    later re-routing moved it away from, or else the unit it has now."""
    out: dict[str, str] = {}
    for e, ticket in events:
        if ticket not in out and "from_unit" in e.data and e.data.get("from_unit"):
            out[ticket] = e.data["from_unit"]
    for ticket, unit in current.items():
        if ticket not in out and unit:
            out[ticket] = unit
    return out


def _walk(
    events: list[tuple[EventRef, str]],
    unit_names: dict[str, str],
    number: str,
    current: dict[str, str | None],
) -> Iterable[dict[str, Any]]:
    initial = _initial_units(events, current)
    unit_by_ticket: dict[str, str | None] = {}
    for e, ticket in events:
        if e.action == "register":
            unit_by_ticket[ticket] = initial.get(ticket)
        if e.data.get("unit"):
            unit_by_ticket[ticket] = e.data["unit"]
        unit = _unit(unit_names, unit_by_ticket.get(ticket))
        steps = [(e.action, _step(e, unit, number))]
        if e.action == "register" and e.to_status in ("dispatched", "linked"):
            # routed (or merged) at intake: the resident sees that as a step of its own
            extra = "dispatch" if e.to_status == "dispatched" else "link"
            steps.append((extra, _step(e.model_copy(update={"action": extra, "data": {}}), unit, number)))
        public = e.action in PUBLIC_TEXT
        for action, step in steps:
            if step is None:
                continue
            title, text = step
            yield {
                "at": e.at,
                "step": action,
                "title": title,
                "text": text,
                "unit_name": unit if action not in ("register", "feedback", "link", "cancel") else None,
                "result": (e.note or None) if public else None,
                "photos": _photos(e) if public else [],
            }


def last_seq(own: TicketDetailRef, master: TicketDetailRef | None) -> int:
    """The newest trail event id this view reflects: the same sequence dispatch's pushes carry."""
    ids = [e.id for e in own.events] + ([e.id for e in master.events] if master else [])
    return max(ids, default=0)


def latest_at(own: TicketDetailRef, master: TicketDetailRef | None) -> datetime:
    return max(own.updated_at, master.updated_at) if master else own.updated_at
