"""Builders for dispatch API tests: file a ticket, take a step, read it back, walk it to a state.

Texts are chosen for what the shipped router makes of them (see test_routing.py for its quality):

    GARBAGE     010101 暴露垃圾        CGJ street     direct        -> dispatched
    REGISTER    010301 私搭乱建        CGJ street     verify_first  -> registered (public channels)
    COMMUNITY   010601 占道堆物        CGJ community  direct        -> dispatched
    NO_VERIFY   100201 规划变更异议    GZJ district   no on-site check
    VAGUE       not confident                                       -> triage
"""

from __future__ import annotations

from typing import Any

import httpx

GARBAGE = "路口那堆垃圾好几天了没人清，臭得不行"
REGISTER = "楼下有人私搭乱建，在院子里盖了个棚子"
COMMUNITY = "有人在路边占道堆放建材"
NO_VERIFY = "规划变更有异议，小区规划被改了"
VAGUE = "门口有个东西"

DISTRICT, STREET, COMMUNITY_CODE = "320411", "320411001", "320411001001"
GRID, OTHER_GRID = "320411001001001", "320411001001002"
MICRO = "320411001001001001"
INSIDE = {"lat": 31.8116, "lng": 119.951}  # grid 320411001001001, micro-grid ...001
PHOTO = {"url": "https://img.example.org/a.jpg", "kind": "photo"}
PROBLEM = "https://gridgov.example.org/problems/"


async def file_ticket(
    dispatch: httpx.AsyncClient,
    headers: dict[str, str],
    text: str = GARBAGE,
    *,
    channel: str = "wechat_group",
    where: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """File a report (at a point inside grid 320411001001001 unless `where` says otherwise)."""
    body = {"channel": channel, "text": text, **(INSIDE if where is None else where), **kw}
    r = await dispatch.post("/api/v1/tickets", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def act(
    dispatch: httpx.AsyncClient, headers: dict[str, str], ticket_id: int, action: str, **body: Any
) -> httpx.Response:
    """Take one step; returns the raw response (callers assert on status and body)."""
    return await dispatch.post(
        f"/api/v1/tickets/{ticket_id}/transitions", json={"action": action, **body}, headers=headers
    )


async def step(
    dispatch: httpx.AsyncClient, headers: dict[str, str], ticket_id: int, action: str, **body: Any
) -> dict[str, Any]:
    """A step that must succeed."""
    r = await act(dispatch, headers, ticket_id, action, **body)
    assert r.status_code == 200, f"{action}: {r.text}"
    return r.json()


async def detail(dispatch: httpx.AsyncClient, headers: dict[str, str], ticket_id: int) -> dict[str, Any]:
    r = await dispatch.get(f"/api/v1/tickets/{ticket_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def problem(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    """Assert an RFC 9457 answer of this status and type; return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == PROBLEM + type_, body
    assert body["status"] == status
    return body


class People:
    """Signed-in staff around the test district, by the key the step tables use."""

    def __init__(self, token: Any) -> None:
        self.by_key = {
            "district": token("district_admin", DISTRICT, username="qu-admin"),
            "street": token("street_dispatcher", STREET, username="sanjing-dispatch"),
            "other_street": token("street_dispatcher", "320411002", username="hehai-dispatch"),
            "community": token("community_admin", COMMUNITY_CODE, username="longjin-admin"),
            "grid": token("grid_worker", GRID, username="grid-1"),
            "other_grid": token("grid_worker", OTHER_GRID, username="grid-2"),
            "cgj": token("department_handler", "CGJ", username="cgj-handler"),
            "zjj": token("department_handler", "ZJJ", username="zjj-handler"),
            "gzj": token("department_handler", "GZJ", username="gzj-handler"),
            "integration": token("integration", username="hotline-12345"),
        }

    def __getitem__(self, key: str) -> dict[str, str]:
        return self.by_key[key]


Step = tuple[str, str, dict[str, Any]]  # (who, action, body)

# Paths from a freshly filed GARBAGE ticket (dispatched to CGJ) to each state.
ACCEPT: list[Step] = [("cgj", "accept", {})]
START: list[Step] = [*ACCEPT, ("cgj", "start", {})]
HANDLE: list[Step] = [*START, ("cgj", "handle", {"note": "已清运，现场清扫干净"})]
VERIFY: list[Step] = [*HANDLE, ("grid", "verify", {"note": "现场已核实", "attachments": [PHOTO]})]
CLOSE: list[Step] = [*VERIFY, ("street", "close", {})]
REOPEN: list[Step] = [*CLOSE, ("street", "feedback", {"satisfaction": "dissatisfied"})]
FEEDBACK: list[Step] = [*CLOSE, ("street", "feedback", {"satisfaction": "satisfied"})]
SUSPEND: list[Step] = [*START, ("cgj", "suspend", {"note": "群众不在家，约定下周上门"})]
RETURN: list[Step] = [("cgj", "return", {"note": "不属于城管职责"})]
CANCEL: list[Step] = [("street", "cancel", {"note": "重复上报的无效信息"})]
EXTENSION: list[Step] = [*START, ("cgj", "request_extension", {"hours": 7, "note": "需协调环卫车辆"})]


async def walk(
    dispatch: httpx.AsyncClient, people: People, ticket_id: int, steps: list[Step]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for who, action, body in steps:
        out = await step(dispatch, people[who], ticket_id, action, **body)
    return out
